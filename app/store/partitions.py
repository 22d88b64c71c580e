"""The event tables' partitions on PostgreSQL: audit events by month (migration 0017), usage events by range of
positions (0018). Made when first written to, dropped whole by retention. SQLite keeps one table each, so
everything here is PostgreSQL's only.

A month goes once prune has deleted its events (the counts by target hold all of history, not a month's, so only
the deletes' triggers can take a month's share out of them exactly); then its emptied table is dropped, so
nothing is left to vacuum. A range of usage positions goes whole, leaving its cursors' tombstones and its kept
events behind. A detached partition's guid claims (event_guids, usage_guids) are stale from the detach's commit
on, so the guids can be written again; they are forgotten after, outside the transaction readers wait on.
"""
from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from app.base.extensions import db

from .models import AppUsageEvent, Event, ServiceUsageEvent


def partitioned():
    return db.engine.dialect.name == "postgresql"


def month_of(moment):
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next(month):
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)


def ensure(moments, connection=None):
    """Make the partitions that events at `moments` need and that are missing (PostgreSQL), with the next
    month's, so that a new month's first writes find theirs made."""
    months = {month_of(moment) for moment in moments}
    months.add(_next(month_of(datetime.now(timezone.utc))))
    (connection or db.session.connection()).execute(
        text("SELECT event_partitions_ensure(CAST(:months AS timestamptz[]))"), {"months": sorted(months)})


@event.listens_for(Event, "before_insert")
def _partition_for_an_object(mapper, connection, target):
    # Events added as objects (the tests' factories) find their partition made, as the write path's do.
    if connection.dialect.name == "postgresql":
        ensure([target.timestamp], connection)


def _range_for_an_object(mapper, connection, target):
    # Usage events added as objects, with their positions (the tests' fixtures), find their range made.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT usage_partitions_ensure(:stream, :id, :id)"),
                           {"stream": target.__tablename__, "id": target.id})


for _model in (AppUsageEvent, ServiceUsageEvent):
    event.listen(_model, "before_insert", _range_for_an_object)


class Partition(NamedTuple):
    name: str
    start: datetime
    end: datetime


def attached():
    """The partitions of events, oldest first."""
    names = db.session.scalars(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                    " WHERE i.inhparent = 'events'::regclass")).all()
    partitions = []
    for name in names:
        start = datetime.strptime(name, "events_y%Ym%m").replace(tzinfo=timezone.utc)
        partitions.append(Partition(name, start, _next(start)))
    return sorted(partitions, key=lambda partition: partition.start)


def detach_before(cutoff):
    """Detach every partition wholly before `cutoff` that its events have left (prune deleted them first: see
    audit_events.prune_audit_events), each in a short transaction of its own."""
    for partition in attached():
        if partition.end > cutoff:
            break
        retrying(lambda partition=partition: _detach(partition))


# A detach waits for every transaction reading the table to end, and all that come after wait behind it: rather
# than queue long, it gives up and tries again.
DETACH_LOCK_TIMEOUT = "1s"
DETACH_ATTEMPTS = 10


def retrying(step):
    """Run `step` (a transaction that detaches, and commits) again while it gives up waiting for its locks."""
    for attempt in range(1, DETACH_ATTEMPTS + 1):
        try:
            return step()
        except OperationalError:
            db.session.rollback()
            if attempt == DETACH_ATTEMPTS:
                raise


def _detach(partition):
    session = db.session
    # No writer may add to it meanwhile (readers go on); one that added since the deletes leaves it for next time.
    session.execute(text(f"LOCK TABLE {partition.name} IN SHARE MODE"))
    if session.execute(text(f"SELECT EXISTS (SELECT 1 FROM {partition.name})")).scalar():
        session.rollback()
        return
    session.execute(text(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
    session.execute(text(f"ALTER TABLE events DETACH PARTITION {partition.name}"))
    session.execute(text(f"ALTER TABLE {partition.name} RENAME TO events_detached_{partition.name[7:]}"))
    session.commit()


def drop_detached(table):
    """Forget the claims of the guids of `table`'s detached partitions (stale already), then drop them."""
    prefix = f"{table}_detached_"
    names = db.session.scalars(text(
        "SELECT relname FROM pg_class WHERE relname LIKE :prefix AND relkind = 'r'"
        " AND relnamespace = current_schema()::regnamespace ORDER BY relname"),
        {"prefix": prefix.replace("_", r"\_") + "%"}).all()
    claims = "event_guids g" if table == "events" else "usage_guids g"
    stream = "" if table == "events" else " AND g.stream = :table"
    for name in names:
        db.session.execute(text(f"DELETE FROM {claims} USING {name} d WHERE g.guid = d.guid{stream}"
                                " AND g.partition = CAST(:detached AS regclass)"), {"table": table, "detached": name})
        db.session.execute(text(f"DROP TABLE {name}"))
        db.session.commit()


# --- usage streams: ranges of positions (migration 0018) ----------------------------------------------------


class Range(NamedTuple):
    name: str
    low: int  # the first position it holds
    high: int  # the first it does not


def usage_ranges(stream):
    """The attached ranges of positions of `stream`'s table, lowest first (not the kept events' partition)."""
    width = db.session.execute(text("SELECT partition_width FROM usage_streams WHERE name = :s"),
                               {"s": stream}).scalar()
    names = db.session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = CAST(:s AS regclass) AND c.relname LIKE :pattern"),
        {"s": stream, "pattern": stream.replace("_", r"\_") + r"\_p%"}).all()
    ranges = [Range(name, int(name[-6:]) * width, (int(name[-6:]) + 1) * width) for name in names]
    return sorted(ranges, key=lambda r: r.low)


def kept_in(whole, keepers):
    """The positions of `keepers` (events retention keeps) that the range `whole` holds, in order."""
    return sorted(position for position in keepers if whole.low <= position < whole.high)


def tombstone_range(stream, whole, keepers, chunk=100_000):
    """Tombstones (pruned_usage_events) for the events of the range `whole` but `keepers`, a chunk of positions a
    transaction, before it goes: its events are written for good (positions below the last), so this needs no
    lock, and a guid with a tombstone and a row reads the same position either way."""
    kept = kept_in(whole, keepers)
    for low in range(whole.low, whole.high, chunk):
        db.session.execute(text(
            f"INSERT INTO pruned_usage_events (stream, guid, id) SELECT :s, guid, id FROM {whole.name}"
            " WHERE id >= :low AND id < :high AND NOT (id = ANY(:kept)) ON CONFLICT DO NOTHING"),
            {"s": stream, "low": low, "high": low + chunk, "kept": kept})
        db.session.commit()


def drop_range(stream, whole, keepers):
    """Detach the range `whole`, its `keepers` moved to the kept events' partition, which then covers every
    position below the range's end; the stream's horizon moves there. The caller holds the stream's lock (this
    commits). The detached tables are dropped after, by drop_detached."""
    kept_name, new_name = f"{stream}_kept", f"{stream}_kept_new"
    kept = kept_in(whole, keepers)
    session = db.session
    session.execute(text(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
    session.execute(text(f"CREATE TABLE {new_name} (LIKE {stream} INCLUDING DEFAULTS)"))
    # Filled first: readers wait from the first DETACH to the commit.
    session.execute(text(f"INSERT INTO {new_name} SELECT * FROM {whole.name} WHERE id = ANY(:kept)"), {"kept": kept})
    had_kept = session.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": kept_name}).scalar()
    if had_kept:
        session.execute(text(f"INSERT INTO {new_name} SELECT * FROM {kept_name}"))
        session.execute(text(f"ALTER TABLE {stream} DETACH PARTITION {kept_name}"))
        # Named by the range whose prune replaced it: several may wait for drop_detached.
        session.execute(text(f"ALTER TABLE {kept_name} RENAME TO {stream}_detached_kept_{whole.name[-6:]}"))
    session.execute(text(f"ALTER TABLE {stream} DETACH PARTITION {whole.name}"))
    session.execute(text(f"ALTER TABLE {whole.name} RENAME TO {stream}_detached_{whole.name[-6:]}"))
    session.execute(text(f"ALTER TABLE {new_name} RENAME TO {kept_name}"))
    # A partition's bounds are no parameters; the position is an int of ours.
    session.execute(text(f"ALTER TABLE {stream} ATTACH PARTITION {kept_name} FOR VALUES FROM (MINVALUE)"
                         f" TO ({int(whole.high)})"))
    # The kept events' claims name the partition they are in now.
    session.execute(text(f"UPDATE usage_guids g SET partition = CAST(:k AS regclass) FROM {kept_name} k"
                         " WHERE g.stream = :s AND g.guid = k.guid"), {"k": kept_name, "s": stream})
    session.execute(text("UPDATE usage_streams SET horizon = greatest(horizon, :high) WHERE name = :s"),
                    {"high": whole.high, "s": stream})
    session.commit()
