"""Space and organization roles, managed the CC way: PUT/DELETE /v2/spaces/{guid}/auditors/{user}."""
from flask import request
from werkzeug.routing import BaseConverter

from app.base.errors import ApiError
from app.base.fields import GUID_PATTERN, format_timestamp, is_storable
from app.identity.models import Role
from app.identity.roles import grant, revoke
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR
from app.store.pages import fetch_page

from ..auth import require_scope
from ..responses import empty_response, json_response
from .blueprint import bp
from .paging import envelope, parse_paging

ROLE_READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR})
MAX_PER_PAGE = 100
# The roles each target has, by the URL's plural, and the error for a target that cannot exist.
TARGETS = {
    "spaces": ("space", {"developers": "developer", "auditors": "auditor", "managers": "manager"}, "SpaceNotFound"),
    "organizations": ("organization", {"users": "user", "auditors": "auditor", "managers": "manager",
                                       "billing_managers": "billing_manager"}, "OrganizationNotFound"),
}


class RolePlural(BaseConverter):
    """A role's plural (auditors, managers, …): a URL with another in its place names nothing, whatever its
    method (404, as CC's literal routes answer), never another route's resource (/v2/spaces//auditors/u,
    its empty guid dropped by a client, is no list of the holders of a role "u")."""

    regex = "|".join(sorted({plural for _, plurals, _ in TARGETS.values() for plural in plurals}, key=len,
                            reverse=True))


bp.record_once(lambda state: state.app.url_map.converters.setdefault("role_plural", RolePlural))


def _role_in(collection, guid, plural):
    """(target_type, role) for a role URL, or 404 for a URL or a guid that cannot name one."""
    target_type, roles, not_found = TARGETS[collection]
    if plural not in roles:
        raise ApiError("NotFound")
    if not (is_storable(guid) and GUID_PATTERN.match(guid)):
        raise ApiError(not_found, guid)
    return target_type, roles[plural]


def _target_resource(collection, guid):
    """The space or organization, as far as this store knows it: its guid and role links."""
    url = f"/v2/{collection}/{guid}"
    links = {f"{plural}_url": f"{url}/{plural}" for plural in TARGETS[collection][1]}
    return {"metadata": {"guid": guid, "url": url}, "entity": links}


def _user_resource(role):
    stamp = format_timestamp(role.created_at)
    return {
        "metadata": {"guid": role.user_guid, "url": f"/v2/users/{role.user_guid}", "created_at": stamp,
                     "updated_at": stamp},
        "entity": {"admin": False, "active": True, "default_space_guid": None},
    }


@bp.put("/<any(spaces, organizations):collection>/<guid>/<role_plural:plural>/<user_guid>")
def add_role(collection, guid, plural, user_guid):
    require_scope({ADMIN})
    target_type, role = _role_in(collection, guid, plural)
    if not (is_storable(user_guid) and GUID_PATTERN.match(user_guid)):
        raise ApiError("UserNotFound", user_guid)
    grant(target_type, guid, role, user_guid)  # idempotent, as CC's PUT
    return json_response(_target_resource(collection, guid), 201)


@bp.delete("/<any(spaces, organizations):collection>/<guid>/<role_plural:plural>/<user_guid>")
def remove_role(collection, guid, plural, user_guid):
    require_scope({ADMIN})
    target_type, role = _role_in(collection, guid, plural)
    revoke(target_type, guid, role, user_guid)
    return empty_response()


@bp.get("/<any(spaces, organizations):collection>/<guid>/<role_plural:plural>")
def list_role_holders(collection, guid, plural):
    require_scope(ROLE_READERS)
    target_type, role = _role_in(collection, guid, plural)
    paging = parse_paging(request.args, MAX_PER_PAGE)
    conditions = [Role.target_type == target_type, Role.target_guid == guid, Role.role == role]
    total, roles = fetch_page(Role, conditions, (Role.created_at, Role.user_guid), paging.request)
    path = f"/v2/{collection}/{guid}/{plural}"
    return json_response(envelope(path, paging, total, [_user_resource(role) for role in roles]))


