"""Connection handling: SQLite made to behave like a real transactional store, and stale connections
found before a request uses them."""
import json
import sqlite3
import time

import orjson
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from .codec import may_hold_long_integer

# A connection back in the pool for longer than this is pinged before it is handed out again.
# (SQLAlchemy's pool_pre_ping pings on every checkout: a round trip and a transaction, which cost
# more than the rest of a tail poll.) A connection that died while in busy use is found by the
# request using it, which answers 503; SQLAlchemy then drops the whole pool, so the next request
# connects afresh.
PING_AFTER_IDLE_SECONDS = 2.0


def load_stored_json(text):
    """Decode a stored JSON column: with orjson, several times faster than json for the metadata of
    every listed event; with json when it may hold an integer orjson would round."""
    if may_hold_long_integer(text):
        return json.loads(text)
    return orjson.loads(text)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # pysqlite opens transactions lazily and never for SAVEPOINT; let SQLAlchemy emit BEGIN itself
    # (below) so that transactions and savepoints mean what they say.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer writes; busy_timeout makes writers queue, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection):
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")



@event.listens_for(Engine, "checkin")
def _note_idle_since(dbapi_connection, connection_record):
    connection_record.info["idle_since"] = time.monotonic()


@event.listens_for(Engine, "checkout")
def _ping_if_idle(dbapi_connection, connection_record, connection_proxy):
    idle_since = connection_record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # leave no transaction open on the connection
    except Exception as error:
        # The pool discards this connection and checks out (or opens) another.
        raise exc.DisconnectionError(str(error)) from error
