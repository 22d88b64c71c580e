"""The Usage Service's endpoints over HTTP: figures, parameters, errors, who may read, CSV, and the fold command."""
import csv
import io
import time

import jwt
import pytest

from app.identity.roles import grant
from app.identity.tokens import READ
from app.usage import metering, reports
from tests.api.v2.test_usage_events import write
from tests.conftest import SECRET
from tests.usage.test_usage_reports import HOUR, app_usage, service_usage, task_usage

MARCH = "start=2026-03-01&end=2026-03-31"
ORG_REPORTS = ("app_usages", "task_usages", "service_usages")
SYSTEM_REPORTS = ("app_usages", "task_usages", "service_usages")


@pytest.fixture
def platform(client, admin):
    """Two app processes of org-1 (one rescaled), a task, a service instance moved to another plan, and an
    app of org-2."""
    write(client, admin, "/v2/app_usage_events", [
        app_usage("STARTED", 0, instances=2, memory=256),
        app_usage("STARTED", 10, instances=3, memory=256),
        app_usage("STOPPED", 12),
        app_usage("STARTED", 1, process="proc-2", memory=1024),
        app_usage("STOPPED", 2, process="proc-2"),
        task_usage("TASK_STARTED", 5),
        task_usage("TASK_STOPPED", 5.5),
        app_usage("STARTED", 0, process="proc-9", org_guid="org-2", space_guid="space-9"),
        app_usage("STOPPED", 24, process="proc-9", org_guid="org-2", space_guid="space-9"),
    ])
    write(client, admin, "/v2/service_usage_events", [
        service_usage("CREATED", 0),
        service_usage("UPDATED", 6, plan="plan-large"),
        service_usage("DELETED", 8, plan="plan-large"),
    ])


def get(client, headers, path, **extra):
    return client.get(path, headers={**headers, **extra})


def test_an_org_app_report_over_http(client, admin, platform):
    response = get(client, admin, f"/organizations/org-1/app_usages?{MARCH}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["organization_guid"] == "org-1"
    assert (body["period_start"], body["period_end"]) == ("2026-03-01T00:00:00Z", "2026-03-31T23:59:59Z")
    # proc-1: 2 × 256 for 10 h, then 3 × 256 for 2 h; proc-2: 1 × 1024 for 1 h.
    assert [(row["app_guid"], row["instance_count"], row["memory_in_mb_per_instance"], row["duration_in_seconds"])
            for row in body["app_usages"]] == [
        ("proc-1", 2, 256, 10 * HOUR), ("proc-1", 3, 256, 2 * HOUR), ("proc-2", 1, 1024, HOUR)]
    assert body["app_usages"][0] == {
        "space_guid": "space-1", "space_name": "dev", "app_guid": "proc-1", "app_name": "web",
        "parent_application_guid": "app-proc-1", "parent_application_name": "shop", "process_type": "web",
        "instance_count": 2, "memory_in_mb_per_instance": 256, "duration_in_seconds": 36000}


def test_every_report_answers_json_numbers(client, admin, platform):
    tasks = get(client, admin, f"/organizations/org-1/task_usages?{MARCH}").get_json()
    assert tasks["spaces"] == {"space-1": {"space_name": "dev", "task_summaries": [{
        "parent_application_guid": "app-a", "parent_application_name": "shop", "memory_in_mb_per_instance": 512,
        "task_count_for_range": 1, "concurrent_task_count_for_range": 1,
        "total_duration_in_seconds_for_range": 1800}]}}
    services = get(client, admin, f"/organizations/org-1/service_usages?{MARCH}").get_json()["service_usages"]
    assert [(row["service_plan_guid"], row["duration_in_seconds"], row["deleted"]) for row in services] == [
        ("plan-large", 2 * HOUR, True), ("plan-small", 6 * HOUR, True)]  # by plan guid within the instance
    summary = get(client, admin, f"/app_usages?{MARCH}&order_by=-total_instance_hours").get_json()
    # org-1: 20 + 6 + 1 instance-hours; org-2: 24.
    assert summary["Organizations"] == [
        {"guid": "org-1", "total_instance_hours": 27.0, "megabyte_hours": (20 + 6) * 256 + 1024.0},
        {"guid": "org-2", "total_instance_hours": 24.0, "megabyte_hours": 24 * 256.0}]
    ascending = get(client, admin, f"/app_usages?{MARCH}&order_by=total_instance_hours").get_json()
    assert [row["guid"] for row in ascending["Organizations"]] == ["org-2", "org-1"]
    system = get(client, admin, "/system_report/app_usages").get_json()
    march = next(row for row in system["monthly_reports"] if (row["year"], row["month"]) == (2026, 3))
    assert (march["app_instance_hours"], march["maximum_app_instances"], march["megabyte_hours"]) == (
        51.0, 4, (20 + 6 + 24) * 256 + 1024.0)
    assert get(client, admin, "/system_report/task_usages").status_code == 200
    service_report = get(client, admin, "/system_report/service_usages").get_json()
    assert [plan["service_plan_guid"] for plan in service_report["monthly_service_reports"][0]["plans"]] == [
        "plan-large", "plan-small"]


@pytest.mark.parametrize("query, parameter", [
    ("", "start"),
    ("start=2026-03-01", "end"),
    ("start=2026-3-01&end=2026-03-31", "start"),
    ("start=2026-03-01&end=2026-02-30", "end"),
    ("start=2026-03-01&end=20260331", "end"),
    ("start=%EF%BC%92026-03-01&end=2026-03-31", "start"),  # a full-width digit
    ("start=2026-03-02&end=2026-03-01", "end"),
    ("start=2025-01-01&end=2026-01-02", "end"),  # 367 days
    (f"{MARCH}&format=xml", "format"),
])
def test_bad_parameters_get_a_400_naming_them(client, admin, query, parameter):
    for path in (f"/organizations/org-1/{report}" for report in ORG_REPORTS):
        response = get(client, admin, f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert list(response.get_json()) == ["error"]
        assert parameter in response.get_json()["error"]
    response = get(client, admin, f"/app_usages?{query}")
    assert response.status_code == 400 and parameter in response.get_json()["error"]


def test_a_period_of_366_days_and_the_edges_of_the_calendar_are_accepted(client, admin):
    assert get(client, admin, "/app_usages?start=2024-01-01&end=2024-12-31").status_code == 200  # leap year
    assert get(client, admin, "/app_usages?start=0001-01-01&end=0001-01-01").get_json()["Organizations"] == []
    body = get(client, admin, "/organizations/x/app_usages?start=9999-12-31&end=9999-12-31").get_json()
    assert body["period_end"] == "9999-12-31T23:59:59Z" and body["app_usages"] == []


@pytest.mark.parametrize("order_by", ["bogus", "--total_instance_hours", "guid", ""])
def test_a_bad_order_is_a_400(client, admin, order_by):
    response = get(client, admin, f"/app_usages?{MARCH}&order_by={order_by}")
    assert response.status_code == 400 and "order_by" in response.get_json()["error"]


def test_errors_keep_the_usage_services_shape(client, auth):
    assert client.get("/system_report/app_usages").get_json() == {"error": "Authentication error"}
    assert client.get("/system_report/app_usages").status_code == 401
    response = client.get("/organizations/org-1/nothing_here", headers=auth())
    assert response.status_code == 404 and list(response.get_json()) == ["error"]
    response = client.post("/usage_availability", headers=auth())
    assert response.status_code == 405 and list(response.get_json()) == ["error"]
    response = client.get("/organizations/a%00b/app_usages?" + MARCH, headers=auth())
    assert 400 <= response.status_code < 500 and list(response.get_json()) == ["error"]


def usage_service_token(*scopes, audience=("usage_service",), user_id="collector"):
    now = int(time.time())
    return {"Authorization": "bearer " + jwt.encode(
        {"scope": list(scopes), "aud": list(audience), "iat": now, "exp": now + 600, "user_id": user_id,
         "client_id": "usage"}, SECRET, algorithm="HS256")}


@pytest.mark.parametrize("scope", ["cloud_controller.admin", "cloud_controller.admin_read_only",
                                   "cloud_controller.global_auditor", "usage_service.audit"])
def test_the_platform_readers_read_every_report(client, auth, platform, scope):
    for path in [f"/organizations/org-1/{report}?{MARCH}" for report in ORG_REPORTS] + [
            f"/system_report/{report}" for report in SYSTEM_REPORTS] + [f"/app_usages?{MARCH}", "/usage_availability"]:
        assert client.get(path, headers=auth(scope)).status_code == 200, (scope, path)


def test_a_usage_service_token_is_accepted_here_and_nowhere_else(client, platform):
    headers = usage_service_token("usage_service.audit")
    assert client.get("/system_report/app_usages", headers=headers).status_code == 200
    assert client.get("/v2/app_usage_events", headers=headers).status_code == 401
    stranger = usage_service_token("usage_service.audit", audience=("somebody_else",))
    assert client.get("/system_report/app_usages", headers=stranger).status_code == 401


def test_billing_managers_and_org_auditors_read_their_own_orgs_reports_only(app, client, auth, platform):
    grant("organization", "org-1", "billing_manager", "bill")
    grant("organization", "org-1", "auditor", "audrey")
    grant("organization", "org-1", "manager", "manny")
    grant("space", "space-1", "developer", "devon")
    for user in ("bill", "audrey"):
        headers = auth(READ, user_id=user)
        for report in ORG_REPORTS:
            assert client.get(f"/organizations/org-1/{report}?{MARCH}", headers=headers).status_code == 200
            assert client.get(f"/organizations/org-2/{report}?{MARCH}", headers=headers).status_code == 403
        for path in ["/system_report/app_usages", f"/app_usages?{MARCH}", "/usage_availability"]:
            assert client.get(path, headers=headers).status_code == 403
    for user in ("manny", "devon"):
        response = client.get(f"/organizations/org-1/app_usages?{MARCH}", headers=auth(READ, user_id=user))
        assert response.status_code == 403 and list(response.get_json()) == ["error"]
    # The role alone is not enough: the token must still be a cloud_controller.read one.
    assert client.get(f"/organizations/org-1/app_usages?{MARCH}",
                      headers=auth("openid", user_id="bill")).status_code == 403


def csv_rows(response):
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def as_cells(rows):
    """JSON rows as the csv module reads them back: every value a string, None empty, booleans lower case."""
    def cell(value):
        if value is None:
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)
    return [{key: cell(value) for key, value in row.items()} for row in rows]


def test_csv_reads_back_as_the_json_rows(client, admin, platform, monkeypatch):
    # One moment for every request: the year's averages run to "now", which must not move between them.
    moment = reports.now_second()
    monkeypatch.setattr(reports, "now_second", lambda: moment)

    def both(path):
        as_json = get(client, admin, path).get_json()
        by_format = csv_rows(get(client, admin, path + ("&" if "?" in path else "?") + "format=csv"))
        by_accept = csv_rows(get(client, admin, path, Accept="text/csv"))
        assert by_format == by_accept
        return as_json, by_format

    body, rows = both(f"/organizations/org-1/app_usages?{MARCH}")
    assert rows == as_cells(body["app_usages"]) and len(rows) == 3
    body, rows = both(f"/organizations/org-1/service_usages?{MARCH}")
    assert rows == as_cells(body["service_usages"]) and len(rows) == 2
    body, rows = both(f"/organizations/org-1/task_usages?{MARCH}")
    assert rows == as_cells([{"space_guid": guid, "space_name": space["space_name"], **summary}
                             for guid, space in body["spaces"].items() for summary in space["task_summaries"]])
    body, rows = both(f"/app_usages?{MARCH}")
    assert rows == as_cells(body["Organizations"])
    body, rows = both("/system_report/app_usages")
    assert rows == as_cells([{"year": row.pop("year"), "month": row.pop("month"), **row}
                             for row in body["monthly_reports"]]
                            + [{"year": row.pop("year"), "month": None, **row} for row in body["yearly_reports"]])
    body, rows = both("/system_report/service_usages")
    service = body["monthly_service_reports"][0]
    march = [row for row in rows if (row["year"], row["month"]) == ("2026", "3")]
    assert [(row["service_plan_guid"], row["duration_in_hours"]) for row in march] == [
        ("", str(service["usages"][0]["duration_in_hours"])), ("plan-large", "2.0"), ("plan-small", "6.0")]
    # Each month and year from March 2026 to now, for the service and each of its two plans.
    assert len(rows) == 3 * (len(service["usages"]) + len(body["yearly_service_reports"][0]["usages"]))
    body, rows = both("/usage_availability")
    assert rows == as_cells([body])


def test_json_wins_unless_csv_is_preferred(client, admin, platform):
    path = f"/app_usages?{MARCH}"
    for accept in ("*/*", "application/json", "application/json, text/csv;q=0.5", ""):
        assert get(client, admin, path, Accept=accept).is_json, accept
    assert csv_rows(get(client, admin, path, Accept="text/csv, application/json;q=0.5"))
    assert get(client, admin, path + "&format=json", Accept="text/csv").is_json


def test_usage_availability_trails_the_stream_by_the_settling_time(app, client, admin, monkeypatch):
    assert get(client, admin, "/usage_availability").get_json() == {"date": None}
    write(client, admin, "/v2/app_usage_events", [app_usage("STARTED", 24 * 10 + 0.5)])  # 2026-03-11 00:30
    app.config["USAGE_SETTLING_SECONDS"] = 3600
    # The stream reaches 00:30 on the 11th: the 10th is not settled before 01:00.
    assert get(client, admin, "/usage_availability").get_json() == {"date": "2026-03-09"}
    app.config["USAGE_SETTLING_SECONDS"] = 0
    assert get(client, admin, "/usage_availability").get_json() == {"date": "2026-03-10"}


def test_a_store_with_more_pending_than_a_request_folds_answers_503_until_folded(app, client, admin, monkeypatch):
    monkeypatch.setitem(app.config, "USAGE_FOLD_ON_WRITE", False)  # as if migrated with its events
    monkeypatch.setattr(reports, "REPORT_FOLD_LIMIT", 2)
    write(client, admin, "/v2/app_usage_events", [app_usage("STARTED", hours) for hours in range(5)])
    response = get(client, admin, f"/organizations/org-1/app_usages?{MARCH}")
    assert response.status_code == 503 and "flask events fold" in response.get_json()["error"]
    assert response.headers["Retry-After"] == "60"
    result = app.test_cli_runner().invoke(args=["events", "fold"])
    assert result.exit_code == 0, result.output
    assert "app usage events: folded 3" in result.output  # the request folded the first two
    body = get(client, admin, f"/organizations/org-1/app_usages?{MARCH}").get_json()
    # Started at midnight on March 1st and still running: all of March; the later STARTEDs repeat it.
    assert [row["duration_in_seconds"] for row in body["app_usages"]] == [31 * 24 * HOUR]


def test_with_fold_on_write_off_a_follower_folds_instead(app, client, admin, monkeypatch):
    from app.base.extensions import db
    from app.usage.models import UsageFold

    def position():
        value = db.session.scalar(db.select(UsageFold.position).where(UsageFold.stream == "app_usage_events"))
        db.session.commit()  # the CLI shares this test's session: no read of ours may outlive the writes after it
        return value

    monkeypatch.setitem(app.config, "USAGE_FOLD_ON_WRITE", False)
    start = position()
    write(client, admin, "/v2/app_usage_events", [app_usage("STARTED", 0), app_usage("STOPPED", 3)])
    assert position() == start  # the write left its events pending
    sleeps = []

    def sleep(seconds):  # the follower's pause: a write comes in during the first, the second ends the test
        sleeps.append(seconds)
        if len(sleeps) == 1:
            write(client, admin, "/v2/app_usage_events", [app_usage("STARTED", 5, process="proc-2")])
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(metering.time, "sleep", sleep)
    result = app.test_cli_runner().invoke(args=["events", "fold", "--follow", "--interval", "2"])
    assert "app usage events: folded 2" in result.output and sleeps == [2.0, 2.0]
    assert position() == start + 3  # and the follower folded the one written while it waited
