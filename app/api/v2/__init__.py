"""Cloud Controller's v2 dialect."""
from flask import Blueprint

bp = Blueprint("v2", __name__, url_prefix="/v2")

from . import apps, events, roles, usage_events  # noqa: E402,F401  (register the routes)
