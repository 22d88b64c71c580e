"""Writing a large batch to PostgreSQL by COPY: rows go to a temporary table of the session, then to
the store in one INSERT … SELECT, which fires each trigger (counts, known resources) once.

COPY parses rows many times faster than an INSERT of bound values, and the staging table lives as
long as the pooled connection, so each batch only empties it. The writer (writes.py) keeps every rule
it has for the rows: idempotence by guid, positions of a usage stream in commit order.
"""
import io
from functools import cache

from sqlalchemy import inspect

from .extensions import db
from .responses import encode_json

# From this many rows a batch is copied; a smaller one is one INSERT of values.
COPY_FROM_ROWS = 50
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


@cache
def _columns(model):
    """(attribute, table column, kind) of every column a write sets, in the table's order; no id."""
    mapper = inspect(model)
    return tuple((attr.key, attr.columns[0].name, attr.columns[0].type.__class__.__name__)
                 for attr in mapper.column_attrs if attr.key != "id")


def _text(value, kind):
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if kind == "JSON" or isinstance(value, dict | list):
        return encode_json(value).decode().translate(_ESCAPES)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


def _staging_table(model):
    return f"staging_{model.__tablename__}"


def copy_rows(model, rows):
    """Empty the session's staging table for `model` (made when first needed) and COPY `rows` into it,
    numbered by their order (ord)."""
    table, columns = _staging_table(model), _columns(model)
    cursor = db.session.connection().connection.cursor()
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} AS SELECT {', '.join(c for _, c, _ in columns)}, "
                   f"0 AS ord FROM {model.__tablename__} WITH NO DATA")
    cursor.execute(f"TRUNCATE {table}")
    buffer = io.StringIO()
    for number, row in enumerate(rows):
        buffer.write("\t".join(_text(row.get(name), kind) for name, _, kind in columns))
        buffer.write(f"\t{number}\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(c for _, c, _ in columns)}, ord) FROM STDIN", buffer)
    cursor.close()


def insert_copied(model, rows, conflict):
    """COPY `rows` and insert them, skipping those whose `conflict` column is stored already; the guids
    inserted."""
    copy_rows(model, rows)
    columns = ", ".join(c for _, c, _ in _columns(model))
    cursor = db.session.connection().connection.cursor()
    cursor.execute(f"INSERT INTO {model.__tablename__} ({columns}) SELECT {columns} FROM {_staging_table(model)}"
                   f" ORDER BY ord ON CONFLICT ({conflict}) DO NOTHING RETURNING guid")
    guids = [guid for (guid,) in cursor.fetchall()]
    cursor.close()
    return guids


def insert_staged(model, first_id):
    """Insert the staged rows with ids from `first_id` on, in their order."""
    columns = ", ".join(c for _, c, _ in _columns(model))
    cursor = db.session.connection().connection.cursor()
    cursor.execute(f"INSERT INTO {model.__tablename__} (id, {columns})"
                   f" SELECT %s + ord, {columns} FROM {_staging_table(model)} ORDER BY ord", (first_id,))
    cursor.close()
