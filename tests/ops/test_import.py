"""`flask events import FILE --kind ...`: batches, resumption, and bad lines reported without losing good ones."""
import json

from app.ops.importer import import_command
from app.store.writes import MAX_BATCH
from tests.api.v2.test_usage_events import app_event, service_event


def audit_event(guid, **fields):
    return {"guid": guid, "type": "audit.app.update", "actor": "user-1", "actor_type": "user",
            "actee": "app-1", "actee_type": "app", "actee_name": "web", "timestamp": "2016-06-08T16:41:23Z",
            "metadata": {"request": {"instances": 2}}, **fields}


def ndjson(tmp_path, *lines):
    path = tmp_path / "events.ndjson"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def run_import(app, path, kind):
    return app.test_cli_runner().invoke(import_command, [path, "--kind", kind])


def summary(written, present, rejected, *reasons):
    return "".join(f"{line}\n" for line in (
        f"written: {written}", f"already present: {present}", f"rejected: {rejected}", *reasons))


def test_each_kind_is_imported_and_readable(app, client, admin, tmp_path):
    for kind, event, url in (("audit", audit_event, "/v2/events"),
                             ("app-usage", app_event, "/v2/app_usage_events"),
                             ("service-usage", service_event, "/v2/service_usage_events")):
        result = run_import(app, ndjson(tmp_path, event("e1"), "", event("e2")), kind)
        assert (result.exit_code, result.stdout) == (0, summary(2, 0, 0)), result.output
        for guid in ("e1", "e2"):
            response = client.get(f"{url}/{guid}", headers=admin)
            assert response.status_code == 200 and response.get_json()["metadata"]["guid"] == guid


def test_writes_go_through_the_write_path(app, client, admin, tmp_path):
    event = audit_event("e1", metadata={"request": {"command": "secret-start"}})
    assert run_import(app, ndjson(tmp_path, event), "audit").exit_code == 0
    entity = client.get("/v2/events/e1", headers=admin).get_json()["entity"]
    assert entity["metadata"] == {"request": {"command": "[PRIVATE DATA HIDDEN]"}}


def test_a_second_run_writes_nothing(app, client, admin, tmp_path):
    # Lines without a guid or a time must be recognised as well.
    untimed = {key: value for key, value in audit_event("x").items() if key not in ("guid", "timestamp")}
    path = ndjson(tmp_path, audit_event("e1"), untimed, audit_event("e2"))
    assert run_import(app, path, "audit").stdout == summary(3, 0, 0)
    result = run_import(app, path, "audit")
    assert (result.exit_code, result.stdout) == (0, summary(0, 3, 0))
    assert client.get("/v2/events", headers=admin).get_json()["total_results"] == 3


def test_bad_lines_are_reported_and_the_good_ones_written(app, client, admin, tmp_path):
    missing = {key: value for key, value in audit_event("bad-3").items() if key != "actor"}
    path = ndjson(tmp_path, audit_event("e1"), "{not json", json.dumps([audit_event("bad-2")]), missing,
                  audit_event("bad-4", colour="red", actee=""), audit_event("e2"))
    result = run_import(app, path, "audit")
    assert result.exit_code == 1
    assert result.stdout == summary(
        2, 0, 4,
        "line 2: invalid JSON at character 2 of the line: Expecting property name enclosed in double quotes",
        "line 3: not a JSON object",
        "line 4: actor: Missing data for required field.",
        "line 5: actee: Must not be empty.",
        "line 5: colour: Unknown field.",
    )
    assert [client.get(f"/v2/events/{guid}", headers=admin).status_code for guid in ("e1", "e2")] == [200, 200]
    assert client.get("/v2/events", headers=admin).get_json()["total_results"] == 2


def test_a_conflicting_line_is_rejected_and_the_rest_of_its_batch_written(app, client, admin, tmp_path):
    run_import(app, ndjson(tmp_path, app_event("e2", instance_count=1)), "app-usage")
    path = ndjson(tmp_path, app_event("e1"), app_event("e2", instance_count=5), app_event("e3"),
                  app_event("e2", instance_count=1))
    result = run_import(app, path, "app-usage")
    assert (result.exit_code, result.stdout) == (1, summary(
        2, 1, 1, "line 2: An event with guid e2 already exists with different content"))
    body = client.get("/v2/app_usage_events", headers=admin).get_json()
    assert [resource["metadata"]["guid"] for resource in body["resources"]] == ["e2", "e1", "e3"]
    assert body["resources"][0]["entity"]["instance_count"] == 1


def test_lines_conflicting_with_each_other_keep_the_first(app, client, admin, tmp_path):
    path = ndjson(tmp_path, audit_event("e1"), audit_event("e1", actee_name="other"), audit_event("e2"))
    result = run_import(app, path, "audit")
    assert (result.exit_code, result.stdout) == (1, summary(
        2, 0, 1, "line 2: An event with guid e1 already exists with different content"))
    assert client.get("/v2/events/e1", headers=admin).get_json()["entity"]["actee_name"] == "web"


def test_more_than_one_batch(app, client, admin, tmp_path):
    count = 2 * MAX_BATCH + 500
    path = ndjson(tmp_path, *(service_event(f"s{i}", instance=f"si-{i}") for i in range(count)))
    result = run_import(app, path, "service-usage")
    assert (result.exit_code, result.stdout) == (0, summary(count, 0, 0))
    assert client.get("/v2/service_usage_events", headers=admin).get_json()["total_results"] == count
    assert run_import(app, path, "service-usage").stdout == summary(0, count, 0)


def test_the_progress_bar_stays_off_stdout(app, tmp_path):
    result = run_import(app, ndjson(tmp_path, audit_event("e1")), "audit")
    assert "importing events.ndjson" in result.stderr and "importing" not in result.stdout


def test_a_missing_file_or_kind_is_a_usage_error(app, tmp_path):
    result = run_import(app, str(tmp_path / "absent.ndjson"), "audit")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = run_import(app, ndjson(tmp_path, audit_event("e1")), "audits")
    assert result.exit_code == 2 and "Invalid value for '--kind'" in result.stderr
