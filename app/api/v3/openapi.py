"""The OpenAPI description of Cloud Controller's v3 dialect (/v3): its operations and extensions, each
endpoint's `ListQuery` (params.py) as parameters, its list envelope, and what its schemas do not say of
themselves."""
import itertools

from app.base.fields import CLOCK, FIRST_YEAR, GUID_PATTERN, LAST_YEAR, date_pattern
from app.identity import roles as role_store
from app.identity.models import Role, User
from app.store.models import AppUsageEvent, Event, KnownResource, ServiceUsageEvent

from ..describe import (
    AFTER_GUID_RULE,
    BOOLEAN,
    DATE_TIME,
    HREF,
    INTEGER,
    NO_NUL,
    NOTHING,
    STRING,
    SchemaNotes,
    array,
    json_body,
    nullable,
    obj,
    ok,
    query,
)
from . import audit_events as v3_audit_events
from . import params as v3_params
from . import resources as v3_resources
from . import roles as v3_roles
from . import schemas as v3_schemas
from . import stats as v3_stats
from . import usage_events as v3_usage


def to_one():
    return obj({"data": nullable(obj({"guid": STRING}))})


V3_METADATA = obj({"labels": obj({}), "annotations": obj({})})
ROLE_TYPES = [name for name in v3_roles.TYPE_NAMES if name in role_store.TYPES]

NOTES = SchemaNotes(
    models={
        v3_schemas.AuditEventSchema: Event, v3_schemas.AppUsageEventSchema: AppUsageEvent,
        v3_schemas.ServiceUsageEventSchema: ServiceUsageEvent,
        v3_schemas.AppSchema: KnownResource, v3_schemas.SpaceSchema: KnownResource,
        v3_schemas.OrganizationSchema: KnownResource, v3_schemas.RoleSchema: Role, v3_schemas.UserSchema: User,
    },
    fields={
        ("AuditEventSchema", "space"): nullable(obj({"guid": STRING})),
        ("AuditEventSchema", "organization"): nullable(obj({"guid": STRING})),
        ("AppUsageEventSchema", "process"): obj({"guid": nullable(STRING), "type": nullable(STRING)}),
        ("AppSchema", "updated_at"): DATE_TIME,
        ("AppSchema", "state"): {"type": "string", "enum": ["STARTED", "STOPPED"]},
        ("AppSchema", "relationships"): obj({"space": to_one()}),
        ("AppSchema", "metadata"): V3_METADATA,
        ("AppSchema", "links"): obj({"self": HREF, "space": HREF}, optional=("space",)),
        ("SpaceSchema", "updated_at"): DATE_TIME,
        ("SpaceSchema", "relationships"): obj({"organization": to_one(), "quota": to_one()}),
        ("SpaceSchema", "metadata"): V3_METADATA,
        ("SpaceSchema", "links"): obj({"self": HREF, "organization": HREF}, optional=("organization",)),
        ("OrganizationSchema", "updated_at"): DATE_TIME,
        ("OrganizationSchema", "suspended"): BOOLEAN,
        ("OrganizationSchema", "relationships"): obj({"quota": to_one()}),
        ("OrganizationSchema", "metadata"): V3_METADATA,
        ("OrganizationSchema", "links"): obj({"self": HREF}),
        ("RoleSchema", "updated_at"): DATE_TIME,
        ("RoleSchema", "type"): {"type": "string", "enum": ROLE_TYPES},
        ("RoleSchema", "relationships"): obj({"user": to_one(), "space": to_one(), "organization": to_one()}),
        ("RoleSchema", "links"): obj({"self": HREF, "user": HREF, "space": HREF, "organization": HREF},
                                     optional=("space", "organization")),
        ("UserSchema", "updated_at"): DATE_TIME,
        ("UserSchema", "username"): nullable(STRING),
        ("UserSchema", "presentation_name"): STRING,
        ("UserSchema", "origin"): nullable(STRING),
        ("UserSchema", "metadata"): V3_METADATA,
        ("UserSchema", "links"): obj({"self": HREF}),
    },
)


def comma_list(pattern):
    """A comma list of `pattern` values, as v3 reads them (a comma and the whitespace after it separate)."""
    return f"^{pattern}(?:{v3_params.LIST_SEPARATOR}{pattern})*$"


# v3's one time format (params._TIMESTAMP), each day of the years whose every time the store holds.
V3_TIME = f"{date_pattern(FIRST_YEAR, LAST_YEAR)}T{CLOCK}Z"


def v3_list_parameters(list_query):
    """The parameters a v3 ListQuery reads (params.parse), from the query's own tables."""
    parameters = [
        query("page", {"type": "integer", "minimum": 1, "default": 1}),
        query("per_page", {"type": "integer", "minimum": 1, "maximum": list_query.max_per_page,
                           "default": v3_params.DEFAULT_PER_PAGE}),
        # As params._ORDER reads it: "" is no order_by at all (CC validates only a present one), and a raw
        # '+' arrives as a space.
        query("order_by", {"type": "string", "enum": ["", *(f"{sign}{name}" for name in list_query.orders
                                                           for sign in ("", "+", " ", "-"))]},
              f"`-` for descending, guid breaking ties; empty or absent: {list_query.default_order}"),
    ]
    for key, field in list_query.times.items():
        if field is None:
            continue  # CC names it a parameter, and refuses it
        parameters.append(query(key, {"type": "string", "pattern": comma_list(V3_TIME)},
                                f"Times (YYYY-MM-DDThh:mm:ssZ, {FIRST_YEAR} to {LAST_YEAR}), each naming its whole "
                                "second; ORed"))
        parameters += [query(f"{key}[{operator}]", {"type": "string", "pattern": f"^{V3_TIME}$"},
                             f"{operator}: one time; ANDed with the others") for operator in v3_params.RELATIONAL]
    for key in list_query.singles:
        # One guid, so no comma (usage_events._parsed refuses a list).
        parameters.append(query(key, {"type": "string", "pattern": "^[^,\\x00]+$"}, "One guid: only the events "
                                f"after it ({AFTER_GUID_RULE})"))
    for key in list_query.lists:
        parameters.append(query(key, STRING, "A comma list; any of them"))
        if key in list_query.excludable:
            parameters.append(query(f"{key}[not]", STRING, "A comma list; none of them"))
    if list_query.includes:
        parameters.append(include_parameter(list_query.includes))
    return parameters


def names_list(max_length):
    """A v3 comma list (params.split_list) of names the store could hold, one at least: each piece of at most
    `max_length` characters, and none %00, which the list's own percent-decoding makes a NUL."""
    char = "(?:[^,\\x00%]|%(?!00))"
    first = f"(?:[^,\\x00%{v3_params.LIST_SPACE}]|%(?!00))"  # whitespace after a comma is the separator's
    later = f"(?:{first}{char}{{0,{max_length - 1}}})"
    separator = v3_params.LIST_SEPARATOR
    return (f"^(?:{char}{{1,{max_length}}}(?:{separator}{later}?)*"
            f"|(?:{separator})+{later}(?:{separator}{later}?)*)$")


def include_parameter(includes):
    # Each at most once (CC refuses one named twice): every order of every choice, spelled out.
    choices = [v3_params.LIST_SEPARATOR.join(names)
               for count in range(1, len(includes) + 1) for names in itertools.permutations(includes, count)]
    return query("include", {"type": "string", "pattern": f"^(?:{'|'.join(choices)})$"},
                 "Related resources to include, each once: " + ", ".join(includes))


def v3_list(resource, included=None):
    pagination = obj({"total_results": INTEGER, "total_pages": INTEGER, "first": HREF, "last": HREF,
                      "next": nullable(HREF), "previous": nullable(HREF)})
    properties = {"pagination": pagination, "resources": array(resource)}
    if included is not None:
        properties["included"] = included
    return obj(properties, optional=("included",))


def add_v3(ops, components):
    audit_event = components.schema("V3AuditEvent", v3_schemas.AuditEventSchema())
    ops.add("/v3/audit_events", "get", "Audit events", "v3", ok("A page", v3_list(audit_event)),
            parameters=v3_list_parameters(v3_audit_events.QUERY), errors=(503,))
    ops.add("/v3/audit_events/{guid}", "get", "One audit event", "v3", ok("The event", audit_event), errors=(503,))
    for collection, schema in ((v3_usage.APP_USAGE, v3_schemas.AppUsageEventSchema()),
                               (v3_usage.SERVICE_USAGE, v3_schemas.ServiceUsageEventSchema())):
        name = type(schema).__name__.removesuffix("Schema")
        resource = components.schema(f"V3{name}", schema)
        ops.add(collection.path, "get", f"{collection.noun.capitalize()}s, in stream order", "v3",
                ok("A page (empty for a reader without a global role)", v3_list(resource)),
                parameters=v3_list_parameters(collection.query), errors=(422, 503))
        ops.add(f"{collection.path}/{{guid}}", "get", f"One {collection.noun}", "v3", ok("The event", resource),
                errors=(503,))
        ops.add(f"{collection.path}/actions/destructively_purge_all_and_reseed", "post",
                "Replace the stream by the running apps' or existing instances' events (admin)", "v3",
                ok("Done", obj({})), errors=(503,))
    for collection, (kind, list_query, _) in v3_resources.KINDS.items():
        resource = components.schema(f"V3{kind.capitalize()}", getattr(v3_schemas, f"{kind.capitalize()}Schema")())
        ops.add(f"/v3/{collection}", "get", f"The {collection} the store knows from their events", "v3",
                ok("A page", v3_list(resource)), parameters=v3_list_parameters(list_query), errors=(503,))
        ops.add(f"/v3/{collection}/{{guid}}", "get", f"One {kind}", "v3", ok(f"The {kind}", resource), errors=(503,))
    add_v3_roles(ops, components)
    add_v3_stats(ops, components)


def add_v3_stats(ops, components):
    """The extensions the console reads (api/v3/stats.py), with its limits."""
    def whole(name, default, maximum, description):
        return query(name, {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}, description)

    days = whole("days", v3_stats.DEFAULT_DAYS, v3_stats.MAX_DAYS, "The last N UTC days, today included")
    span = {"since": DATE_TIME, "until": DATE_TIME}
    category = obj({"id": STRING, "name": STRING})
    day = obj({"date": {"type": "string", "format": "date"}, "total": INTEGER,
               "by_category": {"type": "object", "additionalProperties": INTEGER}})
    ops.add("/v3/audit_event_stats/daily", "get", "Audit events per UTC day and category (extension)", "v3",
            ok("Every day of the range, oldest first", obj({**span, "categories": array(category),
                                                            "days": array(day)})),
            parameters=[days], errors=(503,))
    target = obj({"guid": STRING, "type": STRING, "name": nullable(STRING), "total": INTEGER,
                  "daily": array(INTEGER)})
    ops.add("/v3/audit_event_stats/top_targets", "get", "The targets with most events of some types (extension)",
            "v3", ok("Most first, each with its events per day", obj({
                **span, "types": array(STRING), "dates": array({"type": "string", "format": "date"}),
                "resources": array(target)})),
            parameters=[query("types", {"type": "string", "default": "app.crash", "pattern": names_list(255)},
                              "A comma list of event types, at least one"),
                        days, whole("limit", v3_stats.DEFAULT_LIMIT, v3_stats.MAX_LIMIT, "How many targets")],
            errors=(503,))
    ops.add("/v3/app_usage_states/{guid}", "get", "One app's usage events, newest first (extension)", "v3",
            ok("In /v3/app_usage_events' format", obj({"resources": array(components.schema("V3AppUsageEvent"))})),
            parameters=[whole("per_page", v3_stats.DEFAULT_USAGE, v3_stats.MAX_USAGE, "At most this many")],
            errors=(503,))


# Rules of the store's content, which no schema can say.
USERNAME_RULE = "refused when no user has that name"
ROLE_EXISTS_RULE = "refused when the user holds that role already"


def add_v3_roles(ops, components):
    role = components.schema("V3Role", v3_schemas.RoleSchema())
    user = components.schema("V3User", v3_schemas.UserSchema())
    included = obj({"users": array(user), "organizations": array(components.schema("V3Organization")),
                    "spaces": array(components.schema("V3Space"))}, optional=("users", "organizations", "spaces"))
    ops.add("/v3/roles", "get", "Roles in spaces and organizations", "v3",
            ok("A page", v3_list(role, included)), parameters=v3_list_parameters(v3_roles.QUERY), errors=(422, 503))
    # As roles._requested_role reads it (CC's RoleCreateMessage): a relationship is its data, a space's or
    # organization's its guid only; a user by guid, or by username (extra keys ignored there, as in CC) and the
    # issuer's origin; and a space role's target is a space, an organization role's an organization.
    guid = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": GUID_PATTERN.pattern}
    relationship = obj({"data": obj({"guid": guid})})
    by_username = {"type": "object", "required": ["username"], "properties": {
        "username": {"type": "string", "maxLength": 255, "pattern": NO_NUL,
                     "description": f"A user the built-in issuer knows ({USERNAME_RULE})"},
        "origin": {"enum": ["uaa", None]}, "guid": NOTHING}}
    user_relationship = obj({"data": {"anyOf": [obj({"guid": guid}), by_username]}})
    bodies = [obj({"type": {"type": "string", "enum": [name for name in ROLE_TYPES
                                                       if role_store.TYPES[name][0] == target]},
                   "relationships": obj({"user": user_relationship, target: relationship})})
              for target in ("space", "organization")]
    ops.add("/v3/roles", "post", "Give a user a role (admin)", "v3", ok("The role", role, 201), errors=(422, 503),
            body=json_body({"anyOf": bodies}, "The role: its type, its user, and its space or organization "
                                              f"({ROLE_EXISTS_RULE})"))
    with_included = components.extended("V3RoleWithIncluded", "V3Role", {"included": included})
    ops.add("/v3/roles/{guid}", "get", "One role", "v3", ok("The role (and what `include` asks for)", with_included),
            parameters=[include_parameter(v3_roles.INCLUDES)], errors=(422, 503))
    ops.add("/v3/roles/{guid}", "delete", "Delete a role (admin); done at once", "v3", ok("Deleted", status=204),
            errors=(503,))


def add_v3_links(ops):
    """From a page or a write to each resource of it, from an app's usage event to the app's states, and from a
    page of a usage stream to the next (documented_operations says why links matter)."""
    first = "$response.body#/resources/0"
    for stream in ("app_usage_events", "service_usage_events"):
        v3_guid = {"guid": f"{first}/guid"}
        ops.link((f"/v3/{stream}", "get"), "200", "next", (f"/v3/{stream}", "get"), {"after_guid": v3_guid["guid"]})
        ops.link((f"/v3/{stream}", "get"), "200", "event", (f"/v3/{stream}/{{guid}}", "get"), v3_guid)
    ops.link(("/v3/app_usage_events", "get"), "200", "states", ("/v3/app_usage_states/{guid}", "get"),
             {"guid": f"{first}/app/guid"})
    for method in ("get", "delete"):
        ops.link(("/v3/roles", "get"), "200", f"{method}Role", ("/v3/roles/{guid}", method), {"guid": f"{first}/guid"})
        ops.link(("/v3/roles", "post"), "201", f"{method}Role", ("/v3/roles/{guid}", method),
                 {"guid": "$response.body#/guid"})
    for kind in ("audit_events", "apps", "spaces", "organizations"):
        ops.link((f"/v3/{kind}", "get"), "200", "show", (f"/v3/{kind}/{{guid}}", "get"), {"guid": f"{first}/guid"})
