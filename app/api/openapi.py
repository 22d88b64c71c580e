"""GET /openapi.json: an OpenAPI 3.1 document of every public endpoint; GET /docs: Swagger UI over it.

The document is made, never written by hand where the code has a definition to make it from:

- bodies and resources from the Marshmallow schemas that define the wire format (apispec's
  Marshmallow plugin), each field's nullability from the model column it presents;
- v2 and v1 paging parameters from their schemas too; v3 parameters from each endpoint's `ListQuery`
  (app/api/v3/params.py), q keys, order-by names and page limits from the constants the views use;
- the routes from the app's URL map: an operation is documented when, and only when, its route exists.
  `undocumented(app)` names the routes that have no entry here (tests/api/test_openapi.py fails on any);
- every rule the service enforces on a request, as a pattern, format, bound or enum built from the
  grammar the service checks with (fields.time_pattern, params.LIST_SEPARATOR, fields.NUL, …); the few no
  schema can express (a period's end before its start, a cursor naming no event) said in words, in the
  description of what they constrain;
- links from an answer to the operations its guids name, which schemathesis' stateful phase follows.

Each dialect describes its own operations beside its views: app/api/v1/openapi.py, v2/openapi.py,
v3/openapi.py, reports/openapi.py and console/openapi.py, and discovery.py and oauth.py their endpoints, all in
the vocabulary of app/api/describe.py (components, security, error responses and their examples, the common
parameters). This module assembles the document from them, with what no dialect serves: the document's own
endpoints and the operations endpoints.

What no schema defines (list envelopes, discovery, usage reports, the issuer's answers) is described by hand
there; the schemathesis run (tests/api/test_schemathesis.py) checks every answer of the live service against it.
Swagger UI comes from the swagger-ui-bundle-v2 package at a pinned version, so /docs works offline.
"""
import functools
import hashlib
import inspect
import re
from importlib import metadata

import swagger_ui_bundle
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, request

from app.base.codec import encode_json

from .console.openapi import add_console
from .describe import (
    BEARER,
    ERROR_SCHEMAS,
    PUBLIC,
    SECURITY_SCHEMES,
    STRING,
    Components,
    Operations,
    json_content,
    obj,
    ok,
)
from .discovery import add_discovery
from .oauth import add_issuer
from .reports.openapi import add_usage_reports
from .responses import CONTENT_TYPE, REQUEST_ID_HEADER
from .v1 import openapi as v1_openapi
from .v2 import openapi as v2_openapi
from .v3 import openapi as v3_openapi

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
# The Swagger UI files /docs needs, and the type each is served as.
ASSETS = {"swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": "text/javascript; charset=utf-8"}
ASSET_MAX_AGE = 24 * 3600
# Implied by GET (Flask answers it for every GET route); OPTIONS is refused everywhere (limits.py).
IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})
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
# What each dialect says of its Marshmallow schemas that their declarations do not (describe.SchemaNotes).
SCHEMA_NOTES = (v1_openapi.NOTES, v2_openapi.NOTES, v3_openapi.NOTES)


def add_documentation(ops):
    """This document and Swagger UI over it (the views below)."""
    ops.add("/openapi.json", "get", "This document", "documentation",
            ok("OpenAPI 3.1", {"type": "object"}), security=PUBLIC)
    ops.add("/docs", "get", "This document, for a person: Swagger UI", "documentation",
            ok("An HTML page", STRING, content_type="text/html"), security=PUBLIC)
    for name, content_type in ASSETS.items():
        ops.add(f"/docs/{name}", "get", f"Swagger UI's {name}", "documentation",
                {**ok("From the swagger-ui-bundle-v2 package", STRING, content_type=content_type.split(";")[0]),
                 **ok("Unchanged (If-None-Match)", status=304)}, security=PUBLIC)


def add_operations_endpoints(ops):
    """Probes and metrics, documented for when their routes exist. app/ops serves them, and app/api may not
    import it (the layers' direction): so they are described here."""
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
    v1_openapi.add_v1(ops, components)
    v2_openapi.add_v2(ops, components)
    v3_openapi.add_v3(ops, components)
    add_usage_reports(ops, components)
    add_operations_endpoints(ops)
    # Last, once every operation is in: what an answer names that another operation takes. The stateful tests
    # follow these links, so each must build a URL of something that exists (tests/api/test_openapi.py checks each
    # names real parameters and fields).
    v2_openapi.add_v2_links(ops)
    v3_openapi.add_v3_links(ops)
    v1_openapi.add_v1_links(ops)
    return ops


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
    ops = documented_operations(Components(spec, plugin, *SCHEMA_NOTES))
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
    spec = APISpec("cf-events", "0", OPENAPI_VERSION, plugins=[plugin])
    return documented_operations(Components(spec, plugin, *SCHEMA_NOTES))


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

