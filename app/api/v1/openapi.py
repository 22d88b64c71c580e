"""The OpenAPI description of Scalingo's dialect (/v1): its operations, what its schemas do not say of
themselves, and an event in Scalingo's vocabulary as POST /v2/events also takes it."""
from app.store.models import Event

from ..describe import (
    API_TOKEN_BASIC,
    BOOLEAN,
    DATE_TIME,
    INTEGER,
    NO_NUL,
    NOTHING,
    PRETTY,
    PUBLIC,
    STRING,
    SchemaNotes,
    array,
    nullable,
    obj,
    ok,
    path_parameter,
    ref,
)
from . import schemas as v1_schemas

NOTES = SchemaNotes(
    models={v1_schemas.ScalingoEventSchema: Event},
    fields={
        ("ScalingoEventSchema", "created_at"): DATE_TIME,
        ("ScalingoEventSchema", "user"): obj({"username": nullable(STRING), "email": nullable(STRING),
                                              "id": STRING}),
        ("ScalingoEventSchema", "app_id"): STRING,
        ("ScalingoEventSchema", "app_name"): STRING,
    },
    # Scalingo's events leave out a user or an app they have not.
    optional_keys={v1_schemas.ScalingoEventSchema: ("user", "app_id", "app_name")},
)


def add_v1(ops, components):
    event = components.schema("ScalingoEvent", v1_schemas.ScalingoEventSchema())
    pagination = obj({"prev_page": nullable(INTEGER), "current_page": INTEGER, "next_page": nullable(INTEGER),
                      "total_pages": INTEGER, "total_count": INTEGER})
    listing = components.schema("ScalingoEventList", json_schema=obj({
        "events": array(event), "meta": obj({"pagination": pagination})}))
    paging = [*components.query_parameters(v1_schemas.PagingSchema()), PRETTY]
    errors = (422, 503)
    ops.add("/v1/events", "get", "Audit events, newest first (Scalingo's dialect)", "v1",
            ok("A page (`from`: every event of the last hours, as one page)", listing), parameters=paging,
            errors=errors)
    app = path_parameter("app", description="The app's guid, or its name")
    ops.add("/v1/apps/{app}/events", "get", "An app's audit events, newest first", "v1",
            ok("A page", listing), parameters=[app, *paging], errors=errors)
    ops.add("/v1/apps/{app}/events/{event_id}", "get", "One event of an app", "v1",
            ok("The event", obj({"event": event})), parameters=[app, PRETTY], errors=(503,))
    field = obj({"name": STRING, "type": STRING, "required": BOOLEAN})
    event_type = obj({"id": STRING, "name": STRING, "category_id": STRING, "display_name": STRING,
                      "description": STRING, "vocabulary": STRING, "fields": array(field)})
    ops.add("/v1/event_types", "get", "The catalogue of known event types, of both vocabularies", "v1",
            ok("Every type", obj({"event_types": array(event_type)})), security=PUBLIC, parameters=[PRETTY])
    category = obj({"id": STRING, "name": STRING, "display_name": STRING, "position": INTEGER})
    ops.add("/v1/event_categories", "get", "The event types' categories", "v1",
            ok("In display order", obj({"event_categories": array(category)})), security=PUBLIC,
            parameters=[PRETTY])
    ops.add("/v1/tokens/exchange", "post", "An API token for an hour-long bearer token", "v1",
            ok("The bearer token", obj({"token": STRING})), security=[{API_TOKEN_BASIC: []}], errors=(401, 404, 503))


# Where v1/schemas.scalingo_to_store puts each key of a Scalingo-shaped event: the store field it is then
# checked as (tests/api/test_openapi.py holds this to scalingo_to_store).
SCALINGO_FIELDS = {"id": "guid", "created_at": "timestamp", "type": "type", "type_data": "metadata",
                   "app_id": "actee", "app_name": "actee_name"}
SCALINGO_USER_FIELDS = {"id": "actor", "email": "actor_name", "username": "actor_username"}


def scalingo_write_schema(write):
    """An event in Scalingo's vocabulary, as POST /v2/events also takes it: each key as the store field it
    becomes (`write`: V2EventWrite's JSON Schema), never a store key of the actor or target. With type_data,
    no other key; without it, the other keys are the type's data (the 2015 API), so any key may come."""
    fields = write["properties"]
    properties = {key: fields[field] for key, field in SCALINGO_FIELDS.items()}
    properties["app_name"] = nullable(properties["app_name"])  # no name: ""
    properties["user"] = nullable(obj({key: fields[field] for key, field in SCALINGO_USER_FIELDS.items()},
                                      optional=("email", "username")))
    properties.update({key: fields[key] for key in sorted(v1_schemas.STORE_KEYS - v1_schemas.STORE_ACTOR_KEYS)})
    properties.update({key: NOTHING for key in sorted(v1_schemas.STORE_ACTOR_KEYS)})
    type_data = properties.pop("type_data")
    optional = [key for key in properties if key != "type"]
    # Where no user acted, an addon that did is the actor: a name as an actor's, or null for none.
    addon = {"addon_provider": nullable(fields["actor"])}

    def unless_a_user(schema):
        return {"anyOf": [{"required": ["user"], "properties": {"user": {"type": "object"}}}, schema]}

    # An app's name only beside its id.
    named_app = {"anyOf": [{"required": ["app_id"]}, {"properties": {"app_name": NOTHING}}]}
    with_type_data = {**obj({**properties, "type_data": type_data}, optional=optional),
                      "allOf": [named_app, unless_a_user({"properties": {"type_data": {"properties": addon}}})]}
    scalingo_only = sorted(v1_schemas.SCALINGO_KEYS - {"type_data"})
    of_2015 = {**obj({**properties, "type_data": NOTHING}, optional=[*optional, "type_data"],
                     additional=ref("JsonValue")), "propertyNames": {"pattern": NO_NUL},
               "allOf": [{"anyOf": [{"required": [key]} for key in scalingo_only]}, named_app,
                         unless_a_user({"properties": addon})]}
    return {"anyOf": [with_type_data, of_2015]}


def add_v1_links(ops):
    """From a page to each event of it (documented_operations says why links matter)."""
    ops.link(("/v1/events", "get"), "200", "event", ("/v1/apps/{app}/events/{event_id}", "get"),
             {"app": "$response.body#/events/0/app_id", "event_id": "$response.body#/events/0/id"})
