"""/v2/events: list, show, delete, and the write door for platform components."""
from flask import request
from sqlalchemy import delete

from app.base.errors import ApiError
from app.base.extensions import db
from app.base.fields import is_storable
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE
from app.identity.visibility import sees_every_event, visible_events
from app.store import audit_events
from app.store.models import Event
from app.store.writes import write_events

from ..auth import require_scope
from ..responses import empty_response, json_response
from .blueprint import bp, shown
from .bodies import load_write_body, written_response
from .paging import envelope, parse_paging
from .query import parse_filters
from .schemas import EventWriteSchema, present_event, present_events

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
WRITERS = frozenset({ADMIN, WRITE})
MAX_PER_PAGE = 100
# The q keys of /v2/events, which are the store's own field names.
FILTERS = ("timestamp", "type", "actee", "space_guid", "organization_guid")
# The list order, always; order-by accepts these names and changes nothing.
ORDER = ("timestamp", "id")


@bp.get("/events")
def list_events():
    identity = require_scope(READERS)
    paging = parse_paging(request.args, MAX_PER_PAGE, order_by_allowed=ORDER)
    filters = parse_filters(paging.q, FILTERS, time_keys={"timestamp"})
    total, events = audit_events.list_events(visible_events(identity), filters, paging.request, audit_events.BY_TIME,
                                              sees_every_event=sees_every_event(identity))
    return json_response(envelope("/v2/events", paging, total, present_events(events), order_by=ORDER))


@bp.get("/events/<guid>")
def show_event(guid):
    identity = require_scope(READERS)
    return json_response(present_event(shown(audit_events.find_event(guid, visible_events(identity)), guid)))


@bp.delete("/events/<guid>")
def delete_event(guid):
    require_scope({ADMIN})
    deleted = is_storable(guid) and db.session.execute(delete(Event).where(Event.guid == guid)).rowcount
    if not deleted:
        raise ApiError("EventNotFound", guid)
    db.session.commit()
    return empty_response()


@bp.post("/events")
def create_events():
    require_scope(WRITERS)
    items, is_batch = load_write_body(EventWriteSchema)
    written = write_events(Event, items, time_field="timestamp")
    return written_response(written, is_batch, present_events)
