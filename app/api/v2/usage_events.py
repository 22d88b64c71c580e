"""/v2/app_usage_events and /v2/service_usage_events: the streams billing collectors follow."""
from dataclasses import dataclass
from functools import cached_property

from flask import request

from app.base.errors import ApiError
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE
from app.identity.visibility import visible_usage_events
from app.store.cursor import UnknownCursor, stream_page
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.store.pages import find_visible
from app.store.streams import STREAM_FIELDS
from app.store.writes import write_events
from app.usage.retention import purge_and_reseed

from ..auth import require_scope
from ..responses import empty_response, json_response
from .blueprint import bp, shown
from .bodies import load_write_body, written_response
from .paging import envelope, parse_paging
from .query import parse_filters
from .usage_schemas import AppUsageEventWriteSchema, ServiceUsageEventWriteSchema, usage_presenter

WRITERS = frozenset({ADMIN, WRITE})


@dataclass(frozen=True)
class UsageCollection:
    model: type
    max_per_page: int
    list_scopes: frozenset
    write_schema: object
    filters: tuple = ()  # the q keys, which are the store's field names
    # Anyone with a read scope may ask for one; visibility decides whether they see it.
    show_scopes: frozenset = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})

    @property
    def path(self):
        return f"/v2/{self.model.__tablename__}"

    @cached_property
    def present_many(self):
        return usage_presenter(self.model.__tablename__)

    def present(self, event):
        return self.present_many([event])[0]


APP_USAGE = UsageCollection(
    model=AppUsageEvent,
    max_per_page=10000,
    list_scopes=frozenset({ADMIN, ADMIN_READ_ONLY}),
    write_schema=AppUsageEventWriteSchema,
)
SERVICE_USAGE = UsageCollection(
    model=ServiceUsageEvent,
    max_per_page=100,
    list_scopes=frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR}),
    write_schema=ServiceUsageEventWriteSchema,
    filters=("service_instance_type", "service_guid"),
)


def list_usage_events(collection):
    require_scope(collection.list_scopes)
    paging = parse_paging(request.args, collection.max_per_page)
    filters = parse_filters(paging.q, collection.filters)
    after_guid = request.args.get("after_guid")
    try:
        total, rows = stream_page(collection.model, after_guid, filters, STREAM_FIELDS[collection.model],
                                  paging.request)
    except UnknownCursor:
        raise ApiError("BadQueryParameter", after_guid) from None
    resources = collection.present_many(rows)
    return json_response(envelope(collection.path, paging, total, resources, preserved={"after_guid": after_guid}))


def show_usage_event(collection, guid):
    identity = require_scope(collection.show_scopes)
    found = find_visible(collection.model, guid, visible_usage_events(identity))
    return json_response(collection.present(shown(found, guid)))


def create_usage_events(collection):
    require_scope(WRITERS)
    items, is_batch = load_write_body(collection.write_schema)
    written = write_events(collection.model, items, time_field="created_at")
    return written_response(written, is_batch, collection.present_many)


def purge_usage_events(collection):
    require_scope({ADMIN})
    purge_and_reseed(collection.model)
    return empty_response()


for collection, purge_path in (
    (APP_USAGE, "destructively_purge_all_and_reseed_started_apps"),
    (SERVICE_USAGE, "destructively_purge_all_and_reseed_existing_instances"),
):
    name = collection.model.__tablename__
    path = f"/{name}"
    bp.add_url_rule(path, f"list_{name}", list_usage_events, methods=["GET"], defaults={"collection": collection})
    bp.add_url_rule(path, f"create_{name}", create_usage_events, methods=["POST"],
                    defaults={"collection": collection})
    bp.add_url_rule(f"{path}/<guid>", f"show_{name}", show_usage_event, methods=["GET"],
                    defaults={"collection": collection})
    bp.add_url_rule(f"{path}/{purge_path}", f"purge_{name}", purge_usage_events, methods=["POST"],
                    defaults={"collection": collection})
