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
the position: closed segments go to usage_segments, and every change of a running level to the
series' per-day sums (UsageDay). Reports (reports.py) read only these, so pruning or purging the
raw events, which fold first, changes no report.
"""
import logging
import sys
import time
from collections import defaultdict
from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from psycopg2.extras import execute_values
from sqlalchemy import func, select, tuple_, update

from app.base.extensions import db, dialect_insert
from app.store.models import AppUsageEvent, ServiceUsageEvent
from app.store.writes import usage_events_written

from .models import UsageDay, UsageFold, UsageMeter, UsageSegment

log = logging.getLogger(__name__)

DAY = 86400
EPOCH = date(1970, 1, 1)
# Events folded per transaction: a write folds what is pending after it commits, a report before it reads.
FOLD_BATCH = 20_000
# Statement parameters per IN list (SQLite allows 32 766 in all).
IN_CHUNK = 5000


def day_of(second):
    return EPOCH + timedelta(days=second // DAY)


def start_of(day):
    return (day - EPOCH).days * DAY


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


def _app_step(event):
    """(kind, meter guid, action, figures, names) of an app usage event, or None."""
    kind, action = APP_STEPS.get(event.state, (None, None))
    if kind is None:
        return None
    if kind == "app":
        guid, name, detail, instances = event.app_guid, event.app_name, event.process_type, event.instance_count
    else:
        guid, name, detail, instances = event.task_guid, event.task_name, None, 1
    if not guid:
        return None
    return (kind, guid, action, (instances, event.memory_in_mb_per_instance, None),
            (event.org_guid, event.space_guid, event.space_name, name, event.parent_app_guid, event.parent_app_name,
             detail, None))


def _service_step(event):
    action = SERVICE_STEPS.get(event.state)
    if action is None or not event.service_instance_guid:
        return None
    return ("service", event.service_instance_guid, action, (1, 0, event.service_plan_guid),
            (event.org_guid, event.space_guid, event.space_name, event.service_instance_name, event.service_guid,
             event.service_label, event.service_instance_type, event.service_plan_name))


STREAMS = {
    AppUsageEvent: (_app_step, ("state", "app_guid", "task_guid", "instance_count", "memory_in_mb_per_instance",
                                "org_guid", "space_guid", "space_name", "app_name", "parent_app_guid",
                                "parent_app_name", "process_type", "task_name")),
    ServiceUsageEvent: (_service_step, ("state", "service_instance_guid", "service_plan_guid", "org_guid",
                                        "space_guid", "space_name", "service_instance_name", "service_guid",
                                        "service_label", "service_instance_type", "service_plan_name")),
}
METER_COLUMNS = [column.key for column in UsageMeter.__table__.columns]


class Meter:
    """A meter while a fold applies events to it (a UsageMeter row, as attributes)."""

    __slots__ = METER_COLUMNS

    def __init__(self, **columns):
        for name in METER_COLUMNS:
            setattr(self, name, columns.get(name))

    def row(self):
        return {name: getattr(self, name) for name in METER_COLUMNS}


class Fold:
    """One fold's work: meters changed, segments closed, and each series' changes by day."""

    def __init__(self, meters):
        self.meters = meters  # {(kind, guid): Meter}
        self.segments = []
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
        self.segments.append({
            "kind": meter.kind, "guid": meter.guid, "org_guid": meter.org_guid, "space_guid": meter.space_guid,
            "parent_guid": meter.parent_guid, "instances": meter.instances, "memory_in_mb": meter.memory_in_mb,
            "plan_guid": meter.plan_guid, "plan_name": meter.plan_name, "started": meter.since, "stopped": at})
        self._change(meter, at, -1)
        meter.since, meter.ended_at = None, at

    def _change(self, meter, at, sign):
        instances, mb = weights(meter.instances, meter.memory_in_mb)
        day = day_of(at)
        for series in series_of(meter.kind, meter.org_guid, meter.parent_guid, meter.plan_guid):
            self.changes[series, day].append((at, sign * instances, sign * mb, 1 if sign > 0 else 0))


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
        return {name: getattr(self, name) for name in self.__slots__}


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


def _chunks(items, size=IN_CHUNK):
    items = list(items)
    for first in range(0, len(items), size):
        yield items[first:first + size]


def _load_meters(keys):
    meters = {}
    by_kind = defaultdict(set)
    for kind, guid in keys:
        by_kind[kind].add(guid)
    for kind, guids in by_kind.items():
        for chunk in _chunks(guids):
            for row in db.session.execute(select(UsageMeter.__table__)
                                          .where(UsageMeter.kind == kind, UsageMeter.guid.in_(chunk))).mappings():
                meters[kind, row["guid"]] = Meter(**row)
    return meters


def _load_days(keys):
    days = {}
    for chunk in _chunks(keys):
        for row in db.session.execute(select(UsageDay.__table__)
                                      .where(tuple_(UsageDay.series, UsageDay.day).in_(chunk))).mappings():
            days[row["series"], row["day"]] = Day(**row)
    return days


def _upsert(model, rows, keys):
    if not rows:
        return
    if db.engine.dialect.name == "postgresql":
        return _upsert_values(model, rows, keys)
    statement = dialect_insert(model.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in rows[0] if name not in keys})
    for chunk in _chunks(rows, 1000):
        db.session.execute(statement, chunk)


def _upsert_values(model, rows, keys):
    """PostgreSQL: a page of rows per statement (psycopg2's execute_values); an executemany of an
    upsert would be a round trip per row."""
    names = list(rows[0])
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in names if name not in keys)
    sql = (f"INSERT INTO {model.__tablename__} ({', '.join(names)}) VALUES %s "
           f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")
    cursor = db.session.connection().connection.cursor()
    execute_values(cursor, sql, [tuple(row[name] for name in names) for row in rows], page_size=1000)


def fold_pending(model, limit=FOLD_BATCH, wait=True):
    """Fold up to `limit` (None: all) events of `model`'s stream after the fold's position, in the
    caller's transaction; return how many, or None when another fold is at work (if not `wait`)."""
    step_of, columns = STREAMS[model]
    fold_row = _lock(model.__tablename__, wait)
    if fold_row is None:
        return None
    statement = (select(model.id, model.created_at, *(getattr(model, name) for name in columns))
                 .where(model.id > fold_row.position).order_by(model.id))
    events = db.session.execute(statement if limit is None else statement.limit(limit)).all()
    if not events:
        return 0
    steps = [(step_of(event), int(event.created_at.timestamp())) for event in events]
    fold = Fold(_load_meters({step[:2] for step, _ in steps if step is not None}))
    for step, second in steps:
        if step is not None:
            fold.apply(step, second)
    days = _load_days(fold.changes.keys())
    recount = defaultdict(list)  # {(kind, day): [Day]}
    for (series, day), changes in fold.changes.items():
        row = days.setdefault((series, day), Day(series, day))
        if not row.add(changes):
            recount[kind_of_series(series), day].append(row)
    if fold.segments:
        for chunk in _chunks(fold.segments, 1000):
            db.session.execute(UsageSegment.__table__.insert(), chunk)
    _upsert(UsageMeter, [meter.row() for meter in fold.meters.values()], ["kind", "guid"])
    db.session.flush()
    for same_day in recount.values():
        peaks_from_segments(same_day)  # reads the segments and meters just written
    _upsert(UsageDay, [row.row() for row in days.values()], ["series", "day"])
    latest = max(second for _, second in steps)
    fold_row.position = events[-1].id
    fold_row.folded_until = latest if fold_row.folded_until is None else max(fold_row.folded_until, latest)
    return len(events)


def pending(model):
    """Whether `model`'s stream holds events the rollups have not folded yet."""
    position = select(UsageFold.position).where(UsageFold.stream == model.__tablename__).scalar_subquery()
    return db.session.execute(select(model.id).where(model.id > position).limit(1)).first() is not None


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
@click.option("--batch-size", default=FOLD_BATCH, show_default=True, type=click.IntRange(1, 1_000_000),
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
