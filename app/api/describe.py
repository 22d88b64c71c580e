"""The OpenAPI document's shared vocabulary: what every dialect's description (app/api/*/openapi.py) is made of.

- JSON Schema helpers, and the strings the store could hold (no NUL);
- `Components`: component schemas made from the Marshmallow schemas that define the wire format (apispec's
  Marshmallow plugin), each field's nullability from the model column it presents, with what each dialect
  says of its schemas that their declarations do not (`SchemaNotes`);
- `Operations`: the table of documented operations, each with the error responses of its path's dialect
  (errors.py), examples from the error catalogue, and the statuses every request may meet (limits.py and
  the servers in front);
- the security schemes, and the parameters several dialects read (path segments, `pretty`, a time).

It imports no dialect: each dialect's describer imports it, and app/api/openapi.py assembles the document.
"""
import copy
import dataclasses
import re

from marshmallow import fields as ma_fields
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import types as sa_types

from app.base.fields import (
    FIRST_YEAR,
    GUID_PATTERN,
    LAST_YEAR,
    MAX_JSON_DEPTH,
    Guid,
    JsonObject,
    NullAsEmpty,
    Text,
    Timestamp,
    time_pattern,
)

from . import errors as error_catalogue
from .limits import HEADER_LIMITS, MAX_REQUEST_LINE
from .presenters import Attributes, PerPage, SameAs

JSON = "application/json"

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


# Text the store could hold: no NUL (fields.NUL; limits.py refuses it in any query value, the fields in any
# body string). `[^\x00]` is how a pattern spells "not fields.NUL" (tests/api/test_openapi.py holds it so).
NOT_NUL = "[^\\x00]"
NO_NUL = f"^{NOT_NUL}*$"


def storable(schema):
    """`schema`, its strings refusing NUL (those with a pattern or an enum of their own refuse it already)."""
    if schema.get("type") == "array":
        return {**schema, "items": storable(schema["items"])}
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        return {**schema, "pattern": NO_NUL}
    return schema


# A link, as v3 writes them (presenters.PerPage too).
HREF = obj({"href": {"type": "string", "format": "uri"}})


# --- Marshmallow schemas to JSON Schema ---------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SchemaNotes:
    """What a dialect says of its Marshmallow schemas that their declarations do not, for `Components`.

    - models: {presenting schema class: the model it reads}: a field's JSON type and nullability are its
      column's;
    - fields: {(schema class name, field name): JSON Schema}: what a Function or Method field outputs, which
      its code says and its declaration does not; also fields whose value may be null although their column
      is not (a user the issuer does not know). A presenting schema with a Function field missing here is
      refused;
    - optional_keys: {presenting schema class: keys a presenter leaves out when they have no value}.
    """

    models: dict = dataclasses.field(default_factory=dict)
    fields: dict = dataclasses.field(default_factory=dict)
    optional_keys: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def merged(cls, notes):
        return cls(**{name: {key: value for note in notes for key, value in getattr(note, name).items()}
                      for name in ("models", "fields", "optional_keys")})


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


def _field_schema(notes, converter, field, ret):
    """What the store's own fields say, for inputs and outputs alike (an apispec attribute function, once
    `Components` gives it the dialects' `notes`)."""
    schema_class = type(field.parent)
    key = (schema_class.__name__, field.name)
    if key in notes.fields:
        ret.clear()
        return dict(notes.fields[key])
    model = notes.models.get(schema_class)
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
        raise TypeError(f"{schema_class}.{field.name}: a {type(field).__name__} field; say in its dialect's "
                        "openapi.py (SchemaNotes.fields) what it outputs")
    column = _column(model, field.attribute or field.name)
    if column is None or isinstance(field, ma_fields.Dict):
        return {}
    # NullAsEmpty renders a NULL as "": never null.
    if column.nullable and not isinstance(field, NullAsEmpty):
        return {"type": [*(ret["type"] if isinstance(ret.get("type"), list) else [ret.get("type", "string")]),
                         "null"]}
    return {}


class Components:
    """The component schemas of one document, made from Marshmallow schemas on first use, with what the
    dialects' `notes` (SchemaNotes) say of them."""

    def __init__(self, spec, plugin, *notes):
        self.spec, self.converter = spec, plugin.converter
        self.notes = notes = SchemaNotes.merged(notes)

        def field_schema(converter, field, ret, **kwargs):
            return _field_schema(notes, converter, field, ret)

        self.converter.add_attribute_function(field_schema)
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
                if type(schema) in self.notes.models:
                    optional = self.notes.optional_keys.get(type(schema), ())
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
# shape whatever the path (app/ops/serving.py): a request line or headers over their limits.
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
# A rule of the store's content, which no schema can say: the cursor must name an event of the stream.
AFTER_GUID_RULE = "refused when the stream has no such event"


# --- operations ---------------------------------------------------------------------------------------
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
