"""Writing events: all or nothing, idempotent by guid."""
import secrets
import uuid
from datetime import datetime, timezone
from functools import cache
from types import SimpleNamespace
from typing import NamedTuple

from blinker import Namespace
from psycopg2.extensions import TransactionRollbackError
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.base import metrics
from app.base.errors import ApiError
from app.base.extensions import db, dialect_insert, read

from . import partitions, staging
from .cursor import lock_stream, take_positions
from .models import AppUsageEvent, ServiceUsageEvent, record_columns

MAX_BATCH = 1000
# Writers lock shared rows (event counts, a usage stream's counter) in a consistent order, but should
# PostgreSQL still break a deadlock or a serialisation conflict by failing one of them, or a usage
# writer meet a guid stored since it looked, that write is tried again: it is idempotent by guid.
ATTEMPTS = 3
USAGE_MODELS = (AppUsageEvent, ServiceUsageEvent)
# Sent (sender: the model) once new usage events are committed: the usage fold (usage/metering.py) listens,
# so the rollups follow the writes without the store knowing of them.
usage_events_written = Namespace().signal("usage-events-written")


def utcnow():
    return datetime.now(timezone.utc)


def uuid7(moment=None, entropy=None):
    """A time-ordered guid (RFC 9562 UUIDv7): the milliseconds of `moment` (now), then `entropy` (74
    random bits; bytes from a hash make it deterministic). Guids of new events sort by their time, so
    the guid index grows at its end instead of everywhere."""
    milliseconds = int((moment or utcnow()).timestamp() * 1000) & (2**48 - 1)
    bits = int.from_bytes(entropy[:10] if entropy else secrets.token_bytes(10), "big") & (2**74 - 1)
    value = (milliseconds << 80) | (0x7 << 76) | ((bits >> 62) << 64) | (0b10 << 62) | (bits & (2**62 - 1))
    return str(uuid.UUID(int=value))


class Written:
    """What a write stored: the guids it created, and (made when asked for) its rows in request order."""

    def __init__(self, guids, unique, stored, new_guids, conflicts):
        self._guids, self._unique, self._stored = guids, unique, stored
        self.new_guids = new_guids
        self.conflicts = conflicts

    @property
    def created(self):
        return bool(self.new_guids)

    @property
    def rows(self):
        # A new event is what was sent; only replays were read back.
        return [self._stored.get(guid) or SimpleNamespace(**self._unique[guid][0]) for guid in self._guids]


@cache
def _written_fields(model):
    return tuple(attr.key for attr in inspect(model).column_attrs if attr.key not in ("id", "guid", "created_at"))


@cache
def _compared_fields(model, time_field, time_given):
    """The fields a replay must repeat exactly: all the writer controls, but a time it left to us (one tuple
    for each case, made once: a batch asks it of every event)."""
    return tuple(name for name in _written_fields(model) if name != time_field or time_given)


def _same(stored, row, fields):
    get = stored.get if isinstance(stored, dict) else lambda name: getattr(stored, name)
    return all(get(name) == row[name] for name in fields)


def _prepare(model, items, time_field):
    """Fill in guids and times; fold repeats of one guid inside the batch; refuse conflicting ones.

    Returns the guids in request order, and the rows to write by guid.
    """
    now = utcnow()
    guids, unique = [], {}
    for item in items:
        row = {time_field: now, "created_at": now, **item}
        if "guid" not in row:
            row["guid"] = uuid7(now)
        fields = _compared_fields(model, time_field, time_field in item)
        earlier = unique.setdefault(row["guid"], (row, fields))
        if earlier[0] is not row and not _same(earlier[0], row, fields):
            raise ApiError("EventConflict", row["guid"])
        guids.append(row["guid"])
    return guids, unique


def _stored(model, guids):
    """The stored events among `guids`, by guid (Rows)."""
    if not guids:
        return {}
    statement = select(*record_columns(model)).where(model.guid.in_(list(guids)))
    return {row.guid: row for row in read(statement).all()}


def _conflicts(unique, stored, refuse):
    """The guids stored with other content than this write's (else a stored guid is a replay); with
    `refuse`, the first of them is a 409 for the whole write."""
    conflicts = []
    for guid, row in stored.items():
        written, fields = unique[guid]
        if not _same(row, written, fields):
            if refuse:
                raise ApiError("EventConflict", guid)
            conflicts.append(guid)
    return conflicts


@cache
def _columns(model):
    """Attribute name -> table column key, for every column a write sets."""
    return {attr.key: attr.columns[0].key for attr in inspect(model).column_attrs}


def _table_rows(model, rows):
    """`rows` keyed by table column, each with every column: then one INSERT holds the whole batch.

    (Given ORM attribute dicts, SQLAlchemy splits a batch into one INSERT per pattern of None values,
    hundreds for a mixed batch; and every INSERT fires the event-count triggers once.)
    """
    columns = _columns(model)
    return [{column: row.get(name) for name, column in columns.items() if name in row or name != "id"}
            for row in rows]


def _insert_audit_events(model, unique, lines, refuse):
    if partitions.partitioned():
        partitions.ensure([row["timestamp"] for row, _ in unique.values()])
    if lines is not None:
        if staging.copy_new(model, lines):
            return {}, set(unique), []
        new_guids = set(staging.insert_copied(model, lines))
    elif partitions.partitioned():
        # No unique index holds the guids of every partition: a guid another writer stores meanwhile makes the
        # INSERT fail instead (event_guids), and store tries again, to find it stored.
        stored = _stored(model, unique.keys())
        rows = [row for guid, (row, _) in unique.items() if guid not in stored]
        if rows:
            db.session.connection().execute(insert(model.__table__), _table_rows(model, rows))
        return stored, {row["guid"] for row in rows}, _conflicts(unique, stored, refuse)
    else:
        # Insert first: SQLite takes its write lock at once, so the comparison below sees every committed row.
        table = model.__table__
        insert_or_skip = dialect_insert(table).on_conflict_do_nothing(index_elements=["guid"])
        rows = [row for row, _ in unique.values()]
        new_guids = set(db.session.connection().execute(insert_or_skip.returning(table.c.guid),
                                                        _table_rows(model, rows)).scalars().all())
    stored = _stored(model, unique.keys() - new_guids)
    return stored, new_guids, _conflicts(unique, stored, refuse)


def _copies(rows):
    """Whether a batch goes to PostgreSQL by COPY (staging.py): many times faster for large batches, one
    statement more for a small one."""
    return len(rows) >= staging.COPY_FROM_ROWS and db.engine.dialect.name == "postgresql"


def _insert_usage_events(model, unique, lines, refuse):
    stream = model.__tablename__
    if db.engine.dialect.name == "sqlite":
        # One writer at a time: take the database's write lock before reading, or the commit could be
        # refused for a stale snapshot.
        lock_stream(stream)
    stored = _stored(model, unique.keys())
    conflicts = _conflicts(unique, stored, refuse)
    new_rows = [row for guid, (row, _) in unique.items() if guid not in stored]
    if new_rows:
        # Positions last, right before the commit (SPEC 4.1 a): the stream's row lock, which makes
        # positions commit in order and without gaps, is held for one INSERT and the commit. A writer
        # of the same guid that commits first makes this INSERT fail; write_events then tries again,
        # and finds that event stored.
        if lines is not None and _copies(new_rows):
            # Copied before the lock is taken: under it, one INSERT … SELECT numbers them in order.
            staging.copy_rows(model, [line for guid, line in zip(unique, lines, strict=True) if guid not in stored])
            staging.insert_staged(model, first_id=take_positions(stream, len(new_rows)))
        else:
            first = take_positions(stream, len(new_rows))
            for position, row in enumerate(new_rows, start=first):
                row["id"] = position
            db.session.connection().execute(insert(model.__table__), _table_rows(model, new_rows))
    return stored, {row["guid"] for row in new_rows}, conflicts


def _worth_retrying(error):
    """A deadlock or serialisation failure, or (usage events) a guid another writer stored meanwhile."""
    return isinstance(error.orig, TransactionRollbackError) or isinstance(error, IntegrityError)


class Batch(NamedTuple):
    """A write made ready without the database (prepare): its guids in request order, its rows by guid, and,
    when it goes by COPY, their lines of COPY text in the same order (else None)."""

    model: type
    guids: list
    unique: dict
    lines: list | None


def prepare(model, items, time_field):
    """The Python half of a write: guids and times filled in, repeats folded, conflicts inside the batch
    refused (409), COPY text made. The importer prepares one batch while the database stores the last."""
    guids, unique = _prepare(model, items, time_field)
    rows = [row for row, _ in unique.values()]
    return Batch(model, guids, unique, staging.copy_lines(model, rows) if _copies(rows) else None)


def store(batch, before_commit=None, refuse_conflicts=True):
    """The database half of a write: `batch` (prepare's) stored in one transaction. See write_events."""
    model, unique = batch.model, batch.unique
    insert_batch = _insert_usage_events if model in USAGE_MODELS else _insert_audit_events
    for attempt in range(1, ATTEMPTS + 1):
        try:
            stored, new_guids, conflicts = insert_batch(model, unique, batch.lines, refuse_conflicts)
            if before_commit is not None:
                before_commit(new_guids)
            db.session.commit()
            break
        except (OperationalError, IntegrityError) as error:
            db.session.rollback()
            if attempt == ATTEMPTS or not _worth_retrying(error):
                raise
        except BaseException:
            db.session.rollback()
            raise
    metrics.events_written(model.__tablename__, len(new_guids))
    if new_guids and model in USAGE_MODELS:
        usage_events_written.send(model)
    return Written(batch.guids, unique, stored, new_guids, conflicts)


def write_events(model, items, time_field, before_commit=None, refuse_conflicts=True):
    """Store validated `items` (dicts of model attributes) in one transaction.

    A guid already stored with the same content is a replay and succeeds without writing; with
    other content the whole batch is refused (409) and nothing is written; or, without
    `refuse_conflicts`, that event alone is left as it is stored and named in the result.
    `before_commit(new guids)` runs in the same transaction, last (the follower moves its position so).
    """
    return store(prepare(model, items, time_field), before_commit, refuse_conflicts)
