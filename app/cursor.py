"""The usage-event cursor: positions handed out in commit order, after_guid, and cheap pages.

A usage event's id is its position in its stream (see models.UsageStream). Writers take
positions with `take_positions`, which locks the stream's row until their transaction ends, so
positions commit in order and without gaps. Readers therefore never see position N before
every committed position below N: following after_guid can neither skip nor repeat an event,
whatever the number of writers, workers or service instances.

Because every position from the stream's horizon to its last id holds an event, a page after
a cursor is found by arithmetic: its total is a subtraction and its offset an id range, not a
COUNT or an OFFSET scan. Only the few events retention kept below the horizon are counted.
"""
from typing import NamedTuple

from sqlalchemy import func, select, update

from .errors import ApiError
from .extensions import db
from .fields import is_storable
from .models import PrunedUsageEvent, UsageStream, record_columns


def take_positions(stream, count):
    """Reserve `count` positions; return the first. Holds the stream's row lock until commit.

    Run it as the first statement of the writing transaction: on SQLite it then takes the
    database's write lock at once, so the transaction cannot be refused for a stale snapshot.
    """
    last = db.session.execute(
        update(UsageStream)
        .where(UsageStream.name == stream)
        .values(last_id=UsageStream.last_id + count)
        .returning(UsageStream.last_id)
    ).scalar_one()
    return last - count + 1


def give_back_positions(stream, count):
    """Return the last `count` positions taken in this transaction (still holding the lock)."""
    if count:
        db.session.execute(
            update(UsageStream).where(UsageStream.name == stream).values(last_id=UsageStream.last_id - count)
        )


class Window(NamedTuple):
    """The rows after a cursor: `kept` sparse ones below the horizon, then the unbroken run."""

    after: int  # the cursor's position (0 for none)
    horizon: int
    last_id: int
    kept: int

    @property
    def run_start(self):
        """The first position of the unbroken run after the cursor."""
        return max(self.after + 1, self.horizon)

    @property
    def total(self):
        return self.kept + max(0, self.last_id - self.run_start + 1)


def window_after(model, after_guid=None):
    """The rows of `model`'s stream after the event `after_guid` (also one pruned since; None: from the
    start), counted without a scan; 400 BadQueryParameter for a guid the stream never held.

    One statement reads the stream's bounds and the cursor's position: a tail poll is two queries.
    """
    name = model.__tablename__
    columns = [UsageStream.horizon, UsageStream.last_id]
    if after_guid is not None:
        if not is_storable(after_guid):
            raise ApiError("BadQueryParameter", after_guid)
        columns += [
            select(model.id).where(model.guid == after_guid).scalar_subquery(),
            select(PrunedUsageEvent.id)
            .where(PrunedUsageEvent.stream == name, PrunedUsageEvent.guid == after_guid)
            .scalar_subquery(),
        ]
    stream = db.session.execute(select(*columns).where(UsageStream.name == name)).one()
    after = 0
    if after_guid is not None:
        after = stream[2] if stream[2] is not None else stream[3]
        if after is None:
            raise ApiError("BadQueryParameter", after_guid)
    kept = 0
    if after + 1 < stream.horizon:
        kept = db.session.scalar(
            select(func.count()).select_from(model).where(model.id > after, model.id < stream.horizon)
        )
    return Window(after, stream.horizon, stream.last_id, kept)


def page_rows(model, window, offset, limit, descending):
    """The `limit` rows at `offset` in the window, in cursor order or reversed; each an index range.

    Rows are bounded by the window's last id, so a page never holds rows its total did not count.
    """
    if offset >= window.total:
        return []
    below_horizon = (model.id > window.after, model.id < window.horizon)
    if not descending:
        if offset < window.kept:
            condition, skip = below_horizon, offset
            rows = _rows(model, condition, model.id.asc(), limit, skip)
            if len(rows) == limit:
                return rows
            run = (model.id >= window.run_start, model.id <= window.last_id)
            return rows + _rows(model, run, model.id.asc(), limit - len(rows), 0)
        start = window.run_start + offset - window.kept
        return _rows(model, (model.id >= start, model.id <= window.last_id), model.id.asc(), limit, 0)
    in_run = window.total - window.kept
    if offset < in_run:
        rows = _rows(model, (model.id <= window.last_id - offset, model.id >= window.run_start),
                     model.id.desc(), limit, 0)
        if len(rows) == limit or not window.kept:
            return rows
        return rows + _rows(model, below_horizon, model.id.desc(), limit - len(rows), 0)
    return _rows(model, below_horizon, model.id.desc(), limit, offset - in_run)


def _rows(model, conditions, order, limit, offset):
    statement = select(*record_columns(model)).where(*conditions).order_by(order).limit(limit)
    if offset:
        statement = statement.offset(offset)
    return db.session.execute(statement).all()
