"""/v3/app_usage_events and /v3/service_usage_events: the same skip-free streams as v2's."""
from dataclasses import dataclass
from functools import partial

from flask import request

from app.base.errors import ApiError
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.identity.visibility import GLOBAL_READERS, visible_usage_events
from app.store.cursor import UnknownCursor, by_time, stream_page
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.store.pages import PageRequest, find_visible
from app.store.streams import STREAM_FIELDS
from app.usage.retention import purge_and_reseed

from ..auth import require_scope
from ..responses import json_response
from .blueprint import bp
from .links import paginated
from .params import ListQuery, ParameterErrors, parse
from .schemas import present_app_usage_events, present_service_usage_events

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})


@dataclass(frozen=True)
class UsageCollection:
    model: type
    noun: str  # as CC's messages name one
    query: ListQuery
    present_many: object

    @property
    def path(self):
        return f"/v3/{self.model.__tablename__}"


# order_by=created_at sorts by the events' own times (cursor.by_time); after_guid still cuts in cursor order.
# CC lists updated_ats among the valid parameters, then refuses it.
TIMES = {"created_ats": "created_at", "updated_ats": None}
STREAM_ORDER = "the stream's order, the one after_guid follows"
APP_USAGE = UsageCollection(AppUsageEvent, "app usage event", ListQuery(
    times=TIMES, lists={"guids": "guid"}, orders=("created_at",), singles=("after_guid",),
    default_order=STREAM_ORDER), present_app_usage_events)
SERVICE_USAGE = UsageCollection(ServiceUsageEvent, "service usage event", ListQuery(
    times=TIMES, lists={"guids": "guid", "service_instance_types": "service_instance_type",
                        "service_offering_guids": "service_guid"}, orders=("created_at",), singles=("after_guid",),
    default_order=STREAM_ORDER),
    present_service_usage_events)


def _parsed(collection):
    """The request's parameters; 422 for any mistake, as CC answers on these endpoints."""
    messages = []
    try:
        parsed = parse(request.args, collection.query)
    except ParameterErrors as errors:
        messages, parsed = errors.messages, None
    if "," in request.args.get("after_guid", ""):
        messages.append("After guid filter accepts only one guid")
    if messages:
        raise ApiError("UnprocessableEntity", ", ".join(messages))
    return parsed


def list_usage_events(collection):
    identity = require_scope(READERS)
    parsed = _parsed(collection)
    after_guid = parsed.singles.get("after_guid")
    total, rows = 0, []
    # Only the global roles read usage; anyone else sees an empty list (V3.md 2).
    if identity.has_any(GLOBAL_READERS):
        page = PageRequest(parsed.offset, parsed.per_page, bool(parsed.order_by and parsed.order_by[1]))
        order = by_time(collection.model) if parsed.order_by else None
        try:
            total, rows = stream_page(collection.model, after_guid, parsed.filters, STREAM_FIELDS[collection.model],
                                      page, order)
        except UnknownCursor:
            raise ApiError("UnprocessableEntity",
                           f"After guid filter must be a valid {collection.noun} guid.") from None
    return json_response(paginated(collection.path, parsed, total, collection.present_many(rows)))


def show_usage_event(collection, guid):
    identity = require_scope(READERS)
    event, visible = find_visible(collection.model, guid, visible_usage_events(identity))
    if event is None or not visible:
        raise ApiError("ResourceNotFound", f"{collection.noun.capitalize()} not found")
    return json_response(collection.present_many([event])[0])


def purge_usage_events(collection):
    identity = require_scope(READERS)
    if not identity.has_any({ADMIN}):
        raise ApiError("NotAuthorized")
    purge_and_reseed(collection.model)
    return json_response({})


for collection in (APP_USAGE, SERVICE_USAGE):
    name = collection.model.__tablename__
    bp.add_url_rule(f"/{name}", f"list_{name}", partial(list_usage_events, collection), methods=["GET"])
    bp.add_url_rule(f"/{name}/<guid>", f"show_{name}", partial(show_usage_event, collection), methods=["GET"])
    bp.add_url_rule(f"/{name}/actions/destructively_purge_all_and_reseed", f"purge_{name}",
                    partial(purge_usage_events, collection), methods=["POST"])
