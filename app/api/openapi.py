"""GET /openapi.json: an OpenAPI 3.1 document of every public endpoint; GET /docs: Swagger UI over it.

The document is made, never written by hand where the code has a definition to make it from:

- bodies and resources from the Marshmallow schemas that define the wire format (apispec's
  Marshmallow plugin), each field's nullability from the model column it presents;
- v2 and v1 paging parameters from their schemas too; v3 parameters from each endpoint's `ListQuery`
  (app/api/v3/params.py), q keys, order-by names and page limits from the constants the views use;
- the routes from the app's URL map: an operation is documented when, and only when, its route exists.
  `undocumented(app)` names the routes that have no entry here (tests/test_openapi.py fails on any);
- every rule the service enforces on a request, as a pattern, format, bound or enum built from the
  grammar the service checks with (fields.time_pattern, params.LIST_SEPARATOR, fields.NUL, …); the few no
  schema can express (a period's end before its start, a cursor naming no event) said in words, in the
  description of what they constrain;
- links from an answer to the operations its guids name, which schemathesis' stateful phase follows.

What no schema defines (list envelopes, discovery, usage reports, the issuer's answers) is described here;
the schemathesis run (tests/test_schemathesis.py) checks every answer of the live service against it.
Swagger UI comes from the swagger-ui-bundle-v2 package at a pinned version, so /docs works offline.
"""
import copy
import functools
import hashlib
import inspect
import itertools
import re
from datetime import date
from importlib import metadata

import swagger_ui_bundle
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, request
from marshmallow import fields as ma_fields
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import types as sa_types

from app.base.fields import (
    CLOCK,
    FIRST_YEAR,
    GUID_PATTERN,
    LAST_YEAR,
    MAX_JSON_DEPTH,
    Guid,
    JsonObject,
    Text,
    Timestamp,
    date_pattern,
    time_pattern,
)
from app.identity import roles as role_store
from app.identity.models import Role, User
from app.ops.serving import HEADER_LIMITS, MAX_REQUEST_LINE
from app.store.models import AppUsageEvent, Event, KnownResource, ServiceUsageEvent
from app.store.writes import MAX_BATCH
from app.usage import reports

from . import console, discovery
from . import errors as error_catalogue
from .oauth import LOGIN_PROMPTS
from .presenters import Attributes, PerPage, SameAs
from .reports import views as usage_reports
from .responses import CONTENT_TYPE, REQUEST_ID_HEADER, encode_json
from .v1 import schemas as v1_schemas
from .v2 import apps as v2_apps
from .v2 import events as v2_events
from .v2 import paging as v2_paging
from .v2 import query as v2_query
from .v2 import roles as v2_roles
from .v2 import schemas as v2_schemas
from .v2 import usage_events as v2_usage
from .v2 import usage_schemas as v2_usage_schemas
from .v3 import audit_events as v3_audit_events
from .v3 import params as v3_params
from .v3 import resources as v3_resources
from .v3 import roles as v3_roles
from .v3 import schemas as v3_schemas
from .v3 import stats as v3_stats
from .v3 import usage_events as v3_usage

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
# The Swagger UI files /docs needs, and the type each is served as.
ASSETS = {"swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": "text/javascript; charset=utf-8"}
ASSET_MAX_AGE = 24 * 3600
# Implied by GET (Flask answers it for every GET route); OPTIONS is refused everywhere (limits.py).
IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})

BEARER, CLIENT_BASIC, API_TOKEN_BASIC = "bearer", "clientBasic", "apiTokenBasic"
SECURITY_SCHEMES = {
    BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "A UAA access token for the audience `cloud_controller` (the usage reports also take "
                            "`usage_service`), as `POST /oauth/token` issues it; its `scope` decides what it may read "
                            "and write."},
    CLIENT_BASIC: {"type": "http", "scheme": "basic",
                   "description": "The OAuth client and its secret (`cf:` for cf tools)."},
    API_TOKEN_BASIC: {"type": "http", "scheme": "basic",
                      "description": "An empty user and an API token (`flask tokens create`) as the password."},
}
PUBLIC = []
# The document's sections, in the order a reader meets them.
TAGS = {
    "discovery": "Where the APIs are and where to log in (public)",
    "v2": "Cloud Controller's v2 dialect: audit events, the usage streams, roles, and the write API",
    "v3": "Cloud Controller's v3 dialect: errors {errors: [{detail, title, code}]}",
    "v1": "Scalingo's dialect: errors {error}, {resource, error} or {errors: {field: [message]}}",
    "usage reports": "The Usage Service's endpoints: errors {error}",
    "issuer": "The built-in UAA-style token issuer (off when a UAA's keys are configured): errors {error, "
              "error_description}",
    "operations": "Probes and metrics",
    "console": "The operator console in the browser (public files; its data comes from the API above)",
    "documentation": "This document (public)",
}

# --- JSON Schema helpers ------------------------------------------------------------------------------
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
NULL = {"type": "null"}
NOTHING = {"not": {}}  # the false schema (apispec would read a bare false as a component's name)
DATE_TIME = {"type": "string", "format": "date-time"}


def nullable(schema):
    """`schema`, or null."""
    if set(schema) <= {"type", "format", "maxLength", "minLength", "pattern", "description", "default"} \
            and "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*types, "null"] if "null" not in types else types}
    return {"anyOf": [schema, NULL]}


def obj(properties, optional=(), additional=False, **more):
    """An object with exactly these properties, all present but `optional`."""
    schema = {"type": "object", "properties": properties,
              "required": [name for name in properties if name not in optional]}
    if additional is not True:
        schema["additionalProperties"] = additional
    return {**schema, **more}


def array(items, **more):
    return {"type": "array", "items": items, **more}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema, example=None):
    content = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {JSON: content}


def comma_list(pattern):
    """A comma list of `pattern` values, as v3 reads them (a comma and the whitespace after it separate)."""
    return f"^{pattern}(?:{v3_params.LIST_SEPARATOR}{pattern})*$"


# Text the store could hold: no NUL (fields.NUL; limits.py refuses it in any query value, the fields in any
# body string). `[^\x00]` is how a pattern spells "not fields.NUL" (tests/test_openapi.py holds it so).
NOT_NUL = "[^\\x00]"
NO_NUL = f"^{NOT_NUL}*$"


def storable(schema):
    """`schema`, its strings refusing NUL (those with a pattern or an enum of their own refuse it already)."""
    if schema.get("type") == "array":
        return {**schema, "items": storable(schema["items"])}
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        return {**schema, "pattern": NO_NUL}
    return schema


# --- Marshmallow schemas to JSON Schema ---------------------------------------------------------------
# The model each presenting schema reads: a field's JSON type and nullability are its column's.
OUTPUT_MODELS = {
    v2_schemas.EventMetadataSchema: Event, v2_schemas.EventEntitySchema: Event,
    v2_usage_schemas.AppUsageEventEntitySchema: AppUsageEvent,
    v2_usage_schemas.ServiceUsageEventEntitySchema: ServiceUsageEvent,
    v1_schemas.ScalingoEventSchema: Event,
    v3_schemas.AuditEventSchema: Event, v3_schemas.AppUsageEventSchema: AppUsageEvent,
    v3_schemas.ServiceUsageEventSchema: ServiceUsageEvent,
    v3_schemas.AppSchema: KnownResource, v3_schemas.SpaceSchema: KnownResource,
    v3_schemas.OrganizationSchema: KnownResource, v3_schemas.RoleSchema: Role, v3_schemas.UserSchema: User,
}
# The metadata schema of each v2 usage stream (made by a factory, once here).
USAGE_METADATA = {stream: v2_usage_schemas.usage_metadata_schema(stream) for stream in v2_usage_schemas.ENTITY_SCHEMAS}
OUTPUT_MODELS.update({type(USAGE_METADATA["app_usage_events"]): AppUsageEvent,
                      type(USAGE_METADATA["service_usage_events"]): ServiceUsageEvent})
# Keys a presenter leaves out when they have no value (Scalingo's events: no user, no app).
OPTIONAL_KEYS = {v1_schemas.ScalingoEventSchema: ("user", "app_id", "app_name")}

HREF = obj({"href": {"type": "string", "format": "uri"}})


def to_one():
    return obj({"data": nullable(obj({"guid": STRING}))})


V3_METADATA = obj({"labels": obj({}), "annotations": obj({})})
# Rules between the fields of a written event, which no schema can say.
SPACE_URL_RULE = "Empty, or /v2/spaces/ followed by the event's space_guid"
KNOWN_TYPE_RULE = ("A type of the catalogue (GET /v1/event_types) needs the fields it lists in its metadata "
                   "(type_data), with their types; a rule per type, stated there rather than here")
ROLE_TYPES = [name for name in v3_roles.TYPE_NAMES if name in role_store.TYPES]
# What a Function or Method field outputs, which its code says and its declaration does not; also
# fields whose value may be null although their column is not (a user the issuer does not know).
# openapi.py refuses to describe a presenting schema with a Function field missing here.
FIELD_SCHEMAS = {
    ("EventMetadataSchema", "url"): STRING,
    ("EventMetadataSchema", "updated_at"): DATE_TIME,
    ("UsageMetadataSchema", "url"): STRING,
    ("ScalingoEventSchema", "created_at"): DATE_TIME,
    ("ScalingoEventSchema", "user"): obj({"username": nullable(STRING), "email": nullable(STRING), "id": STRING}),
    ("ScalingoEventSchema", "app_id"): STRING,
    ("ScalingoEventSchema", "app_name"): STRING,
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
    # Write-only fields the store derives and checks against others: said in words, which is all a schema can.
    ("EventWriteSchema", "type"): {"type": "string", "minLength": 1, "maxLength": 255,
                                   "pattern": v2_schemas.EVENT_TYPE.regex.pattern, "description": KNOWN_TYPE_RULE},
    ("EventWriteSchema", "space_url"): {"type": ["string", "null"], "pattern": f"^(?:/v2/spaces/{NOT_NUL}*)?$",
                                        "writeOnly": True, "description": SPACE_URL_RULE},
}


def _column(model, attribute):
    """The column a model attribute maps to, or None."""
    columns = sa_inspect(model).column_attrs
    return columns[attribute].columns[0] if attribute in columns else None


def column_schema(model, attribute):
    """The JSON type of a stored attribute as presenters output it, null included when the column allows it."""
    column = _column(model, attribute)
    if column is None:
        raise LookupError(f"{model.__name__} has no column {attribute}")
    kind = column.type
    if isinstance(kind, sa_types.TypeDecorator):
        kind = kind.impl if not isinstance(kind.impl, type) else kind.impl()
    if isinstance(kind, sa_types.Integer):
        schema = dict(INTEGER)
    elif isinstance(kind, sa_types.String):
        schema = dict(STRING)
    elif isinstance(kind, sa_types.DateTime):
        schema = dict(DATE_TIME)
    else:
        schema = {"type": "object"}
    return nullable(schema) if column.nullable else schema


def _field_schema(converter, field, ret, **kwargs):
    """An apispec attribute function: what the store's own fields say, for inputs and outputs alike."""
    schema_class = type(field.parent)
    key = (schema_class.__name__, field.name)
    if key in FIELD_SCHEMAS:
        ret.clear()
        return dict(FIELD_SCHEMAS[key])
    model = OUTPUT_MODELS.get(schema_class)
    if model is not None:
        return _output_field(converter, field, ret, model)
    found = {}
    if isinstance(field, Text):
        found["maxLength"] = field.max_length
        if not field.allow_empty:
            found["minLength"] = 1
        if "pattern" not in ret and "enum" not in ret:
            found["pattern"] = NO_NUL
    if isinstance(field, Guid):
        found["pattern"] = GUID_PATTERN.pattern
    if isinstance(field, Timestamp):
        ret.pop("format")  # the service reads more than RFC 3339's date-time: TIME says what
        found.update(pattern=TIME, description=TIME_DESCRIPTION)
    if isinstance(field, JsonObject):
        ret.clear()
        return ref("JsonObject")
    return found


# A time as the service reads it (fields.time_pattern), in the years whose every time the store holds.
TIME = f"^{time_pattern(FIRST_YEAR, LAST_YEAR)}$"
BOUNDS_IN_UTC = (f"The store holds times from {FIRST_YEAR} to {LAST_YEAR} in UTC: one whose offset carries it out "
                 f"of them (on {FIRST_YEAR}-01-01 or {LAST_YEAR}-12-31) is refused, a rule no pattern can say.")
TIME_DESCRIPTION = ("RFC 3339 with `T` or a space between date and time, any fraction of a second, and an offset "
                    "(`Z`, ±hh, ±hhmm or ±hh:mm), or none for UTC. " + BOUNDS_IN_UTC)
# Metadata: any JSON object the store can hold (fields.check_json).
JSON_SCHEMAS = {
    "JsonObject": {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": ref("JsonValue"),
                   "description": f"Any JSON object without NUL in a key or a string, at most {MAX_JSON_DEPTH} "
                                  "levels deep: a bound said here only, since its schema would be as many nested "
                                  "copies of this one."},
    "JsonValue": {"anyOf": [{"type": ["string", "number", "boolean", "null"], "pattern": NO_NUL},
                            array(ref("JsonValue")), ref("JsonObject")]},
}


def _output_field(converter, field, ret, model):
    schema_class = type(field.parent).__name__
    if isinstance(field, SameAs):
        ret.clear()
        return converter.field2property(field.parent.fields[field.same_as])
    if isinstance(field, Attributes):
        ret.clear()
        return obj({key: column_schema(model, attribute) for key, attribute in field.keys.items()})
    if isinstance(field, PerPage):
        ret.clear()
        return obj({"self": HREF})
    if isinstance(field, (ma_fields.Function, ma_fields.Method)):
        raise TypeError(f"{schema_class}.{field.name}: a {type(field).__name__} field; say in openapi.py "
                        "FIELD_SCHEMAS what it outputs")
    column = _column(model, field.attribute or field.name)
    if column is None or isinstance(field, ma_fields.Dict):
        return {}
    # NullAsEmpty renders a NULL as "": never null.
    if column.nullable and not isinstance(field, v2_schemas.NullAsEmpty):
        return {"type": [*(ret["type"] if isinstance(ret.get("type"), list) else [ret.get("type", "string")]),
                         "null"]}
    return {}


class Components:
    """The component schemas of one document, made from Marshmallow schemas on first use."""

    def __init__(self, spec, plugin):
        self.spec, self.converter = spec, plugin.converter
        self.converter.add_attribute_function(_field_schema)
        plugin.map_to_openapi_type(Timestamp, "string", "date-time")
        plugin.map_to_openapi_type(JsonObject, "object", None)
        self.made = set(JSON_SCHEMAS)
        for name, schema in JSON_SCHEMAS.items():
            spec.components.schema(name, component=schema)

    def schema(self, name, schema=None, json_schema=None):
        """A $ref to component `name`: a Marshmallow schema instance converted, or a JSON Schema as is."""
        if name not in self.made:
            if json_schema is None:
                json_schema = self.converter.schema2jsonschema(schema)
                if type(schema) in OUTPUT_MODELS:
                    optional = OPTIONAL_KEYS.get(type(schema), ())
                    json_schema["required"] = [key for key in json_schema["properties"] if key not in optional]
                    json_schema["additionalProperties"] = False
            self.spec.components.schema(name, component=json_schema)
            self.made.add(name)
        return ref(name)

    def json(self, name):
        """The JSON Schema of a component made already."""
        return self.spec.components.schemas[name]

    def extended(self, name, base, optional_properties):
        """A $ref to component `name`: component `base` with more properties, each optional."""
        if name not in self.made:
            schema = copy.deepcopy(self.json(base))
            schema["properties"].update(optional_properties)
            self.spec.components.schema(name, component=schema)
            self.made.add(name)
        return ref(name)

    def query_parameters(self, schema):
        """The query parameters a Marshmallow schema reads: a query value is never null."""
        parameters = self.converter.schema2parameters(schema, location="query")
        for parameter in parameters:
            types = parameter["schema"].get("type")
            if isinstance(types, list):
                types = [kind for kind in types if kind != "null"]
                parameter["schema"]["type"] = types[0] if len(types) == 1 else types
            if parameter["schema"].get("default", 0) is None:
                del parameter["schema"]["default"]
            if None in parameter["schema"].get("enum", ()):
                parameter["schema"]["enum"].remove(None)
            parameter.pop("required", None)
        return parameters


# --- errors: each dialect's shape (errors.py) ---------------------------------------------------------
ERROR_SCHEMAS = {
    "V2Error": obj({"description": STRING,
                    "error_code": {"type": "string", "pattern": r"^(CF-[A-Za-z]+|UnknownError)$"}, "code": INTEGER}),
    "V3Error": obj({"errors": array(obj({"detail": STRING, "title": {"type": "string", "pattern": r"^CF-[A-Za-z]+$"},
                                         "code": INTEGER}), minItems=1, maxItems=1)}),
    "V1Error": {"anyOf": [obj({"error": STRING}), obj({"resource": STRING, "error": STRING}),
                          obj({"errors": {"type": "object", "additionalProperties": array(STRING)}})]},
    "UaaError": obj({"error": STRING, "error_description": STRING}),
    "UsageError": obj({"error": STRING}),
}
ERROR_BODIES = {error_catalogue.v2_body: "V2Error", error_catalogue.v3_body: "V3Error",
                error_catalogue.v1_body: "V1Error", error_catalogue.uaa_body: "UaaError",
                error_catalogue.usage_body: "UsageError"}
# A catalogue error each status is answered with, for the examples.
STATUS_ERRORS = {400: ("BadQueryParameter", "page"), 401: ("InvalidAuthToken",), 403: ("InsufficientScope",),
                 404: ("NotFound",), 409: ("EventConflict", "event-1"), 413: ("RequestTooLarge", 16777216),
                 422: ("UnprocessableEntity", "type: Missing data for required field."),
                 503: ("ServiceUnavailable", "The event store is unavailable; try again later")}
STATUS_MEANINGS = {
    400: "A parameter or the body is not valid (the body is not JSON, say)",
    401: "No token, or one that is not valid (expired, badly signed, revoked)",
    403: "The token's scopes or roles do not allow this",
    404: "Nothing by that name (also: an identifier the store could not hold)",
    409: "An event with that guid exists already, with other content",
    413: "The body is larger than MAX_BODY_BYTES",
    422: "The body or a parameter is well formed but not acceptable",
    503: "The event store is unavailable, or the usage rollups are still being built; try again later",
}
# What the server in front of the app (gunicorn, nginx) answers before the app reads the request, so in v2's
# shape whatever the path (app/serving.py): a request line or headers over their limits.
FRONT_ERRORS = {
    414: (("RequestLineTooLong", MAX_REQUEST_LINE),
          f"The request line (the path and query) is longer than {MAX_REQUEST_LINE} bytes"),
    431: (("RequestHeadersTooLarge", HEADER_LIMITS), f"The request headers are over the limit: {HEADER_LIMITS}"),
}
FRONT_STATUSES = frozenset(FRONT_ERRORS)


def dialect_of(path):
    """The error shape of `path`, as errors.error_body decides it."""
    path = path if path.endswith("/") else path + "/"
    for prefix, body in error_catalogue.DIALECTS:
        if path.startswith(prefix):
            return ERROR_BODIES[body]
    return ERROR_BODIES[error_catalogue.v2_body]


def error_response(path, status):
    if status in FRONT_ERRORS:
        (name, *args), description = FRONT_ERRORS[status]
        example = error_catalogue.v2_body(error_catalogue.ApiError(name, *args))
        return {"description": description, "content": json_content(ref("V2Error"), example)}
    example = None
    if status in STATUS_ERRORS:
        name, *args = STATUS_ERRORS[status]
        example = error_catalogue.error_body(path, error_catalogue.ApiError(name, *args))
    response = {"description": STATUS_MEANINGS[status], "content": json_content(ref(dialect_of(path)), example)}
    if status == 503:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait (usage reports)",
                                               "schema": {"type": "string"}}}
    return response


# --- parameters ---------------------------------------------------------------------------------------
# A path segment the store could hold (limits.StorableSegment); anything else is a 404.
SEGMENT = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/\\x00]+$"}


def path_parameter(name, schema=None, description=None):
    parameter = {"in": "path", "name": name, "required": True, "schema": schema or SEGMENT}
    if description:
        parameter["description"] = description
    return parameter


def query(name, schema, description=None, required=False, **more):
    parameter = {"in": "query", "name": name, "schema": schema, **more}
    if required:
        parameter["required"] = True
    if description:
        parameter["description"] = description
    return parameter


PRETTY = query("pretty", STRING, "Indent the JSON (any value but empty, 0 or false)")
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


# A rule of the store's content, which no schema can say: the cursor must name an event of the stream.
AFTER_GUID_RULE = "refused when the stream has no such event"


def include_parameter(includes):
    # Each at most once (CC refuses one named twice): every order of every choice, spelled out.
    choices = [v3_params.LIST_SEPARATOR.join(names)
               for count in range(1, len(includes) + 1) for names in itertools.permutations(includes, count)]
    return query("include", {"type": "string", "pattern": f"^(?:{'|'.join(choices)})$"},
                 "Related resources to include, each once: " + ", ".join(includes))


# --- the document -------------------------------------------------------------------------------------
class Operations:
    """The documented operations by (OpenAPI path, method), built from the API's own tables."""

    def __init__(self):
        self.table = {}
        # Routes documented before they exist: left out while the URL map has none.
        self.optional = set()

    def add(self, path, method, summary, tag, ok, security=None, parameters=(), body=None, errors=(),
            optional=False):
        """An operation; `errors` are the statuses of the path's error dialect it may answer with."""
        path_names = re.findall(r"{(\w+)}", path)
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        parameters = [*(path_parameter(name) for name in path_names if name not in declared),
                      *({**p, "schema": storable(p["schema"])} if p["in"] == "query" else p for p in parameters)]
        statuses = set(errors) | FRONT_STATUSES
        if path_names:
            statuses.add(404)
        if security is None:
            statuses |= {401, 403}
        if any(p["in"] == "query" for p in parameters):
            statuses.add(400)  # a NUL in any query value, whatever the parameter (limits.py)
        if body is not None:
            statuses |= {400, 413}
        responses = dict(ok)
        responses.update({str(status): error_response(path, status) for status in sorted(statuses)})
        operation = {"tags": [tag], "summary": summary, "parameters": parameters,
                     "responses": {str(key): value for key, value in sorted(responses.items())}}
        if security is not None:
            operation["security"] = security
        if body is not None:
            operation["requestBody"] = body
        self.table[path, method] = operation
        if optional:
            self.optional.add((path, method))

    def link(self, source, status, name, target, parameters):
        """A link from `source`'s answer `status` to operation `target`, (path, method) each: the parameters it
        takes from that request or answer ({parameter: runtime expression})."""
        path, method = target
        operation = self.table[source]
        response = {**operation["responses"][status]}
        response["links"] = {**response.get("links", {}), name: {
            "operationRef": "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method,
            "parameters": parameters}}
        operation["responses"] = {**operation["responses"], status: response}


def ok(description, schema=None, status=200, content_type=JSON, example=None, headers=None):
    response = {"description": description}
    if schema is not None:
        response["content"] = ({content_type: {"schema": schema}} if content_type != JSON
                               else json_content(schema, example))
    if headers:
        response["headers"] = headers
    return {str(status): response}


def json_body(schema, description):
    return {"required": True, "description": description, "content": {JSON: {"schema": schema}}}


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


def v3_list(resource, included=None):
    pagination = obj({"total_results": INTEGER, "total_pages": INTEGER, "first": HREF, "last": HREF,
                      "next": nullable(HREF), "previous": nullable(HREF)})
    properties = {"pagination": pagination, "resources": array(resource)}
    if included is not None:
        properties["included"] = included
    return obj(properties, optional=("included",))


def add_discovery(ops, components):
    link = obj({"href": STRING})
    versioned = obj({"href": STRING, "meta": obj({"version": STRING})})
    root_links = obj({
        "self": link, "cloud_controller_v3": versioned, "network_policy_v0": link, "network_policy_v1": link,
        "login": link, "uaa": link, "credhub": NULL, "routing": NULL, "logging": nullable(link),
        "log_cache": NULL, "log_stream": NULL,
        "app_ssh": obj({"href": STRING, "meta": obj({"host_key_fingerprint": NULL, "oauth_client": STRING})}),
        "cloud_controller_v2": versioned,
    }, optional=("cloud_controller_v2",))
    ops.add("/", "get", "The API's root: its versions and where to log in", "discovery",
            ok("Links, in CC's order; cloud_controller_v2 only while V2_API is on",
               components.schema("Root", json_schema=obj({"links": root_links}))),
            security=PUBLIC, parameters=[PRETTY])
    info = obj({"name": STRING, "build": STRING, "support": STRING, "version": INTEGER, "description": STRING,
                "authorization_endpoint": STRING, "token_endpoint": STRING, "min_cli_version": NULL,
                "min_recommended_cli_version": NULL, "api_version": STRING, "app_ssh_endpoint": STRING,
                "app_ssh_host_key_fingerprint": NULL, "app_ssh_oauth_client": STRING,
                "doppler_logging_endpoint": STRING})
    ops.add("/v2/info", "get", "v2's info: the API version and the login endpoints", "discovery",
            ok("As CC answers it", components.schema("V2Info", json_schema=info)), security=PUBLIC,
            parameters=[PRETTY])
    v3_links = obj({"self": link, **{name: link for name in discovery.V3_RESOURCES}})
    ops.add("/v3", "get", "v3's root: the v3 resources served", "discovery",
            ok("Links to each resource", components.schema("V3Root", json_schema=obj({"links": v3_links}))),
            security=PUBLIC, parameters=[PRETTY])
    v3_info = obj({"build": STRING, "cli_version": obj({"minimum": STRING, "recommended": STRING}),
                   "custom": obj({}), "description": STRING, "name": STRING, "version": INTEGER,
                   "osbapi_version": STRING,
                   "rate_limits": obj({"enabled": BOOLEAN, "general_limit": STRING,
                                       "reset_interval_in_minutes": STRING}),
                   "links": obj({"self": link, "support": link})})
    ops.add("/v3/info", "get", "v3's info", "discovery", ok("As CC answers it",
            components.schema("V3Info", json_schema=v3_info)), security=PUBLIC, parameters=[PRETTY])


def add_documentation(ops):
    ops.add("/openapi.json", "get", "This document", "documentation",
            ok("OpenAPI 3.1", {"type": "object"}), security=PUBLIC)
    ops.add("/docs", "get", "This document, for a person: Swagger UI", "documentation",
            ok("An HTML page", STRING, content_type="text/html"), security=PUBLIC)
    for name, content_type in ASSETS.items():
        ops.add(f"/docs/{name}", "get", f"Swagger UI's {name}", "documentation",
                {**ok("From the swagger-ui-bundle-v2 package", STRING, content_type=content_type.split(";")[0]),
                 **ok("Unchanged (If-None-Match)", status=304)}, security=PUBLIC)


def add_console(ops):
    """The operator console's shell and files (app/console), public: its data comes from the API."""
    ops.add("/console/", "get", "The operator console", "console",
            {**ok("Its HTML shell", STRING, content_type="text/html"), **ok("Unchanged (If-None-Match)", status=304)},
            security=PUBLIC, optional=True)
    for name, content_type in console.ASSETS.items():
        ops.add(f"/console/{name}", "get", f"The console's {name}", "console",
                {**ok("From the package", STRING, content_type=content_type.split(";")[0]),
                 **ok("Unchanged (If-None-Match)", status=304)}, security=PUBLIC, optional=True)


def add_issuer(ops, components):
    form = obj({"grant_type": {"type": "string", "enum": ["password", "refresh_token", "client_credentials"]},
                "username": STRING, "password": STRING, "refresh_token": STRING,
                "scope": {"type": "string", "description": "Space-separated; all the user's or client's when absent"}},
               optional=("username", "password", "refresh_token", "scope"), additional=True)
    token = obj({"access_token": STRING, "token_type": {"type": "string", "enum": ["bearer"]},
                 "refresh_token": STRING, "expires_in": INTEGER, "scope": STRING, "jti": STRING},
                optional=("refresh_token",))
    ops.add("/oauth/token", "post", "A token, as a UAA issues it (the built-in issuer)", "issuer",
            ok("The access token (and, for a user, a refresh token)", components.schema("Token", json_schema=token)),
            security=[{CLIENT_BASIC: []}], errors=(401, 404, 503),
            body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}})
    prompts = obj({name: array(STRING, minItems=2, maxItems=2) for name in LOGIN_PROMPTS})
    ops.add("/login", "get", "The prompts of a password login, as a UAA's /login gives them", "issuer",
            ok("The prompts cf login asks for", components.schema("LoginInfo", json_schema=obj({
                "app": obj({"version": STRING}), "prompts": prompts}))),
            security=PUBLIC, parameters=[PRETTY], errors=(404,))


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
# checked as (tests/test_openapi.py holds this to scalingo_to_store).
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


# A rule between two parameters, which no schema can say.
PERIOD_RULE = f"not before start, and at most {reports.MAX_PERIOD_DAYS} days from it"


def add_usage_reports(ops, components):
    # Any calendar day (usage_reports._date: what date.fromisoformat reads of YYYY-MM-DD).
    day = {"type": "string", "format": "date", "pattern": f"^{date_pattern(date.min.year, date.max.year)}$"}
    dated = [query("start", day, "The period's first day, YYYY-MM-DD (UTC)", required=True),
             query("end", day, f"Its last day, included: {PERIOD_RULE}", required=True)]
    formats = query("format", {"type": "string", "enum": list(usage_reports.FORMATS)},
                    "json (default) or csv; without it, an Accept that prefers text/csv gives CSV")
    text = nullable(STRING)
    period = {"period_start": DATE_TIME, "period_end": DATE_TIME}
    app_usage = obj({"space_guid": STRING, "space_name": text, "app_guid": STRING, "app_name": text,
                     "parent_application_guid": text, "parent_application_name": text, "process_type": text,
                     "instance_count": INTEGER, "memory_in_mb_per_instance": INTEGER, "duration_in_seconds": INTEGER})
    task_summary = obj({"parent_application_guid": text, "parent_application_name": text,
                        "memory_in_mb_per_instance": INTEGER, "task_count_for_range": INTEGER,
                        "concurrent_task_count_for_range": INTEGER, "total_duration_in_seconds_for_range": INTEGER})
    service_usage = obj({"deleted": BOOLEAN, "duration_in_seconds": INTEGER, "service_guid": text,
                         "service_instance_creation": nullable(DATE_TIME),
                         "service_instance_deletion": nullable(DATE_TIME), "service_instance_guid": STRING,
                         "service_instance_name": text, "service_instance_type": text, "service_name": text,
                         "service_plan_guid": text, "service_plan_name": text, "space_guid": STRING,
                         "space_name": text})
    organization = {"organization_guid": STRING, **period}
    bodies = {
        "app_usages": obj({**organization, "app_usages": array(app_usage)}),
        "task_usages": obj({**organization, "spaces": {"type": "object", "additionalProperties": obj({
            "space_name": text, "task_summaries": array(task_summary)})}}),
        "service_usages": obj({**organization, "service_usages": array(service_usage)}),
    }
    for report, body in bodies.items():
        name = "Organization" + "".join(part.capitalize() for part in report.split("_"))
        ops.add(f"/organizations/{{org_guid}}/{report}", "get", f"An organization's {report.replace('_', ' ')}",
                "usage reports", report_ok(components.schema(name, json_schema=body)),
                parameters=[*dated, formats], errors=(503,))

    def calendar(figures, monthly="monthly_reports", yearly="yearly_reports"):
        month = obj({"month": INTEGER, "year": INTEGER, **figures})
        year = obj({"year": INTEGER, **figures})
        return obj({"report_time": STRING, monthly: array(month), yearly: array(year)})

    service_figures = {"duration_in_hours": NUMBER, "average_instances": NUMBER, "maximum_instances": INTEGER}

    def service_reports(usage_row):
        plan = obj({"service_plan_name": text, "service_plan_guid": STRING, "usages": array(usage_row)})
        return array(obj({"service_name": text, "service_guid": STRING, "usages": array(usage_row),
                          "plans": array(plan)}))

    systems = {
        "app_usages": calendar({"average_app_instances": NUMBER, "maximum_app_instances": INTEGER,
                                "app_instance_hours": NUMBER, "megabyte_hours": NUMBER}),
        "task_usages": calendar({"total_task_runs": INTEGER, "maximum_concurrent_tasks": INTEGER,
                                 "task_hours": NUMBER, "megabyte_hours": NUMBER}),
        "service_usages": obj({"report_time": STRING,
                               "monthly_service_reports": service_reports(
                                   obj({"month": INTEGER, "year": INTEGER, **service_figures})),
                               "yearly_service_reports": service_reports(obj({"year": INTEGER, **service_figures}))}),
    }
    for report, body in systems.items():
        name = "System" + "".join(part.capitalize() for part in report.split("_"))
        ops.add(f"/system_report/{report}", "get", f"The platform's monthly and yearly {report.replace('_', ' ')}",
                "usage reports", report_ok(components.schema(name, json_schema=body)), parameters=[formats],
                errors=(503,))
    orders = [f"{sign}{name}" for name in reports.ORGANIZATION_ORDERS for sign in ("", "-")]
    summary = obj({**period, "Organizations": array(obj({"guid": STRING, "total_instance_hours": NUMBER,
                                                         "megabyte_hours": NUMBER}))})
    ops.add("/app_usages", "get", "Each organization's instance-hours and MB-hours", "usage reports",
            report_ok(components.schema("OrganizationsAppUsages", json_schema=summary)), errors=(503,),
            parameters=[*dated, query("order_by", {"type": "string", "enum": orders}, "By guid when absent"),
                        formats])
    ops.add("/usage_availability", "get", "The last whole day whose figures are final", "usage reports",
            report_ok(components.schema("UsageAvailability", json_schema=obj({"date": nullable(
                {"type": "string", "format": "date"})}))), parameters=[formats], errors=(503,))


def report_ok(schema):
    return {"200": {"description": "The report, as JSON, or as CSV (format=csv)",
                    "content": {JSON: {"schema": schema}, "text/csv": {"schema": STRING}}}}


def add_operations_endpoints(ops):
    """Probes and metrics, documented for when their routes exist."""
    status = obj({"status": STRING})
    ops.add("/healthz", "get", "Liveness: the process answers", "operations", ok("Alive", status),
            security=PUBLIC, optional=True)
    ready = obj({"status": STRING, "checks": {"type": "object", "additionalProperties": STRING}})
    ops.add("/readyz", "get", "Readiness: what the service depends on answers", "operations",
            {**ok("Ready", ready), "503": {"description": "Not ready: the checks say what failed",
                                           "content": json_content(ready)}},
            security=PUBLIC, optional=True)
    ops.add("/metrics", "get", "Prometheus metrics", "operations",
            ok("The text exposition format", STRING, content_type="text/plain"),
            security=[{}, {BEARER: []}], errors=(401, 403), optional=True)


def documented_operations(components):
    ops = Operations()
    add_discovery(ops, components)
    add_documentation(ops)
    add_console(ops)
    add_issuer(ops, components)
    add_v1(ops, components)
    add_v2(ops, components)
    add_v3(ops, components)
    add_usage_reports(ops, components)
    add_operations_endpoints(ops)
    add_links(ops)
    return ops


def add_links(ops):
    """What an answer names that another operation takes: the stateful tests follow these links, so each must
    build a URL of something that exists (tests/test_openapi.py checks each names real parameters and fields)."""
    first = "$response.body#/resources/0"
    for stream in ("app_usage_events", "service_usage_events"):
        v2_guid, v3_guid = {"guid": f"{first}/metadata/guid"}, {"guid": f"{first}/guid"}
        ops.link((f"/v2/{stream}", "get"), "200", "next", (f"/v2/{stream}", "get"), {"after_guid": v2_guid["guid"]})
        ops.link((f"/v2/{stream}", "get"), "200", "event", (f"/v2/{stream}/{{guid}}", "get"), v2_guid)
        ops.link((f"/v2/{stream}", "post"), "201", "event", (f"/v2/{stream}/{{guid}}", "get"),
                 {"guid": "$response.body#/metadata/guid"})
        ops.link((f"/v3/{stream}", "get"), "200", "next", (f"/v3/{stream}", "get"), {"after_guid": v3_guid["guid"]})
        ops.link((f"/v3/{stream}", "get"), "200", "event", (f"/v3/{stream}/{{guid}}", "get"), v3_guid)
    ops.link(("/v3/app_usage_events", "get"), "200", "states", ("/v3/app_usage_states/{guid}", "get"),
             {"guid": f"{first}/app/guid"})
    for method in ("get", "delete"):
        ops.link(("/v2/events", "get"), "200", f"{method}Event", ("/v2/events/{guid}", method),
                 {"guid": f"{first}/metadata/guid"})
        ops.link(("/v2/events", "post"), "201", f"{method}Event", ("/v2/events/{guid}", method),
                 {"guid": "$response.body#/metadata/guid"})
        ops.link(("/v3/roles", "get"), "200", f"{method}Role", ("/v3/roles/{guid}", method), {"guid": f"{first}/guid"})
        ops.link(("/v3/roles", "post"), "201", f"{method}Role", ("/v3/roles/{guid}", method),
                 {"guid": "$response.body#/guid"})
    ops.link(("/v2/events", "get"), "200", "spaceApps", ("/v2/spaces/{space_guid}/apps", "get"),
             {"space_guid": f"{first}/entity/space_guid"})
    ops.link(("/v1/events", "get"), "200", "event", ("/v1/apps/{app}/events/{event_id}", "get"),
             {"app": "$response.body#/events/0/app_id", "event_id": "$response.body#/events/0/id"})
    for kind in ("audit_events", "apps", "spaces", "organizations"):
        ops.link((f"/v3/{kind}", "get"), "200", "show", (f"/v3/{kind}/{{guid}}", "get"), {"guid": f"{first}/guid"})
    for collection in v2_roles.TARGETS:
        role = f"/v2/{collection}/{{guid}}/{{plural}}"
        same = {name: f"$request.path.{name}" for name in ("guid", "plural", "user_guid")}
        ops.link((f"{role}/{{user_guid}}", "put"), "201", "revoke", (f"{role}/{{user_guid}}", "delete"), same)
        ops.link((f"{role}/{{user_guid}}", "put"), "201", "holders", (role, "get"),
                 {"guid": same["guid"], "plural": same["plural"]})


_CONVERTER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def expansions(rule):
    """[(OpenAPI path template, the any() values it takes)] of a URL rule: `<name>` is `{name}`; an
    `any(a, b)` converter is one path for each of its values."""
    paths = [("", ())]
    position = 0
    for match in _CONVERTER.finditer(rule.rule):
        literal = rule.rule[position:match.start()]
        converter, arguments, name = match.groups()
        if converter == "any":
            values = [value.strip().strip("'\"") for value in arguments.split(",")]
            paths = [(path + literal + value, (*taken, value)) for path, taken in paths for value in values]
        else:
            paths = [(path + literal + "{" + name + "}", taken) for path, taken in paths]
        position = match.end()
    return [(path + rule.rule[position:], taken) for path, taken in paths]


def openapi_paths(rule):
    return [path for path, _ in expansions(rule)]


def routes(app):
    """{(OpenAPI path, method): (endpoint, the path's any() values)} of every route the app serves.

    A path without parameters may be another rule's too, with a parameter taking its last segment (a v2
    usage stream's purge path is an event's guid): each method the URL map answers there is one of its
    operations, as the Allow header of a 405 there lists them."""
    found = {}
    for rule in app.url_map.iter_rules():
        for path, taken in expansions(rule):
            for method in sorted(rule.methods - IMPLIED_METHODS):
                found[path, method.lower()] = (rule.endpoint, taken)
    adapter = app.url_map.bind("localhost")
    for path in {path for path, _ in found if "{" not in path}:
        for method in sorted(set(adapter.allowed_methods(path)) - IMPLIED_METHODS):
            if (path, method.lower()) not in found:
                rule, arguments = adapter.match(path, method, return_rule=True)
                found[path, method.lower()] = (rule.endpoint, tuple(
                    arguments[name] for name in sorted(rule.arguments) if name not in (rule.defaults or {})))
    return found


def package_version():
    try:
        return metadata.version("cf-events")
    except metadata.PackageNotFoundError:  # a source tree never installed
        return "0.0.0"


def build(app):
    """The OpenAPI document of `app`'s routes: each documented operation whose route exists."""
    spec = APISpec(
        title="cf-events", version=package_version(), openapi_version=OPENAPI_VERSION,
        plugins=[plugin := MarshmallowPlugin()],
        info={"description": "Cloud Foundry audit and usage events over one event store, in Cloud Controller's "
                             "v2 and v3 dialects, Scalingo's (v1) and the Usage Service's. Every error has its "
                             "dialect's shape. Every answer carries " + REQUEST_ID_HEADER + ". A query value holding "
                             "a NUL character is refused (400) everywhere; so is a path segment of more than 255 "
                             "characters or with a NUL (404).",
              "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        security=[{BEARER: []}],
    )
    for name, description in TAGS.items():
        spec.tag({"name": name, "description": description})
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for name, schema in ERROR_SCHEMAS.items():
        spec.components.schema(name, component=schema)
    ops = documented_operations(Components(spec, plugin))
    served = routes(app)
    for (path, method), (endpoint, taken) in sorted(served.items()):
        operation = ops.table.get((path, method))
        if operation is None:
            continue
        # The view's endpoint, and the any() values when its rule makes several paths: unique.
        operation = {**operation, "operationId": ".".join([endpoint, *taken])}
        view = app.view_functions.get(endpoint)
        # The view's docstring, where it has one of its own (not a lambda's or a partial's).
        if inspect.isfunction(view) and view.__doc__ and view.__name__ != "<lambda>":
            operation["description"] = inspect.cleandoc(view.__doc__)
        spec.path(path=path, operations={method: operation})
    return spec.to_dict()


def operations():
    """The documented operations, as `Operations` (table and optional), apart from any app."""
    plugin = MarshmallowPlugin()
    return documented_operations(Components(APISpec("cf-events", "0", OPENAPI_VERSION, plugins=[plugin]), plugin))


def undocumented(app):
    """"METHOD /path" of each route the app serves that the document does not describe."""
    table = operations().table
    return sorted(f"{method.upper()} {path}" for path, method in routes(app) if (path, method) not in table)


def document():
    """The current app's document, made once."""
    app = current_app._get_current_object()
    if "openapi" not in app.extensions:
        app.extensions["openapi"] = encode_json(build(app))
    return app.extensions["openapi"]


@bp.get("/openapi.json")
def openapi_json():
    return Response(document(), content_type=CONTENT_TYPE)


DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>cf-events API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                                 presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
                                 validatorUrl: null});
  </script>
</body>
</html>
"""


@bp.get("/docs")
def docs():
    """Swagger UI over /openapi.json; its files come from this service, never from a CDN."""
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8")


@functools.cache
def _asset_bytes(name):
    return (swagger_ui_bundle.swagger_ui_path / name).read_bytes()


def _asset(name):
    """A Swagger UI file, from memory (read once; no file handle outlives a response), cacheable by ETag."""
    data = _asset_bytes(name)
    response = Response(data, content_type=ASSETS[name])
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = ASSET_MAX_AGE
    return response.make_conditional(request)


for _name in ASSETS:
    bp.add_url_rule(f"/docs/{_name}", "asset_" + re.sub(r"\W", "_", _name), lambda name=_name: _asset(name),
                    methods=["GET"])

