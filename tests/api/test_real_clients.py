"""Real clients, unmodified, against a live server: the cloudfoundry-client package and cf CLI v6's requests."""
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from cloudfoundry_client.client import CloudFoundryClient

from app.identity import issuer
from app.identity.tokens import ADMIN, READ
from app.ops.cli import create_user
from tests.api.v2.test_usage_events import app_event
from tests.factories import BASE_TIME, EventFactory

APP_GUID = "c96858ba-bfbc-4063-998c-f84e2a4d7b12"
SPACE_GUID = "7bc0e53c-a6dc-4bf9-8c28-a8eadc7b20bf"


@pytest.fixture
def events(app):
    """Seven events of one app (crashes and updates, one second apart) and two of another."""
    made = [EventFactory(guid=f"app-event-{n}", actee=APP_GUID, actee_name="web", space_guid=SPACE_GUID,
                         type="app.crash" if n % 2 else "audit.app.update", timestamp=BASE_TIME + timedelta(seconds=n))
            for n in range(7)]
    made += [EventFactory(guid=f"other-{n}", timestamp=BASE_TIME + timedelta(seconds=n)) for n in range(2)]
    return made


@pytest.fixture
def cf(live_url, app):
    create_user("alice", "wonderland", [ADMIN, READ])
    client = CloudFoundryClient(live_url)
    client.init_with_user_credentials("alice", "wonderland")
    return client


def guids(entities):
    return [entity["metadata"]["guid"] for entity in entities]


def test_cloudfoundry_client_lists_events_with_filters(cf, events):
    assert guids(cf.v2.event.list(type="app.crash")) == ["app-event-1", "app-event-3", "app-event-5"]
    assert guids(cf.v2.event.list_by_type("app.crash")) == ["app-event-1", "app-event-3", "app-event-5"]
    assert len(guids(cf.v2.event.list(actee=APP_GUID))) == 7
    later = BASE_TIME + timedelta(seconds=4)
    assert guids(cf.v2.event.list(actee=APP_GUID, timestamp={">": later.strftime("%Y-%m-%dT%H:%M:%SZ")})) == [
        "app-event-5", "app-event-6"]
    assert set(guids(cf.v2.event.list(type=["app.crash", "audit.app.update"], actee=APP_GUID))) == {
        f"app-event-{n}" for n in range(7)}


def test_cloudfoundry_client_follows_next_url_both_ways(cf, events):
    ascending = guids(cf.v2.event.list(actee=APP_GUID, **{"results-per-page": 2}))
    descending = guids(cf.v2.event.list(actee=APP_GUID, **{"results-per-page": 3, "order-direction": "desc"}))
    assert ascending == [f"app-event-{n}" for n in range(7)]
    assert descending == list(reversed(ascending))


def test_cloudfoundry_client_pages_usage_events_after_a_cursor(cf, client, admin):
    written = client.post("/v2/app_usage_events", headers=admin, json=[app_event(f"usage-{n}") for n in range(7)])
    assert written.status_code == 201
    # The client has no usage-event manager; its generic _list pages any v2 collection by next_url.
    listed = cf.v2.event._list("/v2/app_usage_events?after_guid=usage-1&results-per-page=2")
    assert guids(listed) == [f"usage-{n}" for n in range(2, 7)]


@pytest.mark.usefixtures("events")
def test_cloudfoundry_client_refreshes_its_token_after_a_401(cf, app, monkeypatch, live_url):
    monkeypatch.setitem(app.config, "ACCESS_TOKEN_VALIDITY", 1)
    refreshes = []
    refresh = issuer.refreshed_user
    monkeypatch.setattr(issuer, "refreshed_user", lambda *args: refreshes.append(args) or refresh(*args))
    cf.init_with_user_credentials("alice", "wonderland")
    # The refreshed token lasts, however slow the run.
    monkeypatch.setitem(app.config, "ACCESS_TOKEN_VALIDITY", 3600)
    time.sleep(2)
    # The expired token gets 401 code 1000; the client refreshes it and retries, transparently.
    assert len(guids(cf.v2.event.list(actee=APP_GUID))) == 7
    assert len(refreshes) == 1


def test_cf_cli_v6_events_sequence(live_url, events, token):
    """cf events web: the app lookup, then the newest events of the app, following next_url until 50."""
    import requests

    headers = {"Authorization": "bearer " + token(READ, ADMIN)}
    apps = requests.get(f"{live_url}/v2/spaces/{SPACE_GUID}/apps?q=name%3Aweb&inline-relations-depth=1",
                        headers=headers, timeout=10).json()
    assert [app["metadata"]["guid"] for app in apps["resources"]] == [APP_GUID]
    assert apps["resources"][0]["entity"]["name"] == "web"
    path = f"/v2/events?results-per-page=50&order-direction=desc&q=actee:{quote(APP_GUID)}"
    seen = []
    while path and len(seen) < 50:
        page = requests.get(live_url + path, headers=headers, timeout=10).json()
        seen += page["resources"]
        path = page["next_url"]
    assert [event["metadata"]["guid"] for event in seen] == [f"app-event-{n}" for n in reversed(range(7))]
    for event in seen:
        assert {"type", "timestamp", "actor", "actor_name", "metadata"} <= set(event["entity"])


# --- v3, through the client's v3 managers -----------------------------------------------------------

def v3_guids(entities):
    return [entity["guid"] for entity in entities]


def test_cloudfoundry_client_v3_lists_audit_events_with_filters(cf, events):
    crashes = v3_guids(cf.v3.audit_events.list(types=["app.crash"], target_guids=[APP_GUID]))
    assert crashes == ["app-event-1", "app-event-3", "app-event-5"]
    # The same events as through v2, in the same order for this store (written in time order).
    assert crashes == guids(cf.v2.event.list(type="app.crash", actee=APP_GUID))
    both = v3_guids(cf.v3.audit_events.list(types=["app.crash", "audit.app.update"], target_guids=[APP_GUID],
                                            order_by="-created_at"))
    assert both == [f"app-event-{n}" for n in reversed(range(7))]
    later = (BASE_TIME + timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert v3_guids(cf.v3.audit_events.list(target_guids=[APP_GUID], **{"created_ats[gt]": later})) == [
        "app-event-5", "app-event-6"]
    assert cf.v3.audit_events.get("app-event-2")["type"] == "audit.app.update"


def test_cloudfoundry_client_v3_follows_next_over_the_whole_store(cf, events):
    walked = v3_guids(cf.v3.audit_events.list(per_page=2))
    assert walked == v3_guids(cf.v3.audit_events.list(per_page=5000))
    assert sorted(walked) == sorted(event.guid for event in events) and len(walked) == len(set(walked))


def test_cloudfoundry_client_v3_finds_apps_spaces_and_organizations(cf, events):
    EventFactory(type="audit.space.create", actee=SPACE_GUID, actee_type="space", actee_name="prod",
                 space_guid=SPACE_GUID, organization_guid="org-1")
    apps = list(cf.v3.apps.list(names=["web"], space_guids=[SPACE_GUID]))
    assert [(app["guid"], app["name"]) for app in apps] == [(APP_GUID, "web")]
    assert [space["name"] for space in cf.v3.spaces.list(names=["prod"])] == ["prod"]
    assert cf.v3.spaces.get(SPACE_GUID)["name"] == "prod"
    assert cf.v3.apps.get(APP_GUID)["relationships"]["space"]["data"]["guid"] == SPACE_GUID
    assert cf.v3.organizations.get("org-1")["name"] == "org-1"  # never named: its guid


def test_cloudfoundry_client_v3_refreshes_its_token_after_a_401(cf, app, events, monkeypatch):
    monkeypatch.setitem(app.config, "ACCESS_TOKEN_VALIDITY", 1)
    refreshes = []
    refresh = issuer.refreshed_user
    monkeypatch.setattr(issuer, "refreshed_user", lambda *args: refreshes.append(args) or refresh(*args))
    cf.init_with_user_credentials("alice", "wonderland")
    monkeypatch.setitem(app.config, "ACCESS_TOKEN_VALIDITY", 3600)
    time.sleep(2)
    # The expired token gets v3's 401 CF-InvalidAuthToken 1000; the client refreshes and retries.
    assert len(v3_guids(cf.v3.audit_events.list(target_guids=[APP_GUID]))) == 7
    assert len(refreshes) == 1


def test_cloudfoundry_client_v3_reads_the_usage_stream(cf, client, admin, live_url):
    written = client.post("/v2/app_usage_events", headers=admin, json=[app_event(f"usage-{n}") for n in range(7)])
    assert written.status_code == 201
    # No usage-event manager: its generic get pages any URL by next.href, as a collector would.
    page = cf.get(f"{live_url}/v3/app_usage_events?after_guid=usage-1&per_page=2").json()
    seen = [resource["guid"] for resource in page["resources"]]
    while page["pagination"]["next"]:
        page = cf.get(page["pagination"]["next"]["href"]).json()
        seen += [resource["guid"] for resource in page["resources"]]
    assert seen == [f"usage-{n}" for n in range(2, 7)]
