"""GET /v2/spaces/{guid}/apps?q=name:X: the app lookup cf CLI v6 makes before `cf events APP`.

cf-events has no apps table; it knows apps from their events and usage events (directory.py), each
under the name it had last.
"""
from flask import request

from app.base.fields import format_timestamp
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.identity.visibility import visible_resources
from app.store import directory
from app.store.filters import OneOf

from ..auth import require_scope
from ..responses import json_response
from .blueprint import bp
from .paging import envelope, parse_paging
from .query import parse_filters

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
MAX_PER_PAGE = 100
FILTERS = ("name",)  # the q keys


def _app_resource(app, space_guid):
    return {
        "metadata": {"guid": app.guid, "url": f"/v2/apps/{app.guid}", "created_at": format_timestamp(app.first_seen_at),
                     "updated_at": format_timestamp(app.last_seen_at)},
        "entity": {"name": app.name, "space_guid": space_guid, "space_url": f"/v2/spaces/{space_guid}",
                   "events_url": f"/v2/apps/{app.guid}/events"},
    }


@bp.get("/spaces/<space_guid>/apps")
def list_space_apps(space_guid):
    identity = require_scope(READERS)
    paging = parse_paging(request.args, MAX_PER_PAGE)
    filters = [OneOf("space_guid", frozenset({space_guid})), *parse_filters(paging.q, FILTERS)]
    total, apps = directory.list_known("app", visible_resources(identity, "app"), filters, paging.request)
    resources = [_app_resource(app, space_guid) for app in apps]
    return json_response(envelope(f"/v2/spaces/{space_guid}/apps", paging, total, resources))
