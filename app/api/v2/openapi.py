"""The OpenAPI description of Cloud Controller's v2 dialect (/v2): its operations, the q language and v2's
paging as parameters, its list envelope and write bodies, and what its schemas do not say of themselves."""
import re

from app.base.fields import FIRST_YEAR, LAST_YEAR, time_pattern
from app.store.models import AppUsageEvent, Event, ServiceUsageEvent
from app.store.writes import MAX_BATCH

from ..describe import (
    AFTER_GUID_RULE,
    BOOLEAN,
    DATE_TIME,
    INTEGER,
    NOT_NUL,
    NULL,
    PRETTY,
    STRING,
    TIME_DESCRIPTION,
    SchemaNotes,
    array,
    json_body,
    nullable,
    obj,
    ok,
    path_parameter,
    query,
)
from ..v1.openapi import scalingo_write_schema
from . import apps as v2_apps
from . import events as v2_events
from . import paging as v2_paging
from . import query as v2_query
from . import roles as v2_roles
from . import schemas as v2_schemas
from . import usage_events as v2_usage
from . import usage_schemas as v2_usage_schemas

# The metadata schema of each v2 usage stream (made by a factory, once here).
USAGE_METADATA = {stream: v2_usage_schemas.usage_metadata_schema(stream) for stream in v2_usage_schemas.ENTITY_SCHEMAS}
# Rules between the fields of a written event, which no schema can say.
SPACE_URL_RULE = "Empty, or /v2/spaces/ followed by the event's space_guid"
KNOWN_TYPE_RULE = ("A type of the catalogue (GET /v1/event_types) needs the fields it lists in its metadata "
                   "(type_data), with their types; a rule per type, stated there rather than here")

NOTES = SchemaNotes(
    models={
        v2_schemas.EventMetadataSchema: Event, v2_schemas.EventEntitySchema: Event,
        v2_usage_schemas.AppUsageEventEntitySchema: AppUsageEvent,
        v2_usage_schemas.ServiceUsageEventEntitySchema: ServiceUsageEvent,
        type(USAGE_METADATA["app_usage_events"]): AppUsageEvent,
        type(USAGE_METADATA["service_usage_events"]): ServiceUsageEvent,
    },
    fields={
        ("EventMetadataSchema", "url"): STRING,
        ("EventMetadataSchema", "updated_at"): DATE_TIME,
        ("UsageMetadataSchema", "url"): STRING,
        # Write-only fields the store derives and checks against others: said in words, which is all a schema can.
        ("EventWriteSchema", "type"): {"type": "string", "minLength": 1, "maxLength": 255,
                                       "pattern": v2_schemas.EVENT_TYPE.regex.pattern,
                                       "description": KNOWN_TYPE_RULE},
        ("EventWriteSchema", "space_url"): {"type": ["string", "null"], "pattern": f"^(?:/v2/spaces/{NOT_NUL}*)?$",
                                            "writeOnly": True, "description": SPACE_URL_RULE},
    },
)

# v2's q language (app/api/v2/query.py): clauses of key, operator, value, joined by ';' (';;' is a literal ';').
Q_OPERATORS = ":|>=|<=|<|>| IN "
# A time in a q value (query.parse_timestamp): an offset's '+' may arrive as a space.
Q_TIME = time_pattern(FIRST_YEAR, LAST_YEAR, v2_query.OFFSET_SIGNS)


def q_parameter(keys, time_keys=()):
    """q as query.parse reads it: a time key takes a time, or nothing (no value); the others any text."""
    text_keys = [key for key in keys if key not in time_keys]
    time = f"(?:{Q_TIME})?"
    clauses = [f"(?:{'|'.join(re.escape(key) for key in text_keys)})(?:{Q_OPERATORS})(?:[^;\\x00]|;;)*"]
    if time_keys:
        clauses.append(f"(?:{'|'.join(re.escape(key) for key in time_keys)})"
                       f"(?:(?::|>=|<=|<|>){time}| IN {time}(?:,{time})*)")
    clause = f"(?:{'|'.join(clauses)})"
    description = (f"Filters, ANDed: `key:value`, `key>=value` (also `<=`, `<`, `>`) or `key IN a,b`; keys "
                   f"{', '.join(f'`{key}`' for key in keys)}"
                   + (f"; {', '.join(time_keys)} take times ({TIME_DESCRIPTION}), naming whole seconds"
                      if time_keys else "")
                   + ". Several q parameters, or clauses joined by `;`, are ANDed; an empty value matches events "
                   "that have none; an empty q is no filter.")
    return query("q", array({"type": "string", "pattern": f"^(?:{clause}(?:;{clause})*;?)?$"}), description,
                 style="form", explode=True)


def v2_list_parameters(components, max_per_page, q_keys=(), time_keys=(), order_by=(), after_guid=False):
    parameters = components.query_parameters(v2_paging._paging_schema(max_per_page))
    if q_keys:
        parameters.append(q_parameter(q_keys, time_keys))
    if order_by:
        parameters.append(query("order-by", array({"type": "string", "enum": list(order_by)}),
                                "Accepted for CC's clients; the order is always " + ", ".join(order_by),
                                style="form", explode=True))
    if after_guid:
        parameters.append(query("after_guid", {"type": "string", "minLength": 1}, "Only the events after this "
                                f"one, in stream order ({AFTER_GUID_RULE})"))
    parameters += [query(name, STRING, "Carried into the paging links; no effect")
                   for name in v2_paging.RELATIONS_PARAMS]
    return [*parameters, PRETTY]


def v2_resource(components, name, metadata_schema, entity_schema):
    metadata = components.schema(f"{name}Metadata", metadata_schema)
    entity = components.schema(f"{name}Entity", entity_schema)
    return components.schema(name, json_schema=obj({"metadata": metadata, "entity": entity}))


def v2_list(resource):
    return obj({"total_results": INTEGER, "total_pages": INTEGER, "prev_url": nullable(STRING),
                "next_url": nullable(STRING), "resources": array(resource)})


def v2_write_body(item, kind):
    return json_body({"anyOf": [item, array(item, minItems=1, maxItems=MAX_BATCH)]},
                     f"One of the {kind} (an object) or up to {MAX_BATCH} (an array, written all or nothing); "
                     "each may carry its guid (and time), as read back")


def v2_written(resource):
    location = {"Location": {"description": "The event's URL (one event written)", "schema": STRING}}
    schema = {"anyOf": [resource, array(resource)]}
    return {**ok("Every event was already stored, with the same content (a replay)", schema),
            **ok("Written; what was stored, as an object or an array as sent", schema, 201, headers=location)}


def add_v2(ops, components):
    event = v2_resource(components, "V2Event", v2_schemas.EventMetadataSchema(), v2_schemas.EventEntitySchema())
    write = components.schema("V2EventWrite", v2_schemas.EventWriteSchema(exclude=("vocabulary",)))
    scalingo = components.schema("V2ScalingoEventWrite",
                                 json_schema=scalingo_write_schema(components.json("V2EventWrite")))
    ops.add("/v2/events", "get", "Audit events, in timestamp order", "v2",
            ok("A page", v2_list(event)), errors=(503,),
            parameters=v2_list_parameters(components, v2_events.MAX_PER_PAGE, v2_events.FILTERS, ("timestamp",),
                                          v2_events.ORDER))
    ops.add("/v2/events", "post", "Write audit events (cloud_controller.admin or cf_events.write)", "v2",
            v2_written(event), errors=(409, 422, 503),
            body=v2_write_body({"anyOf": [write, scalingo]}, "audit events"))
    ops.add("/v2/events/{guid}", "get", "One audit event", "v2", ok("The event", event), parameters=[PRETTY],
            errors=(503,))
    ops.add("/v2/events/{guid}", "delete", "Delete an audit event (admin)", "v2", ok("Deleted", status=204),
            errors=(503,))
    for collection, purge in ((v2_usage.APP_USAGE, "destructively_purge_all_and_reseed_started_apps"),
                              (v2_usage.SERVICE_USAGE, "destructively_purge_all_and_reseed_existing_instances")):
        stream = collection.model.__tablename__
        name = "".join(part.capitalize() for part in stream.split("_"))[:-1]  # AppUsageEvent
        resource = v2_resource(components, f"V2{name}", USAGE_METADATA[stream],
                               v2_usage_schemas.ENTITY_SCHEMAS[stream])
        item = components.schema(f"V2{name}Write", collection.write_schema())
        readers = ", ".join(sorted(collection.list_scopes))
        ops.add(collection.path, "get", f"{stream.replace('_', ' ').capitalize()}, in stream order: follow "
                f"after_guid ({readers})", "v2",
                ok("A page", v2_list(resource)), errors=(503,),
                parameters=v2_list_parameters(components, collection.max_per_page, collection.filters,
                                              after_guid=True))
        ops.add(collection.path, "post", f"Write {stream.replace('_', ' ')}", "v2", v2_written(resource),
                errors=(409, 422, 503), body=v2_write_body(item, stream.replace("_", " ")))
        ops.add(f"{collection.path}/{{guid}}", "get", f"One {stream.replace('_', ' ')[:-1]}", "v2",
                ok("The event", resource), parameters=[PRETTY], errors=(503,))
        ops.add(f"{collection.path}/{purge}", "post", "Replace the stream by the running apps' or existing "
                "instances' events (admin)", "v2", ok("Done", status=204), errors=(503,))
        # The purge's path is also an event's by that guid, which GET shows (404 while there is none), as CC.
        ops.add(f"{collection.path}/{purge}", "get", f"The {stream.replace('_', ' ')[:-1]} whose guid is {purge}",
                "v2", ok("The event", resource), parameters=[PRETTY], errors=(404, 503))
    add_v2_roles(ops, components)
    app_resource = obj({"metadata": obj({"guid": STRING, "url": STRING, "created_at": DATE_TIME,
                                         "updated_at": DATE_TIME}),
                        "entity": obj({"name": STRING, "space_guid": STRING, "space_url": STRING,
                                       "events_url": STRING})})
    ops.add("/v2/spaces/{space_guid}/apps", "get", "The apps of a space, as the store knows them", "v2",
            ok("A page", v2_list(components.schema("V2App", json_schema=app_resource))), errors=(503,),
            parameters=v2_list_parameters(components, v2_apps.MAX_PER_PAGE, v2_apps.FILTERS))


def add_v2_roles(ops, components):
    user = components.schema("V2RoleUser", json_schema=obj({
        "metadata": obj({"guid": STRING, "url": STRING, "created_at": DATE_TIME, "updated_at": DATE_TIME}),
        "entity": obj({"admin": BOOLEAN, "active": BOOLEAN, "default_space_guid": NULL})}))
    for collection, (target_type, plurals, _) in v2_roles.TARGETS.items():
        plural = path_parameter("plural", {"type": "string", "enum": list(plurals)})
        target = obj({"metadata": obj({"guid": STRING, "url": STRING}),
                      "entity": obj({f"{name}_url": STRING for name in plurals})})
        path = f"/v2/{collection}/{{guid}}/{{plural}}"
        ops.add(path, "get", f"The users holding a role in a {target_type} (admin, admin_read_only, global_auditor)",
                "v2", ok("A page", v2_list(user)), errors=(503,),
                parameters=[plural, *v2_list_parameters(components, v2_roles.MAX_PER_PAGE)])
        ops.add(f"{path}/{{user_guid}}", "put", f"Give a user a role in a {target_type} (admin; idempotent)", "v2",
                ok("The role is held", target, 201), parameters=[plural], errors=(503,))
        ops.add(f"{path}/{{user_guid}}", "delete", f"Take a role in a {target_type} from a user (admin; idempotent)",
                "v2", ok("The role is not held", status=204), parameters=[plural], errors=(503,))


def add_v2_links(ops):
    """From a page or a write to each event, from a role given to its holders and its revocation
    (documented_operations says why links matter)."""
    first = "$response.body#/resources/0"
    for stream in ("app_usage_events", "service_usage_events"):
        v2_guid = {"guid": f"{first}/metadata/guid"}
        ops.link((f"/v2/{stream}", "get"), "200", "next", (f"/v2/{stream}", "get"), {"after_guid": v2_guid["guid"]})
        ops.link((f"/v2/{stream}", "get"), "200", "event", (f"/v2/{stream}/{{guid}}", "get"), v2_guid)
        ops.link((f"/v2/{stream}", "post"), "201", "event", (f"/v2/{stream}/{{guid}}", "get"),
                 {"guid": "$response.body#/metadata/guid"})
    for method in ("get", "delete"):
        ops.link(("/v2/events", "get"), "200", f"{method}Event", ("/v2/events/{guid}", method),
                 {"guid": f"{first}/metadata/guid"})
        ops.link(("/v2/events", "post"), "201", f"{method}Event", ("/v2/events/{guid}", method),
                 {"guid": "$response.body#/metadata/guid"})
    ops.link(("/v2/events", "get"), "200", "spaceApps", ("/v2/spaces/{space_guid}/apps", "get"),
             {"space_guid": f"{first}/entity/space_guid"})
    for collection in v2_roles.TARGETS:
        role = f"/v2/{collection}/{{guid}}/{{plural}}"
        same = {name: f"$request.path.{name}" for name in ("guid", "plural", "user_guid")}
        ops.link((f"{role}/{{user_guid}}", "put"), "201", "revoke", (f"{role}/{{user_guid}}", "delete"), same)
        ops.link((f"{role}/{{user_guid}}", "put"), "201", "holders", (role, "get"),
                 {"guid": same["guid"], "plural": same["plural"]})
