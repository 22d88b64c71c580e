"""What the service emits, and what Cloud Controller and Scalingo emit, is accepted when written back.

Every event any read endpoint returns, posted to an empty store as its entity with its guid and time,
is accepted and reads back identical: for every catalogue type, for the demo data, and for both usage
streams. The example events of the reference pages are accepted as written.
"""
import copy
import json
import os
import re

import pytest
from sqlalchemy import delete, update

from app.base.extensions import db
from app.base.fields import parse_time
from app.ops.demo import load_demo_events
from app.store.catalogue import EVENT_TYPES, redact
from app.store.models import AppUsageEvent, Event, ServiceUsageEvent, UsageStream
from app.store.streams import APP_STATES, SERVICE_STATES
from tests import TESTS

# Copies of the API pages the product was specified from (../shared/reference/).
REFERENCE = str(TESTS / "reference")
SAMPLES = {"string": "text", "boolean": True, "integer": 7, "float": 2.5, "scalar": "1", "object": {}, "array": [],
           "datetime": "2016-06-08T16:41:23Z"}


def _place(document, segments, value):
    head, *rest = segments
    if head.endswith("[]"):
        items = document.setdefault(head[:-2], [{}])
        if not isinstance(items, list) or not items:
            items = document[head[:-2]] = [{}]
        _place(items[0], rest, value)
    elif not rest:
        if not isinstance(document.get(head), dict | list):
            document[head] = value
    else:
        if not isinstance(document.get(head), dict):
            document[head] = {}
        _place(document[head], rest, value)


def sample_metadata(event_type, optional=True):
    """Metadata holding every field of a catalogue type (or only its required ones) with its JSON type."""
    document = {}
    for field in event_type.fields:
        if field.required or optional:
            _place(document, field.path.split("."), copy.deepcopy(SAMPLES[field.type]))
    return document


def catalogue_events():
    """Two events of every catalogue type, the way a platform component would write them."""
    events = []
    for n, event_type in enumerate(EVENT_TYPES.values()):
        for optional in (True, False):
            events.append({
                "guid": f"{event_type.name.replace('/', '-')}-{'full' if optional else 'bare'}",
                "type": event_type.name, "actor": f"user-{n}", "actor_type": "user", "actor_name": f"u{n}@example.com",
                "actor_username": f"u{n}" if optional else "", "actee": f"app-{n}",
                "actee_type": "app" if n % 3 else "service_instance", "actee_name": "web" if optional else "",
                "timestamp": f"2016-06-{1 + n % 28:02d}T{n % 24:02d}:41:23Z", "metadata": sample_metadata(
                    event_type, optional),
                "space_guid": "space-1" if n % 2 else "", "organization_guid": "org-1" if n % 5 else ""})
    return events


def write_all(client, admin, path, items):
    for first in range(0, len(items), 1000):
        response = client.post(path, json=items[first:first + 1000], headers=admin)
        assert response.status_code == 201, response.get_json()


STORED = {"/v2/events": Event, "/v2/app_usage_events": AppUsageEvent, "/v2/service_usage_events": ServiceUsageEvent}


def empty_store(model):
    db.session.execute(delete(model))
    if model is not Event:
        # A stream with nothing in it: the unbroken run starts after the last position handed out.
        db.session.execute(update(UsageStream).where(UsageStream.name == model.__tablename__)
                           .values(horizon=UsageStream.last_id + 1))
    db.session.commit()


def v2_list(client, admin, path):
    resources, url = [], f"{path}?results-per-page=100"
    while url:
        page = client.get(url, headers=admin).get_json()
        resources += page["resources"]
        url = page["next_url"]
    return resources


def v1_list(client, admin):
    events, page = [], 1
    while page:
        body = client.get(f"/v1/events?per_page=100&page={page}", headers=admin).get_json()
        events += body["events"]
        page = body["meta"]["pagination"]["next_page"]
    return events


def v2_written_back(resource, time_field):
    """What a writer posts of a v2 resource: its entity, with its guid (and its time, for usage events)."""
    body = {**resource["entity"], "guid": resource["metadata"]["guid"]}
    if time_field:
        body[time_field] = resource["metadata"][time_field]
    return body


def assert_v2_round_trip(client, admin, path, time_field=None, shows=True):
    read = v2_list(client, admin, path)
    if shows:
        assert [client.get(resource["metadata"]["url"], headers=admin).get_json() for resource in read] == read
    empty_store(STORED[path])
    write_all(client, admin, path, [v2_written_back(resource, time_field) for resource in read])
    assert v2_list(client, admin, path) == read
    return read


def assert_v1_round_trip(client, admin):
    read = v1_list(client, admin)
    empty_store(Event)
    # Newest first: written back oldest first, so that events of one second keep their order.
    write_all(client, admin, "/v2/events", read[::-1])
    assert v1_list(client, admin) == read


def test_catalogue_events_round_trip_through_v2(client, admin):
    write_all(client, admin, "/v2/events", catalogue_events())
    read = assert_v2_round_trip(client, admin, "/v2/events")
    assert len(read) == 2 * len(EVENT_TYPES)


def test_catalogue_events_round_trip_through_v1(client, admin):
    write_all(client, admin, "/v2/events", catalogue_events())
    assert_v1_round_trip(client, admin)


@pytest.fixture
def demo(app):
    return load_demo_events()


def test_demo_data_round_trips_through_v2(client, admin, demo):
    assert assert_v2_round_trip(client, admin, "/v2/events", shows=False)
    assert assert_v2_round_trip(client, admin, "/v2/app_usage_events", "created_at", shows=False)


def test_demo_data_round_trips_through_v1(client, admin, demo):
    assert_v1_round_trip(client, admin)


def usage_events():
    apps = [{"guid": f"app-usage-{state}-{n}", "state": state, "previous_state": None if n else "STOPPED",
             "memory_in_mb_per_instance": 256 * (n + 1), "previous_memory_in_mb_per_instance": None if n else 128,
             "instance_count": n, "previous_instance_count": None, "app_guid": "" if state.startswith("TASK") else
             "process-1", "app_name": "web", "space_guid": "space-1", "space_name": "dev", "org_guid": "org-1",
             "buildpack_guid": None if n else "bp-1",
             "buildpack_name": "https://user:secret@buildpacks.example/ruby.git" if n else "ruby_buildpack",
             "package_state": "STAGED", "previous_package_state": None, "parent_app_guid": "app-1",
             "parent_app_name": "web", "process_type": "web", "task_name": "migrate" if n else None,
             "task_guid": "task-1" if n else "", "created_at": f"2016-06-08T16:4{n}:23Z"}
            for state in APP_STATES for n in range(2)]
    services = [{"guid": f"service-usage-{state}-{kind[:4]}", "state": state, "org_guid": "org-1",
                 "space_guid": "space-1", "space_name": "dev", "service_instance_guid": "si-1",
                 "service_instance_name": "db", "service_instance_type": kind,
                 "service_plan_guid": None if kind.startswith("user") else "plan-1", "service_plan_name": "",
                 "service_guid": None, "service_label": "postgres", "service_broker_name": None,
                 "service_broker_guid": "", "created_at": "2016-06-08T16:41:23Z"}
                for state in SERVICE_STATES for kind in ("managed_service_instance", "user_provided_service_instance")]
    return apps, services


def test_usage_events_round_trip_through_v2(client, admin):
    apps, services = usage_events()
    write_all(client, admin, "/v2/app_usage_events", apps)
    assert len(assert_v2_round_trip(client, admin, "/v2/app_usage_events", "created_at")) == len(apps)
    write_all(client, admin, "/v2/service_usage_events", services)
    assert len(assert_v2_round_trip(client, admin, "/v2/service_usage_events", "created_at")) == len(services)


# --- the reference pages -----------------------------------------------------------------------------

def reference_bodies(name):
    """Every JSON object shown in a reference page (in a literal block, a fence, or plain text)."""
    with open(os.path.join(REFERENCE, name), encoding="utf-8") as file:
        text = file.read()
    decoder, documents, position = json.JSONDecoder(), [], 0
    for match in re.finditer(r"^[ \t]*\{", text, re.M):
        if match.start() < position:
            continue  # inside the last object found
        try:
            document, end = decoder.raw_decode(text, match.end() - 1)
        except ValueError:
            continue
        documents.append(document)
        position = end
    return documents


def reference_resources(name):
    for body in reference_bodies(name):
        if isinstance(body, dict):
            yield from body.get("resources", [])


@pytest.mark.parametrize("page, path, time_field", [
    ("cc-v2-list-app-exited-events.rst", "/v2/events", None),
    ("cc-v2-list-app-update-events.rst", "/v2/events", None),
    ("cc-v2-list-app-usage-events.rst", "/v2/app_usage_events", "created_at"),
])
def test_the_reference_pages_events_are_accepted_as_written(client, admin, page, path, time_field):
    resources = list(reference_resources(page))
    assert resources, f"no example events found in {page}"
    for resource in resources:
        response = client.post(path, json=v2_written_back(resource, time_field), headers=admin)
        assert response.status_code == 201, (resource, response.get_json())
        shown = client.get(f"{path}/{resource['metadata']['guid']}", headers=admin).get_json()["entity"]
        sent = {key: value for key, value in resource["entity"].items() if key != "space_url"}
        # Times are shown in UTC, and secrets in today's words ("[PRIVATE DATA HIDDEN]").
        for key in ("timestamp", "created_at"):
            if key in sent:
                assert parse_time(shown.pop(key)) == parse_time(sent.pop(key))
        if "metadata" in sent:
            assert shown.pop("metadata") == redact(sent["type"], sent.pop("metadata"))
        assert {key: shown[key] for key in sent} == sent


def scalingo_reference_events():
    events = []
    for name in ("scalingo-events-v1-2015.md", "scalingo-events-v1-current.txt"):
        for body in reference_bodies(name):
            events += body.get("events", []) + ([body["event"]] if "event" in body else [])
            if "type" in body:
                events.append(body)
    return events


def test_the_scalingo_reference_events_are_accepted_as_written(client, admin):
    events = scalingo_reference_events()
    assert len(events) > 40
    for event in events:
        empty_store(Event)  # the examples share ids
        response = client.post("/v2/events", json=event, headers=admin)
        assert response.status_code == 201, (event, response.get_json())


def test_space_url_must_agree_with_space_guid(client, admin):
    event = {"type": "audit.app.start", "actor": "u", "actor_type": "user", "actee": "a", "actee_type": "app",
             "space_guid": "space-1", "space_url": "/v2/spaces/space-2"}
    response = client.post("/v2/events", json=event, headers=admin)
    assert (response.status_code, response.get_json()["description"]) == (
        422, "space_url: Must be /v2/spaces/ followed by the event's space_guid.")
    event["space_url"] = "/v2/spaces/space-1"
    assert client.post("/v2/events", json=event, headers=admin).status_code == 201
    assert "space_url" not in client.get("/v2/events", headers=admin).get_json()["resources"][0]["entity"]
