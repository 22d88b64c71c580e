"""GET /v2/spaces/{guid}/apps: apps as the store knows them from their events."""
from datetime import timedelta

from app.identity.tokens import READ
from tests.api.v2.test_usage_events import app_event
from tests.factories import BASE_TIME, EventFactory


def names(client, headers, query=""):
    body = client.get(f"/v2/spaces/space-1/apps{query}", headers=headers).get_json()
    return [(resource["metadata"]["guid"], resource["entity"]["name"]) for resource in body["resources"]]


def app_seen(guid, name, seconds, space="space-1"):
    EventFactory(actee=guid, actee_name=name, actee_type="app", space_guid=space,
                 timestamp=BASE_TIME + timedelta(seconds=seconds))


def test_apps_are_known_by_their_latest_name(client, admin):
    app_seen("a", "web", 0)
    app_seen("a", "frontend", 5)
    app_seen("b", "worker", 1)
    app_seen("c", "elsewhere", 2, space="space-2")
    assert names(client, admin) == [("a", "frontend"), ("b", "worker")]
    assert names(client, admin, "?q=name:frontend&inline-relations-depth=1") == [("a", "frontend")]
    assert names(client, admin, "?q=name:web") == []
    assert names(client, admin, "?q=name%20IN%20worker,frontend") == [("a", "frontend"), ("b", "worker")]


def test_usage_events_make_apps_known_too(client, admin):
    event = app_event("u1", app_guid="from-usage", space_guid="space-1")
    assert client.post("/v2/app_usage_events", headers=admin, json=event).status_code == 201
    assert names(client, admin, "?q=name:web") == [("from-usage", "web")]


def test_a_user_sees_only_apps_of_spaces_they_may_read(client, admin, auth):
    app_seen("a", "web", 0)
    user = auth(READ, user_id="dev-1")
    assert names(client, user) == []
    client.put("/v2/spaces/space-1/developers/dev-1", headers=admin)
    assert names(client, user) == [("a", "web")]


def test_only_name_can_be_filtered(client, admin):
    response = client.get("/v2/spaces/space-1/apps?q=state:STARTED", headers=admin)
    assert (response.status_code, response.get_json()["description"]) == (400, "The query parameter is invalid: state")
