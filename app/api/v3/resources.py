"""GET /v3/apps, /v3/spaces and /v3/organizations: what cf CLI v8 looks up before `cf events`, from what
the store knows through its events (directory.py)."""
from flask import request

from app.base.errors import ApiError
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.identity.visibility import visible_resources
from app.store import directory
from app.store.pages import PageRequest

from ..auth import require_scope
from ..responses import json_response
from .blueprint import bp
from .links import paginated
from .params import ListQuery, ParameterErrors, parse
from .schemas import present_apps, present_organizations, present_spaces

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
# What CC's list messages take, but for what the store cannot know (stacks, lifecycles, labels).
KINDS = {
    "apps": ("app", ListQuery(lists={"guids": "guid", "names": "name", "organization_guids": "organization_guid",
                                     "space_guids": "space_guid"},
                              orders=("created_at", "updated_at", "name", "state")), present_apps),
    "spaces": ("space", ListQuery(lists={"guids": "guid", "names": "name", "organization_guids": "organization_guid"},
                                  orders=("created_at", "updated_at", "name")), present_spaces),
    "organizations": ("organization", ListQuery(lists={"guids": "guid", "names": "name"},
                                                orders=("created_at", "updated_at", "name")), present_organizations),
}


def list_known(collection):
    identity = require_scope(READERS)
    kind, query, present = KINDS[collection]
    try:
        parsed = parse(request.args, query)
    except ParameterErrors as errors:
        raise ApiError("BadQueryParameter", str(errors)) from None
    order_by, descending = parsed.order_by or (None, False)
    page = PageRequest(parsed.offset, parsed.per_page, descending)
    total, rows = directory.list_known(kind, visible_resources(identity, kind), parsed.filters, page, order_by)
    return json_response(paginated(f"/v3/{collection}", parsed, total, present(rows)))


def show_known(collection, guid):
    identity = require_scope(READERS)
    kind, _, present = KINDS[collection]
    found = directory.find_known(kind, guid, visible_resources(identity, kind))
    if found is None:
        raise ApiError("ResourceNotFound", f"{kind.capitalize()} not found")
    return json_response(present([found])[0])


for collection in KINDS:
    bp.add_url_rule(f"/{collection}", f"list_{collection}", list_known, methods=["GET"],
                    defaults={"collection": collection})
    bp.add_url_rule(f"/{collection}/<guid>", f"show_{collection}", show_known, methods=["GET"],
                    defaults={"collection": collection})
