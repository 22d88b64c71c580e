"""Pages of rows, whatever the dialect: which rows a page holds, and the query that reads them; and one
record by its guid."""
from typing import NamedTuple

from sqlalchemy import func, select

from app.base.extensions import db, read
from app.base.fields import is_storable

from .models import record_columns


class PageRequest(NamedTuple):
    """`limit` rows from `offset`, in the order's direction or reversed (`descending`)."""

    offset: int
    limit: int
    descending: bool = False


def count_rows(model, conditions):
    return read(select(func.count()).select_from(model).where(*conditions)).scalar_one()


def fetch_page(model, conditions, order_columns, page):
    """(total, Rows of the page) among the rows of `model` meeting `conditions`, counted exactly."""
    total = count_rows(model, conditions)
    # A page past the end needs no query (and an enormous page number must not reach SQL as an OFFSET).
    if page.offset >= total:
        return total, []
    return total, select_rows(model, conditions, order_columns, page)


def select_rows(model, conditions, order_columns, page, offset=None):
    """The page's Rows, from `offset` (the page's own by default) in the order asked."""
    offset = page.offset if offset is None else offset
    statement = (
        select(*record_columns(model))
        .where(*conditions)
        .order_by(*(column.desc() if page.descending else column.asc() for column in order_columns))
        .limit(page.limit)
    )
    if offset:
        statement = statement.offset(offset)
    return read(statement).all()


def find_visible(model, guid, visible):
    """(the record `guid` of `model` or None, whether it meets `visible`), in one query, so that each
    dialect reveals a record's existence only as it means to (v2: 403 for a hidden one; v3: 404)."""
    found = is_storable(guid) and db.session.execute(
        select(model, visible.label("visible")).where(model.guid == guid)).first()
    return (found[0], bool(found.visible)) if found else (None, False)
