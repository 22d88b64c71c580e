"""The usage arithmetic: what ran, with which figures, from when to when, folded from the usage streams.

The rules (README, "Usage reports"), in one place:
- A meter is an app process (an app usage event's app_guid), a task (its task_guid) or a service
  instance. Events are taken in stream order. Each takes effect at its created_at, in whole seconds,
  but never before an earlier event of the same meter: a meter's clock never goes back.
- An app process runs with (instance_count, memory) from a STARTED until the next event of it that
  changes that: STOPPED ends the segment; a STARTED with other figures ends it and starts another. A
  STARTED with the same figures (a repeat, or a purge's reseed) and a STOPPED of a process not running
  change nothing. BUILDPACK_SET and the staging states concern no meter.
- A task runs with its memory from TASK_STARTED to TASK_STOPPED of its guid, by the same rules.
- A service instance runs from CREATED (or an UPDATED, for one not running) to DELETED; an UPDATED
  to another plan ends the segment and starts one on the new plan.

Folding applies the events after the fold's position to the meters, in one transaction that moves
the position: closed segments go to usage_segments, an app process's segment's seconds to the monthly sums
of its process and figures (UsageMonth, cut at each month's start), and every change of a running level to
the series' per-day sums (UsageDay). Reports (reports.py) read only these, so pruning or purging the
raw events, which fold first, changes no report.
"""
import logging
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from functools import cache
from operator import attrgetter

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import BigInteger, cast, extract, func, select, tuple_, update

from app.base.extensions import db, dialect_insert
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.store.staging import copy_text, values_line
from app.store.writes import usage_events_written

from .models import UsageDay, UsageFold, UsageMeter, UsageMonth, UsageSegment

log = logging.getLogger(__name__)

DAY = 86400
EPOCH = date(1970, 1, 1)
# Events folded per transaction: a write folds what is pending after it commits, a report before it reads.
FOLD_BATCH = 20_000
# Events folded per transaction by `events fold`, which catches up with a whole stream: a longer batch
# writes fewer meter rows an event (a process is touched by many of its events). A report that finds it
# at work waits about as long as its own catch-up of as many events (reports.REPORT_FOLD_LIMIT) takes.
CATCH_UP_BATCH = 100_000
# Statement parameters per IN list (SQLite allows 32 766 in all).
IN_CHUNK = 5000
# From this many rows PostgreSQL is written by COPY; fewer (a write's own fold) go in one INSERT of values,
# which saves the round trips of a temporary table.
COPY_FROM_ROWS = 100


def day_of(second):
    return _day(second // DAY)


@cache
def _day(number):
    return EPOCH + timedelta(days=number)


def start_of(day):
    return (day - EPOCH).days * DAY


# Months are numbered year x 12 + month - 1, so that the one after December 9999 (which no date can be)
# still has a start: the end of time.
LAST_MONTH = 9999 * 12 + 11


def month_number(second):
    day = day_of(second)
    return day.year * 12 + day.month - 1


def month_date(number):
    """A month's first day."""
    return date(number // 12, number % 12 + 1, 1)


def next_month(day):
    """The first day of the month after `day`'s."""
    return month_date(day.year * 12 + day.month)


def month_start(number):
    return start_of(month_date(number)) if number <= LAST_MONTH else start_of(date.max) + DAY


def months_of(started, stopped):
    """(month's first day, seconds) of each month the run [started, stopped) has seconds in."""
    number = month_number(started)
    while number <= LAST_MONTH and (first := month_start(number)) < stopped:
        if (seconds := min(stopped, month_start(number + 1)) - max(started, first)) > 0:
            yield month_date(number), seconds
        number += 1


# --- the series: levels that reports add up (instances running, and MB x instances) ----------------
def series_of(kind, org_guid, parent_guid, plan_guid):
    """The series a meter's segment counts in: all apps and its organization's apps; all tasks; its
    service and its plan (a user-provided service instance has neither, and counts in none)."""
    if kind == "app":
        return ("apps", "org:" + org_guid)
    if kind == "task":
        return ("tasks",)
    if not parent_guid:
        return ()
    return ("service:" + parent_guid,) + (("plan:" + plan_guid,) if plan_guid else ())


def kind_of_series(series):
    return {"apps": "app", "org": "app", "tasks": "task"}.get(series.partition(":")[0], "service")


def weights(instances, memory_in_mb):
    """(instances, MB) a segment adds to its series' levels."""
    return instances, instances * memory_in_mb


# --- the rules --------------------------------------------------------------------------------------
OPEN, CLOSE = "open", "close"
APP_STEPS = {"STARTED": ("app", OPEN), "STOPPED": ("app", CLOSE),
             "TASK_STARTED": ("task", OPEN), "TASK_STOPPED": ("task", CLOSE)}
SERVICE_STEPS = {"CREATED": OPEN, "UPDATED": OPEN, "DELETED": CLOSE}


def _app_step(state, app_guid, task_guid, instance_count, memory_in_mb_per_instance, org_guid, space_guid,
              space_name, app_name, parent_app_guid, parent_app_name, process_type, task_name):
    """(kind, meter guid, action, figures, names) of an app usage event (its STREAMS columns), or None."""
    kind, action = APP_STEPS.get(state, (None, None))
    if kind is None:
        return None
    if kind == "app":
        guid, name, detail, instances = app_guid, app_name, process_type, instance_count
    else:
        guid, name, detail, instances = task_guid, task_name, None, 1
    if not guid:
        return None
    return (kind, guid, action, (instances, memory_in_mb_per_instance, None),
            (org_guid, space_guid, space_name, name, parent_app_guid, parent_app_name, detail, None))


def _service_step(state, service_instance_guid, service_plan_guid, org_guid, space_guid, space_name,
                  service_instance_name, service_guid, service_label, service_instance_type, service_plan_name):
    action = SERVICE_STEPS.get(state)
    if action is None or not service_instance_guid:
        return None
    return ("service", service_instance_guid, action, (1, 0, service_plan_guid),
            (org_guid, space_guid, space_name, service_instance_name, service_guid, service_label,
             service_instance_type, service_plan_name))


# {model: (its step, the columns the step takes, in its order)}
STREAMS = {
    AppUsageEvent: (_app_step, ("state", "app_guid", "task_guid", "instance_count", "memory_in_mb_per_instance",
                                "org_guid", "space_guid", "space_name", "app_name", "parent_app_guid",
                                "parent_app_name", "process_type", "task_name")),
    ServiceUsageEvent: (_service_step, ("state", "service_instance_guid", "service_plan_guid", "org_guid",
                                        "space_guid", "space_name", "service_instance_name", "service_guid",
                                        "service_label", "service_instance_type", "service_plan_name")),
}
METER_COLUMNS = tuple(column.key for column in UsageMeter.__table__.columns)
SEGMENT_COLUMNS = ("kind", "guid", "org_guid", "space_guid", "parent_guid", "instances", "memory_in_mb", "plan_guid",
                   "plan_name", "started", "stopped")
MONTH_COLUMNS = tuple(column.key for column in UsageMonth.__table__.columns)  # the key, then `seconds`
# The kinds whose closed segments are also summed per month (UsageMonth). Not tasks: a task meter is one
# run, so its months are no fewer rows than its segments.
MONTHLY_KINDS = ("app",)


class Meter:
    """A meter while a fold applies events to it (a UsageMeter row, as attributes)."""

    __slots__ = METER_COLUMNS

    def __init__(self, **columns):
        for name in METER_COLUMNS:
            setattr(self, name, columns.get(name))

    @classmethod
    def stored(cls, row):
        """The meter of a stored row (its values in METER_COLUMNS' order)."""
        meter = cls.__new__(cls)
        for name, value in zip(METER_COLUMNS, row, strict=True):
            setattr(meter, name, value)
        return meter

    def row(self):
        """Its values in METER_COLUMNS' order."""
        return _METER_VALUES(self)


class Fold:
    """One fold's work: meters changed, segments closed, and each series' changes by day."""

    def __init__(self, meters):
        self.meters = meters  # {(kind, guid): Meter}
        self.segments = []
        self.months = defaultdict(int)  # {UsageMonth's key (MONTH_COLUMNS but seconds): seconds}
        self.changes = defaultdict(list)  # {(series, day): [(second, instances, mb, starts)]}

    def apply(self, step, second):
        kind, guid, action, figures, names = step
        meter = self.meters.get((kind, guid))
        if meter is None:
            meter = self.meters[kind, guid] = Meter(kind=kind, guid=guid, org_guid=names[0], space_guid=names[1],
                                                    parent_guid=names[4], last_at=second)
        at = meter.last_at = max(second, meter.last_at)
        meter.space_name, meter.name, _, meter.parent_name, meter.detail = names[2:7]
        if action == OPEN:
            if meter.since is not None:
                if (meter.instances, meter.memory_in_mb, meter.plan_guid) == figures:
                    meter.plan_name = names[7]
                    return
                self._close(meter, at)
            self._open(meter, at, figures, names)
        elif meter.since is not None:
            self._close(meter, at)

    def _open(self, meter, at, figures, names):
        meter.org_guid, meter.space_guid, meter.parent_guid = names[0], names[1], names[4]
        meter.instances, meter.memory_in_mb, meter.plan_guid = figures
        meter.plan_name = names[7]
        meter.since = at
        if meter.first_at is None:
            meter.first_at = at
        self._change(meter, at, 1)

    def _close(self, meter, at):
        # In SEGMENT_COLUMNS' order.
        self.segments.append((meter.kind, meter.guid, meter.org_guid, meter.space_guid, meter.parent_guid,
                              meter.instances, meter.memory_in_mb, meter.plan_guid, meter.plan_name, meter.since, at))
        if meter.kind in MONTHLY_KINDS:
            for month, seconds in months_of(meter.since, at):
                self.months[meter.org_guid, meter.kind, month, meter.guid, meter.instances, meter.memory_in_mb] += (
                    seconds)
        self._change(meter, at, -1)
        meter.since, meter.ended_at = None, at

    def _change(self, meter, at, sign):
        instances, mb = weights(meter.instances, meter.memory_in_mb)
        day = day_of(at)
        change = (at, sign * instances, sign * mb, 1 if sign > 0 else 0)
        for series in series_of(meter.kind, meter.org_guid, meter.parent_guid, meter.plan_guid):
            self.changes[series, day].append(change)


# --- a day's sums -----------------------------------------------------------------------------------
class Day:
    """A UsageDay row while a fold adds to it."""

    __slots__ = ("series", "day", "starts", "net", "area", "mb_net", "mb_area", "peak_before", "last_at")

    def __init__(self, series, day, starts=0, net=0, area=0, mb_net=0, mb_area=0, peak_before=None, last_at=None):
        self.series, self.day, self.starts, self.net, self.area = series, day, starts, net, area
        self.mb_net, self.mb_area, self.peak_before, self.last_at = mb_net, mb_area, peak_before, last_at

    def add(self, changes):
        """Add the changes; False when one is earlier than the day's latest so far, so that the peak
        must be worked out again from the day's segments (`peaks_from_segments`)."""
        end = start_of(self.day) + DAY
        for at, instances, mb, starts in changes:
            self.starts += starts
            self.area += instances * (end - at)
            self.mb_net += mb
            self.mb_area += mb * (end - at)
        in_order = self.last_at is None or min(change[0] for change in changes) >= self.last_at
        if in_order:
            self.advance(sorted(changes))
        else:
            self.net += sum(change[1] for change in changes)
        return in_order

    def advance(self, changes):
        """Move the level through `changes` (in time order): the level before a moment holds until it."""
        for at, instances, _, _ in changes:
            if self.last_at is None:
                # Only a day whose first change comes after midnight has a level before it.
                self.peak_before = 0 if at > start_of(self.day) else None
            elif at > self.last_at:
                self.peak_before = self.net if self.peak_before is None else max(self.peak_before, self.net)
            self.last_at = at
            self.net += instances

    @property
    def peak(self):
        """The day's highest level, relative to its start."""
        return self.net if self.peak_before is None else max(self.peak_before, self.net)

    def row(self):
        return _DAY_VALUES(self)


_METER_VALUES, _DAY_VALUES = attrgetter(*METER_COLUMNS), attrgetter(*Day.__slots__)


def day_changes(kind, day, until=None):
    """Every change of `kind`'s levels on `day` (before `until`), from the rollups: {series: [changes]}."""
    first, end = start_of(day), min(start_of(day) + DAY, until or start_of(day) + DAY)
    found = defaultdict(list)
    sources = (
        (select(UsageSegment.org_guid, UsageSegment.parent_guid, UsageSegment.plan_guid, UsageSegment.instances,
                UsageSegment.memory_in_mb, UsageSegment.started)
         .where(UsageSegment.kind == kind, UsageSegment.started >= first, UsageSegment.started < end), 1),
        (select(UsageSegment.org_guid, UsageSegment.parent_guid, UsageSegment.plan_guid, UsageSegment.instances,
                UsageSegment.memory_in_mb, UsageSegment.stopped)
         .where(UsageSegment.kind == kind, UsageSegment.stopped >= first, UsageSegment.stopped < end), -1),
        (select(UsageMeter.org_guid, UsageMeter.parent_guid, UsageMeter.plan_guid, UsageMeter.instances,
                UsageMeter.memory_in_mb, UsageMeter.since)
         .where(UsageMeter.kind == kind, UsageMeter.since >= first, UsageMeter.since < end), 1),
    )
    for statement, sign in sources:
        for org_guid, parent_guid, plan_guid, instances, memory_in_mb, at in db.session.execute(statement):
            instances, mb = weights(instances, memory_in_mb)
            for series in series_of(kind, org_guid, parent_guid, plan_guid):
                found[series].append((at, sign * instances, sign * mb, 1 if sign > 0 else 0))
    return found


def peaks_from_segments(days):
    """Work the peak of each of `days` (Day rows of one kind and day) out again from all of the day's changes."""
    first = days[0]
    changes = day_changes(kind_of_series(first.series), first.day)
    for day in days:
        day.net, day.peak_before, day.last_at = 0, None, None
        day.advance(sorted(changes[day.series]))


# --- folding ----------------------------------------------------------------------------------------
def _lock(stream, wait):
    """The stream's fold row, locked until the transaction ends; None if another fold holds it (when
    not waiting). On SQLite, where writers take turns, a write first takes the database's write lock."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(update(UsageFold).where(UsageFold.stream == stream).values(position=UsageFold.position))
        return db.session.execute(select(UsageFold).where(UsageFold.stream == stream)).scalar_one()
    return db.session.execute(select(UsageFold).where(UsageFold.stream == stream)
                              .with_for_update(skip_locked=not wait)).scalar_one_or_none()


def chunks(items, size=IN_CHUNK):
    items = list(items)
    for first in range(0, len(items), size):
        yield items[first:first + size]


# --- reading and writing the rollups: a few statements per batch, whatever its size --------------------
def _postgresql():
    return db.engine.dialect.name == "postgresql"


def _load_meters(keys):
    """{(kind, guid): Meter} of the stored meters among `keys` (kind, guid)."""
    by_kind = defaultdict(list)
    for kind, guid in keys:
        by_kind[kind].append(guid)
    connection, table = db.session.connection(), UsageMeter.__table__
    rows = []
    for kind, guids in by_kind.items():
        if _postgresql():
            # The guids as one array parameter: a statement of any size, planned as a join on the key.
            rows += connection.exec_driver_sql(
                f"SELECT {', '.join('m.' + name for name in METER_COLUMNS)} FROM usage_meters AS m "
                "JOIN unnest(%(guids)s::text[]) AS k(guid) ON m.guid = k.guid WHERE m.kind = %(kind)s",
                {"kind": kind, "guids": guids}).all()
        else:
            for chunk in chunks(guids):
                rows += connection.execute(select(table).where(table.c.kind == kind, table.c.guid.in_(chunk))).all()
    return {(row[0], row[1]): Meter.stored(row) for row in rows}


def _load_days(keys):
    """{(series, day): Day} of the stored days among `keys` (series, day)."""
    connection, table = db.session.connection(), UsageDay.__table__
    if _postgresql():
        series, days = [series for series, _ in keys], [day for _, day in keys]
        rows = connection.exec_driver_sql(
            f"SELECT {', '.join('d.' + name for name in Day.__slots__)} FROM usage_days AS d "
            "JOIN unnest(%(series)s::text[], %(days)s::date[]) AS k(series, day) ON d.series = k.series "
            "AND d.day = k.day", {"series": series, "days": days}).all()
    else:
        rows = [row for chunk in chunks(keys)
                for row in connection.execute(select(table).where(tuple_(table.c.series, table.c.day).in_(chunk)))]
    return {(row[0], row[1]): Day(*row) for row in rows}


def _copy(table, names, rows):
    """PostgreSQL: COPY `rows` (tuples in the order of `names`) into `table`, in the session's transaction:
    it parses rows many times faster than an INSERT of values, which also costs a plan per statement."""
    copy_text(db.session.connection(), f"COPY {table} ({', '.join(names)}) FROM STDIN",
              "".join([values_line(row) for row in rows]))


def _by_copy(rows):
    return len(rows) >= COPY_FROM_ROWS and _postgresql()


def _insert(model, names, rows):
    if not rows:
        return
    if _by_copy(rows):
        return _copy(model.__tablename__, names, rows)
    for chunk in chunks(rows, 1000):
        db.session.execute(model.__table__.insert(), [dict(zip(names, row, strict=True)) for row in chunk])


def _upsert(model, names, rows, keys, adding=()):
    """Insert `rows` (tuples in the order of `names`), or update the stored row of the same `keys` (the
    columns in `adding` are added to the stored ones, the others replace them)."""
    if not rows:
        return
    if _by_copy(rows):
        # Into a temporary table of the same columns by COPY, then one INSERT ... SELECT ... ON CONFLICT.
        staged = f"fold_{model.__tablename__}"
        connection = db.session.connection()
        connection.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {staged} (LIKE {model.__tablename__}); "
                                   f"TRUNCATE {staged}")
        _copy(staged, names, rows)
        table = model.__tablename__
        updates = ", ".join(f"{name} = {table + '.' + name + ' + ' if name in adding else ''}EXCLUDED.{name}"
                            for name in names if name not in keys)
        connection.exec_driver_sql(
            f"INSERT INTO {model.__tablename__} ({', '.join(names)}) SELECT {', '.join(names)} FROM {staged} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")
        return
    statement = dialect_insert(model.__table__)
    columns = model.__table__.c
    statement = statement.on_conflict_do_update(index_elements=keys, set_={
        name: columns[name] + statement.excluded[name] if name in adding else statement.excluded[name]
        for name in names if name not in keys})
    for chunk in chunks(rows, 1000):
        db.session.execute(statement, [dict(zip(names, row, strict=True)) for row in chunk])


def _second(column):
    """An event's created_at in whole seconds (Python's int(timestamp())), worked out by the database."""
    if _postgresql():
        return cast(func.floor(extract("epoch", column)), BigInteger)
    # SQLite keeps UTC text; its seconds are cut before strftime, which would round the milliseconds.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)


def _events(model, columns, position, limit):
    """Up to `limit` (None: all) events after `position`, in stream order: (id, second, *columns) rows."""
    table = model.__table__
    statement = (select(table.c.id, _second(table.c.created_at), *(table.c[name] for name in columns))
                 .where(table.c.id > position).order_by(table.c.id))
    return db.session.connection().execute(statement if limit is None else statement.limit(limit)).all()


def fold_pending(model, limit=FOLD_BATCH, wait=True):
    """Fold up to `limit` (None: all) events of `model`'s stream after the fold's position, in the
    caller's transaction; return how many, or None when another fold is at work (if not `wait`)."""
    step_of, columns = STREAMS[model]
    fold_row = _lock(model.__tablename__, wait)
    if fold_row is None:
        return None
    events = _events(model, columns, fold_row.position, limit)
    if not events:
        return 0
    steps = [(step, event[1]) for event in events if (step := step_of(*event[2:])) is not None]
    fold = Fold(_load_meters({step[:2] for step, _ in steps}))
    for step, second in steps:
        fold.apply(step, second)
    days = _load_days(fold.changes.keys())
    recount = defaultdict(list)  # {(kind, day): [Day]}
    for (series, day), changes in fold.changes.items():
        row = days.setdefault((series, day), Day(series, day))
        if not row.add(changes):
            recount[kind_of_series(series), day].append(row)
    _insert(UsageSegment, SEGMENT_COLUMNS, fold.segments)
    _upsert(UsageMeter, METER_COLUMNS, [meter.row() for meter in fold.meters.values()], ["kind", "guid"])
    _upsert(UsageMonth, MONTH_COLUMNS, [(*key, seconds) for key, seconds in fold.months.items()], MONTH_COLUMNS[:-1],
            adding=("seconds",))
    for same_day in recount.values():
        peaks_from_segments(same_day)  # reads the segments and meters just written
    _upsert(UsageDay, Day.__slots__, [row.row() for row in days.values()], ["series", "day"])
    latest = max(event[1] for event in events)
    fold_row.position = events[-1][0]
    fold_row.folded_until = latest if fold_row.folded_until is None else max(fold_row.folded_until, latest)
    return len(events)


def pending(model):
    """Whether `model`'s stream holds events the rollups have not folded yet."""
    position = select(UsageFold.position).where(UsageFold.stream == model.__tablename__).scalar_subquery()
    # In id order: without it PostgreSQL may read the whole stream for the first row past a position it
    # does not know when planning (measured at 10 M: a sequential scan of 2 to 5 s in every report).
    first = select(model.id).where(model.id > position).order_by(model.id).limit(1)
    return db.session.execute(first).first() is not None


def catch_up(model, limit=None, wait=True, batch=FOLD_BATCH, progress=None):
    """Fold `model`'s pending events (up to `limit`), a batch per transaction; return how many."""
    folded = 0
    while limit is None or folded < limit:
        try:
            count = fold_pending(model, batch if limit is None else min(batch, limit - folded), wait)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if not count:
            return folded
        folded += count
        if progress:
            progress(count)
    return folded


def init_app(app):
    usage_events_written.connect(fold_after_write, weak=False)


def fold_after_write(model):
    """Fold what is pending once a write committed, unless another fold is at it (or a `fold --follow`
    does it: USAGE_FOLD_ON_WRITE=off). The write is acknowledged whatever happens here: a fold that
    fails is done again by the next write or report."""
    if not current_app.config["USAGE_FOLD_ON_WRITE"]:
        return
    try:
        catch_up(model, limit=FOLD_BATCH, wait=False)
    except Exception:
        log.warning("folding %s into the usage rollups failed; the next write or report folds it",
                    model.__tablename__, exc_info=True)


@click.command("fold")
@click.option("--batch-size", default=CATCH_UP_BATCH, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Events folded per transaction.")
@click.option("--follow", is_flag=True,
              help="Keep folding what writers store, every --interval seconds (with USAGE_FOLD_ON_WRITE=off).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600))
@with_appcontext
def fold_command(batch_size, follow, interval):
    """Fold every pending usage event into the usage rollups (once, after upgrading a store that holds
    events; or, with --follow, for ever, in place of the folds after each write)."""
    for label, model in (("app usage events", AppUsageEvent), ("service usage events", ServiceUsageEvent)):
        fold_row = db.session.scalar(select(UsageFold).where(UsageFold.stream == model.__tablename__))
        to_fold = db.session.scalar(select(func.count()).where(model.id > fold_row.position))
        db.session.rollback()
        with click.progressbar(length=to_fold, label=f"folding {label}", file=sys.stderr) as bar:
            folded = catch_up(model, batch=batch_size, progress=bar.update)
        click.echo(f"{label}: folded {folded}")
    while follow:
        time.sleep(interval)
        for model in (AppUsageEvent, ServiceUsageEvent):
            catch_up(model, batch=batch_size)
