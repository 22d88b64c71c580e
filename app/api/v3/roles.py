"""POST/GET /v3/roles and GET/DELETE /v3/roles/{guid}: the roles v2's role endpoints manage too."""
from types import SimpleNamespace

from flask import request
from sqlalchemy import select

from app.base.errors import ApiError
from app.base.extensions import db
from app.base.fields import GUID_PATTERN, is_storable
from app.identity import roles
from app.identity.models import Role, User
from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ
from app.store.directory import known_or_named, names_of
from app.store.filters import conditions
from app.store.pages import PageRequest, fetch_page

from ..auth import require_scope
from ..bodies import read_json
from ..responses import empty_response, json_response
from .blueprint import bp
from .links import paginated
from .params import ListQuery, ParameterErrors, parse, parse_show
from .schemas import present_organizations, present_roles, present_spaces, present_users

READERS = frozenset({ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ})
INCLUDES = ("user", "organization", "space")
QUERY = ListQuery(lists={"guids": "guid", "organization_guids": "organization_guid", "space_guids": "space_guid",
                         "user_guids": "user_guid", "types": "type"}, includes=INCLUDES, default_order="created_at")
# CC's order, in its message for a type it does not know.
TYPE_NAMES = ["organization_auditor", "organization_manager", "organization_billing_manager", "organization_user",
              "space_auditor", "space_manager", "space_developer", "space_supporter"]
ORDER = {"created_at": (Role.created_at, Role.guid), "updated_at": (Role.created_at, Role.guid)}


def _unprocessable(messages):
    raise ApiError("UnprocessableEntity", ", ".join(messages))


@bp.get("/roles")
def list_roles():
    identity = require_scope(READERS)
    try:
        parsed = parse(request.args, QUERY)
    except ParameterErrors as errors:
        _unprocessable(errors.messages)
    # CC lists roles by creation unless told otherwise, and its links always say so.
    order_by = parsed.order_by or ("created_at", False)
    if parsed.order_by is None:
        parsed = parsed._replace(echoed=[*parsed.echoed, ("order_by", "+created_at")])
    where = [roles.readable_roles(identity), *conditions(parsed.filters, roles.FIELDS)]
    total, rows = fetch_page(Role, where, ORDER[order_by[0]], PageRequest(parsed.offset, parsed.per_page, order_by[1]))
    body = paginated("/v3/roles", parsed, total, present_roles(rows))
    if parsed.includes:
        body["included"] = _included(rows, parsed.includes)
    return json_response(body)


def _included(rows, includes):
    """What `include` asks for of these roles, in CC's order: their users, organizations and spaces."""
    included = {}
    if "user" in includes:
        guids = list(dict.fromkeys(role.user_guid for role in rows))
        known = {user.guid: user for user in db.session.scalars(select(User).where(User.guid.in_(guids)))}
        first_role = {}
        for role in rows:
            first_role.setdefault(role.user_guid, role.created_at)
        included["users"] = present_users([
            SimpleNamespace(guid=guid, username=known[guid].username, origin="uaa", created_at=known[guid].created_at)
            if guid in known else SimpleNamespace(guid=guid, username=None, origin=None, created_at=first_role[guid])
            for guid in guids])
    for name, kind, present in (("organizations", "organization", present_organizations),
                                ("spaces", "space", present_spaces)):
        if kind in includes:
            targets = {role.target_guid: role.created_at for role in rows if role.target_type == kind}
            included[name] = present([row for guid, seen in targets.items()
                                      for row in known_or_named(kind, [guid], seen)])
    return included


def _role(identity, guid):
    readable = roles.readable_roles(identity)
    role = is_storable(guid) and db.session.scalar(select(Role).where(Role.guid == guid, readable))
    if not role:
        raise ApiError("ResourceNotFound", "Role not found")
    return role


@bp.get("/roles/<guid>")
def show_role(guid):
    identity = require_scope(READERS)
    try:
        includes = parse_show(request.args, INCLUDES)
    except ParameterErrors as errors:
        _unprocessable(errors.messages)
    role = _role(identity, guid)
    body = present_roles([role])[0]
    if includes:
        body["included"] = _included([role], includes)
    return json_response(body)


@bp.delete("/roles/<guid>")
def delete_role(guid):
    identity = require_scope(READERS)
    role = _role(identity, guid)
    if not identity.has_any({ADMIN}):
        raise ApiError("NotAuthorized")
    roles.revoke(role.target_type, role.target_guid, role.role, role.user_guid)
    # Done at once: nothing to poll (CC answers 202 and a job; both cf CLI and cloudfoundry-client take 204).
    return empty_response()


def _data(relationships, key, messages, shape):
    """The `data` object of one relationship, or None; a message when it is not shaped as `shape`: a
    relationship holds `data` and nothing else, and a space's or organization's data its guid only (CC's
    ToOneRelationshipValidator; a user's data is checked by _user_guid)."""
    relationship = relationships.get(key)
    if relationship is None:
        return None
    data = relationship.get("data") if isinstance(relationship, dict) and set(relationship) == {"data"} else None
    if not isinstance(data, dict) or (key != "user" and set(data) != {"guid"}):
        messages.append(f"Relationships {key.capitalize()} must be structured like this: \"{key}: {shape}\"")
        return None
    return data


def _guid(data, key, messages):
    guid = data.get("guid")
    if not (isinstance(guid, str) and is_storable(guid) and GUID_PATTERN.match(guid)):
        messages.append(f"Relationships {key.capitalize()} must be structured like this: "
                        f"\"{key}: {{\"data\": {{\"guid\": \"valid-guid\"}}}}\"")
        return None
    return guid


def _user_guid(data, messages):
    """The user a role is for, by guid or by the built-in issuer's username (and origin uaa). As CC, a key
    counts by being there, whatever its value, and a user by guid has only its guid."""
    if "guid" in data and "username" in data:
        messages.append("Relationships Username cannot be specified when identifying user by guid")
        return None
    if "origin" in data and "username" not in data:
        messages.append("Relationships User origin cannot be specified without specifying the username")
        return None
    if "guid" in data and set(data) != {"guid"}:
        messages.append('Relationships User must be structured like this: "user: {"data": {"guid": "valid-guid"}}"')
        return None
    if "username" not in data:
        return _guid(data, "user", messages)
    username = data["username"]
    origin = data.get("origin")
    user = isinstance(username, str) and is_storable(username) and origin in (None, "uaa") and db.session.scalar(
        select(User).where(User.username == username))
    if not user:
        messages.append(f"No user exists with the username '{username}'" + (
            f" and origin '{origin}'." if origin is not None else "."))
        return None
    return user.guid


def _requested_role(body):
    """(target_type, target guid, role, user guid) of a POST /v3/roles body, or 422 with CC's messages."""
    if not isinstance(body, dict):
        _unprocessable(["Request body must be an object"])
    messages = []
    unknown = [key for key in body if key not in ("type", "relationships")]
    if unknown:
        messages.append("Unknown field(s): " + ", ".join(f"'{key}'" for key in unknown))
    relationships = body.get("relationships")
    if not isinstance(relationships, dict):
        messages.append("Relationships 'relationships' is not an object")
    elif not relationships:
        messages.append("Relationships 'relationships' must include one or more valid relationships")
    elif unknown := [key for key in relationships if key not in ("user", "space", "organization")]:
        messages.append("Relationships Unknown field(s): " + ", ".join(f"'{key}'" for key in unknown))
    role_type = body.get("type")
    if not isinstance(role_type, str) or role_type not in roles.TYPES:
        messages.append('Type must be one of the allowed types [' + ", ".join(f'"{t}"' for t in TYPE_NAMES) + "]")
    if messages or not isinstance(relationships, dict):
        _unprocessable(messages)
    target_type, role = roles.TYPES[role_type]
    shape = '{"data": {"guid": "valid-guid"}}'
    user = _data(relationships, "user", messages, shape)
    space = _data(relationships, "space", messages, shape)
    organization = _data(relationships, "organization", messages, shape)
    if relationships.get("user") is None:  # absent or null, as CC's presence validation reads it
        messages += ["Relationships User can't be blank", "Relationships User must have a username or guid specified"]
    if space is not None and organization is not None:
        messages.append("Relationships cannot specify both an organization and a space.")
    elif space is None and organization is None and not messages:
        messages.append("Relationships must specify either a space or an organization.")
    elif space is not None and target_type == "organization":
        messages.append(f"Relationships Space cannot be provided with the organization role type: '{role_type}'.")
    elif organization is not None and target_type == "space":
        messages.append(f"Relationships Organization cannot be provided with the space role type: '{role_type}'.")
    target = space if target_type == "space" else organization
    target_guid = _guid(target, target_type, messages) if target is not None and not messages else None
    user_guid = _user_guid(user, messages) if user is not None and not messages else None
    if messages:
        _unprocessable(messages)
    return target_type, target_guid, role, user_guid


@bp.post("/roles")
def create_role():
    identity = require_scope(READERS)
    # Admins manage roles here, as on v2's role endpoints (CC also lets org and space managers).
    if not identity.has_any({ADMIN}):
        raise ApiError("NotAuthorized")
    target_type, target_guid, role, user_guid = _requested_role(read_json())
    created, is_new = roles.grant(target_type, target_guid, role, user_guid)
    if not is_new:
        user = db.session.get(User, user_guid)
        target_name = names_of(target_type, [target_guid])[target_guid]
        where = "space" if target_type == "space" else "organization"
        _unprocessable([f"User '{user.username if user else user_guid}' already has '{target_type}_{role}' role in "
                        f"{where} '{target_name}'."])
    return json_response(present_roles([created])[0], 201)
