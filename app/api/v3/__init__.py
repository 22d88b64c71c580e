"""Cloud Controller's v3 dialect (V3.md), over the same core as v1 and v2."""
from flask import Blueprint

bp = Blueprint("v3", __name__, url_prefix="/v3")

from . import audit_events, resources, roles, stats, usage_events  # noqa: E402,F401  (register the routes)
