"""/openapi.json describes every route the app serves, and nothing else; /docs shows it, offline.

The document is made from the schemas and tables the views use (app/openapi.py): these tests hold it to
the URL map in both directions, check it is OpenAPI 3.1, and spot-check that its limits are the code's.
tests/test_schemathesis.py checks the live service's answers against it.
"""
import json
import re

import jsonschema_rs
import pytest
import swagger_ui_bundle
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_31

from app import openapi
from app.api.v1 import schemas as v1_schemas
from app.api.v2 import events as v2_events
from app.api.v2 import usage_events as v2_usage
from app.api.v2.schemas import EventWriteSchema
from app.api.v3 import params as v3_params
from app.writes import MAX_BATCH
from tests.conftest import make_app
from tests.dialects import assert_error_shape

APP = make_app("sqlite://")
DOCUMENT = openapi.build(APP)


def documented(document=DOCUMENT):
    return {(path, method) for path, operations in document["paths"].items() for method in operations}


def parameter(path, name, method="get"):
    found = [p for p in DOCUMENT["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1, (path, name)
    return found[0]


def test_every_route_the_app_serves_is_documented():
    missing = openapi.undocumented(APP)
    assert not missing, (
        "routes with no entry in the OpenAPI document; describe each in app/openapi.py (documented_operations, "
        f"ops.add(path, method, …)): {', '.join(missing)}")


def test_every_documented_operation_is_a_route_the_app_serves():
    served = set(openapi.routes(APP))
    assert documented() <= served, sorted(documented() - served)
    assert documented() == served


def test_only_routes_to_come_are_documented_ahead_of_the_url_map():
    ops = openapi.operations()
    ahead = set(ops.table) - set(openapi.routes(APP))
    assert ahead <= ops.optional, sorted(ahead - ops.optional)


def test_a_new_route_without_documentation_fails_with_its_name():
    app = make_app("sqlite://")
    app.add_url_rule("/v2/widgets/<guid>", "widgets", lambda guid: "", methods=["GET", "DELETE"])
    new = set(openapi.undocumented(app)) - set(openapi.undocumented(APP))
    assert sorted(new) == ["DELETE /v2/widgets/{guid}", "GET /v2/widgets/{guid}"]
    assert "/v2/widgets/{guid}" not in openapi.build(app)["paths"]


def test_any_converters_are_one_path_each():
    rules = {rule.endpoint: rule for rule in APP.url_map.iter_rules()}
    assert openapi.openapi_paths(rules["v2.add_role"]) == ["/v2/spaces/{guid}/{plural}/{user_guid}",
                                                           "/v2/organizations/{guid}/{plural}/{user_guid}"]
    operation_ids = [operation["operationId"] for operations in DOCUMENT["paths"].values()
                     for operation in operations.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_document_is_openapi_3_1_and_its_schemas_json_schema():
    assert DOCUMENT["openapi"] == "3.1.0"
    jsonschema_rs.validate(OPENAPI_31, DOCUMENT)
    for name, schema in DOCUMENT["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    for operations in DOCUMENT["paths"].values():
        for operation in operations.values():
            for item in operation["parameters"]:
                assert jsonschema_rs.meta.is_valid(item["schema"]), item


def test_openapi_json_is_public(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    assert response.get_json() == json.loads(json.dumps(DOCUMENT))


def test_security_is_a_bearer_jwt_and_discovery_documentation_and_login_are_public():
    assert DOCUMENT["security"] == [{"bearer": []}]
    bearer = DOCUMENT["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "JWT")
    for path in ("/", "/v2/info", "/v3", "/v3/info", "/openapi.json", "/docs", "/login", "/v1/event_types"):
        assert DOCUMENT["paths"][path]["get"]["security"] == [], path
    assert "security" not in DOCUMENT["paths"]["/v2/events"]["get"]


def test_the_parameters_carry_the_codes_limits():
    assert parameter("/v3/audit_events", "per_page")["schema"] == {
        "type": "integer", "minimum": 1, "maximum": v3_params.MAX_PER_PAGE, "default": v3_params.DEFAULT_PER_PAGE}
    assert parameter("/v3/audit_events", "page")["schema"]["minimum"] == 1
    assert parameter("/v3/audit_events", "order_by")["schema"]["enum"] == [
        "created_at", "+created_at", "-created_at", "updated_at", "+updated_at", "-updated_at"]
    assert parameter("/v3/audit_events", "target_guids[not]")
    assert parameter("/v3/app_usage_events", "after_guid")
    assert parameter("/v2/events", "results-per-page")["schema"]["maximum"] == v2_events.MAX_PER_PAGE
    assert parameter("/v2/app_usage_events", "results-per-page")["schema"]["maximum"] == v2_usage.APP_USAGE.max_per_page
    assert parameter("/v2/events", "page")["schema"] == {"type": "integer", "default": 1, "minimum": 1}
    assert parameter("/v2/events", "order-by")["schema"]["items"]["enum"] == list(v2_events.ORDER)
    assert parameter("/v2/app_usage_events", "after_guid")
    q = re.compile(parameter("/v2/events", "q")["schema"]["items"]["pattern"])
    assert q.search("type:audit.app.crash;timestamp>=2016-06-08T16:41:23Z")
    assert q.search("type IN audit.app.start,audit.app.stop;;x") and not q.search("name:web")
    assert parameter("/v1/events", "per_page")["schema"]["maximum"] == v1_schemas.MAX_PER_PAGE
    assert parameter("/v1/events", "from")["schema"]["maximum"] == v1_schemas.MAX_FROM_HOURS
    start = parameter("/organizations/{org_guid}/app_usages", "start")
    assert start["required"] and start["schema"]["format"] == "date"
    assert parameter("/app_usages", "order_by")["schema"]["enum"] == [
        "total_instance_hours", "-total_instance_hours", "megabyte_hours", "-megabyte_hours"]


def test_the_issuer_documents_its_refusals():
    # Schemathesis' first finding: a token request without client credentials is 401, and 404 with the issuer off.
    responses = DOCUMENT["paths"]["/oauth/token"]["post"]["responses"]
    assert {"200", "400", "401", "404"} <= set(responses)
    assert responses["401"]["content"]["application/json"]["schema"] == openapi.ref("UaaError")


@settings(max_examples=200)
@given(st.from_regex(openapi.V3_TIME, fullmatch=True))
def test_v3_times_as_documented_are_times_v3_reads(text):
    assert v3_params._TIMESTAMP.fullmatch(text)


def test_the_write_api_takes_an_event_or_a_batch_of_its_schema():
    body = DOCUMENT["paths"]["/v2/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    single, batch = body["anyOf"]
    assert batch["type"] == "array" and (batch["minItems"], batch["maxItems"]) == (1, MAX_BATCH)
    assert single == batch["items"]
    write = DOCUMENT["components"]["schemas"]["V2EventWrite"]
    assert sorted(write["required"]) == sorted(name for name, field in EventWriteSchema().fields.items()
                                               if field.required)
    assert "vocabulary" not in write["properties"] and write["additionalProperties"] is False
    assert set(DOCUMENT["paths"]["/v2/events"]["post"]["responses"]) >= {"200", "201", "409", "413", "422"}


def test_scalingo_keys_are_documented_as_the_store_fields_they_become():
    document = {key: f"<{key}>" for key in openapi.SCALINGO_FIELDS}
    document["user"] = {key: f"<user.{key}>" for key in openapi.SCALINGO_USER_FIELDS}
    stored = v1_schemas.scalingo_to_store(document)
    for key, field in openapi.SCALINGO_FIELDS.items():
        assert stored[field] == f"<{key}>", key
    for key, field in openapi.SCALINGO_USER_FIELDS.items():
        assert stored[field] == f"<user.{key}>", key


def test_every_operation_is_in_a_declared_section():
    declared = [tag["name"] for tag in DOCUMENT["tags"]]
    assert declared == list(openapi.TAGS)
    for path, operations in DOCUMENT["paths"].items():
        for operation in operations.values():
            assert operation["tags"][0] in declared, path


@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_each_error_is_in_its_dialects_shape(path):
    for operation in DOCUMENT["paths"][path].values():
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/readyz":
                continue
            content = response["content"]["application/json"]
            assert content["schema"] == openapi.ref(openapi.dialect_of(path)), (path, status)
            if "example" in content:
                assert_error_shape(path, content["example"])


def test_the_probes_and_metrics_are_documented_as_they_answer():
    table = openapi.operations().table
    assert set(table["/readyz", "get"]["responses"]) == {"200", "503"}
    assert list(table["/metrics", "get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert list(table["/console/", "get"]["responses"]["200"]["content"]) == ["text/html"]


def test_docs_is_a_public_page_whose_files_are_served_here(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    linked = re.findall(r'(?:src|href|url:)\s*=?\s*"([^"]+)"', page)
    assert sorted(linked) == sorted(["openapi.json", *(f"docs/{name}" for name in openapi.ASSETS)])
    for name, content_type in openapi.ASSETS.items():
        with client.get(f"/docs/{name}") as asset:
            assert (asset.status_code, asset.headers["Content-Type"]) == (200, content_type), name
            assert asset.data == (swagger_ui_bundle.swagger_ui_path / name).read_bytes()
            assert "max-age" in asset.headers["Cache-Control"]
