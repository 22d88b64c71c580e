"""/v3/app_usage_events and /v3/service_usage_events (V3.md 2): CC's v3 resources over the same skip-free
streams v2 serves, their filters, order and paging, who sees them, and purge-and-reseed."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE
from app.store.models import AppUsageEvent
from app.usage.retention import prune_usage_stream
from tests.api.v2.test_usage_events import app_event, service_event, write

# The test client reaches the service at http://localhost: v3's links are absolute.
BASE = "http://localhost"
APP = "/v3/app_usage_events"
SERVICE = "/v3/service_usage_events"
PATHS = [APP, SERVICE]
V2_OF = {APP: "/v2/app_usage_events", SERVICE: "/v2/service_usage_events"}
EVENT_OF = {APP: app_event, SERVICE: service_event}
NOUN = {APP: "app usage event", SERVICE: "service usage event"}
T0 = datetime(2016, 6, 8, 16, 41, 23, tzinfo=timezone.utc)
NOW = datetime.now(timezone.utc)
CUTOFF = NOW - timedelta(days=31)


def at(seconds):
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def days_ago(days):
    return (NOW - timedelta(days=days)).isoformat()


def write_stream(client, admin, path, events):
    """Write `events` through v2, the only writer of the streams."""
    return write(client, admin, V2_OF[path], events)


def v3_guids(body):
    return [resource["guid"] for resource in body["resources"]]


def get(client, headers, url):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def listed(client, headers, url):
    body = get(client, headers, url)
    return body["pagination"]["total_results"], v3_guids(body)


def unprocessable(detail):
    return 422, {"errors": [{"detail": detail, "title": "CF-UnprocessableEntity", "code": 10008}]}


def answer(response):
    return response.status_code, response.get_json()


NOT_AUTHORIZED = (403, {"errors": [{"detail": "You are not authorized to perform the requested action",
                                    "title": "CF-NotAuthorized", "code": 10003}]})


def page_href(path, query):
    return {"href": f"{BASE}{path}?{query}"}


# 1. Resources and the envelope.


def test_app_usage_event_resource_in_cc_v3_shape(client, admin):
    write_stream(client, admin, APP, [app_event(
        "e1", previous_state="STOPPED", previous_memory_in_mb_per_instance=128, previous_instance_count=2,
        app_guid="process-1", parent_app_guid="app-1", parent_app_name="web-app", process_type="web",
        buildpack_guid="bp-1", buildpack_name="https://user:s3cret@git.example.com/bp.git")])
    resource = get(client, admin, f"{APP}/e1")
    assert resource == {
        "guid": "e1",
        "created_at": "2016-06-08T16:41:23Z",
        "updated_at": "2016-06-08T16:41:23Z",
        "state": {"current": "STARTED", "previous": "STOPPED"},
        # app is the parent app; process is the app_guid of v2 (a process guid in CC).
        "app": {"guid": "app-1", "name": "web-app"},
        "process": {"guid": "process-1", "type": "web"},
        "space": {"guid": "space-1", "name": "dev"},
        "organization": {"guid": "org-1"},
        # Credentials in a buildpack URL stay hidden, as in v2 (CC's v3 shows them: deliberate difference).
        "buildpack": {"guid": "bp-1", "name": "https://***:***@git.example.com/bp.git"},
        "task": {"guid": None, "name": None},
        "memory_in_mb_per_instance": {"current": 256, "previous": 128},
        "instance_count": {"current": 1, "previous": 2},
        "links": {"self": {"href": f"{BASE}/v3/app_usage_events/e1"}},
    }
    assert list(resource) == [
        "guid", "created_at", "updated_at", "state", "app", "process", "space", "organization", "buildpack", "task",
        "memory_in_mb_per_instance", "instance_count", "links"]
    assert list(resource["state"]) == ["current", "previous"]


def test_a_task_event_has_no_process(client, admin):
    # CC writes "" as the app guid of a task's event: v3 shows a null process guid.
    write_stream(client, admin, APP, [app_event("t1", "TASK_STARTED", app_guid="", parent_app_guid="app-1",
                                                parent_app_name="web-app", task_guid="task-1", task_name="migrate")])
    resource = get(client, admin, f"{APP}/t1")
    assert (resource["app"], resource["process"], resource["task"], resource["buildpack"]) == (
        {"guid": "app-1", "name": "web-app"}, {"guid": None, "type": None}, {"guid": "task-1", "name": "migrate"},
        {"guid": None, "name": None})


def test_an_event_without_a_parent_app_shows_a_null_app(client, admin):
    # Older writers set no parent app: v3's app comes from parent_app_* only.
    write_stream(client, admin, APP, [app_event("e1")])
    resource = get(client, admin, f"{APP}/e1")
    assert (resource["app"], resource["process"]) == ({"guid": None, "name": None}, {"guid": "app-1", "type": None})


def test_service_usage_event_resource_in_cc_v3_shape(client, admin):
    write_stream(client, admin, SERVICE, [service_event(
        "s1", service_plan_guid="plan-1", service_plan_name="small", service_guid="offering-1",
        service_label="postgres", service_broker_guid="broker-1", service_broker_name="pg-broker")])
    resource = get(client, admin, f"{SERVICE}/s1")
    assert resource == {
        "guid": "s1",
        "created_at": "2016-06-08T16:41:23Z",
        "updated_at": "2016-06-08T16:41:23Z",
        "state": "CREATED",
        "space": {"guid": "space-1", "name": "dev"},
        "organization": {"guid": "org-1"},
        "service_instance": {"guid": "si-1", "name": "db", "type": "managed_service_instance"},
        "service_plan": {"guid": "plan-1", "name": "small"},
        # The offering's name is v2's service_label.
        "service_offering": {"guid": "offering-1", "name": "postgres"},
        "service_broker": {"guid": "broker-1", "name": "pg-broker"},
        "links": {"self": {"href": f"{BASE}/v3/service_usage_events/s1"}},
    }
    assert list(resource) == [
        "guid", "created_at", "updated_at", "state", "space", "organization", "service_instance", "service_plan",
        "service_offering", "service_broker", "links"]


@pytest.mark.parametrize("path", PATHS)
def test_the_list_envelope(client, admin, path):
    write_stream(client, admin, path, [EVENT_OF[path](f"e{i}") for i in range(3)])
    body = get(client, admin, f"{path}?per_page=2")
    shown = get(client, admin, f"{path}/e0")
    assert body == {
        "pagination": {
            "total_results": 3,
            "total_pages": 2,
            "first": page_href(path, "page=1&per_page=2"),
            "last": page_href(path, "page=2&per_page=2"),
            "next": page_href(path, "page=2&per_page=2"),
            "previous": None,
        },
        "resources": [shown, get(client, admin, f"{path}/e1")],
    }
    assert list(body) == ["pagination", "resources"]
    assert list(body["pagination"]) == ["total_results", "total_pages", "first", "last", "next", "previous"]
    second = get(client, admin, body["pagination"]["next"]["href"])
    assert v3_guids(second) == ["e2"]
    assert (second["pagination"]["next"], second["pagination"]["previous"]) == (
        None, page_href(path, "page=1&per_page=2"))


@pytest.mark.parametrize("path", PATHS)
def test_a_page_past_the_end_points_back(client, admin, path):
    write_stream(client, admin, path, [EVENT_OF[path]("e1")])
    body = get(client, admin, f"{path}?page=5&per_page=1")
    assert (body["resources"], body["pagination"]["total_pages"], body["pagination"]["next"],
            body["pagination"]["previous"]) == ([], 1, None, page_href(path, "page=4&per_page=1"))


@pytest.mark.parametrize("path", PATHS)
def test_an_empty_stream_has_one_page(client, admin, path):
    assert get(client, admin, path) == {
        "pagination": {"total_results": 0, "total_pages": 1, "first": page_href(path, "page=1&per_page=50"),
                       "last": page_href(path, "page=1&per_page=50"), "next": None, "previous": None},
        "resources": [],
    }


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_guid_is_not_found(client, admin, path):
    detail = f"{NOUN[path].capitalize()} not found"
    assert answer(client.get(f"{path}/nope", headers=admin)) == (
        404, {"errors": [{"detail": detail, "title": "CF-ResourceNotFound", "code": 10010}]})


# 2. Filters.


@pytest.mark.parametrize("path", PATHS)
def test_after_guid_gives_the_later_events_and_stays_in_the_links(client, admin, path):
    write_stream(client, admin, path, [EVENT_OF[path](f"e{i}") for i in range(4)])
    body = get(client, admin, f"{path}?after_guid=e1&per_page=1")
    assert (body["pagination"]["total_results"], v3_guids(body)) == (2, ["e2"])
    assert body["pagination"]["next"] == page_href(path, "after_guid=e1&page=2&per_page=1")
    assert listed(client, admin, f"{path}?after_guid=e3") == (0, [])


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_after_guid_is_unprocessable(client, admin, path):
    write_stream(client, admin, path, [EVENT_OF[path]("e1")])
    expected = unprocessable(f"After guid filter must be a valid {NOUN[path]} guid.")
    assert answer(client.get(f"{path}?after_guid=nope", headers=admin)) == expected
    # after_guid= is a guid too (CC's fetcher finds no event for "").
    assert answer(client.get(f"{path}?after_guid=", headers=admin)) == expected


@pytest.mark.parametrize("path", PATHS)
def test_after_guid_takes_exactly_one_guid(client, admin, path):
    # Even when both guids exist: the length check comes first.
    write_stream(client, admin, path, [EVENT_OF[path]("e1"), EVENT_OF[path]("e2")])
    assert answer(client.get(f"{path}?after_guid=e1,e2", headers=admin)) == unprocessable(
        "After guid filter accepts only one guid")


@pytest.mark.parametrize("path", PATHS)
def test_guids_filter(client, admin, path):
    write_stream(client, admin, path, [EVENT_OF[path](f"e{i}") for i in range(4)])
    assert listed(client, admin, f"{path}?guids=e3,e1") == (2, ["e1", "e3"])
    assert listed(client, admin, f"{path}?guids=e0,e2&after_guid=e0") == (1, ["e2"])
    body = get(client, admin, f"{path}?guids=e3,e1")
    assert body["pagination"]["first"] == page_href(path, "guids=e3%2Ce1&page=1&per_page=50")


@pytest.fixture
def timed(client, admin):
    """One event a second, and one half a second into the fourth second (equality takes whole seconds)."""
    events = [app_event("t0", created_at=at(0)), app_event("t1", created_at=at(1)),
              app_event("t2", created_at=at(2)), app_event("t2.5", created_at=at(2.5)),
              app_event("t3", created_at=at(3))]
    write_stream(client, admin, APP, events)


@pytest.mark.parametrize("query, expected", [
    (f"created_ats={at(1)}", ["t1"]),
    (f"created_ats={at(2)},{at(0)}", ["t0", "t2", "t2.5"]),
    (f"created_ats[lt]={at(2)}", ["t0", "t1"]),
    (f"created_ats[lte]={at(2)}", ["t0", "t1", "t2", "t2.5"]),
    (f"created_ats[gt]={at(2)}", ["t3"]),
    (f"created_ats[gte]={at(2)}", ["t2", "t2.5", "t3"]),
    (f"created_ats[gt]={at(0)}&created_ats[lt]={at(3)}", ["t1", "t2", "t2.5"]),
    (f"created_ats[gte]={at(1)}&after_guid=t2", ["t2.5", "t3"]),
])
def test_created_ats_filter(client, admin, timed, query, expected):
    assert listed(client, admin, f"{APP}?{query}") == (len(expected), expected)


def test_created_ats_are_repeated_in_the_links(client, admin, timed):
    body = get(client, admin, f"{APP}?created_ats[lt]={at(2)}&per_page=1")
    assert body["pagination"]["next"] == page_href(
        APP, "created_ats%5Blt%5D=2016-06-08T16%3A41%3A25Z&page=2&per_page=1")


def test_created_ats_take_only_cc_timestamps(client, admin):
    assert answer(client.get(f"{APP}?created_ats=2016-06-08T16:41:23.5Z", headers=admin)) == unprocessable(
        "Created ats has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'")
    assert answer(client.get(f"{APP}?created_ats[lt]={at(0)},{at(1)}", headers=admin)) == unprocessable(
        "Created ats only accepts one value when using a relational operator")


def test_service_instance_types_and_service_offering_guids_filter(client, admin):
    write_stream(client, admin, SERVICE, [
        service_event("s1", service_guid="offering-a"),
        service_event("s2", instance="si-2", service_guid="offering-b"),
        service_event("s3", instance="si-3", service_instance_type="user_provided_service_instance"),
    ])
    assert listed(client, admin, f"{SERVICE}?service_offering_guids=offering-b") == (1, ["s2"])
    assert listed(client, admin, f"{SERVICE}?service_offering_guids=offering-a,offering-b") == (2, ["s1", "s2"])
    assert listed(client, admin, f"{SERVICE}?service_instance_types=user_provided_service_instance") == (1, ["s3"])
    assert listed(client, admin, f"{SERVICE}?service_instance_types=managed_service_instance"
                                 "&service_offering_guids=offering-a") == (1, ["s1"])
    assert listed(client, admin, f"{SERVICE}?service_offering_guids=offering-a,offering-b&after_guid=s1") == (
        1, ["s2"])


def test_app_usage_events_take_no_service_filters(client, admin):
    assert answer(client.get(f"{APP}?service_instance_types=managed_service_instance", headers=admin)) == (
        unprocessable("Unknown query parameter(s): 'service_instance_types'. Valid parameters are: 'page', "
                      "'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'after_guid'"))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", [f"updated_ats={at(0)}", f"updated_ats[lt]={at(0)}"])
def test_updated_ats_is_refused(client, admin, path, query):
    assert answer(client.get(f"{path}?{query}", headers=admin)) == unprocessable(
        "Filtering by 'updated_ats' is not allowed on this resource.")


@pytest.mark.parametrize("path, valid", [
    (APP, "'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'after_guid'"),
    (SERVICE, "'page', 'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'after_guid', "
              "'service_instance_types', 'service_offering_guids'"),
])
def test_unknown_parameters_are_unprocessable_with_the_valid_ones(client, admin, path, valid):
    # 422 and no "The query parameter is invalid:" prefix: CC's usage event controllers call unprocessable!.
    assert answer(client.get(f"{path}?foo=1&types=x", headers=admin)) == unprocessable(
        f"Unknown query parameter(s): 'foo', 'types'. Valid parameters are: {valid}")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query, detail", [
    ("page=0", "Page must be a positive integer"),
    ("per_page=0", "Per page must be a positive integer"),
    ("per_page=5001", "Per page must be between 1 and 5000"),
    ("order_by=updated_at", "Order by can only be: 'created_at'"),
    ("order_by=name", "Order by can only be: 'created_at'"),
])
def test_paging_and_order_mistakes_are_unprocessable_without_prefix(client, admin, path, query, detail):
    assert answer(client.get(f"{path}?{query}", headers=admin)) == unprocessable(detail)


def test_several_mistakes_make_one_error(client, admin):
    assert answer(client.get(f"{APP}?page=0&foo=1", headers=admin)) == unprocessable(
        "Page must be a positive integer, Unknown query parameter(s): 'foo'. Valid parameters are: 'page', "
        "'per_page', 'order_by', 'created_ats', 'updated_ats', 'guids', 'after_guid'")


# 3. Order and paging.


def at_fraction(seconds):
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="microseconds").replace("+00:00", "Z")


@pytest.mark.parametrize("path", PATHS)
def test_order_by_created_at_sorts_by_time_then_guid_and_the_default_is_the_cursor_order(client, admin, path):
    # Recorded out of time order, as an import or a follower keeps each event's own time; "d" and "b" share
    # a time, so the guid breaks the tie in the asked direction.
    offsets = {"c": 1.1, "a": 0.2, "d": 0.8, "b": 0.8, "e": 2.5}
    write_stream(client, admin, path, [EVENT_OF[path](guid, created_at=at_fraction(offset))
                                       for guid, offset in offsets.items()])
    recorded = ["c", "a", "d", "b", "e"]
    by_time = ["a", "b", "d", "c", "e"]
    assert listed(client, admin, path) == (5, recorded)
    v2 = get(client, admin, f"{V2_OF[path]}?results-per-page=100")
    assert [resource["metadata"]["guid"] for resource in v2["resources"]] == recorded
    assert listed(client, admin, f"{path}?order_by=created_at") == (5, by_time)
    assert listed(client, admin, f"{path}?order_by=%2Bcreated_at") == (5, by_time)
    assert listed(client, admin, f"{path}?order_by=-created_at") == (5, by_time[::-1])
    # after_guid cuts the stream in cursor order; order_by sorts what follows the cut.
    assert listed(client, admin, f"{path}?after_guid=a") == (3, ["d", "b", "e"])
    assert listed(client, admin, f"{path}?after_guid=a&order_by=created_at") == (3, ["b", "d", "e"])
    assert listed(client, admin, f"{path}?after_guid=a&order_by=-created_at") == (3, ["e", "d", "b"])
    assert listed(client, admin, f"{path}?after_guid=a&order_by=-created_at&per_page=1&page=2") == (3, ["d"])
    # Filtered lists (counted, not arithmetic) sort the same way.
    guids = "a,b,c,d,e"
    assert listed(client, admin, f"{path}?guids={guids}&order_by=created_at") == (5, by_time)
    assert listed(client, admin, f"{path}?guids={guids}&order_by=-created_at&per_page=2&page=2") == (5, ["d", "b"])


@pytest.mark.parametrize("path", PATHS)
def test_an_order_by_is_repeated_with_its_sign(client, admin, path):
    write_stream(client, admin, path, [EVENT_OF[path](f"e{i}") for i in range(2)])
    ascending = get(client, admin, f"{path}?order_by=created_at&per_page=1")
    assert ascending["pagination"]["next"] == page_href(path, "order_by=%2Bcreated_at&page=2&per_page=1")
    descending = get(client, admin, f"{path}?order_by=-created_at&per_page=1")
    assert descending["pagination"]["next"] == page_href(path, "order_by=-created_at&page=2&per_page=1")


def test_per_page_goes_up_to_5000(client, admin):
    write_stream(client, admin, APP, [app_event(f"e{i:03}") for i in range(120)])
    body = get(client, admin, f"{APP}?per_page=5000")
    assert (body["pagination"]["total_pages"], len(body["resources"]), body["pagination"]["next"]) == (1, 120, None)
    # Without per_page, pages hold 50.
    assert len(get(client, admin, APP)["resources"]) == 50


def test_a_pruned_guid_still_works_as_after_guid(app, client, admin):
    write_stream(client, admin, APP, [
        app_event("stopped-1", app_guid="stopped", created_at=days_ago(90)),
        app_event("running-1", app_guid="running", created_at=days_ago(80)),
        app_event("stopped-2", "STOPPED", app_guid="stopped", created_at=days_ago(70)),
        app_event("running-2", app_guid="running", created_at=days_ago(60)),
        app_event("young-1", app_guid="other", created_at=days_ago(5)),
    ])
    assert prune_usage_stream(AppUsageEvent, CUTOFF) == (3, 1)
    assert listed(client, admin, APP) == (2, ["running-2", "young-1"])
    assert listed(client, admin, f"{APP}?after_guid=stopped-1") == (2, ["running-2", "young-1"])
    assert listed(client, admin, f"{APP}?after_guid=stopped-2") == (2, ["running-2", "young-1"])
    assert listed(client, admin, f"{APP}?after_guid=running-2") == (1, ["young-1"])
    # Filtered pages take the other way through the cursor: the pruned guid works there too.
    assert listed(client, admin, f"{APP}?after_guid=stopped-1&guids=young-1,stopped-2") == (1, ["young-1"])
    assert listed(client, admin, f"{APP}?after_guid=stopped-2&created_ats[lt]={days_ago(30)[:19]}Z") == (
        1, ["running-2"])
    # The pruned event itself is gone.
    assert client.get(f"{APP}/stopped-1", headers=admin).status_code == 404


@pytest.mark.parametrize("path", PATHS)
def test_a_collector_following_next_sees_each_event_once(client, admin, path):
    event = EVENT_OF[path]
    write_stream(client, admin, path, [event(f"e{i}") for i in range(7)])
    seen, url = [], f"{BASE}{path}?after_guid=e1&per_page=2"
    for turn in range(20):
        body = get(client, admin, url)
        seen += v3_guids(body)
        if turn == 0:  # events recorded while the collector is paging come at the end
            write_stream(client, admin, path, [event("late-1"), event("late-2")])
        if body["pagination"]["next"] is None:
            break
        url = body["pagination"]["next"]["href"]
        assert "after_guid=e1" in url
    assert seen == ["e2", "e3", "e4", "e5", "e6", "late-1", "late-2"]


# 4. The same stream as v2's.


def app_projection_v2(resource):
    """What v2 says of an app usage event, in the terms v3 shows it."""
    e = resource["entity"]
    return (resource["metadata"]["guid"], resource["metadata"]["created_at"], e["state"], e["previous_state"],
            e["parent_app_guid"], e["parent_app_name"], e["app_guid"] or None, e["process_type"], e["space_guid"],
            e["space_name"], e["org_guid"], e["buildpack_guid"], e["buildpack_name"], e["task_guid"], e["task_name"],
            e["memory_in_mb_per_instance"], e["previous_memory_in_mb_per_instance"], e["instance_count"],
            e["previous_instance_count"])


def app_projection_v3(r):
    return (r["guid"], r["created_at"], r["state"]["current"], r["state"]["previous"], r["app"]["guid"],
            r["app"]["name"], r["process"]["guid"], r["process"]["type"], r["space"]["guid"], r["space"]["name"],
            r["organization"]["guid"], r["buildpack"]["guid"], r["buildpack"]["name"], r["task"]["guid"],
            r["task"]["name"], r["memory_in_mb_per_instance"]["current"], r["memory_in_mb_per_instance"]["previous"],
            r["instance_count"]["current"], r["instance_count"]["previous"])


def service_projection_v2(resource):
    e = resource["entity"]
    return (resource["metadata"]["guid"], resource["metadata"]["created_at"], e["state"], e["space_guid"],
            e["space_name"], e["org_guid"], e["service_instance_guid"], e["service_instance_name"],
            e["service_instance_type"], e["service_plan_guid"], e["service_plan_name"], e["service_guid"],
            e["service_label"], e["service_broker_guid"], e["service_broker_name"])


def service_projection_v3(r):
    return (r["guid"], r["created_at"], r["state"], r["space"]["guid"], r["space"]["name"], r["organization"]["guid"],
            r["service_instance"]["guid"], r["service_instance"]["name"], r["service_instance"]["type"],
            r["service_plan"]["guid"], r["service_plan"]["name"], r["service_offering"]["guid"],
            r["service_offering"]["name"], r["service_broker"]["guid"], r["service_broker"]["name"])


PROJECTIONS = {APP: (app_projection_v2, app_projection_v3), SERVICE: (service_projection_v2, service_projection_v3)}


def random_app_event(rng, n):
    task = rng.random() < 0.2
    return app_event(
        f"a{n}", rng.choice(["TASK_STARTED", "TASK_STOPPED"] if task else ["STARTED", "STOPPED", "BUILDPACK_SET"]),
        app_guid="" if task else f"process-{rng.randint(1, 4)}", created_at=at(rng.randint(0, 50)),
        memory_in_mb_per_instance=rng.choice([128, 256]), instance_count=rng.randint(1, 3),
        previous_instance_count=rng.choice([None, 1]), parent_app_guid=rng.choice([None, "app-1", "app-2"]),
        parent_app_name=rng.choice([None, "web"]), process_type=rng.choice([None, "web"]),
        buildpack_name=rng.choice([None, "ruby", "https://u:p@git.example.com/bp.git"]),
        task_guid=f"task-{n}" if task else None, task_name="job" if task else None)


def random_service_event(rng, n):
    return service_event(
        f"s{n}", rng.choice(["CREATED", "UPDATED", "DELETED"]), instance=f"si-{rng.randint(1, 4)}",
        created_at=at(rng.randint(0, 50)),
        service_instance_type=rng.choice(["managed_service_instance", "user_provided_service_instance"]),
        service_guid=rng.choice([None, "offering-1"]), service_label=rng.choice([None, "postgres"]),
        service_plan_name=rng.choice([None, "small"]))


RANDOM_EVENT = {APP: random_app_event, SERVICE: random_service_event}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("path", PATHS)
def test_the_v3_stream_is_the_v2_stream(client, admin, path, seed):
    rng = random.Random(seed)
    written = 0
    for _ in range(rng.randint(2, 6)):  # random batches, as writers send them
        batch = [RANDOM_EVENT[path](rng, written + i) for i in range(rng.randint(1, 12))]
        write_stream(client, admin, path, batch)
        written += len(batch)
    all_guids = listed(client, admin, f"{path}?per_page=5000")[1]
    assert len(all_guids) == written
    v2_projection, v3_projection = PROJECTIONS[path]
    for _ in range(25):
        after = rng.choice([None, *all_guids])
        per_page, page, order = rng.randint(1, 10), rng.randint(1, 6), rng.choice(["", "created_at", "-created_at"])
        cursor = "" if after is None else f"&after_guid={after}"
        # The v3 page, against v2's whole stream after the same cursor, sorted as asked and cut to the page.
        v2 = get(client, admin, f"{V2_OF[path]}?results-per-page=100{cursor}")
        v2_rows = [(r["entity"].get("created_at") or r["metadata"]["created_at"], r["metadata"]["guid"],
                    v2_projection(r)) for r in v2["resources"]]
        if order:
            v2_rows.sort(key=lambda row: (datetime.fromisoformat(row[0]), row[1]), reverse=order.startswith("-"))
        expected = [projection for _, _, projection in v2_rows][(page - 1) * per_page:page * per_page]
        v3_query = f"per_page={per_page}&page={page}{cursor}" + (f"&order_by={order}" if order else "")
        v3 = get(client, admin, f"{path}?{v3_query}")
        assert v3["pagination"]["total_results"] == v2["total_results"], v3_query
        assert [v3_projection(r) for r in v3["resources"]] == expected, v3_query


# 5. Who sees them.


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scope", [ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR])
def test_global_roles_see_lists_and_shows(client, admin, auth, path, scope):
    write_stream(client, admin, path, [EVENT_OF[path]("e1")])
    headers = auth(scope, user_id="someone")
    assert listed(client, headers, path) == (1, ["e1"])
    assert get(client, headers, f"{path}/e1")["guid"] == "e1"


@pytest.mark.parametrize("path", PATHS)
def test_other_readers_see_nothing_whatever_their_roles(client, admin, auth, path):
    write_stream(client, admin, path, [EVENT_OF[path]("e1")])
    for role_path in ("/v2/spaces/space-1/developers/reader", "/v2/spaces/space-1/auditors/reader",
                      "/v2/spaces/space-1/managers/reader", "/v2/organizations/org-1/auditors/reader",
                      "/v2/organizations/org-1/managers/reader", "/v2/organizations/org-1/users/reader"):
        assert client.put(role_path, headers=admin).status_code == 201
    reader = auth(READ, user_id="reader")
    assert get(client, reader, path) == {
        "pagination": {"total_results": 0, "total_pages": 1, "first": page_href(path, "page=1&per_page=50"),
                       "last": page_href(path, "page=1&per_page=50"), "next": None, "previous": None},
        "resources": [],
    }
    assert answer(client.get(f"{path}/e1", headers=reader)) == (404, {"errors": [{
        "detail": f"{NOUN[path].capitalize()} not found", "title": "CF-ResourceNotFound", "code": 10010}]})


@pytest.mark.parametrize("path", PATHS)
def test_a_token_without_a_read_scope_is_not_authorized(client, admin, auth, path):
    write_stream(client, admin, path, [EVENT_OF[path]("e1")])
    writer = auth(WRITE)
    assert answer(client.get(path, headers=writer)) == NOT_AUTHORIZED
    assert answer(client.get(f"{path}/e1", headers=writer)) == NOT_AUTHORIZED


def test_no_token_is_not_authenticated(client):
    assert answer(client.get(APP)) == (401, {"errors": [{
        "detail": "Authentication error", "title": "CF-NotAuthenticated", "code": 10002}]})


# 6. Purge and reseed.

PURGE = {APP: f"{APP}/actions/destructively_purge_all_and_reseed",
         SERVICE: f"{SERVICE}/actions/destructively_purge_all_and_reseed"}
V2_PURGE = {APP: "/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps",
            SERVICE: "/v2/service_usage_events/destructively_purge_all_and_reseed_existing_instances"}
PURGED_STREAM = {
    APP: [app_event("a1", app_guid="running", instance_count=2),
          app_event("a2", app_guid="running", instance_count=3, memory_in_mb_per_instance=512,
                    package_state="STAGED"),
          app_event("b1", app_guid="stopped"),
          app_event("b2", "STOPPED", app_guid="stopped"),
          app_event("t1", "TASK_STARTED", app_guid="", task_guid="task-1")],
    SERVICE: [service_event("x1", instance="kept"),
              service_event("x2", "UPDATED", instance="kept", service_plan_name="big"),
              service_event("y1", instance="gone"),
              service_event("y2", "DELETED", instance="gone")],
}


def test_purge_reseeds_one_started_event_per_running_app(client, admin):
    write_stream(client, admin, APP, PURGED_STREAM[APP])
    response = client.post(PURGE[APP], headers=admin)
    assert answer(response) == (200, {})
    body = get(client, admin, APP)
    assert v3_guids(body) == ["running"]
    resource = body["resources"][0]
    assert (resource["state"], resource["instance_count"], resource["memory_in_mb_per_instance"]) == (
        {"current": "STARTED", "previous": "STARTED"}, {"current": 3, "previous": 3},
        {"current": 512, "previous": 512})


def test_purge_reseeds_one_created_event_per_existing_instance(client, admin):
    write_stream(client, admin, SERVICE, PURGED_STREAM[SERVICE])
    assert answer(client.post(PURGE[SERVICE], headers=admin)) == (200, {})
    body = get(client, admin, SERVICE)
    assert v3_guids(body) == ["kept"]
    assert (body["resources"][0]["state"], body["resources"][0]["service_plan"]["name"]) == ("CREATED", "big")


def without_times(body):
    return [{**resource, "metadata": {**resource["metadata"], "created_at": None}} for resource in body["resources"]]


@pytest.mark.parametrize("path", PATHS)
def test_purge_leaves_what_v2s_purge_leaves(client, admin, path):
    write_stream(client, admin, path, PURGED_STREAM[path])
    assert client.post(V2_PURGE[path], headers=admin).status_code == 204
    after_v2 = without_times(get(client, admin, V2_OF[path]))
    # The same stream again (new guids), purged through v3 this time.
    write_stream(client, admin, path, [{**event, "guid": event["guid"] + "-again"} for event in PURGED_STREAM[path]])
    assert client.post(PURGE[path], headers=admin).status_code == 200
    assert without_times(get(client, admin, V2_OF[path])) == after_v2
    assert len(after_v2) == 1


@pytest.mark.parametrize("path", PATHS)
def test_after_a_purge_an_old_after_guid_is_unprocessable(client, admin, path):
    write_stream(client, admin, path, PURGED_STREAM[path])
    client.post(PURGE[path], headers=admin)
    old = PURGED_STREAM[path][0]["guid"]
    assert answer(client.get(f"{path}?after_guid={old}", headers=admin)) == unprocessable(
        f"After guid filter must be a valid {NOUN[path]} guid.")
    # New events follow the reseeded ones, which are cursors of their own.
    reseeded = v3_guids(get(client, admin, path))[0]
    write_stream(client, admin, path, [EVENT_OF[path]("later")])
    assert listed(client, admin, f"{path}?after_guid={reseeded}") == (1, ["later"])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scope", [ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE])
def test_purge_is_for_admins_only(client, admin, auth, path, scope):
    write_stream(client, admin, path, PURGED_STREAM[path])
    assert answer(client.post(PURGE[path], headers=auth(scope))) == NOT_AUTHORIZED
    assert listed(client, admin, path)[0] == len(PURGED_STREAM[path])
