"""The Scalingo dialect: /v1 events, token exchange, error shapes, and the real scalingo npm client."""
import base64
import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from app.identity.tokens import ADMIN, READ
from app.ops.cli import create_user
from tests import TESTS
from tests.factories import BASE_TIME, EventFactory

JS_DIR = str(TESTS / "js")
APP = "5343eccd646173000a140000"


def crash(n, **fields):
    return EventFactory(guid=f"ev-{n}", type="restart", actee=APP, actee_name="appname", actee_type="app",
                        actor="us-1", actor_type="user", actor_name="john@doe.com", actor_username="johndoe",
                        timestamp=BASE_TIME + timedelta(seconds=n, microseconds=226000),
                        data={"scope": ["web"]}, **fields)


@pytest.fixture
def five_events(app):
    return [crash(n) for n in range(5)]


def test_an_app_event_in_scalingo_shape(client, admin, five_events):
    body = client.get(f"/v1/apps/{APP}/events?per_page=1", headers=admin).get_json()
    assert body == {
        "events": [{
            "id": "ev-4", "created_at": "2016-06-08T16:41:27.226+00:00",
            "user": {"username": "johndoe", "email": "john@doe.com", "id": "us-1"},
            "app_id": APP, "app_name": "appname", "type": "restart", "type_data": {"scope": ["web"]},
        }],
        "meta": {"pagination": {"prev_page": None, "current_page": 1, "next_page": 2, "total_pages": 5,
                                "total_count": 5}},
    }


def test_user_and_app_fields_are_absent_when_they_do_not_apply(client, admin):
    EventFactory(guid="crash", type="app.crash", actor_type="app", actee_type="app", actee=APP)
    EventFactory(guid="space", type="audit.space.create", actee_type="space")
    events = {event["id"]: event for event in client.get("/v1/events", headers=admin).get_json()["events"]}
    assert "user" not in events["crash"] and events["crash"]["app_id"] == APP
    assert "user" in events["space"] and "app_id" not in events["space"] and "app_name" not in events["space"]


def test_pages_newest_first(client, admin, five_events):
    def page(number):
        return client.get(f"/v1/apps/{APP}/events?per_page=2&page={number}", headers=admin).get_json()

    assert [[event["id"] for event in page(n)["events"]] for n in (1, 2, 3)] == [
        ["ev-4", "ev-3"], ["ev-2", "ev-1"], ["ev-0"]]
    assert page(3)["meta"]["pagination"] == {"prev_page": 2, "current_page": 3, "next_page": None,
                                             "total_pages": 3, "total_count": 5}
    assert page(9)["events"] == []


def test_an_app_is_found_by_name_too(client, admin, five_events):
    by_name = client.get("/v1/apps/appname/events", headers=admin).get_json()
    assert by_name["meta"]["pagination"]["total_count"] == 5


def test_from_gives_the_last_hours_whatever_the_page(client, admin):
    now = datetime.now(timezone.utc)
    EventFactory(guid="recent", actee=APP, actee_type="app", timestamp=now - timedelta(hours=2))
    EventFactory(guid="old", actee=APP, actee_type="app", timestamp=now - timedelta(hours=30))
    body = client.get(f"/v1/apps/{APP}/events?from=24&page=5&per_page=1", headers=admin).get_json()
    assert [event["id"] for event in body["events"]] == ["recent"]
    assert body["meta"]["pagination"]["total_count"] == 1


@pytest.mark.parametrize("query, field, message", [
    ("per_page=101", "per_page", "must be between 1 and 100"),
    ("per_page=0", "per_page", "must be between 1 and 100"),
    ("page=0", "page", "must be greater than or equal to 1"),
    ("from=73", "from", "must be between 1 and 72"),
    ("from=soon", "from", "must be an integer"),
])
def test_bad_parameters_are_422_in_scalingo_shape(client, admin, query, field, message):
    response = client.get(f"/v1/events?{query}", headers=admin)
    assert (response.status_code, response.get_json()) == (422, {"errors": {field: [message]}})


def test_one_event_and_missing_ones(client, admin, five_events):
    assert client.get(f"/v1/apps/{APP}/events/ev-2", headers=admin).get_json()["event"]["id"] == "ev-2"
    missing_event = client.get(f"/v1/apps/{APP}/events/nope", headers=admin)
    assert (missing_event.status_code, missing_event.get_json()) == (404, {"resource": "event", "error": "not found"})
    missing_app = client.get("/v1/apps/nope/events", headers=admin)
    assert (missing_app.status_code, missing_app.get_json()) == (404, {"resource": "app", "error": "not found"})


def test_visibility_is_the_v2_one(client, admin, auth, five_events):
    reader = auth(READ, user_id="reader")
    # An app the reader may not see is, to them, an app that does not exist.
    assert client.get(f"/v1/apps/{APP}/events", headers=reader).status_code == 404
    assert client.get("/v1/events", headers=reader).get_json()["meta"]["pagination"]["total_count"] == 0
    space = five_events[0].space_guid
    assert client.put(f"/v2/spaces/{space}/auditors/reader", headers=admin).status_code == 201
    body = client.get(f"/v1/apps/{APP}/events", headers=reader).get_json()
    assert [event["id"] for event in body["events"]] == ["ev-0"]


def test_authentication_errors_in_scalingo_shape(client):
    response = client.get("/v1/events")
    assert (response.status_code, response.get_json()) == (401, {"error": "Authentication error"})
    response = client.get("/v1/events", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.get_json()) == (401, {"error": "Invalid Auth Token"})
    assert client.get("/v1/nowhere").get_json() == {"error": "Unknown request"}


def basic(token):
    return {"Authorization": "Basic " + base64.b64encode(f":{token}".encode()).decode()}


def new_api_token(app, username="carol", scopes=(ADMIN,)):
    create_user(username, "pw", list(scopes))
    result = app.test_cli_runner().invoke(args=["tokens", "create", "--user", username])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_token_exchange_and_revocation(app, client):
    api_token = new_api_token(app)
    response = client.post("/v1/tokens/exchange", headers=basic(api_token), json={})
    assert response.status_code == 200 and list(response.get_json()) == ["token"]
    bearer = {"Authorization": "Bearer " + response.get_json()["token"]}
    assert client.get("/v1/events", headers=bearer).status_code == 200
    created = app.test_cli_runner().invoke(args=["tokens", "create", "--user", "carol"]).output.splitlines()
    token_id, second = next(line.split()[2] for line in created if line.startswith("API token")), created[-1]
    second_bearer = {"Authorization": "Bearer " + client.post(
        "/v1/tokens/exchange", headers=basic(second)).get_json()["token"]}
    assert app.test_cli_runner().invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    assert app.test_cli_runner().invoke(args=["tokens", "revoke", token_id]).exit_code != 0
    # The bearer token exchanged for the revoked API token ends with it; the other one does not.
    assert client.get("/v1/events", headers=second_bearer).status_code == 401
    assert client.get("/v1/events", headers=bearer).status_code == 200
    assert client.post("/v1/tokens/exchange", headers=basic(second)).status_code == 401
    wrong = client.post("/v1/tokens/exchange", headers=basic("tk-us-wrong"))
    assert (wrong.status_code, wrong.get_json()) == (401, {"error": "Invalid Auth Token"})


def test_api_tokens_are_stored_hashed(app):
    from app.base.extensions import db
    from app.identity.models import ApiToken

    api_token = new_api_token(app)
    stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert stored and api_token not in stored and all(len(value) == 64 for value in stored)


def test_the_scalingo_npm_client_works_unmodified(app, live_url, five_events):
    api_token = new_api_token(app)
    result = subprocess.run(["node", os.path.join(JS_DIR, "scalingo_client.mjs"), live_url, api_token, APP],
                            capture_output=True, text=True, timeout=60, cwd=JS_DIR)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert [[event["id"] for event in page["events"]] for page in seen["pages"]] == [
        ["ev-4", "ev-3"], ["ev-2", "ev-1"], ["ev-0"]]
    assert seen["all"]["meta"]["pagination"]["total_count"] == 5
    assert seen["found"]["id"] == "ev-4" and seen["found"]["user"]["username"] == "johndoe"
    assert seen["missingApp"]["error"] == {"message": "not found", "status": 404,
                                           "data": {"resource": "app", "error": "not found"}}
    assert {"new_app", "app.crash"} <= {entry["name"] for entry in seen["types"]["value"]}
    assert seen["categories"]["value"][0]["display_name"] == "Applications"


SCALINGO_EVENT = {
    "id": "sc-1", "created_at": "2015-02-12T18:05:14.226+01:00",
    "user": {"username": "johndoe", "email": "john@doe.com", "id": "us-0e6d8e46"},
    "app_id": APP, "app_name": "appname", "type": "scale",
    "type_data": {"previous_containers": {"web": 1, "worker": 0}, "containers": {"web": 2, "worker": 1}},
}


def test_scalingo_vocabulary_round_trips_through_the_store(client, admin):
    written = client.post("/v2/events", headers=admin, json=SCALINGO_EVENT)
    assert written.status_code == 201
    assert written.get_json()["entity"] == {
        "type": "scale", "actor": "us-0e6d8e46", "actor_type": "user", "actor_name": "john@doe.com",
        "actor_username": "johndoe", "actee": APP, "actee_type": "app", "actee_name": "appname",
        "timestamp": "2015-02-12T17:05:14Z", "metadata": SCALINGO_EVENT["type_data"], "space_guid": "",
        "organization_guid": ""}
    read = client.get(f"/v1/apps/{APP}/events/sc-1", headers=admin).get_json()["event"]
    assert read == {**SCALINGO_EVENT, "created_at": "2015-02-12T17:05:14.226+00:00"}


def test_cloud_controller_events_read_in_scalingo_shape_and_back(client, admin):
    cc_event = {"type": "audit.app.restart", "actor": "us-2", "actor_type": "user", "actor_name": "a@b.c",
                "actor_username": "a", "actee": APP, "actee_type": "app", "actee_name": "appname",
                "timestamp": "2016-06-08T16:41:23Z", "metadata": {}, "guid": "cc-1"}
    assert client.post("/v2/events", headers=admin, json=cc_event).status_code == 201
    read = client.get(f"/v1/apps/{APP}/events/cc-1", headers=admin).get_json()["event"]
    assert (read["type"], read["user"], read["app_name"]) == ("audit.app.restart", {
        "username": "a", "email": "a@b.c", "id": "us-2"}, "appname")


def test_events_without_user_or_app(client, admin):
    by_addon = {"type": "restart", "app_id": APP, "type_data": {"scope": ["web"], "addon_provider": "pg"}}
    account = {"type": "login_success", "user": {"username": "j", "email": "j@x.io", "id": "us-9"},
               "type_data": {"remote_ip": "1.2.3.4"}}
    entities = [client.post("/v2/events", headers=admin, json=body).get_json()["entity"]
                for body in (by_addon, account)]
    assert (entities[0]["actor"], entities[0]["actor_type"]) == ("pg", "addon")
    assert (entities[1]["actee"], entities[1]["actee_type"], entities[1]["actee_name"]) == ("us-9", "user", "j")


@pytest.mark.parametrize("body, expected", [
    ({**SCALINGO_EVENT, "actor": "x"}, "vocabulary: Scalingo fields cannot be mixed with actor."),
    ({"type": "scale", "user": "johndoe", "app_id": APP}, "vocabulary: user must be an object"),
    # Every key written is kept or refused, never dropped.
    ({**SCALINGO_EVENT, "user": {**SCALINGO_EVENT["user"], "role": "owner"}}, "vocabulary: user must be an object"),
    ({"type": "scale", "app_name": "appname", "type_data": {}}, "vocabulary: app_name is the name of app_id"),
    # An addon that acted is the actor, named as an actor is.
    ({"type": "restart", "app_id": APP, "type_data": {"addon_provider": ""}}, "actor: Must not be empty."),
    ({"type": "restart", "app_id": APP, "type_data": {"addon_provider": 7}}, "actor: Not a valid string."),
    # A name is a string, or nothing.
    ({"type": "scale", "app_id": APP, "app_name": False, "type_data": {}}, "actee_name: Not a valid string."),
])
def test_bad_scalingo_writes_are_422(client, admin, body, expected):
    response = client.post("/v2/events", headers=admin, json=[{**SCALINGO_EVENT, "id": "ok"}, body])
    assert response.status_code == 422
    assert response.get_json()["description"].startswith(f"[1].{expected}")
    assert client.get(f"/v1/apps/{APP}/events", headers=admin).status_code == 404  # nothing written


def test_known_types_are_validated_on_write_in_both_vocabularies(client, admin):
    cc_crash = {"type": "app.crash", "actor": APP, "actor_type": "app", "actee": APP, "actee_type": "app",
                "metadata": {"instance": "i-1", "index": "first", "exit_status": 137, "exit_description": "oom"}}
    response = client.post("/v2/events", headers=admin, json=cc_crash)
    assert response.status_code == 422
    assert response.get_json()["description"] == (
        "metadata: index: Must be an integer.; metadata: reason: Missing data for required field.")
    scaled = {**SCALINGO_EVENT, "type_data": {"containers": {"web": 2}}}
    response = client.post("/v2/events", headers=admin, json=scaled)
    assert response.get_json()["description"] == "metadata: previous_containers: Missing data for required field."
    unknown = {**SCALINGO_EVENT, "type": "something.new", "type_data": {"anything": [1]}}
    assert client.post("/v2/events", headers=admin, json=unknown).status_code == 201


def test_secrets_of_the_catalogue_are_redacted_on_write(client, admin):
    edited = {"type": "edit_variable", "app_id": APP, "user": SCALINGO_EVENT["user"],
              "type_data": {"name": "DATABASE_URL", "value": "postgres://u:p@h/db", "old_value": "x"}}
    written = client.post("/v2/events", headers=admin, json=edited)
    assert written.status_code == 201, written.get_json()
    assert {key: written.get_json()["entity"]["metadata"][key] for key in ("value", "old_value")} == {
        "value": "[PRIVATE DATA HIDDEN]", "old_value": "[PRIVATE DATA HIDDEN]"}


def test_event_types_and_categories_are_public(client):
    types = client.get("/v1/event_types").get_json()["event_types"]
    categories = client.get("/v1/event_categories").get_json()["event_categories"]
    names = {entry["name"] for entry in types}
    assert {"new_app", "restart", "scale", "audit.app.create", "app.crash"} <= names
    assert {entry["category_id"] for entry in types} <= {entry["id"] for entry in categories}
    assert [entry["position"] for entry in categories] == sorted(entry["position"] for entry in categories)
