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
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, update

from app.base.extensions import db, read
from app.base.fields import is_storable

from .filters import conditions
from .models import PrunedUsageEvent, UsageStream, record_columns
from .pages import fetch_page, select_rows


def take_positions(stream, count):
    """Reserve `count` positions; return the first. Holds the stream's row lock until commit, so
    take them as late as possible: writers of the stream wait for each other from here."""
    # On the session's connection, as read() runs: the ORM's execute costs more than this statement.
    connection = db.session.connection()
    returned = [UsageStream.last_id]
    if connection.dialect.name == "postgresql":
        # The partitions the positions fall in (migration 0018), made in the same statement if missing.
        returned.append(func.usage_partitions_ensure(stream, UsageStream.last_id - count + 1, UsageStream.last_id))
    last = connection.execute(
        update(UsageStream).where(UsageStream.name == stream).values(last_id=UsageStream.last_id + count)
        .returning(*returned)
    ).first()[0]
    return last - count + 1


def lock_stream(stream):
    """Take the stream's row lock (until commit) without taking positions: nobody else may change the
    stream meanwhile. On SQLite, whose writers take turns, it takes the database's write lock."""
    take_positions(stream, 0)


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


@cache
def _window_statement(model, with_cursor):
    """The stream's bounds, and with_cursor the position of the event :guid (kept, or pruned since).

    Built once per stream: the statements of a poll are the same every time but for their values.
    """
    columns = [UsageStream.horizon, UsageStream.last_id]
    if with_cursor:
        guid = bindparam("guid")
        columns += [
            select(model.id).where(model.guid == guid).scalar_subquery(),
            select(PrunedUsageEvent.id)
            .where(PrunedUsageEvent.stream == model.__tablename__, PrunedUsageEvent.guid == guid)
            .scalar_subquery(),
        ]
    return select(*columns).where(UsageStream.name == model.__tablename__)


class UnknownCursor(ValueError):
    """An after_guid the stream never held (or held before a purge): each dialect says so its own way."""


def window_after(model, after_guid=None):
    """The rows of `model`'s stream after the event `after_guid` (also one pruned since; None: from the
    start), counted without a scan; UnknownCursor for a guid the stream never held.

    One statement reads the stream's bounds and the cursor's position: a tail poll is two queries.
    """
    if after_guid is not None and not is_storable(after_guid):
        raise UnknownCursor(after_guid)
    with_cursor = after_guid is not None
    parameters = {"guid": after_guid} if with_cursor else {}
    stream = read(_window_statement(model, with_cursor), parameters).one()
    after = 0
    if with_cursor:
        after = stream[2] if stream[2] is not None else stream[3]
        if after is None:
            raise UnknownCursor(after_guid)
    kept = 0
    if after + 1 < stream.horizon:
        kept = read(
            select(func.count()).select_from(model).where(model.id > after, model.id < stream.horizon)
        ).scalar_one()
    return Window(after, stream.horizon, stream.last_id, kept)


def by_time(model):
    """v3's order_by=created_at: the events' own times, guid breaking ties (CC's order). Imports and
    followers keep each event's time, so it can differ from the cursor order."""
    return (model.created_at, model.guid)


def stream_page(model, after_guid, filters, columns, page, order=None):
    """(total, Rows) of the `page` of `model`'s stream after `after_guid` meeting `filters` (filters.py,
    on `columns`), in `order` (columns; None: cursor order), or reversed. Unfiltered, the total is
    arithmetic on positions, and so are the rows in cursor order.

    after_guid always cuts the stream in cursor order; `order` only sorts what follows the cut.
    """
    window = window_after(model, after_guid)
    if filters:
        where = [model.id > window.after, *conditions(filters, columns)]
        return fetch_page(model, where, order or (model.id,), page)
    if order:
        # Bounded by the window's last id, as page_rows is: the page never holds rows its total did not count.
        where = [model.id > window.after, model.id <= window.last_id]
        return window.total, (select_rows(model, where, order, page) if page.offset < window.total else [])
    return window.total, page_rows(model, window, page.offset, page.limit, page.descending)


def page_rows(model, window, offset, limit, descending):
    """The `limit` rows at `offset` in the window, in cursor order or reversed; each an index range.

    Rows are bounded by the window's last id, so a page never holds rows its total did not count.
    """
    if offset >= window.total:
        return []
    below_horizon = (window.after + 1, window.horizon - 1)
    run = (window.run_start, window.last_id)
    if not descending:
        if offset < window.kept:
            rows = _rows(model, below_horizon, False, limit, offset)
            if len(rows) == limit:
                return rows
            return rows + _rows(model, run, False, limit - len(rows), 0)
        return _rows(model, (window.run_start + offset - window.kept, window.last_id), False, limit, 0)
    in_run = window.total - window.kept
    if offset < in_run:
        rows = _rows(model, (window.run_start, window.last_id - offset), True, limit, 0)
        if len(rows) == limit or not window.kept:
            return rows
        return rows + _rows(model, below_horizon, True, limit - len(rows), 0)
    return _rows(model, below_horizon, True, limit, offset - in_run)


@cache
def _rows_statement(model, descending):
    order = model.id.desc() if descending else model.id.asc()
    return (select(*record_columns(model))
            .where(model.id >= bindparam("first"), model.id <= bindparam("last"))
            .order_by(order).limit(bindparam("limit")).offset(bindparam("offset")))


def _rows(model, positions, descending, limit, offset):
    """Up to `limit` rows with positions in [first, last], from `offset` in the order asked."""
    first, last = positions
    parameters = {"first": first, "last": last, "limit": limit, "offset": offset}
    return read(_rows_statement(model, descending), parameters).all()
