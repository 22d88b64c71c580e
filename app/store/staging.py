"""Writing a large batch to PostgreSQL by COPY: new audit events go straight to their table; a batch that
meets a stored guid, and usage events (numbered under their stream's lock), go to a temporary table of the
session, then to the store in one INSERT … SELECT. Either fires each trigger (counts, known resources) once.

COPY parses rows many times faster than an INSERT of bound values, and the staging table lives as
long as the pooled connection, so each batch only empties it. The writer (writes.py) keeps every rule
it has for the rows: idempotence by guid, positions of a usage stream in commit order.
"""
import io
import re
from functools import cache

import psycopg2
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.base.codec import encode_json
from app.base.extensions import db

# From this many rows a batch is copied; a smaller one is one INSERT of values.
COPY_FROM_ROWS = 50
# COPY text: what its reader takes for an escape, a field's end or a line's end, and how each is written.
ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
SPECIAL = re.compile("[\\\\\n\r\t]")


@cache
def _columns(model):
    """(attribute, table column, kind) of every column a write sets, in the table's order; no id."""
    mapper = inspect(model)
    return tuple((attr.key, attr.columns[0].name, attr.columns[0].type.__class__.__name__)
                 for attr in mapper.column_attrs if attr.key != "id")


def _json_text(value):
    return encode_json(value).decode().translate(ESCAPES)


@cache
def _line_writer(model):
    """A function from a row (attribute -> value) to its line of COPY text, compiled for the model's columns:
    one join a row instead of a call a value."""
    expressions = []
    for number, (name, _, kind) in enumerate(_columns(model)):
        if kind == "JSON":
            convert = "_json(v{n})"
        elif kind in ("UTCDateTime", "DateTime", "Date"):
            convert = "v{n}.isoformat()"
        elif kind in ("Integer", "BigInteger"):
            convert = "str(v{n})"
        else:
            # Most texts (guids, names, types) hold nothing to escape, and a search is cheaper than a copy.
            convert = "(v{n}.translate(ESCAPES) if _special(v{n}) else v{n})"
        expressions.append((name, convert.format(n=number)))
    lines = [f"    v{n} = row.get({name!r})" for n, (name, _) in enumerate(expressions)]
    values = ", ".join(f"(NULL if v{n} is None else {convert})" for n, (_, convert) in enumerate(expressions))
    source = "def line(row):\n" + "\n".join(lines) + f"\n    return TAB.join(({values})) + NEWLINE\n"
    namespace = {"_json": _json_text, "ESCAPES": ESCAPES, "_special": SPECIAL.search, "NULL": "\\N", "TAB": "\t",
                 "NEWLINE": "\n"}
    exec(compile(source, f"<COPY line of {model.__tablename__}>", "exec"), namespace)  # noqa: S102
    return namespace["line"]


def _value_text(value):
    if value is None:
        return "\\N"
    return value.translate(ESCAPES) if value.__class__ is str else str(value)


def values_line(values):
    """A row of ints, dates and texts (None: NULL), in its columns' order, as a line of COPY text (for rows
    that are not a model's, as the usage fold writes them)."""
    # Guids and names seldom hold a character COPY reads specially: a row is searched once, not each text.
    if SPECIAL.search("".join([value for value in values if value.__class__ is str])):
        return "\t".join(map(_value_text, values)) + "\n"
    return "\t".join(["\\N" if value is None else value if value.__class__ is str else str(value)
                      for value in values]) + "\n"


def _staging_table(model):
    return f"staging_{model.__tablename__}"


def copy_text(connection, statement, text):
    """Run `statement` (COPY ... FROM STDIN) with `text` on `connection`, its errors wrapped as SQLAlchemy's."""
    cursor = connection.connection.cursor()
    try:
        # In one piece: psycopg2 reads the file holding the GIL, a piece at a time, and the importer's parsing
        # thread, which holds the GIL for up to 5 ms between switches, starved the COPY of pieces.
        cursor.copy_expert(statement, io.StringIO(text), size=max(len(text), 8192))
    except psycopg2.Error as error:
        # As SQLAlchemy wraps what it runs itself: a lost connection is an outage (503), a deadlock
        # tried again, a value too long a DataError.
        raise DBAPIError.instance(statement, None, error, psycopg2.Error) from error
    finally:
        cursor.close()


def copy_lines(model, rows):
    """`rows` as lines of COPY text, made once whichever way they go (straight, or staged)."""
    line = _line_writer(model)
    return [line(row) for row in rows]


def copy_rows(model, lines):
    """Empty the session's staging table for `model` (made when first needed) and COPY `lines` into it,
    numbered by their order (ord)."""
    table, columns = _staging_table(model), ", ".join(c for _, c, _ in _columns(model))
    connection = db.session.connection()
    connection.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {table} AS SELECT {columns}, 0 AS ord"
                               f" FROM {model.__tablename__} WITH NO DATA")
    connection.exec_driver_sql(f"TRUNCATE {table}")
    numbered = "".join([f"{line[:-1]}\t{number}\n" for number, line in enumerate(lines)])
    copy_text(connection, f"COPY {table} ({columns}, ord) FROM STDIN", numbered)


def copy_new(model, lines):
    """COPY `lines` straight into `model`'s table, if none of their guids is stored: whether it did.

    The common case of an import or a batched write (new events) costs one COPY, a quarter less work for
    PostgreSQL than staging them and inserting from there; a batch that meets a stored guid is undone to a
    savepoint, and the caller stages it instead, to sort replays from conflicts. (A follower's page, which
    begins where the last one ended, meets a stored guid in its first rows: the COPY stops there, cheaply.)
    """
    columns = ", ".join(c for _, c, _ in _columns(model))
    try:
        with db.session.begin_nested():
            copy_text(db.session.connection(), f"COPY {model.__tablename__} ({columns}) FROM STDIN",
                  "".join(lines))
    except IntegrityError:
        return False
    return True


def insert_copied(model, lines):
    """Stage `lines` and insert those whose guid is not stored; the guids inserted. (A guid that another writer
    stores meanwhile makes the INSERT fail, the events' guid claims being unique: the writer tries again.)"""
    copy_rows(model, lines)
    columns = ", ".join(c for _, c, _ in _columns(model))
    table = model.__tablename__
    inserted = db.session.connection().exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {_staging_table(model)} s"
        f" WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.guid = s.guid) ORDER BY ord RETURNING guid")
    return [guid for (guid,) in inserted]


def insert_staged(model, first_id):
    """Insert the staged rows with ids from `first_id` on, in their order."""
    columns = ", ".join(c for _, c, _ in _columns(model))
    db.session.connection().exec_driver_sql(
        f"INSERT INTO {model.__tablename__} (id, {columns})"
        f" SELECT %(first)s + ord, {columns} FROM {_staging_table(model)} ORDER BY ord", {"first": first_id})
