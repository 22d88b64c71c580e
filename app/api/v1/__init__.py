"""Scalingo's events dialect (/v1), over the same store, tokens and visibility as v2: its schemas, views and
OpenAPI operations."""
from . import catalogue, events, tokens  # noqa: F401  (register the routes)
from .blueprint import bp  # noqa: F401
