"""/openapi.json describes every route the app serves, and nothing else; /docs shows it, offline.

The document is made from the schemas and tables the views use (app/api/openapi.py assembles what each
dialect's describer says, app/api/*/openapi.py): these tests hold it to the URL map in both directions,
check it is OpenAPI 3.1, and spot-check that its limits are the code's.
tests/api/test_schemathesis.py checks the live service's answers against it.
"""
import json
import re

import jsonschema_rs
import pytest
import swagger_ui_bundle
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_31

from app.api import describe, openapi
from app.api.reports import openapi as reports_openapi
from app.api.v1 import openapi as v1_openapi
from app.api.v1 import schemas as v1_schemas
from app.api.v2 import events as v2_events
from app.api.v2 import query as v2_query
from app.api.v2 import usage_events as v2_usage
from app.api.v2.schemas import EventWriteSchema
from app.api.v3 import openapi as v3_openapi
from app.api.v3 import params as v3_params
from app.base.errors import ApiError
from app.base.fields import NUL
from app.store.writes import MAX_BATCH
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
        "routes with no entry in the OpenAPI document; describe each beside its views, in its dialect's "
        f"openapi.py (ops.add(path, method, …), called from app/api/openapi.py's documented_operations): "
        f"{', '.join(missing)}")


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
        "", "created_at", "+created_at", " created_at", "-created_at",
        "updated_at", "+updated_at", " updated_at", "-updated_at"]
    assert parameter("/v3/audit_events", "target_guids[not]")
    assert parameter("/v3/app_usage_events", "after_guid")
    # Without order_by each list has its own order; the document names it.
    for path in ("/v3/app_usage_events", "/v3/service_usage_events"):
        assert parameter(path, "order_by")["description"].endswith("absent: the stream's order, the one after_guid "
                                                                    "follows")
    assert parameter("/v3/audit_events", "order_by")["description"].endswith("absent: as stored")
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
    assert responses["401"]["content"]["application/json"]["schema"] == describe.ref("UaaError")


@settings(max_examples=200)
@given(st.from_regex(v3_openapi.V3_TIME, fullmatch=True))
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
    document = {key: f"<{key}>" for key in v1_openapi.SCALINGO_FIELDS}
    document["user"] = {key: f"<user.{key}>" for key in v1_openapi.SCALINGO_USER_FIELDS}
    stored = v1_schemas.scalingo_to_store(document)
    for key, field in v1_openapi.SCALINGO_FIELDS.items():
        assert stored[field] == f"<{key}>", key
    for key, field in v1_openapi.SCALINGO_USER_FIELDS.items():
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
            if int(status) < 400 or int(status) in describe.FRONT_STATUSES or path == "/readyz":
                continue
            content = response["content"]["application/json"]
            assert content["schema"] == describe.ref(describe.dialect_of(path)), (path, status)
            if "example" in content:
                assert_error_shape(path, content["example"])


def test_the_probes_and_metrics_are_documented_as_they_answer():
    table = openapi.operations().table
    assert set(table["/readyz", "get"]["responses"]) == {"200", "503", "414", "431"}
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


# --- the document says what the service enforces -----------------------------------------------------
# Each rule checked both ways: the document allows what the service takes and refuses what it refuses.
def conforms(schema, value):
    """Whether `value` is valid by `schema`, a JSON Schema of the document (its $refs resolved in it)."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": DOCUMENT["components"]}).is_valid(value)


def body_schema(path, method="post"):
    return DOCUMENT["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def query_strings():
    """(path, name, schema) of every string a query parameter takes (an array's items too)."""
    for path, operations in DOCUMENT["paths"].items():
        for operation in operations.values():
            for item in operation["parameters"]:
                schema = item["schema"]
                schema = schema["items"] if schema.get("type") == "array" else schema
                if item["in"] == "query" and schema.get("type") == "string":
                    yield path, item["name"], schema


def test_no_query_string_holds_a_nul():
    # limits.py refuses a NUL in any query value (400): each string parameter's pattern or enum says so.
    assert not re.fullmatch(describe.NOT_NUL, NUL) and re.fullmatch(describe.NOT_NUL, "a")
    for path, name, schema in query_strings():
        assert "enum" in schema or not conforms(schema, f"a{NUL}"), (path, name)


@pytest.mark.parametrize("changes", [{"actor": f"a{NUL}"}, {"metadata": {f"k{NUL}": 1}},
                                     {"metadata": {"k": [{"n": f"v{NUL}"}]}}])
def test_a_body_string_holding_a_nul_is_refused_as_documented(client, admin, changes):
    event = {"type": "custom.update", "actor": "u", "actor_type": "user", "actee": "a", "actee_type": "app",
             **changes}
    assert not conforms(body_schema("/v2/events"), event)
    assert client.post("/v2/events", headers=admin, json=event).status_code == 422


def test_times_are_documented_as_the_service_reads_them(client, admin):
    write = DOCUMENT["components"]["schemas"]["V2EventWrite"]["properties"]["timestamp"]
    assert describe.BOUNDS_IN_UTC in write["description"]
    event = {"type": "custom.update", "actor": "u", "actor_type": "user", "actee": "a", "actee_type": "app"}
    for timestamp, status in [("2016-06-08", 422), ("2016-06-08 16:41:23+04", 201), ("2016-02-29T00:00:00Z", 201),
                              ("2015-02-29T00:00:00Z", 422), ("1969-12-31T23:59:59Z", 422),
                              ("9999-01-01T00:00:00Z", 422), ("2016-06-08T16:41:23.5Z", 201)]:
        assert conforms(write, timestamp) == (status == 201), timestamp
        assert client.post("/v2/events", headers=admin, json={**event, "timestamp": timestamp}).status_code == status


@settings(max_examples=300)
@given(st.from_regex(re.compile(parameter("/v2/events", "q")["schema"]["items"]["pattern"]), fullmatch=True))
def test_q_values_as_documented_are_q_values_v2_reads(text):
    try:
        v2_query.parse_filters([text], v2_events.FILTERS, ("timestamp",))
    except ApiError:
        # The one refusal the pattern cannot state, which the document says in words: a time on the store's
        # first or last day whose offset carries it outside in UTC.
        assert re.search(r"(1970-01-01|9998-12-31)[T ][0-9:.]+[+-]", text), text


@pytest.mark.parametrize("text, read", [
    ("", True), ("type:a;;b;", True), ("timestamp:", True), ("timestamp IN 2016-06-08T16:41:23Z,,", True),
    ("timestamp>=2016-06-08 20:41:23 04:00", True),
    ("timestamp:;x", False), ("timestamp: 2016-06-08T16:41:23Z", False), ("timestamp<2016-02-30T00:00:00Z", False),
    ("timestamp:1969-12-31T23:59:59Z", False), ("name:web", False), (";", False), ("type:a\n", True),
])
def test_q_values_are_documented_as_v2_reads_them(text, read):
    schema = parameter("/v2/events", "q")["schema"]["items"]
    try:
        v2_query.parse_filters([text], v2_events.FILTERS, ("timestamp",))
    except ApiError:
        assert not read and not conforms(schema, text)
    else:
        assert read and conforms(schema, text)


@pytest.mark.parametrize("key, value, status", [
    ("created_ats", "2016-02-29T00:00:00Z", 200), ("created_ats", "2015-02-29T00:00:00Z", 400),
    ("created_ats", "9999-01-01T00:00:00Z", 400), ("created_ats[lt]", "2016-06-31T00:00:00Z", 400),
    ("created_ats", "2016-06-08T16:41:23Z,\v2016-06-08T16:41:24Z", 200),
    ("created_ats", "2016-06-08T16:41:23Z,\xa02016-06-08T16:41:24Z", 400),
    ("created_ats", "2016-06-08T16:41:23Z\n", 400),
    ("order_by", "", 200), ("order_by", " created_at", 200), ("order_by", "name", 400),
])
def test_v3_parameters_are_documented_as_v3_reads_them(client, admin, key, value, status):
    assert conforms(parameter("/v3/audit_events", key)["schema"], value) == (status == 200)
    assert client.get("/v3/audit_events", query_string={key: value}, headers=admin).status_code == status


@pytest.mark.parametrize("path, key, value, status", [
    ("/v3/roles/role-1", "include", "user,user", 422), ("/v3/roles/role-1", "include", "space,\tuser", 404),
    ("/v3/app_usage_events", "after_guid", "a,b", 422),
    ("/v3/audit_event_stats/top_targets", "types", "", 400), ("/v3/audit_event_stats/top_targets", "types", ", ", 400),
    ("/v3/audit_event_stats/top_targets", "types", "a,%00", 400),
    ("/v3/audit_event_stats/top_targets", "types", "app.crash,, audit.app.update", 200),
])
def test_v3_lists_are_documented_as_v3_reads_them(client, admin, path, key, value, status):
    documented = path if path in DOCUMENT["paths"] else "/v3/roles/{guid}"
    assert conforms(parameter(documented, key)["schema"], value) == (status in (200, 404))
    assert client.get(path, query_string={key: value}, headers=admin).status_code == status


def test_report_dates_are_calendar_days_and_the_period_rule_is_said(client, admin):
    day = parameter("/app_usages", "start")["schema"]
    assert reports_openapi.PERIOD_RULE in parameter("/app_usages", "end")["description"]
    for start, status in [("2024-02-29", 200), ("2023-02-29", 400), ("0001-01-01", 200), ("2024-13-01", 400)]:
        assert conforms(day, start) == (status == 200)
        query = {"start": start, "end": start}
        assert client.get("/app_usages", query_string=query, headers=admin).status_code == status


@pytest.mark.parametrize("relationships", [
    {"user": {"data": {"guid": "user-1"}}, "organization": {"data": {"guid": "org-1"}}},
    {"user": {"data": {"guid": "user-1"}}, "space": {"data": {"guid": "space-1"}},
     "organization": {"data": {"guid": "org-1"}}},
    {"user": {"data": {"guid": "user-1", "username": "bob"}}, "space": {"data": {"guid": "space-1"}}},
    {"user": {"data": {"guid": "user-1"}}, "space": {"data": {"guid": "space-1", "name": "dev"}}},
])
def test_a_role_body_names_its_types_target_as_documented(client, admin, relationships):
    body = {"type": "space_developer", "relationships": relationships}
    assert not conforms(body_schema("/v3/roles"), body)
    assert client.post("/v3/roles", headers=admin, json=body).status_code == 422
    assert conforms(body_schema("/v3/roles"), {"type": "space_developer", "relationships": {
        "user": {"data": {"guid": "user-1"}}, "space": {"data": {"guid": "space-1"}}}})


@pytest.mark.parametrize("event, status", [
    ({"type": "custom", "user": {"id": "u", "role": "owner"}, "type_data": {}}, 422),
    ({"type": "custom", "app_name": "web", "type_data": {}}, 422),
    ({"type": "custom", "app_id": "a", "type_data": {}, "command": "x"}, 422),
    ({"type": "custom", "app_id": "a", "command": "x"}, 201),  # the 2015 API: the type's data beside it
    ({"type": "custom", "app_id": "a", "type_data": {"addon_provider": ""}}, 422),
    ({"type": "custom", "app_id": "a", "type_data": {"addon_provider": "pg"}}, 201),
    ({"type": "custom", "user": {"id": "u"}, "type_data": {"addon_provider": 7}}, 201),  # a user acted
    ({"type": "custom", "app_id": "a", "actor": "x"}, 422),
])
def test_scalingo_events_are_documented_as_written(client, admin, event, status):
    assert conforms(body_schema("/v2/events"), event) == (status == 201)
    assert client.post("/v2/events", headers=admin, json=event).status_code == status


def test_each_path_lists_every_method_the_service_answers_there(client, admin):
    # The Allow of a 405 names the methods of the URL: a purge path is also an event's guid, which GET shows.
    for path, operations in DOCUMENT["paths"].items():
        concrete = path
        for item in next(iter(operations.values()))["parameters"]:
            if item["in"] == "path":
                concrete = concrete.replace(f"{{{item['name']}}}", item["schema"].get("enum", ["x"])[0])
        allowed = client.open(concrete, method="OPTIONS", headers=admin).headers["Allow"].split(", ")
        assert set(allowed) - {"HEAD"} == {method.upper() for method in operations}, path


def test_every_operation_may_be_refused_by_the_server_in_front():
    for operations in DOCUMENT["paths"].values():
        for operation in operations.values():
            for status in describe.FRONT_STATUSES:
                assert operation["responses"][str(status)]["content"]["application/json"]["schema"] == \
                    describe.ref("V2Error")


def pointer_schema(schema, pointer):
    """The schema of what `pointer` (a JSON pointer) names in a value of `schema`; KeyError if nothing can."""
    for token in [token for token in pointer.split("/") if token]:
        while "$ref" in schema or "anyOf" in schema:
            if "$ref" in schema:
                schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            else:
                schema = next(branch for branch in schema["anyOf"] if branch.get("type") != "null")
        schema = schema["items"] if token.isdigit() else schema["properties"][token]
    return schema


def test_each_link_builds_a_url_of_a_documented_operation_from_what_its_answer_holds():
    links = [(path, method, status, name, link) for path, operations in DOCUMENT["paths"].items()
             for method, operation in operations.items() for status, response in operation["responses"].items()
             for name, link in response.get("links", {}).items()]
    assert len(links) > 20
    for path, method, status, name, link in links:
        target_path, target_method = link["operationRef"].removeprefix("#/paths/").replace("~1", "/").rsplit("/", 1)
        target = DOCUMENT["paths"][target_path.replace("~0", "~")][target_method]
        names = {item["name"]: item for item in target["parameters"]}
        needed = {item["name"] for item in target["parameters"] if item["in"] == "path"}
        assert needed <= set(link["parameters"]) <= set(names), (path, name)
        source = DOCUMENT["paths"][path][method]
        for expression in link["parameters"].values():
            if expression.startswith("$request.path."):
                assert expression.removeprefix("$request.path.") in re.findall(r"{(\w+)}", path), (path, name)
                continue
            answer = source["responses"][status]["content"]["application/json"]["schema"]
            value = pointer_schema(answer, expression.removeprefix("$response.body#"))
            assert value.get("type") in ("string", ["string", "null"]), (path, name, expression)
