"""Writing events: all or nothing, idempotent by guid."""
import uuid
from datetime import datetime, timezone
from functools import cache

from sqlalchemy import insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from .cursor import give_back_positions, take_positions
from .errors import ApiError
from .extensions import db
from .models import AppUsageEvent, ServiceUsageEvent

MAX_BATCH = 1000
USAGE_MODELS = (AppUsageEvent, ServiceUsageEvent)
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def utcnow():
    return datetime.now(timezone.utc)


class Written:
    """The stored rows of a write in request order, and the guids this write created."""

    def __init__(self, rows, new_guids):
        self.rows = rows
        self.new_guids = new_guids

    @property
    def created(self):
        return bool(self.new_guids)


@cache
def _written_fields(model):
    return tuple(attr.key for attr in inspect(model).column_attrs if attr.key not in ("id", "guid", "created_at"))


def _compared_fields(model, item, time_field):
    """The fields a replay must repeat exactly: all the writer controls, but a time it left to us."""
    return [name for name in _written_fields(model) if name != time_field or time_field in item]


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
        row = {"guid": str(uuid.uuid4()), time_field: now, "created_at": now, **item}
        fields = _compared_fields(model, item, time_field)
        earlier = unique.setdefault(row["guid"], (row, fields))
        if earlier[0] is not row and not _same(earlier[0], row, fields):
            raise ApiError("EventConflict", row["guid"])
        guids.append(row["guid"])
    return guids, unique


def _stored(model, guids):
    return {row.guid: row for row in db.session.scalars(select(model).where(model.guid.in_(list(guids)))).all()}


def _refuse_conflicts(unique, stored):
    """A stored guid is a replay when the writer sent the same content again, else a conflict."""
    for guid, row in stored.items():
        written, fields = unique[guid]
        if not _same(row, written, fields):
            raise ApiError("EventConflict", guid)


def _insert_audit_events(model, unique):
    # Insert first: on SQLite this takes the write lock at once, and on PostgreSQL a concurrent
    # writer of the same guid waits here until the other commits, so the comparison below always
    # sees the row that won.
    insert_or_skip = _INSERT[db.engine.dialect.name](model).on_conflict_do_nothing(index_elements=["guid"])
    statement = insert_or_skip.returning(model.guid)
    new_guids = set(db.session.scalars(statement, [row for row, _ in unique.values()]).all())
    stored = _stored(model, unique)
    _refuse_conflicts(unique, stored)
    return stored, new_guids


def _insert_usage_events(model, unique):
    # Positions first: the stream's row lock serialises usage writers from here to commit, so the
    # guids seen below cannot change before this transaction ends, and positions stay gap-free.
    first = take_positions(model.__tablename__, len(unique))
    existing = _stored(model, unique)
    _refuse_conflicts(unique, existing)
    new_rows = [row for guid, (row, _) in unique.items() if guid not in existing]
    give_back_positions(model.__tablename__, len(unique) - len(new_rows))
    for position, row in enumerate(new_rows, start=first):
        row["id"] = position
    if new_rows:
        db.session.execute(insert(model), new_rows)
    return _stored(model, unique), {row["guid"] for row in new_rows}


def write_events(model, items, time_field):
    """Store validated `items` (dicts of model attributes) in one transaction.

    A guid already stored with the same content is a replay and succeeds without writing; with
    other content the whole batch is refused (409) and nothing is written.
    """
    guids, unique = _prepare(model, items, time_field)
    store = _insert_usage_events if model in USAGE_MODELS else _insert_audit_events
    try:
        stored, new_guids = store(model, unique)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Written([stored[guid] for guid in guids], new_guids)
