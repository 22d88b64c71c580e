"""Writing events: all or nothing, idempotent by guid."""
import uuid
from datetime import datetime, timezone
from functools import cache

from sqlalchemy import inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from .errors import ApiError
from .extensions import db

MAX_BATCH = 1000
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def utcnow():
    return datetime.now(timezone.utc)


class Written:
    """The stored rows of a write, in request order, and whether any of them is new."""

    def __init__(self, rows, created):
        self.rows = rows
        self.created = created


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


def write_events(model, items, time_field):
    """Store validated `items` (dicts of model attributes) in one transaction.

    A guid already stored with the same content is a replay and succeeds without writing; with
    other content the whole batch is refused (409) and nothing is written.
    """
    guids, unique = _prepare(model, items, time_field)
    insert = _INSERT[db.engine.dialect.name]
    try:
        # Insert first: on SQLite this takes the write lock at once, and on PostgreSQL a concurrent
        # writer of the same guid waits here until the other commits, so the comparison below
        # always sees the row that won.
        statement = insert(model).on_conflict_do_nothing(index_elements=["guid"]).returning(model.guid)
        inserted = set(db.session.scalars(statement, [row for row, _ in unique.values()]).all())
        stored = {
            row.guid: row
            for row in db.session.scalars(select(model).where(model.guid.in_(list(unique)))).all()
        }
        for guid, (row, fields) in unique.items():
            if guid not in inserted and not _same(stored[guid], row, fields):
                raise ApiError("EventConflict", guid)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Written([stored[guid] for guid in guids], bool(inserted))
