"""Usage reports against a brute-force reference, on random streams; and pruning changes no report.

The reference below shares no code with metering.py or reports.py: it replays the stream into whole
intervals, meter by meter, and answers each question by cutting intervals to the period and, for a
peak, by counting what runs at every moment anything starts.
"""
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.base.extensions import db
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.usage import metering, reports, retention
from app.usage.reports import Period
from app.usage.retention import prune_usage_stream

T0 = datetime(2026, 1, 20, tzinfo=timezone.utc)
T0_SECOND = int(T0.timestamp())
DAY = 86400


# --- the reference ---------------------------------------------------------------------------------
def classify(event):
    """(meter, opens, figures) of an event as the README's rules read, or None."""
    state = event["state"]
    if state in ("STARTED", "STOPPED"):
        return ("app", event["app_guid"]), state == "STARTED", (event["instance_count"],
                                                                event["memory_in_mb_per_instance"])
    if state in ("TASK_STARTED", "TASK_STOPPED"):
        return ("task", event["task_guid"]), state == "TASK_STARTED", (1, event["memory_in_mb_per_instance"])
    if state in ("CREATED", "UPDATED", "DELETED"):
        return ("service", event["service_instance_guid"]), state != "DELETED", (1, event["service_plan_guid"])
    return None


class Interval:
    def __init__(self, meter, figures, start, stop, event):
        self.kind, self.guid = meter
        self.figures, self.start, self.stop = figures, start, stop
        self.org = event["org_guid"]
        self.space = event["space_guid"]
        self.parent = event.get("parent_app_guid") or event.get("service_guid")


def replay(events, as_of):
    """Every interval the stream describes; the ones still open end at `as_of` (or their start)."""
    clock, running, intervals, first_open, last_close = {}, {}, [], {}, {}
    for event in events:
        found = classify(event)
        if found is None:
            continue
        meter, opens, figures = found
        moment = max(event["second"], clock.get(meter, event["second"]))
        clock[meter] = moment
        current = running.get(meter)
        if current is not None and (not opens or current[0] != figures):
            intervals.append(Interval(meter, current[0], current[1], moment, current[2]))
            last_close[meter] = moment
            del running[meter]
            current = None
        if opens and current is None:
            running[meter] = (figures, moment, event)
            first_open.setdefault(meter, moment)
    for meter, (figures, start, event) in running.items():
        intervals.append(Interval(meter, figures, start, max(start, as_of), event))
    return intervals, set(running), first_open, last_close


def cut(interval, start, end):
    return max(0, min(interval.stop, end) - max(interval.start, start))


def weight(interval):
    return interval.figures[0] if interval.kind == "app" else 1


def peak(intervals, start, end, weigh=weight):
    moments = {start} | {interval.start for interval in intervals if start <= interval.start < end}
    return max((sum(weigh(i) for i in intervals if i.start <= moment < i.stop) for moment in moments if moment < end),
               default=0)


def months(first_second, as_of):
    """[(year, month, start, end)] from the month of `first_second` up to `as_of`."""
    found = []
    moment = datetime.fromtimestamp(first_second, timezone.utc).replace(day=1, hour=0, minute=0, second=0)
    while int(moment.timestamp()) < as_of:
        following = (moment + timedelta(days=32)).replace(day=1)
        found.append((moment.year, moment.month, int(moment.timestamp()), min(int(following.timestamp()), as_of)))
        moment = following
    return found


def years(first_second, as_of):
    first = datetime.fromtimestamp(first_second, timezone.utc).year
    last = datetime.fromtimestamp(as_of - 1, timezone.utc).year
    def new_year(year):
        return int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())

    return [(year, new_year(year), min(new_year(year + 1), as_of)) for year in range(first, last + 1)]


def calendar_figures(intervals, as_of, figures):
    """The monthly and yearly rows of a system report, from the month of the first start (by its day)."""
    today_end = (as_of // DAY + 1) * DAY
    starts = [interval.start for interval in intervals if interval.start < today_end]
    if not starts:
        return [], []
    first = min(starts)
    return ([(year, month, *figures(intervals, start, end)) for year, month, start, end in months(first, as_of)],
            [(year, *figures(intervals, start, end)) for year, start, end in years(first, as_of)])


def app_figures(intervals, start, end):
    seconds = sum(cut(i, start, end) * i.figures[0] for i in intervals)
    mb_seconds = sum(cut(i, start, end) * i.figures[0] * i.figures[1] for i in intervals)
    return seconds / 3600, seconds / (end - start), peak(intervals, start, end), mb_seconds / 3600


def task_figures(intervals, start, end):
    seconds = sum(cut(i, start, end) for i in intervals)
    return (sum(1 for i in intervals if start <= i.start < end), peak(intervals, start, end), seconds / 3600,
            sum(cut(i, start, end) * i.figures[1] for i in intervals) / 3600)


def service_figures(intervals, start, end):
    seconds = sum(cut(i, start, end) for i in intervals)
    return seconds / 3600, seconds / (end - start), peak(intervals, start, end)


# --- what the service says, in the reference's terms -----------------------------------------------
def said_calendar(report, names, monthly="monthly_reports", yearly="yearly_reports"):
    return ([(row["year"], row["month"], *(row[name] for name in names)) for row in report[monthly]],
            [(row["year"], *(row[name] for name in names)) for row in report[yearly]])


def expected_answers(events, as_of, period):
    intervals, running, first_open, last_close = replay(events, as_of)
    by_kind = defaultdict(list)
    for interval in intervals:
        by_kind[interval.kind].append(interval)
    start, end = period.start, min(period.end, as_of)
    answers = {}
    for org in ("org-0", "org-1"):
        rows = defaultdict(int)
        for interval in by_kind["app"]:
            if interval.org == org and cut(interval, start, end) > 0:
                rows[interval.guid, *interval.figures] += cut(interval, start, end)
        answers["apps", org] = sorted((*key, seconds) for key, seconds in rows.items())
        groups = defaultdict(list)
        for interval in by_kind["task"]:
            if interval.org == org and (start <= interval.start < end or cut(interval, start, end) > 0):
                groups[interval.space, interval.parent, interval.figures[1]].append(interval)
        answers["tasks", org] = sorted(
            (*key, sum(1 for i in members if start <= i.start < end), peak(members, start, end, lambda i: 1),
             sum(cut(i, start, end) for i in members)) for key, members in groups.items())
        services = defaultdict(int)
        for interval in by_kind["service"]:
            if interval.org == org and cut(interval, start, end) > 0:
                services[interval.guid, interval.figures[1]] += cut(interval, start, end)
        answers["services", org] = sorted(
            (guid, plan, seconds, ("service", guid) not in running, first_open[("service", guid)],
             None if ("service", guid) in running else last_close[("service", guid)])
            for (guid, plan), seconds in services.items())
    answers["system apps"] = calendar_figures(by_kind["app"], as_of, app_figures)
    answers["system tasks"] = calendar_figures(by_kind["task"], as_of, task_figures)
    services = {}
    for service in sorted({i.parent for i in by_kind["service"]}):
        members = [i for i in by_kind["service"] if i.parent == service]
        plans = {plan: calendar_figures([i for i in members if i.figures[1] == plan], as_of, service_figures)
                 for plan in sorted({i.figures[1] for i in members})}
        services[service] = (calendar_figures(members, as_of, service_figures),
                             {plan: figures for plan, figures in plans.items() if figures[0]})
    answers["system services"] = {service: figures for service, figures in services.items() if figures[0][0]}
    organizations = {}
    for org in ("org-0", "org-1"):
        members = [i for i in by_kind["app"] if i.org == org]
        seconds = sum(cut(i, start, end) * i.figures[0] for i in members) if start < end else 0
        mb_seconds = sum(cut(i, start, end) * i.figures[0] * i.figures[1] for i in members) if start < end else 0
        if seconds or mb_seconds:
            organizations[org] = (seconds / 3600, mb_seconds / 3600)
    answers["organizations"] = sorted(organizations.items())
    return answers


def said_answers(as_of, period):
    answers = {}
    for org in ("org-0", "org-1"):
        answers["apps", org] = sorted(
            (row["app_guid"], row["instance_count"], row["memory_in_mb_per_instance"], row["duration_in_seconds"])
            for row in reports.organization_app_usages(org, period, as_of)["app_usages"])
        answers["tasks", org] = sorted(
            (space, summary["parent_application_guid"], summary["memory_in_mb_per_instance"],
             summary["task_count_for_range"], summary["concurrent_task_count_for_range"],
             summary["total_duration_in_seconds_for_range"])
            for space, body in reports.organization_task_usages(org, period, as_of)["spaces"].items()
            for summary in body["task_summaries"])
        answers["services", org] = sorted(
            (row["service_instance_guid"], row["service_plan_guid"], row["duration_in_seconds"], row["deleted"],
             seconds_of(row["service_instance_creation"]), seconds_of(row["service_instance_deletion"]))
            for row in reports.organization_service_usages(org, period, as_of)["service_usages"])
    answers["system apps"] = said_calendar(reports.system_app_usages(as_of), (
        "app_instance_hours", "average_app_instances", "maximum_app_instances", "megabyte_hours"))
    answers["system tasks"] = said_calendar(reports.system_task_usages(as_of), (
        "total_task_runs", "maximum_concurrent_tasks", "task_hours", "megabyte_hours"))
    figures = ("duration_in_hours", "average_instances", "maximum_instances")
    system = reports.system_service_usages(as_of)
    services = {}
    for monthly, yearly in zip(system["monthly_service_reports"], system["yearly_service_reports"], strict=True):
        plans = {plan["service_plan_guid"]: said_calendar({"m": plan["usages"], "y": yearly_plan["usages"]}, figures,
                                                         "m", "y")
                 for plan, yearly_plan in zip(monthly["plans"], yearly["plans"], strict=True)}
        services[monthly["service_guid"]] = (
            said_calendar({"m": monthly["usages"], "y": yearly["usages"]}, figures, "m", "y"), plans)
    answers["system services"] = services
    answers["organizations"] = sorted(
        (row["guid"], (row["total_instance_hours"], row["megabyte_hours"]))
        for row in reports.organizations_app_usages(period, as_of)["Organizations"])
    return answers


def seconds_of(text):
    return None if text is None else int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc).timestamp())


def approximately(answers):
    """Hours and averages are divisions: round them where both sides compute them in another order."""
    def fix(value):
        if isinstance(value, float):
            return round(value, 6)
        if isinstance(value, (list, tuple)):
            return type(value)(fix(item) for item in value)
        if isinstance(value, dict):
            return {key: fix(item) for key, item in value.items()}
        return value
    return fix(answers)


# --- random streams --------------------------------------------------------------------------------
def event_of(kind, number, state, figure, second):
    moment = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    org, space = f"org-{number % 2}", f"space-{number % 2}"
    if kind == "service":
        return {"state": state, "created_at": moment, "org_guid": org, "space_guid": space, "space_name": "s",
                "service_instance_guid": f"si-{number}", "service_instance_name": f"db{number}",
                "service_instance_type": "managed_service_instance",
                "service_plan_guid": f"plan-{number % 2}-{figure % 3}",
                "service_plan_name": f"p{figure % 3}", "service_guid": f"svc-{number % 2}", "service_label": "pg"}
    event = {"state": state, "created_at": moment, "app_guid": f"proc-{number}", "app_name": f"app{number}",
             "parent_app_guid": f"app-{number}", "parent_app_name": f"app{number}", "process_type": "web",
             "instance_count": figure % 4, "memory_in_mb_per_instance": (256, 1024)[figure // 4 % 2],
             "space_guid": space, "space_name": "s", "org_guid": org}
    if kind == "task":
        event.update(task_guid=f"task-{number}", task_name="t", instance_count=1)
    return event


STATES = {"app": ("STARTED", "STARTED", "STOPPED", "BUILDPACK_SET", "STAGING_STARTED"),
          "task": ("TASK_STARTED", "TASK_STOPPED"), "service": ("CREATED", "UPDATED", "DELETED")}
SECONDS = st.builds(lambda hours, extra: T0_SECOND + hours * 3600 + extra,
                    st.integers(0, 80 * 24), st.sampled_from([0, 0, 0, 1, 59, 1800]))
STEP = st.one_of(
    st.tuples(st.sampled_from(["app", "task", "service"]), st.integers(0, 3), st.integers(0, 4),
              st.integers(0, 7), SECONDS),
    st.tuples(st.just("purge"), st.sampled_from(["app", "service"]), st.just(0), st.just(0), SECONDS),
)
STREAM = st.lists(st.tuples(STEP, st.booleans()), min_size=1, max_size=30)  # (step, ends a write batch)
PERIOD = st.one_of(
    st.builds(lambda first, days: Period(date.fromordinal(first), date.fromordinal(first + days)),
              st.integers(T0.date().toordinal() - 15, T0.date().toordinal() + 85), st.integers(0, 60)),
    # Whole calendar months, which an organization's app report reads from the monthly sums.
    st.builds(lambda first, count: Period(date(2026, first, 1), date(2026, first + count, 1) - timedelta(days=1)),
              st.integers(1, 4), st.integers(1, 2)),
)
AS_OF = st.builds(lambda hours: T0_SECOND + hours * 3600 + 17, st.integers(0, 90 * 24))


@contextmanager
def fresh_store():
    """Each example starts from the empty store and leaves nothing behind (the app fixture's connection)."""
    savepoint = db.engines[None].begin_nested()
    try:
        yield
    finally:
        db.session.remove()
        savepoint.rollback()


def write_stream(client, admin, steps, monkeypatch):
    """Write the steps (purges included) through the API; every event the streams held, in stream order."""
    written, batch, count = [], defaultdict(list), 0
    paths = {"app": "/v2/app_usage_events", "task": "/v2/app_usage_events", "service": "/v2/service_usage_events"}

    def flush():
        for path, events in batch.items():
            assert client.post(path, json=events, headers=admin).status_code == 201
        batch.clear()

    for (kind, number, state, figure, second), ends_batch in steps:
        if kind == "purge":
            flush()
            model = AppUsageEvent if number == "app" else ServiceUsageEvent
            monkeypatch.setattr(retention, "utcnow", lambda second=second: datetime.fromtimestamp(second, timezone.utc))
            retention.purge_and_reseed(model)
            fields = [column.key for column in model.__table__.columns]
            for row in db.session.scalars(db.select(model).order_by(model.id)):
                event = {name: getattr(row, name) for name in fields}
                written.append(dict(event, second=int(row.created_at.timestamp())))
            db.session.remove()
            continue
        count += 1
        event = dict(event_of(kind, number, STATES[kind][state % len(STATES[kind])], figure, second),
                     guid=f"e-{count}")
        batch[paths[kind]].append(event)
        written.append(dict(event, second=second))
        if ends_batch:
            flush()
    flush()
    return written


@pytest.fixture(params=["values", pytest.param("copy", marks=pytest.mark.postgres_only)])
def write_path(request, monkeypatch):
    """The fold's two ways of writing PostgreSQL: a small fold's INSERT of values, and COPY (here from the
    first row, so that every example goes through it). SQLite has only the first (the second is left out of
    its leg, not skipped)."""
    if request.param == "copy":
        monkeypatch.setattr(metering, "COPY_FROM_ROWS", 1)
    return request.param


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(steps=STREAM, period=PERIOD, as_of=AS_OF, cutoff_hours=st.integers(0, 90 * 24))
def test_reports_agree_with_the_reference_and_pruning_changes_none(app, client, admin, monkeypatch, write_path, steps,
                                                                    period, as_of, cutoff_hours):
    with fresh_store():
        events = write_stream(client, admin, steps, monkeypatch)
        said = said_answers(as_of, period)
        assert approximately(said) == approximately(expected_answers(events, as_of, period))
        cutoff = datetime.fromtimestamp(T0_SECOND + cutoff_hours * 3600, timezone.utc)
        for model in (AppUsageEvent, ServiceUsageEvent):
            prune_usage_stream(model, cutoff, batch_size=7)
        assert said_answers(as_of, period) == said


@pytest.mark.parametrize("steps", [
    # A plan change, a purge, a task across a month's end: the kinds of stream the property is about.
    [(("service", 1, 0, 0, T0_SECOND), False), (("service", 1, 1, 1, T0_SECOND + 3600), True),
     (("purge", "service", 0, 0, T0_SECOND + 7200), True), (("task", 2, 0, 0, T0_SECOND + 11 * DAY), True),
     (("task", 2, 1, 0, T0_SECOND + 13 * DAY), True), (("app", 0, 0, 5, T0_SECOND), True)],
])
def test_a_worked_stream_agrees_with_the_reference(app, client, admin, monkeypatch, write_path, steps):
    as_of, period = T0_SECOND + 40 * DAY, Period(date(2026, 1, 1), date(2026, 1, 31))
    events = write_stream(client, admin, steps, monkeypatch)
    expected = expected_answers(events, as_of, period)
    # The reference itself, by hand: the task ran from January 31st, midnight, to February 2nd.
    assert expected["tasks", "org-0"] == [("space-0", "app-2", 256, 1, 1, DAY)]
    assert expected["services", "org-1"] == [("si-1", "plan-1-0", 3600, False, T0_SECOND, None),
                                             ("si-1", "plan-1-1", 11 * DAY + 23 * 3600, False, T0_SECOND, None)]
    assert approximately(said_answers(as_of, period)) == approximately(expected)
