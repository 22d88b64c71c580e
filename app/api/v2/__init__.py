"""Cloud Controller's v2 dialect (/v2): the q language, v2's paging, its schemas, views and OpenAPI operations."""
from . import apps, events, roles, usage_events  # noqa: F401  (register the routes)
from .blueprint import bp  # noqa: F401
