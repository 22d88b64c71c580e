"""Usage reports, by hand: each rule of metering.py on a short stream whose figures are worked out here."""
import importlib
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from app.base.extensions import db
from app.store.models import AppUsageEvent
from app.usage import metering, reports, retention
from app.usage.metering import catch_up
from app.usage.models import UsageMonth
from app.usage.reports import Period
from app.usage.retention import prune_usage_stream
from tests.api.v2.test_usage_events import write

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
FEBRUARY = Period(date(2026, 2, 1), date(2026, 2, 28))
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)  # midnight, March 1st
AS_OF = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp())  # long after: nothing is cut at "now"
HOUR = 3600


def at(hours):
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


_counter = iter(range(1, 1_000_000))


def app_usage(state, hours, process="proc-1", instances=1, memory=256, **fields):
    return {"guid": f"u-{next(_counter)}", "state": state, "created_at": at(hours), "app_guid": process,
            "app_name": "web", "parent_app_guid": "app-" + process, "parent_app_name": "shop", "process_type": "web",
            "instance_count": instances, "memory_in_mb_per_instance": memory, "space_guid": "space-1",
            "space_name": "dev", "org_guid": "org-1", **fields}


def task_usage(state, hours, task="task-1", memory=512, parent="app-a", **fields):
    return app_usage(state, hours, process=parent, memory=memory, task_guid=task, task_name="migrate",
                     parent_app_guid=parent, parent_app_name="shop", **fields)


def service_usage(state, hours, instance="si-1", plan="plan-small", **fields):
    return {"guid": f"s-{next(_counter)}", "state": state, "created_at": at(hours), "org_guid": "org-1",
            "space_guid": "space-1", "space_name": "dev", "service_instance_guid": instance,
            "service_instance_name": "db", "service_instance_type": "managed_service_instance",
            "service_plan_guid": plan, "service_plan_name": plan.removeprefix("plan-"), "service_guid": "svc-pg",
            "service_label": "postgres", **fields}


@pytest.fixture
def stream(client, admin):
    def write_stream(*events, path="/v2/app_usage_events"):
        for event in events:  # one at a time: each write folds after it commits
            write(client, admin, path, [event])
    return write_stream


def app_rows(period=MARCH, org="org-1", as_of=AS_OF):
    return [(row["app_guid"], row["instance_count"], row["memory_in_mb_per_instance"], row["duration_in_seconds"])
            for row in reports.organization_app_usages(org, period, as_of)["app_usages"]]


def month(report, year=2026, number=3):
    return next(row for row in report["monthly_reports"] if (row["year"], row["month"]) == (year, number))


def test_a_process_runs_from_started_to_stopped(app, stream):
    stream(app_usage("STARTED", 10, instances=2), app_usage("STOPPED", 12))
    assert app_rows() == [("proc-1", 2, 256, 2 * HOUR)]
    march = month(reports.system_app_usages(AS_OF))
    assert march["app_instance_hours"] == 4  # 2 instances x 2 hours
    assert march["megabyte_hours"] == 4 * 256
    assert march["maximum_app_instances"] == 2
    assert march["average_app_instances"] == 4 / (31 * 24)


def test_a_started_with_other_figures_starts_a_new_segment(app, stream):
    stream(app_usage("STARTED", 0, instances=1), app_usage("STARTED", 6, instances=3),
           app_usage("STARTED", 9, instances=3, memory=1024), app_usage("STOPPED", 12))
    assert app_rows() == [("proc-1", 1, 256, 6 * HOUR), ("proc-1", 3, 256, 3 * HOUR), ("proc-1", 3, 1024, 3 * HOUR)]
    march = month(reports.system_app_usages(AS_OF))
    assert march["app_instance_hours"] == 1 * 6 + 3 * 3 + 3 * 3
    assert march["megabyte_hours"] == 256 * 6 + 3 * 256 * 3 + 3 * 1024 * 3
    assert march["maximum_app_instances"] == 3


def test_figures_running_again_add_to_their_row(app, stream):
    stream(app_usage("STARTED", 0, instances=2), app_usage("STOPPED", 1),
           app_usage("STARTED", 5, instances=2), app_usage("STOPPED", 7))
    assert app_rows() == [("proc-1", 2, 256, 3 * HOUR)]


def test_a_repeated_started_and_a_stopped_of_nothing_change_nothing(app, stream):
    stream(app_usage("STOPPED", 0), app_usage("STARTED", 1), app_usage("STARTED", 2), app_usage("STARTED", 3),
           app_usage("STOPPED", 4), app_usage("STOPPED", 5))
    assert app_rows() == [("proc-1", 1, 256, 3 * HOUR)]
    assert month(reports.system_app_usages(AS_OF))["maximum_app_instances"] == 1


def test_buildpack_and_staging_events_change_nothing(app, stream):
    stream(app_usage("STARTED", 0), app_usage("BUILDPACK_SET", 1, instances=5), app_usage("STAGING_STARTED", 2),
           app_usage("STAGING_STOPPED", 3), app_usage("STOPPED", 4))
    assert app_rows() == [("proc-1", 1, 256, 4 * HOUR)]


def test_an_event_never_takes_effect_before_an_earlier_one_of_its_process(app, stream):
    # Stored in this order, though the STOPPED says it came an hour before the STARTED.
    stream(app_usage("STARTED", 10, process="a"), app_usage("STOPPED", 9, process="a"),
           app_usage("STARTED", 10, process="b"), app_usage("STARTED", 12, process="b", instances=2),
           app_usage("STOPPED", 11, process="b"))
    assert app_rows() == [("b", 1, 256, 2 * HOUR)]  # a ran no time; b's STOPPED takes effect at 12:00


def test_a_purge_and_reseed_continues_what_was_running(app, stream, client, admin, monkeypatch):
    stream(app_usage("STARTED", 0, instances=2), app_usage("STARTED", 0, process="proc-2"),
           app_usage("STOPPED", 24, process="proc-2"))
    monkeypatch.setattr(retention, "utcnow", lambda: T0 + timedelta(hours=48))
    response = client.post("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", headers=admin)
    assert response.status_code == 204
    stream(app_usage("STOPPED", 72))
    # One segment of 72 hours: the reseeded STARTED (at hour 48) opened none of its own.
    assert app_rows() == [("proc-1", 2, 256, 72 * HOUR), ("proc-2", 1, 256, 24 * HOUR)]
    assert month(reports.system_app_usages(AS_OF))["app_instance_hours"] == 2 * 72 + 24


@pytest.mark.parametrize("names", [
    {"app_name": "web\t1\\n", "space_name": "dev\nops\r", "process_type": "\\N", "parent_app_name": ""},
    # A backslash alone in its row, with no tab or newline beside it, means something to COPY too.
    {"app_name": "web\\n1", "space_name": "dev", "process_type": "\\N", "parent_app_name": "C:\\apps"},
])
def test_names_come_through_the_fold_as_written(app, stream, monkeypatch, names):
    # PostgreSQL from the first row by COPY, whose text gives a tab, a newline and a backslash a meaning.
    monkeypatch.setattr(metering, "COPY_FROM_ROWS", 1)
    stream(app_usage("STARTED", 0, **names), app_usage("STOPPED", 1, **names))
    row, = reports.organization_app_usages("org-1", MARCH, AS_OF)["app_usages"]
    assert (row["app_name"], row["space_name"], row["process_type"], row["parent_application_name"]) == (
        names["app_name"], names["space_name"], names["process_type"], names["parent_app_name"])


def test_a_period_cuts_the_segments_that_cross_it(app, stream):
    stream(app_usage("STARTED", -12), app_usage("STOPPED", 12))  # February 28th, noon, to March 1st, noon
    assert app_rows(MARCH) == [("proc-1", 1, 256, 12 * HOUR)]
    assert app_rows(FEBRUARY) == [("proc-1", 1, 256, 12 * HOUR)]
    assert app_rows(Period(date(2026, 3, 2), date(2026, 3, 2))) == []
    system = reports.system_app_usages(AS_OF)
    assert month(system, 2026, 2)["app_instance_hours"] == 12
    assert month(system, 2026, 3)["app_instance_hours"] == 12


def test_a_process_still_running_counts_to_the_periods_end_or_to_now(app, stream):
    stream(app_usage("STARTED", 24 * 30))  # March 31st, midnight
    assert app_rows(MARCH) == [("proc-1", 1, 256, 24 * HOUR)]
    now = int((T0 + timedelta(hours=24 * 30 + 5)).timestamp())  # 5 hours later
    assert app_rows(MARCH, as_of=now) == [("proc-1", 1, 256, 5 * HOUR)]
    march = month(reports.system_app_usages(now))
    assert march["app_instance_hours"] == 5
    assert march["average_app_instances"] == 5 / (30 * 24 + 5)  # of the hours of March so far


def test_a_process_scaled_to_zero_has_a_row_of_zero_instances(app, stream):
    stream(app_usage("STARTED", 0, instances=0), app_usage("STOPPED", 3))
    assert app_rows() == [("proc-1", 0, 256, 3 * HOUR)]
    assert month(reports.system_app_usages(AS_OF))["app_instance_hours"] == 0


def test_the_maximum_is_the_peak_of_instances_running_at_once(app, stream):
    stream(app_usage("STARTED", 0, process="a", instances=2), app_usage("STARTED", 5, process="b", instances=3),
           app_usage("STOPPED", 10, process="a"), app_usage("STOPPED", 15, process="b"),
           # c stops the very second d starts: 4 and 4 at once would be 8, but they never overlap.
           app_usage("STARTED", 20, process="c", instances=4), app_usage("STOPPED", 30, process="c"),
           app_usage("STARTED", 30, process="d", instances=4), app_usage("STOPPED", 31, process="d"))
    march = month(reports.system_app_usages(AS_OF))
    assert march["maximum_app_instances"] == 5
    assert march["app_instance_hours"] == 2 * 10 + 3 * 10 + 4 * 10 + 4 * 1


def test_a_peak_stored_out_of_time_order_is_worked_out_again(app, stream):
    # Within one day: the later change is folded first, then one before it raises the peak.
    stream(app_usage("STARTED", 10, process="a", instances=2), app_usage("STOPPED", 12, process="a"),
           app_usage("STARTED", 11, process="b", instances=3), app_usage("STOPPED", 13, process="b"))
    march = month(reports.system_app_usages(AS_OF))
    assert march["maximum_app_instances"] == 5
    assert march["app_instance_hours"] == 2 * 2 + 3 * 2


def test_the_system_report_has_a_row_per_month_and_per_year(app, stream):
    stream(app_usage("STARTED", -24 * 31, instances=2))  # January 29th
    now = int(datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp())
    report = reports.system_app_usages(now)
    assert report["report_time"] == "2026-03-02 00:00:00 UTC"
    assert [(row["year"], row["month"], row["app_instance_hours"]) for row in report["monthly_reports"]] == [
        (2026, 1, 2 * 24 * 3), (2026, 2, 2 * 24 * 28), (2026, 3, 2 * 24)]
    assert [(row["year"], row["app_instance_hours"], row["maximum_app_instances"])
            for row in report["yearly_reports"]] == [(2026, 2 * 24 * 32, 2)]
    assert report["yearly_reports"][0]["average_app_instances"] == 2 * 24 * 32 / (24 * 60)


def test_tasks_run_from_task_started_to_task_stopped(app, stream):
    stream(task_usage("TASK_STARTED", 1, task="t1"), task_usage("TASK_STARTED", 2, task="t2"),
           task_usage("TASK_STOPPED", 3, task="t1"), task_usage("TASK_STOPPED", 5, task="t2"),
           task_usage("TASK_STARTED", 6, task="t3", memory=1024), task_usage("TASK_STOPPED", 7, task="t3"),
           task_usage("TASK_STOPPED", 8, task="never-started"),
           task_usage("TASK_STARTED", -2, task="t0"), task_usage("TASK_STOPPED", 1, task="t0"))  # from February
    body = reports.organization_task_usages("org-1", MARCH, AS_OF)
    assert body["spaces"] == {"space-1": {"space_name": "dev", "task_summaries": [
        {"parent_application_guid": "app-a", "parent_application_name": "shop", "memory_in_mb_per_instance": 512,
         "task_count_for_range": 2, "concurrent_task_count_for_range": 2,  # t0 stops as t1 starts
         "total_duration_in_seconds_for_range": 1 * HOUR + 2 * HOUR + 3 * HOUR},
        {"parent_application_guid": "app-a", "parent_application_name": "shop", "memory_in_mb_per_instance": 1024,
         "task_count_for_range": 1, "concurrent_task_count_for_range": 1,
         "total_duration_in_seconds_for_range": 1 * HOUR}]}}
    march = month(reports.system_task_usages(AS_OF))
    assert (march["total_task_runs"], march["maximum_concurrent_tasks"], march["task_hours"]) == (3, 2, 7)
    assert month(reports.system_task_usages(AS_OF), 2026, 2)["total_task_runs"] == 1
    assert app_rows() == []  # tasks are no app process's run


def test_service_instances_run_from_created_to_deleted_and_a_plan_change_starts_a_segment(app, stream):
    stream(service_usage("CREATED", 0), service_usage("UPDATED", 2), service_usage("UPDATED", 4, plan="plan-large"),
           service_usage("DELETED", 10), service_usage("DELETED", 11),
           service_usage("CREATED", 5, instance="si-2"), path="/v2/service_usage_events")
    rows = reports.organization_service_usages("org-1", MARCH, AS_OF)["service_usages"]
    assert [(row["service_instance_guid"], row["service_plan_guid"], row["duration_in_seconds"], row["deleted"])
            for row in rows] == [("si-1", "plan-large", 6 * HOUR, True), ("si-1", "plan-small", 4 * HOUR, True),
                                 ("si-2", "plan-small", (31 * 24 - 5) * HOUR, False)]
    assert rows[0]["service_instance_creation"] == "2026-03-01T00:00:00Z"
    assert rows[0]["service_instance_deletion"] == "2026-03-01T10:00:00Z"
    assert rows[2]["service_instance_deletion"] is None
    assert rows[0]["service_plan_name"] == "large" and rows[0]["service_name"] == "postgres"
    report = reports.system_service_usages(AS_OF)
    [postgres] = report["monthly_service_reports"]
    assert postgres["service_guid"] == "svc-pg" and postgres["service_name"] == "postgres"
    [march] = [usage for usage in postgres["usages"] if usage["month"] == 3]
    assert march["duration_in_hours"] == 10 + 31 * 24 - 5
    assert march["maximum_instances"] == 2
    plans = {plan["service_plan_guid"]: plan for plan in postgres["plans"]}
    assert plans["plan-large"]["usages"][0]["duration_in_hours"] == 6
    assert plans["plan-small"]["usages"][0]["maximum_instances"] == 1  # si-1 left it at 4:00, si-2 came at 5:00


def test_the_organizations_summary(app, stream):
    stream(app_usage("STARTED", 0, instances=2), app_usage("STOPPED", 10),
           app_usage("STARTED", -24 * 40, process="other", org_guid="org-2", memory=1024))  # running since January
    body = reports.organizations_app_usages(MARCH, AS_OF, "-total_instance_hours")
    assert body["period_start"] == "2026-03-01T00:00:00Z" and body["period_end"] == "2026-03-31T23:59:59Z"
    assert body["Organizations"] == [
        {"guid": "org-2", "total_instance_hours": 31 * 24, "megabyte_hours": 31 * 24 * 1024},
        {"guid": "org-1", "total_instance_hours": 20, "megabyte_hours": 20 * 256}]
    assert [org["guid"] for org in reports.organizations_app_usages(MARCH, AS_OF, "megabyte_hours")[
        "Organizations"]] == ["org-1", "org-2"]


def test_pruning_the_stream_changes_no_report(app, stream):
    stream(app_usage("STARTED", 0, instances=2), app_usage("STARTED", 5, process="b"), app_usage("STOPPED", 10),
           task_usage("TASK_STARTED", 1), task_usage("TASK_STOPPED", 2))
    before = (reports.organization_app_usages("org-1", MARCH, AS_OF), reports.system_app_usages(AS_OF),
              reports.organization_task_usages("org-1", MARCH, AS_OF))
    assert prune_usage_stream(AppUsageEvent, T0 + timedelta(days=60)) == (4, 1)  # b's STARTED is kept
    after = (reports.organization_app_usages("org-1", MARCH, AS_OF), reports.system_app_usages(AS_OF),
             reports.organization_task_usages("org-1", MARCH, AS_OF))
    assert after == before


def test_what_the_writers_left_unfolded_is_folded_before_a_report(app, stream, monkeypatch):
    monkeypatch.setitem(app.config, "USAGE_FOLD_ON_WRITE", False)  # as if each fold had failed
    stream(app_usage("STARTED", 0), app_usage("STOPPED", 1))
    assert app_rows() == []
    reports.bring_up_to_date()
    assert app_rows() == [("proc-1", 1, 256, HOUR)]
    assert catch_up(AppUsageEvent) == 0


# --- the monthly sums (UsageMonth): a whole month of an organization's app report is read from them ----
APRIL = Period(date(2026, 4, 1), date(2026, 4, 30))


def months_stored():
    return sorted((row.org_guid, row.kind, row.month, row.guid, row.instances, row.memory_in_mb, row.seconds)
                  for row in db.session.scalars(select(UsageMonth)))


def test_a_month_boundary_cuts_the_monthly_sums(app, stream):
    stream(app_usage("STARTED", -12, instances=2), app_usage("STOPPED", 12))  # February 28th, noon, to March 1st, noon
    assert months_stored() == [("org-1", "app", date(2026, 2, 1), "proc-1", 2, 256, 12 * HOUR),
                               ("org-1", "app", date(2026, 3, 1), "proc-1", 2, 256, 12 * HOUR)]
    assert app_rows(FEBRUARY) == [("proc-1", 2, 256, 12 * HOUR)]
    assert app_rows(MARCH) == [("proc-1", 2, 256, 12 * HOUR)]
    # Edges cut from the segment, around a whole month read from its sum.
    assert app_rows(Period(date(2026, 2, 28), date(2026, 3, 31))) == [("proc-1", 2, 256, 24 * HOUR)]
    assert app_rows(Period(date(2026, 2, 1), date(2026, 3, 1))) == [("proc-1", 2, 256, 24 * HOUR)]
    assert app_rows(Period(date(2026, 3, 2), date(2026, 4, 30))) == []


def test_a_run_across_months_counts_in_each_of_them(app, stream):
    # January 15th, 06:00 to April 10th, 18:00, then again in April with other figures.
    stream(app_usage("STARTED", -45 * 24 + 6), app_usage("STOPPED", 40 * 24 + 18),
           app_usage("STARTED", 41 * 24, memory=1024), app_usage("STOPPED", 42 * 24, memory=1024),
           app_usage("STARTED", 43 * 24))
    january, march = Period(date(2026, 1, 1), date(2026, 1, 31)), MARCH
    assert [row[2:] for row in months_stored()] == [
        (date(2026, 1, 1), "proc-1", 1, 256, (17 * 24 - 6) * HOUR),
        (date(2026, 2, 1), "proc-1", 1, 256, 28 * 24 * HOUR), (date(2026, 3, 1), "proc-1", 1, 256, 31 * 24 * HOUR),
        (date(2026, 4, 1), "proc-1", 1, 256, (9 * 24 + 18) * HOUR),
        (date(2026, 4, 1), "proc-1", 1, 1024, 24 * HOUR)]
    assert app_rows(january) == [("proc-1", 1, 256, (17 * 24 - 6) * HOUR)]
    assert app_rows(march) == [("proc-1", 1, 256, 31 * 24 * HOUR)]
    assert app_rows(Period(date(2026, 2, 1), date(2026, 3, 31))) == [("proc-1", 1, 256, 59 * 24 * HOUR)]
    # Two edges and two whole months; the process running again since April 13th counts to the period's end.
    assert app_rows(Period(date(2026, 1, 20), date(2026, 4, 20))) == [
        ("proc-1", 1, 256, (12 * 24 + 59 * 24 + 9 * 24 + 18 + 8 * 24) * HOUR), ("proc-1", 1, 1024, 24 * HOUR)]
    assert app_rows(APRIL) == [("proc-1", 1, 256, (9 * 24 + 18 + 18 * 24) * HOUR), ("proc-1", 1, 1024, 24 * HOUR)]


def test_a_process_running_at_the_reports_moment_counts_to_it_besides_its_months(app, stream):
    stream(app_usage("STARTED", -24 * 40, instances=3), app_usage("STARTED", 24 * 10, instances=4))
    # 3 instances from January 20th to March 11th (closed, in the monthly sums), 4 since then (running).
    now = int((T0 + timedelta(days=45, hours=7)).timestamp())  # April 15th, 07:00
    assert app_rows(MARCH, as_of=now) == [("proc-1", 3, 256, 10 * 24 * HOUR), ("proc-1", 4, 256, 21 * 24 * HOUR)]
    assert app_rows(APRIL, as_of=now) == [("proc-1", 4, 256, (14 * 24 + 7) * HOUR)]
    assert app_rows(Period(date(2026, 2, 1), date(2026, 5, 31)), as_of=now) == [
        ("proc-1", 3, 256, (28 + 10) * 24 * HOUR), ("proc-1", 4, 256, (21 * 24 + 14 * 24 + 7) * HOUR)]
    # A moment before the period: nothing at all.
    assert app_rows(Period(date(2026, 5, 1), date(2026, 5, 31)), as_of=now) == []


def test_pruning_and_a_purge_and_reseed_keep_the_monthly_sums(app, stream, client, admin, monkeypatch):
    stream(app_usage("STARTED", -24 * 40, instances=2), app_usage("STOPPED", 24 * 10),
           app_usage("STARTED", -24 * 20, process="proc-2"),
           app_usage("STARTED", 24 * 5, process="proc-2", instances=5))
    periods = (FEBRUARY, MARCH, APRIL, Period(date(2026, 1, 25), date(2026, 4, 3)))
    before = months_stored(), [app_rows(period) for period in periods]
    assert prune_usage_stream(AppUsageEvent, T0 + timedelta(days=90)) == (3, 1)  # proc-2's latest STARTED stays
    assert (months_stored(), [app_rows(period) for period in periods]) == before
    monkeypatch.setattr(retention, "utcnow", lambda: T0 + timedelta(days=20))
    response = client.post("/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", headers=admin)
    assert response.status_code == 204
    assert (months_stored(), [app_rows(period) for period in periods]) == before
    stream(app_usage("STOPPED", 24 * 50, process="proc-2", instances=5))  # April 20th: the reseeded run ends
    assert months_stored() == before[0] + [("org-1", "app", date(2026, 3, 1), "proc-2", 5, 256, 26 * 24 * HOUR),
                                           ("org-1", "app", date(2026, 4, 1), "proc-2", 5, 256, 19 * 24 * HOUR)]
    assert app_rows(APRIL)[-1] == ("proc-2", 5, 256, 19 * 24 * HOUR)


def test_the_migration_makes_the_same_monthly_sums_as_the_fold(app, stream):
    stream(app_usage("STARTED", -24 * 40 + 5, instances=2), app_usage("STARTED", 24 * 10, instances=3),
           app_usage("STOPPED", 24 * 70 + 1), app_usage("STARTED", -24 * 3, process="b", memory=64),
           app_usage("STOPPED", -24 * 3, process="b", memory=64), app_usage("STARTED", -24 * 2, process="b"),
           app_usage("STOPPED", 24 * 31 - 1, process="b"), task_usage("TASK_STARTED", 1),
           task_usage("TASK_STOPPED", 50))
    folded = months_stored()
    assert len(folded) == 2 + 4 + 2
    migration = importlib.import_module("migrations.versions.0015_usage_months")
    connection = db.session.connection()
    db.session.execute(delete(UsageMonth))
    backfill = migration.POSTGRESQL_BACKFILL if connection.dialect.name == "postgresql" else migration.SQLITE_BACKFILL
    connection.exec_driver_sql(backfill)
    assert months_stored() == folded


def test_months_are_cut_at_their_first_second_up_to_the_end_of_the_calendar():
    def second(*moment):
        return int(datetime(*moment, tzinfo=timezone.utc).timestamp())

    assert list(metering.months_of(second(2026, 1, 31, 23), second(2026, 3, 1, 1))) == [
        (date(2026, 1, 1), HOUR), (date(2026, 2, 1), 28 * 24 * HOUR), (date(2026, 3, 1), HOUR)]
    assert list(metering.months_of(second(2026, 3, 1), second(2026, 3, 1))) == []
    end_of_time = metering.start_of(date.max) + metering.DAY
    assert list(metering.months_of(second(9999, 12, 31), end_of_time)) == [(date(9999, 12, 1), 24 * HOUR)]
    # Whole months of a period: none in one that ends before it starts or within a month.
    assert reports.whole_months(second(2026, 1, 15), second(2026, 4, 1)) == (2026 * 12 + 1, 2026 * 12 + 3)
    assert reports.whole_months(second(2026, 1, 1), second(2026, 1, 31)) == (2026 * 12, 2026 * 12)
    assert reports.whole_months(second(9999, 12, 1), end_of_time) == (9999 * 12 + 11, 9999 * 12 + 12)
