"""/v2/app_usage_events and /v2/service_usage_events: envelopes, cursor, writes, purge and scopes."""
import pytest

from app.identity.tokens import ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE

APP_ENTITY_KEYS = [
    "state", "previous_state", "memory_in_mb_per_instance", "previous_memory_in_mb_per_instance",
    "instance_count", "previous_instance_count", "app_guid", "app_name", "space_guid", "space_name", "org_guid",
    "buildpack_guid", "buildpack_name", "package_state", "previous_package_state", "parent_app_guid",
    "parent_app_name", "process_type", "task_name", "task_guid",
]
SERVICE_ENTITY_KEYS = [
    "state", "org_guid", "space_guid", "space_name", "service_instance_guid", "service_instance_name",
    "service_instance_type", "service_plan_guid", "service_plan_name", "service_guid", "service_label",
    "service_broker_name", "service_broker_guid",
]


def app_event(guid, state="STARTED", app_guid="app-1", **fields):
    return {"guid": guid, "state": state, "memory_in_mb_per_instance": 256, "instance_count": 1,
            "app_guid": app_guid, "app_name": "web", "space_guid": "space-1", "space_name": "dev",
            "org_guid": "org-1", "created_at": "2016-06-08T16:41:23Z", **fields}


def service_event(guid, state="CREATED", instance="si-1", **fields):
    return {"guid": guid, "state": state, "org_guid": "org-1", "space_guid": "space-1", "space_name": "dev",
            "service_instance_guid": instance, "service_instance_name": "db",
            "service_instance_type": "managed_service_instance", "created_at": "2016-06-08T16:41:23Z", **fields}


def write(client, admin, path, events):
    response = client.post(path, json=events, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def guids(body):
    return [resource["metadata"]["guid"] for resource in body["resources"]]


def test_app_usage_event_resource_in_cc_shape(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event("e1", buildpack_name="ruby_buildpack")])
    body = client.get("/v2/app_usage_events", headers=admin).get_json()
    assert body == {
        "total_results": 1, "total_pages": 1, "prev_url": None, "next_url": None,
        "resources": [{
            "metadata": {"guid": "e1", "url": "/v2/app_usage_events/e1", "created_at": "2016-06-08T16:41:23Z"},
            "entity": {
                "state": "STARTED", "previous_state": None, "memory_in_mb_per_instance": 256,
                "previous_memory_in_mb_per_instance": None, "instance_count": 1, "previous_instance_count": None,
                "app_guid": "app-1", "app_name": "web", "space_guid": "space-1", "space_name": "dev",
                "org_guid": "org-1", "buildpack_guid": None, "buildpack_name": "ruby_buildpack",
                "package_state": None, "previous_package_state": None, "parent_app_guid": None,
                "parent_app_name": None, "process_type": None, "task_name": None, "task_guid": None,
            },
        }],
    }
    assert list(body["resources"][0]["entity"]) == APP_ENTITY_KEYS
    assert list(body["resources"][0]["metadata"]) == ["guid", "url", "created_at"]
    assert client.get("/v2/app_usage_events/e1", headers=admin).get_json() == body["resources"][0]


def test_service_usage_event_resource_in_cc_shape(client, admin):
    write(client, admin, "/v2/service_usage_events", [service_event("s1", service_guid="svc", service_label="pg")])
    resource = client.get("/v2/service_usage_events/s1", headers=admin).get_json()
    assert list(resource["entity"]) == SERVICE_ENTITY_KEYS
    assert resource["metadata"] == {"guid": "s1", "url": "/v2/service_usage_events/s1",
                                    "created_at": "2016-06-08T16:41:23Z"}
    assert resource["entity"]["service_label"] == "pg"


def test_after_guid_returns_only_later_events_with_the_pinned_link(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event(f"e{i}") for i in range(4)])
    body = client.get("/v2/app_usage_events?results-per-page=1&after_guid=e1", headers=admin).get_json()
    assert (body["total_results"], body["total_pages"], guids(body)) == (2, 2, ["e2"])
    assert body["next_url"] == "/v2/app_usage_events?after_guid=e1&order-direction=asc&page=2&results-per-page=1"
    second = client.get(body["next_url"], headers=admin).get_json()
    assert guids(second) == ["e3"] and second["next_url"] is None
    assert second["prev_url"] == "/v2/app_usage_events?after_guid=e1&order-direction=asc&page=1&results-per-page=1"


def test_descending_pages_after_a_cursor(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event(f"e{i}") for i in range(6)])
    pages = [client.get(f"/v2/app_usage_events?after_guid=e1&order-direction=desc&results-per-page=3&page={page}",
                        headers=admin).get_json() for page in (1, 2)]
    assert [guids(page) for page in pages] == [["e5", "e4", "e3"], ["e2"]]
    assert {page["total_results"] for page in pages} == {4}


def test_the_last_event_as_cursor_gives_an_empty_page(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event("e0"), app_event("e1")])
    body = client.get("/v2/app_usage_events?after_guid=e1", headers=admin).get_json()
    assert body == {"total_results": 0, "total_pages": 0, "prev_url": None, "next_url": None, "resources": []}


@pytest.mark.parametrize("collection", ["app_usage_events", "service_usage_events"])
def test_unknown_after_guid_is_a_bad_query_parameter(client, admin, collection):
    response = client.get(f"/v2/{collection}?after_guid=nope", headers=admin)
    assert (response.status_code, response.get_json()) == (400, {
        "description": "The query parameter is invalid: nope", "error_code": "CF-BadQueryParameter", "code": 10005})


def test_app_usage_events_take_no_filter_and_no_order_by(client, admin):
    response = client.get("/v2/app_usage_events?q=state:STARTED", headers=admin)
    assert (response.status_code, response.get_json()["description"]) == (400, "The query parameter is invalid: state")
    response = client.get("/v2/app_usage_events?order-by=id", headers=admin)
    assert response.status_code == 400
    assert response.get_json() == {"description": "Cannot order by: id", "error_code": "CF-OrderByParameterInvalid",
                                   "code": 10012}


@pytest.mark.parametrize("collection, largest", [("app_usage_events", 10000), ("service_usage_events", 100)])
def test_page_size_limits(client, admin, collection, largest):
    assert client.get(f"/v2/{collection}?results-per-page={largest}", headers=admin).status_code == 200
    response = client.get(f"/v2/{collection}?results-per-page={largest + 1}", headers=admin)
    expected = f"The query parameter is invalid: results_per_page must be <= {largest}"
    assert response.get_json()["description"] == expected


def test_service_usage_events_filter_on_type_and_service_guid(client, admin):
    write(client, admin, "/v2/service_usage_events", [
        service_event("s1", service_guid="svc-a"),
        service_event("s2", instance="si-2", service_guid="svc-b"),
        service_event("s3", instance="si-3", service_instance_type="user_provided_service_instance"),
    ])

    def listed(query):
        return guids(client.get(f"/v2/service_usage_events?{query}", headers=admin).get_json())

    assert listed("q=service_guid:svc-b") == ["s2"]
    assert listed("q=service_instance_type:user_provided_service_instance") == ["s3"]
    assert listed("q=service_guid%20IN%20svc-a,svc-b&after_guid=s1") == ["s2"]
    assert listed("q=service_guid:") == ["s3"]
    body = client.get("/v2/service_usage_events?q=service_guid:svc-a&results-per-page=1", headers=admin).get_json()
    assert body["total_results"] == 1


def test_writes_are_idempotent_and_conflicts_refused(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event("e1")])
    replay = client.post("/v2/app_usage_events", json=app_event("e1"), headers=admin)
    assert replay.status_code == 200
    conflict = client.post("/v2/app_usage_events", json=[app_event("e2"), app_event("e1", instance_count=3)],
                           headers=admin)
    assert conflict.status_code == 409
    assert conflict.get_json()["error_code"] == "CF-EventConflict"
    assert guids(client.get("/v2/app_usage_events", headers=admin).get_json()) == ["e1"]


def test_positions_stay_gap_free_across_replays(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event("e1"), app_event("e2")])
    write(client, admin, "/v2/app_usage_events", [app_event("e2"), app_event("e3")])
    body = client.get("/v2/app_usage_events?after_guid=e1", headers=admin).get_json()
    assert (body["total_results"], guids(body)) == (2, ["e2", "e3"])


def test_one_422_lists_every_bad_field(client, admin):
    response = client.post("/v2/app_usage_events", headers=admin, json={
        "state": "RUNNING", "memory_in_mb_per_instance": -1, "instance_count": "2", "app_name": "x" * 256})
    assert response.status_code == 422
    description = response.get_json()["description"]
    for name in ("state", "memory_in_mb_per_instance", "instance_count", "app_guid", "app_name", "space_guid",
                 "space_name", "org_guid"):
        assert f"{name}: " in description
    assert client.get("/v2/app_usage_events", headers=admin).get_json()["total_results"] == 0


def test_an_integer_may_be_written_as_a_number_without_a_fraction(client, admin):
    # JSON has one kind of number, and the document's JSON Schema reads 2.0 as the integer 2.
    written = write(client, admin, "/v2/app_usage_events", [app_event("e1", memory_in_mb_per_instance=512.0,
                                                                       instance_count=2.0)])
    assert (written[0]["entity"]["memory_in_mb_per_instance"], written[0]["entity"]["instance_count"]) == (512, 2)
    response = client.post("/v2/app_usage_events", headers=admin, json=app_event("e2", instance_count=2.5))
    assert (response.status_code, response.get_json()["description"]) == (
        422, "instance_count: Not a valid integer.")


def test_buildpack_url_credentials_are_obfuscated_on_write(client, admin):
    written = write(client, admin, "/v2/app_usage_events",
                    [app_event("e1", buildpack_name="https://user:s3cret@git.example.com/bp.git")])
    assert written[0]["entity"]["buildpack_name"] == "https://***:***@git.example.com/bp.git"
    stored = client.get("/v2/app_usage_events/e1", headers=admin).get_json()
    assert stored["entity"]["buildpack_name"] == "https://***:***@git.example.com/bp.git"


def test_purge_reseeds_one_started_event_per_running_app(client, admin):
    write(client, admin, "/v2/app_usage_events", [
        app_event("a1", app_guid="running", instance_count=2),
        app_event("a2", app_guid="running", instance_count=3, memory_in_mb_per_instance=512, package_state="STAGED"),
        app_event("b1", app_guid="stopped"),
        app_event("b2", "STOPPED", app_guid="stopped"),
        app_event("t1", "TASK_STARTED", app_guid="", task_guid="task-1"),
    ])
    response = client.post("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", headers=admin)
    assert (response.status_code, response.data) == (204, b"")
    body = client.get("/v2/app_usage_events", headers=admin).get_json()
    assert guids(body) == ["running"]
    entity = body["resources"][0]["entity"]
    assert (entity["state"], entity["previous_state"], entity["instance_count"], entity["previous_instance_count"],
            entity["memory_in_mb_per_instance"], entity["package_state"], entity["previous_package_state"]) == (
        "STARTED", "STARTED", 3, 3, 512, "STAGED", "UNKNOWN")
    stale = client.get("/v2/app_usage_events?after_guid=a1", headers=admin)
    assert stale.status_code == 400


def test_purge_reseeds_one_created_event_per_existing_instance(client, admin):
    write(client, admin, "/v2/service_usage_events", [
        service_event("x1", instance="kept"), service_event("x2", "UPDATED", instance="kept", service_plan_name="big"),
        service_event("y1", instance="gone"), service_event("y2", "DELETED", instance="gone"),
    ])
    path = "/v2/service_usage_events/destructively_purge_all_and_reseed_existing_instances"
    assert client.post(path, headers=admin).status_code == 204
    body = client.get("/v2/service_usage_events", headers=admin).get_json()
    assert guids(body) == ["kept"]
    assert (body["resources"][0]["entity"]["state"], body["resources"][0]["entity"]["service_plan_name"]) == (
        "CREATED", "big")


def test_after_purge_new_events_follow_the_reseeded_ones(client, admin):
    write(client, admin, "/v2/app_usage_events", [app_event("a1", app_guid="running")])
    client.post("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", headers=admin)
    write(client, admin, "/v2/app_usage_events", [app_event("later", app_guid="running")])
    body = client.get("/v2/app_usage_events?after_guid=running", headers=admin).get_json()
    assert (body["total_results"], guids(body)) == (1, ["later"])


@pytest.mark.parametrize("scope", [ADMIN_READ_ONLY, GLOBAL_AUDITOR, READ, WRITE])
def test_purge_is_for_admins_only_and_changes_nothing_otherwise(client, admin, auth, scope):
    write(client, admin, "/v2/app_usage_events", [app_event("a1"), app_event("a2", "STOPPED")])
    response = client.post("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps",
                           headers=auth(scope))
    assert (response.status_code, response.get_json()["error_code"]) == (403, "CF-InsufficientScope")
    assert guids(client.get("/v2/app_usage_events", headers=admin).get_json()) == ["a1", "a2"]


@pytest.mark.parametrize("scope, app_list, app_show, service_list", [
    (ADMIN, 200, 200, 200),
    (ADMIN_READ_ONLY, 200, 200, 200),
    (GLOBAL_AUDITOR, 403, 200, 200),
    (READ, 403, 403, 403),
])
def test_who_reads_usage_events(client, admin, auth, scope, app_list, app_show, service_list):
    write(client, admin, "/v2/app_usage_events", [app_event("e1")])
    headers = auth(scope)
    assert client.get("/v2/app_usage_events", headers=headers).status_code == app_list
    assert client.get("/v2/app_usage_events/e1", headers=headers).status_code == app_show
    assert client.get("/v2/service_usage_events", headers=headers).status_code == service_list


def test_a_read_user_may_not_see_one_usage_event(client, admin, auth):
    write(client, admin, "/v2/app_usage_events", [app_event("e1")])
    response = client.get("/v2/app_usage_events/e1", headers=auth(READ))
    assert response.get_json()["error_code"] == "CF-NotAuthorized"
    assert client.get("/v2/app_usage_events", headers=auth(GLOBAL_AUDITOR)).get_json()["error_code"] == (
        "CF-InsufficientScope")


def test_writers_need_the_write_scope(client, auth):
    response = client.post("/v2/app_usage_events", json=app_event("e1"), headers=auth(ADMIN_READ_ONLY))
    assert response.status_code == 403
    assert client.post("/v2/app_usage_events", json=app_event("e1"), headers=auth(WRITE)).status_code == 201


def test_a_guid_stored_by_another_writer_meanwhile_is_a_replay_without_a_gap(client, admin, monkeypatch):
    """Positions are taken last, after the guid check: a writer that stored the same guid in between makes
    the INSERT fail, and the write is tried again, finding the event."""
    from app.store import writes

    write(client, admin, "/v2/app_usage_events", [app_event("e1")])
    real, missed = writes._stored, []

    def not_yet_there(model, guids):  # as if e1 were committed just after this writer looked
        if not missed:
            missed.append(1)
            return {}
        return real(model, guids)

    monkeypatch.setattr(writes, "_stored", not_yet_there)
    response = client.post("/v2/app_usage_events", json=[app_event("e1"), app_event("e2")], headers=admin)
    assert missed and response.status_code == 201
    body = client.get("/v2/app_usage_events", headers=admin).get_json()
    assert (body["total_results"], guids(body)) == (2, ["e1", "e2"])
    after = client.get("/v2/app_usage_events?after_guid=e1", headers=admin).get_json()
    assert guids(after) == ["e2"]
