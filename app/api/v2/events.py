"""/v2/events: list, show, delete, and the write door for platform components."""
from flask import request
from sqlalchemy import delete

from ...auth import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE, require_scope
from ...errors import ApiError
from ...event_counts import event_page
from ...extensions import db
from ...fields import is_storable
from ...models import Event
from ...pagination import envelope, parse_paging
from ...query import conditions as query_conditions
from ...query import parse
from ...responses import empty_response, json_response
from ...visibility import shown, visible_events
from ...writes import write_events
from . import bp
from .bodies import load_write_body, written_response
from .schemas import EventWriteSchema, present_event, present_events

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
WRITERS = frozenset({ADMIN, WRITE})
MAX_PER_PAGE = 100
FILTERS = {
    "timestamp": Event.timestamp,
    "type": Event.type,
    "actee": Event.actee,
    "space_guid": Event.space_guid,
    "organization_guid": Event.organization_guid,
}
# The list order, always; order-by accepts these names and changes nothing.
ORDER = ("timestamp", "id")
_write_schema = EventWriteSchema()


@bp.get("/events")
def list_events():
    identity = require_scope(READERS)
    paging = parse_paging(request.args, MAX_PER_PAGE, order_by_allowed=ORDER)
    clauses = parse(paging.q, FILTERS)
    conditions = [visible_events(identity), *query_conditions(clauses, FILTERS)]
    total, events = event_page(identity, clauses, conditions, paging)
    resources = present_events(events)
    return json_response(envelope("/v2/events", paging, total, resources, order_by=ORDER))


@bp.get("/events/<guid>")
def show_event(guid):
    identity = require_scope(READERS)
    return json_response(present_event(shown(Event, guid, visible_events(identity))))


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
    items, is_batch = load_write_body(_write_schema)
    written = write_events(Event, items, time_field="timestamp")
    return written_response(written, is_batch, present_events)
