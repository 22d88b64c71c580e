"""GET /v3/audit_events and /v3/audit_events/{guid}."""
from flask import request

from app.base.errors import ApiError
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.identity.visibility import sees_every_event, visible_events
from app.store import audit_events
from app.store.pages import PageRequest

from ..auth import require_scope
from ..responses import json_response
from .blueprint import bp
from .links import paginated
from .params import ListQuery, ParameterErrors, parse
from .schemas import present_audit_events

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
QUERY = ListQuery(
    # In this store both name the event's time, the one it shows (V3.md 1.2).
    times={"created_ats": "timestamp", "updated_ats": "timestamp"},
    lists={"guids": "guid", "types": "type", "target_guids": "actee", "space_guids": "space_guid",
           "organization_guids": "organization_guid",
           # Beyond CC (deliberate difference): the filters its users ask for most (CC #1046, #577).
           "actor_guids": "actor", "actor_names": "actor_name", "actor_types": "actor_type",
           "target_types": "actee_type", "target_names": "actee_name"},
    excludable=frozenset({"target_guids"}),
)


@bp.get("/audit_events")
def list_audit_events():
    identity = require_scope(READERS)
    try:
        parsed = parse(request.args, QUERY)
    except ParameterErrors as errors:
        raise ApiError("BadQueryParameter", str(errors)) from None
    if parsed.order_by is None:
        order, descending = audit_events.BY_INSERTION, False
    else:
        order, descending = audit_events.BY_TIME_THEN_GUID, parsed.order_by[1]
    page = PageRequest(parsed.offset, parsed.per_page, descending)
    total, rows = audit_events.list_events(visible_events(identity, "v3"), parsed.filters, page, order,
                                           sees_every_event=sees_every_event(identity))
    return json_response(paginated("/v3/audit_events", parsed, total, present_audit_events(rows)))


@bp.get("/audit_events/<guid>")
def show_audit_event(guid):
    identity = require_scope(READERS)
    event, visible = audit_events.find_event(guid, visible_events(identity, "v3"))
    # Unknown and invisible alike, so that v3 reveals nothing of what a reader may not see.
    if event is None or not visible:
        raise ApiError("ResourceNotFound", "Event not found")
    return json_response(present_audit_events([event])[0])
