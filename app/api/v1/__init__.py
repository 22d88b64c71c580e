"""Scalingo's events dialect, over the same store, tokens and visibility as v2."""
from flask import Blueprint

bp = Blueprint("v1", __name__, url_prefix="/v1")

from . import catalogue, events, tokens  # noqa: E402,F401  (register the routes)
