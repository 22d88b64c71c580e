"""Usage reports: the Usage Service's figures, worked out from the rollups (metering.py) alone.

Every figure runs to the moment the report is made (`as_of`), never past it: a period that ends later
is counted up to then. An organization's reports add up its meters' segments, cut to the period (its
app report takes the months wholly inside the period from the monthly sums instead, UsageMonth);
the system reports and the organizations' summary add up the series' days (UsageDay).
"""
from collections import defaultdict
from datetime import date, datetime, timezone
from typing import NamedTuple

from sqlalchemy import BigInteger, case, cast, func, literal, select, union_all

from app.base.extensions import db
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.store.writes import utcnow

from .metering import (
    DAY,
    FOLD_BATCH,
    LAST_MONTH,
    Day,
    catch_up,
    chunks,
    day_changes,
    day_of,
    kind_of_series,
    month_date,
    month_number,
    month_start,
    next_month,
    pending,
    start_of,
)
from .models import UsageDay, UsageFold, UsageMeter, UsageMonth, UsageSegment

MAX_PERIOD_DAYS = 366
# A report folds at most this many pending events first (writes fold their own as they commit).
REPORT_FOLD_LIMIT = 5 * FOLD_BATCH


class Period(NamedTuple):
    """Whole UTC days, `first` to `last` inclusive, as the Usage Service takes them."""

    first: date
    last: date

    @property
    def start(self):
        return start_of(self.first)

    @property
    def end(self):
        return start_of(self.last) + DAY

    def envelope(self):
        return {"period_start": f"{self.first.isoformat()}T00:00:00Z",
                "period_end": f"{self.last.isoformat()}T23:59:59Z"}


def now_second():
    return int(utcnow().timestamp())


def bring_up_to_date():
    """Fold what the writers left pending (another fold at work is waited for); False when more is
    pending than a request may fold (a store migrated with its events, before `flask events fold`)."""
    caught_up = True
    for model in (AppUsageEvent, ServiceUsageEvent):
        # Looked at first without the fold row's lock: reports would otherwise queue behind each other
        # and behind every write's fold, and each pay a commit, to find nothing to fold.
        if pending(model) and catch_up(model, limit=REPORT_FOLD_LIMIT) == REPORT_FOLD_LIMIT:
            caught_up = caught_up and not pending(model)
    db.session.rollback()  # the reads above end here, so that no report holds a snapshot for long
    return caught_up


def iso(second):
    return None if second is None else datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hours(seconds):
    return seconds / 3600


# --- an organization's meters ----------------------------------------------------------------------
class Run(NamedTuple):
    guid: str
    instances: int
    memory_in_mb: int
    plan_guid: str | None
    plan_name: str | None
    started: int
    stopped: int  # for a meter still running: the end of what is counted


def _runs(kind, org_guid, start, end):
    """The runs of an organization's meters of `kind` that touch [start, end), and those meters."""
    touching = (UsageSegment.org_guid == org_guid, UsageSegment.kind == kind, UsageSegment.stopped >= start,
                UsageSegment.started < end)
    segments = db.session.execute(
        select(UsageSegment.guid, UsageSegment.instances, UsageSegment.memory_in_mb, UsageSegment.plan_guid,
               UsageSegment.plan_name, UsageSegment.started, UsageSegment.stopped).where(*touching))
    runs = [Run(*segment) for segment in segments]
    # Only the meters running now or with a segment in the period (an org's task meters are one per run
    # ever), as plain rows: ORM objects cost more than the rest of a large org's report.
    # Two statements, each found by an index (the one of running meters, and the meters' key), rather than
    # one with OR, which reads all of an organization's meters of the kind (a task meter per run ever).
    mine = (UsageMeter.org_guid == org_guid, UsageMeter.kind == kind)
    meters = {meter.guid: meter for condition in (
        UsageMeter.since.is_not(None), UsageMeter.guid.in_(select(UsageSegment.guid).where(*touching)))
        for meter in db.session.execute(select(UsageMeter.__table__).where(*mine, condition))}
    runs += [Run(meter.guid, meter.instances, meter.memory_in_mb, meter.plan_guid, meter.plan_name, meter.since, end)
             for meter in meters.values() if meter.since is not None and meter.since < end]
    return runs, meters


def _seconds(run, start, end):
    return max(0, min(run.stopped, end) - max(run.started, start))


def _text(value):
    return value or ""


def _cut(started, stopped, start, end):
    """A run's seconds within [start, end) as _seconds counts them, in SQL for the reports that add runs up in
    the database (CASE rather than GREATEST/LEAST, which SQLite lacks; the caller keeps only positive ones)."""
    return case((stopped < end, stopped), else_=end) - case((started > start, started), else_=start)


def whole_months(start, end):
    """(first, stop): the calendar months wholly inside [start, end), numbered as metering.month_number
    numbers them, from `first` to before `stop` (first == stop: none)."""
    first = month_number(start)
    if month_start(first) < start:
        first += 1
    stop = first
    while stop <= LAST_MONTH and month_start(stop + 1) <= end:
        stop += 1
    return first, stop


def organization_app_usages(org_guid, period, as_of):
    """One row per (app process, instance count, memory) that ran in the period, with its seconds."""
    start, end = period.start, min(period.end, as_of)
    # The months wholly in the period are read from the monthly sums (a row per process and figures); only
    # the stretches before and after them are cut from the segments; a process running now counts to `end`.
    first, stop = whole_months(start, end)
    edges = [(start, month_start(first)), (month_start(stop), end)] if first < stop else [(start, end)]
    parts = [select(UsageSegment.guid, UsageSegment.instances, UsageSegment.memory_in_mb,
                    _cut(UsageSegment.started, UsageSegment.stopped, edge_start, edge_end).label("ran"))
             .where(UsageSegment.org_guid == org_guid, UsageSegment.kind == "app",
                    UsageSegment.stopped >= edge_start, UsageSegment.started < edge_end)
             for edge_start, edge_end in edges if edge_start < edge_end]
    if first < stop:
        parts.append(select(UsageMonth.guid, UsageMonth.instances, UsageMonth.memory_in_mb,
                            UsageMonth.seconds.label("ran"))
                     .where(UsageMonth.org_guid == org_guid, UsageMonth.kind == "app",
                            UsageMonth.month >= month_date(first), UsageMonth.month <= month_date(stop - 1)))
    parts.append(select(UsageMeter.guid, UsageMeter.instances, UsageMeter.memory_in_mb,
                        _cut(UsageMeter.since, literal(end), start, end).label("ran"))
                 .where(UsageMeter.org_guid == org_guid, UsageMeter.kind == "app", UsageMeter.since < end))
    runs = union_all(*parts).subquery()
    # Added up per (process, figures) by the database; no run is counted below zero (a period that ends
    # before it starts counts none at all), so a positive sum is one with a run that counts.
    ran = func.sum(runs.c.ran)
    # PostgreSQL sums bigints as numeric, which the driver reads as Decimal (slowly): back to bigint.
    summed = (select(runs.c.guid, runs.c.instances, runs.c.memory_in_mb, cast(ran, BigInteger))
              .group_by(runs.c.guid, runs.c.instances, runs.c.memory_in_mb).having(ran > 0))
    # Named and ordered here: joined in the database, PostgreSQL misjudges how many sums pass the HAVING (a
    # few hundred for tens of thousands) and looks each process up on its own. The order is the one the
    # README gives, of code points (Python's str order, PostgreSQL's "C" collation, SQLite's default).
    meter = UsageMeter.__table__.c
    connection = db.session.connection()
    names = {row[0]: row for row in connection.execute(
        select(meter.guid, meter.space_guid, meter.space_name, meter.name, meter.parent_guid, meter.parent_name,
               meter.detail).where(meter.org_guid == org_guid, meter.kind == "app")).all()}
    # Each sort key's first seven items are unique (they end with the process and its figures), so the
    # tuples sort by them alone.
    found = [(_text(named[2]), named[1], _text(named[3]), _text(named[6]), guid, instances, memory_in_mb, named,
              seconds)
             for guid, instances, memory_in_mb, seconds in connection.execute(summed).all()
             if (named := names.get(guid)) is not None]
    found.sort()
    rows = [{"space_guid": space_guid, "space_name": space_name, "app_guid": guid, "app_name": name,
             "parent_application_guid": parent_guid, "parent_application_name": parent_name,
             "process_type": detail, "instance_count": instances, "memory_in_mb_per_instance": memory_in_mb,
             "duration_in_seconds": seconds}
            for *_, instances, memory_in_mb, (guid, space_guid, space_name, name, parent_guid, parent_name, detail),
            seconds in found]
    return {"organization_guid": org_guid, **period.envelope(), "app_usages": rows}


def peak_of(intervals):
    """The most intervals [start, stop) running at one moment (changes at one moment taken together)."""
    changes = defaultdict(int)
    for started, stopped in intervals:
        changes[started] += 1
        changes[stopped] -= 1
    level = peak = 0
    for moment in sorted(changes):
        level += changes[moment]
        peak = max(peak, level)
    return peak


def organization_task_usages(org_guid, period, as_of):
    """Per space, per (parent app, memory): the runs begun in the period, the most at once, and their seconds."""
    start, end = period.start, min(period.end, as_of)
    runs, meters = _runs("task", org_guid, start, end)
    groups = defaultdict(list)
    for run in runs:
        begun = start <= run.started < end
        if begun or _seconds(run, start, end) > 0:
            meter = meters[run.guid]
            groups[meter.space_guid, meter.parent_guid, run.memory_in_mb].append((run, begun, meter))
    spaces = {}
    for (space_guid, parent_guid, memory_in_mb), members in sorted(groups.items(), key=lambda item: (
            item[0][0], _text(item[1][0][2].parent_name), _text(item[0][1]), item[0][2])):
        meter = members[-1][2]
        space = spaces.setdefault(space_guid, {"space_name": meter.space_name, "task_summaries": []})
        space["task_summaries"].append({
            "parent_application_guid": parent_guid, "parent_application_name": meter.parent_name,
            "memory_in_mb_per_instance": memory_in_mb,
            "task_count_for_range": sum(1 for _, begun, _ in members if begun),
            "concurrent_task_count_for_range": peak_of(
                (max(run.started, start), min(run.stopped, end)) for run, _, _ in members),
            "total_duration_in_seconds_for_range": sum(_seconds(run, start, end) for run, _, _ in members),
        })
    return {"organization_guid": org_guid, **period.envelope(), "spaces": spaces}


def organization_service_usages(org_guid, period, as_of):
    """One row per (service instance, plan) that existed in the period, with its seconds."""
    start, end = period.start, min(period.end, as_of)
    runs, meters = _runs("service", org_guid, start, end)
    seconds, plan_names = defaultdict(int), {}
    for run in runs:
        if (ran := _seconds(run, start, end)) > 0:
            seconds[run.guid, run.plan_guid] += ran
            plan_names[run.guid, run.plan_guid] = run.plan_name
    rows = []
    for (guid, plan_guid), ran in seconds.items():
        meter = meters[guid]
        deleted = meter.since is None
        rows.append({"deleted": deleted, "duration_in_seconds": ran, "service_guid": meter.parent_guid,
                     "service_instance_creation": iso(meter.first_at),
                     "service_instance_deletion": iso(meter.ended_at) if deleted else None,
                     "service_instance_guid": guid, "service_instance_name": meter.name,
                     "service_instance_type": meter.detail, "service_name": meter.parent_name,
                     "service_plan_guid": plan_guid, "service_plan_name": plan_names[guid, plan_guid],
                     "space_guid": meter.space_guid, "space_name": meter.space_name})
    rows.sort(key=lambda row: (_text(row["space_name"]), row["space_guid"], _text(row["service_instance_name"]),
                               row["service_instance_guid"], _text(row["service_plan_guid"])))
    return {"organization_guid": org_guid, **period.envelope(), "service_usages": rows}


# --- the series' days ------------------------------------------------------------------------------
class Tally:
    """What a series added up to over a stretch of time."""

    def __init__(self):
        self.seconds = self.mb_seconds = self.starts = self.peak = self.span = 0

    def add(self, seconds, mb_seconds, starts, peak, span):
        self.seconds += seconds
        self.mb_seconds += mb_seconds
        self.starts += starts
        self.peak = max(self.peak, peak)
        self.span += span

    def average(self):
        return self.seconds / self.span if self.span else 0


def _day_so_far(series, row, until):
    """A day's Day up to `until` (within it): the stored one, unless some change of it is dated later."""
    if row is None or row.last_at < until:
        return row
    changes = day_changes(kind_of_series(series), row.day, until=until)[series]
    if not changes:
        return None
    partial = Day(series, row.day)
    partial.add(changes)
    return partial


def days_of(series, rows, first, until, level=0, mb_level=0):
    """(day, seconds, MB-seconds, runs begun, peak, seconds counted) of each day from `first` up to the
    moment `until`, from the series' days ({day: Day}) and its levels before `first`."""
    day = first
    while (midnight := start_of(day)) < until:
        span = min(DAY, until - midnight)
        row = rows.get(day)
        if span < DAY:
            row = _day_so_far(series, row, until)
        if row is None:
            yield day, level * span, mb_level * span, 0, level, span
        else:
            # A Day's sums run to midnight; a day cut short stops at `until`, after its latest change.
            rest = DAY - span
            yield (day, level * span + row.area - row.net * rest, mb_level * span + row.mb_area - row.mb_net * rest,
                   row.starts, level + row.peak, span)
            level, mb_level = level + row.net, mb_level + row.mb_net
        day = date.fromordinal(day.toordinal() + 1)


def _stored_days(condition, until):
    rows = defaultdict(dict)
    columns = [UsageDay.__table__.c[name] for name in Day.__slots__]
    # Plain rows in Day's order: a system report reads a row per series and day, thousands of them.
    for row in db.session.connection().execute(select(*columns).where(condition, UsageDay.day <= until)):
        rows[row[0]][row[1]] = Day(*row)
    return rows


def calendar(series, rows, as_of):
    """({(year, month): Tally}, {year: Tally}) of a series up to `as_of`: its months from the first it has
    a day in, and its years (whole calendar years: the months before its first count zero)."""
    monthly, yearly = defaultdict(Tally), defaultdict(Tally)
    if not rows:
        return monthly, yearly
    first = min(rows)
    last = day_of(as_of - 1)  # the day of the last second counted

    def add(day, *figures):
        yearly[day.year].add(*figures)
        if (day.year, day.month) >= (first.year, first.month):
            monthly[day.year, day.month].add(*figures)

    # Whole days without a row are added up a month's stretch at a time (the level holds through them, as
    # days_of counts them one by one); days with a row, and the last day (cut at `as_of`), by days_of.
    level = mb_level = 0
    day = date(first.year, 1, 1)
    for stored in sorted(rows):
        if stored >= last:
            break
        while day < stored:
            # Up to the stored day or the month's end, whichever comes first.
            stop = min(stored, next_month(day))
            days = (stop - day).days
            add(day, level * DAY * days, mb_level * DAY * days, 0, level, DAY * days)
            day = stop
        _, *figures = next(days_of(series, rows, stored, start_of(stored) + DAY, level, mb_level))
        add(stored, *figures)
        row = rows[stored]
        level, mb_level = level + row.net, mb_level + row.mb_net
        day = date.fromordinal(stored.toordinal() + 1)
    for counted, *figures in days_of(series, rows, day, as_of, level, mb_level):
        add(counted, *figures)
    return monthly, yearly


def report_time(as_of):
    return datetime.fromtimestamp(as_of, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _system_report(series, as_of, row_of):
    rows = _stored_days(UsageDay.series == series, day_of(as_of))[series]
    monthly, yearly = calendar(series, rows, as_of)
    return {"report_time": report_time(as_of),
            "monthly_reports": [{"month": month, "year": year, **row_of(tally)}
                                for (year, month), tally in sorted(monthly.items())],
            "yearly_reports": [{"year": year, **row_of(tally)} for year, tally in sorted(yearly.items())]}


def system_app_usages(as_of):
    return _system_report("apps", as_of, lambda tally: {
        "average_app_instances": tally.average(), "maximum_app_instances": tally.peak,
        "app_instance_hours": hours(tally.seconds), "megabyte_hours": hours(tally.mb_seconds)})


def system_task_usages(as_of):
    return _system_report("tasks", as_of, lambda tally: {
        "total_task_runs": tally.starts, "maximum_concurrent_tasks": tally.peak, "task_hours": hours(tally.seconds),
        "megabyte_hours": hours(tally.mb_seconds)})


def _service_names():
    """{service guid: (name, {plan guid: plan name})}, from the meters and, for plans no instance is on
    now, the segments (the latest name each gave)."""
    names = {}
    for service_guid, plan_guid, plan_name in db.session.execute(
            select(UsageSegment.parent_guid, UsageSegment.plan_guid, func.max(UsageSegment.plan_name))
            .where(UsageSegment.kind == "service", UsageSegment.parent_guid.is_not(None))
            .group_by(UsageSegment.parent_guid, UsageSegment.plan_guid)):
        names.setdefault(service_guid, [None, {}])[1][plan_guid] = plan_name
    # The meters' plan names and service names in one pass over them: a service's name is the greatest of
    # its plans' greatest, compared by the database as its max() compares them.
    for service_guid, plan_guid, plan_name, service_name in db.session.execute(
            select(UsageMeter.parent_guid, UsageMeter.plan_guid, func.max(UsageMeter.plan_name),
                   func.max(func.max(UsageMeter.parent_name)).over(partition_by=UsageMeter.parent_guid))
            .where(UsageMeter.kind == "service", UsageMeter.parent_guid.is_not(None))
            .group_by(UsageMeter.parent_guid, UsageMeter.plan_guid)):
        service = names.setdefault(service_guid, [None, {}])
        service[1][plan_guid] = plan_name
        service[0] = service_name
    return names


def system_service_usages(as_of):
    """Per service, and per plan of it: each month's and year's instance-hours, average and peak."""
    names = _service_names()
    # The series of these services and plans by their key (a LIKE on the prefix would read every series' days).
    wanted = [f"service:{guid}" for guid in names] + [
        f"plan:{plan_guid}" for _, plans in names.values() for plan_guid in plans if plan_guid]
    stored = {}
    for chunk in chunks(sorted(set(wanted))):
        stored.update(_stored_days(UsageDay.series.in_(chunk), day_of(as_of)))

    def figures(tally):
        return {"duration_in_hours": hours(tally.seconds), "average_instances": tally.average(),
                "maximum_instances": tally.peak}

    def usages(series):
        monthly, yearly = calendar(series, stored.get(series, {}), as_of)
        return ([{"month": month, "year": year, **figures(tally)} for (year, month), tally in sorted(monthly.items())],
                [{"year": year, **figures(tally)} for year, tally in sorted(yearly.items())])

    monthly_reports, yearly_reports = [], []
    for service_guid, (service_name, plans) in sorted(names.items()):
        if "service:" + service_guid not in stored:
            continue
        by_month, by_year = usages("service:" + service_guid)
        plan_months, plan_years = [], []
        for plan_guid, plan_name in sorted(plans.items(), key=lambda item: item[0] or ""):
            if plan_guid and "plan:" + plan_guid in stored:
                months, years = usages("plan:" + plan_guid)
                plan = {"service_plan_name": plan_name, "service_plan_guid": plan_guid}
                plan_months.append({**plan, "usages": months})
                plan_years.append({**plan, "usages": years})
        service = {"service_name": service_name, "service_guid": service_guid}
        monthly_reports.append({**service, "usages": by_month, "plans": plan_months})
        yearly_reports.append({**service, "usages": by_year, "plans": plan_years})
    return {"report_time": report_time(as_of), "monthly_service_reports": monthly_reports,
            "yearly_service_reports": yearly_reports}


ORGANIZATION_ORDERS = {"total_instance_hours": "seconds", "megabyte_hours": "mb_seconds"}


def organizations_app_usages(period, as_of, order_by=None):
    """Each organization's app instance-hours and MB-hours in the period, from its series' days."""
    organizations = UsageDay.series.startswith("org:")
    # PostgreSQL sums bigints as numeric: back to int, so every figure stays exact integer arithmetic.
    levels = {series: (int(net), int(mb_net)) for series, net, mb_net in db.session.execute(
        select(UsageDay.series, func.sum(UsageDay.net), func.sum(UsageDay.mb_net))
        .where(organizations, UsageDay.day < period.first).group_by(UsageDay.series))}
    stored = _stored_days(organizations & (UsageDay.day >= period.first), period.last)
    end = min(period.end, as_of)
    rows = []
    for series in levels.keys() | stored.keys():
        tally = Tally()
        if period.start < end:
            level, mb_level = levels.get(series, (0, 0))
            for _, *figures in days_of(series, stored.get(series, {}), period.first, end, level, mb_level):
                tally.add(*figures)
        if tally.seconds or tally.mb_seconds:
            rows.append((series.removeprefix("org:"), tally))
    if order_by:
        descending, key = order_by.startswith("-"), ORGANIZATION_ORDERS[order_by.lstrip("-")]
        rows.sort(key=lambda row: row[0])
        rows.sort(key=lambda row: getattr(row[1], key), reverse=descending)
    else:
        rows.sort(key=lambda row: row[0])
    return {**period.envelope(), "Organizations": [
        {"guid": guid, "total_instance_hours": hours(tally.seconds), "megabyte_hours": hours(tally.mb_seconds)}
        for guid, tally in rows]}


def usage_availability(now, settling_seconds):
    """The last whole day whose figures are final: one that ended `settling_seconds` before both now and
    the latest moment the folded stream reaches (None before any event)."""
    reached = db.session.scalar(select(func.max(UsageFold.folded_until)))
    if reached is None:
        return {"date": None}
    final = min(now, reached) - settling_seconds
    return {"date": date.fromordinal(day_of(final).toordinal() - 1).isoformat()}
