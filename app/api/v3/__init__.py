"""Cloud Controller's v3 dialect (/v3, V3.md): its list parameters and links, schemas, views and OpenAPI
operations, over the same core as v1 and v2."""
from . import audit_events, resources, roles, stats, usage_events  # noqa: F401  (register the routes)
from .blueprint import bp  # noqa: F401
