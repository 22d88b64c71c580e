"""Audit events in monthly partitions (PostgreSQL): a write touches one month's table and indexes, and retention
drops whole months.

The key is the event's `timestamp`, the time v2 and v1 list in: a page in that order is an ordered Append that
opens one partition after another, and prune's cutoff is a timestamp. A month is what GitLab uses for its
audit_events: about a million rows a month on a busy foundation, small enough for a partition's indexes to stay
in memory, few enough (twelve a year) that a query over all of them plans fast. There is no DEFAULT partition:
one would stop PostgreSQL from reading the partitions in order. Partitions are made when first written to
(`event_partitions_ensure`, called by every writer with the months of its batch).

Guids stay unique across partitions through `event_guids`, a claim per stored guid kept by triggers. A partition
that retention detaches leaves its claims behind, free to be taken again: a claim names the partition (by oid)
its event was stored in, and a claim whose partition is no longer attached is stale. Prune forgets them after.

An existing store is converted here, month by month, each month its own transaction: a conversion killed
halfway resumes with the months not yet done, and loses or doubles nothing. Writes must wait for it (README:
"Upgrading to partitioned events"). SQLite keeps its one table.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""
import sys

import click
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OLD = "events_unpartitioned"
# A partition's name and bounds, from any time in its month (UTC).
FUNCTIONS = r"""
CREATE FUNCTION event_partition_name(moment timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT 'events_' || to_char(moment AT TIME ZONE 'UTC', '"y"YYYY"m"MM') $$;

-- Make the partitions of the months of `moments` that are missing. Writers call it with their batch's times;
-- the advisory lock lets one writer at a time make partitions (one that waited finds them made).
CREATE FUNCTION event_partitions_ensure(moments timestamptz[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  month timestamp;
  name text;
  locked boolean := false;
  schema oid := current_schema()::regnamespace;
BEGIN
  FOR month IN SELECT DISTINCT date_trunc('month', m AT TIME ZONE 'UTC') FROM unnest(moments) AS m ORDER BY 1 LOOP
    name := event_partition_name(month AT TIME ZONE 'UTC');
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class WHERE relname = name AND relnamespace = schema);
    IF NOT locked THEN
      PERFORM pg_advisory_xact_lock(hashtext('event_partitions_ensure'));
      locked := true;
      CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class WHERE relname = name AND relnamespace = schema);
    END IF;
    -- CREATE TABLE … PARTITION OF would lock every reader of events out until this transaction ends; ATTACH
    -- only keeps other partitions from being attached or detached meanwhile.
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', name);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name,
                   month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
  END LOOP;
END $$;

-- A new event claims its guid. A claim is taken again only if its partition was detached (pruned); otherwise
-- the write fails as a duplicate, and the writer (writes.py) finds the stored event and compares.
CREATE FUNCTION event_guids_claim() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  claimed bigint;
BEGIN
  INSERT INTO event_guids AS g (guid, "timestamp", partition)
  SELECT c.guid, c."timestamp", p.oid FROM changed c
  JOIN pg_class p ON p.relname = event_partition_name(c."timestamp") AND p.relnamespace = current_schema()::regnamespace
  ORDER BY c.guid
  ON CONFLICT (guid) DO UPDATE SET "timestamp" = excluded."timestamp", partition = excluded.partition
  WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = g.partition);
  GET DIAGNOSTICS claimed = ROW_COUNT;
  IF claimed < (SELECT count(*) FROM changed) THEN
    RAISE unique_violation USING MESSAGE = 'an event with this guid is stored already',
      CONSTRAINT = 'event_guids_pkey';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION event_guids_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_guids g USING changed c WHERE g.guid = c.guid;
  RETURN NULL;
END $$;

CREATE FUNCTION event_guids_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE event_guids;
  RETURN NULL;
END $$;
"""
CLAIM_TRIGGERS = """
CREATE TRIGGER event_guids_on_insert AFTER INSERT ON events REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION event_guids_claim();
CREATE TRIGGER event_guids_on_delete AFTER DELETE ON events REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION event_guids_forget();
CREATE TRIGGER event_guids_on_truncate AFTER TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION event_guids_clear();
"""


def exists(connection, relation):
    return connection.exec_driver_sql("SELECT to_regclass(%s) IS NOT NULL", (relation,)).scalar()


def is_partitioned(connection, table):
    return connection.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", (table,)).scalar()


def set_aside(connection, table, key, primary_key):
    """Rename the plain `table`, its indexes and triggers out of the way (to `table`_unpartitioned), and make a
    table partitioned by range of `key` in its place, with the same columns, indexes and triggers; its primary key
    (`primary_key`: it must hold the key) keeps its name, and the unique index of guids becomes a plain one (the
    caller keeps guids unique). Migration 0018 does the same to the usage events."""
    old = f"{table}_unpartitioned"
    triggers = connection.exec_driver_sql(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
        (table,)).all()
    indexes = connection.exec_driver_sql(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary, i.indisunique FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass ORDER BY c.relname", (table,)).all()
    connection.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _ in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name} ON {old}")
    for name, *_ in indexes:
        connection.exec_driver_sql(f'ALTER INDEX "{name}" RENAME TO "{name}_old"')
    connection.exec_driver_sql(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})")
    comment = connection.exec_driver_sql("SELECT obj_description(%s::regclass, 'pg_class')", (old,)).scalar()
    if comment is not None:  # what tools mark a table with (the bench marks its data sets so)
        connection.exec_driver_sql(f"COMMENT ON TABLE {table} IS %s", (comment,))
    for name, definition, primary, unique in indexes:
        if primary:
            connection.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({primary_key})")
        elif not unique:
            connection.exec_driver_sql(definition)
    connection.exec_driver_sql(f"CREATE INDEX ix_{table}_guid ON {table} (guid)")
    for _, definition in triggers:
        connection.exec_driver_sql(definition)


def _set_aside(connection):
    set_aside(connection, "events", '"timestamp"', 'id, "timestamp"')
    # The ids go on from the same sequence, which must outlive the old table.
    connection.exec_driver_sql("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    connection.exec_driver_sql('CREATE TABLE event_guids (guid varchar(255) PRIMARY KEY,'
                               ' "timestamp" timestamptz NOT NULL, partition oid NOT NULL)')
    connection.exec_driver_sql(FUNCTIONS.replace("%", "%%"))  # format()'s, not parameters
    connection.exec_driver_sql(CLAIM_TRIGGERS)


def _months(connection):
    """The first moment of each UTC month the old table holds events of, by its timestamp index (no scan)."""
    months = []
    month = connection.exec_driver_sql(
        f"SELECT date_trunc('month', min(\"timestamp\") AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM {OLD}").scalar()
    while month is not None:
        months.append(month)
        month = connection.exec_driver_sql(
            f"SELECT date_trunc('month', min(\"timestamp\") AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM {OLD}"
            " WHERE \"timestamp\" >= %s::timestamptz + interval '1 month'", (month,)).scalar()
    return months


def _move(engine):
    """Copy the old table's events into their partitions, a month a transaction, skipping months done."""
    with engine.connect() as connection:
        months = _months(connection)
        rows = connection.exec_driver_sql(f"SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = '{OLD}'"
                                          ).scalar()
    with click.progressbar(length=rows, label="partitioning audit events", file=sys.stderr) as bar:
        for month in months:
            with engine.begin() as connection:
                bar.update(_move_month(connection, month))


def _move_month(connection, month):
    """Move one month's events into its partition; how many it moved."""
    name = connection.exec_driver_sql("SELECT event_partition_name(%s)", (month,)).scalar()
    in_month = "\"timestamp\" >= %(month)s AND \"timestamp\" < %(month)s::timestamptz + interval '1 month'"
    if exists(connection, name):
        # Moved by a conversion stopped later, or made by a write meanwhile: add what it lacks, by id.
        moved = connection.exec_driver_sql(
            f"INSERT INTO {name} SELECT * FROM {OLD} o WHERE {in_month}"
            f" AND NOT EXISTS (SELECT 1 FROM {name} p WHERE p.id = o.id)", {"month": month}).rowcount
        connection.exec_driver_sql(f"INSERT INTO event_guids SELECT guid, \"timestamp\", '{name}'::regclass FROM {name}"
                                   " ON CONFLICT (guid) DO NOTHING")
        return moved
    # Filled before it is attached: no trigger of events fires (the counts hold these rows already), and its
    # indexes are built once, at the attach, not grown row by row.
    connection.exec_driver_sql(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)")
    moved = connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {OLD} WHERE {in_month}",
                                       {"month": month}).rowcount
    connection.exec_driver_sql(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM (%(month)s)"
                               f" TO (%(month)s::timestamptz + interval '1 month')", {"month": month})
    connection.exec_driver_sql(f"INSERT INTO event_guids SELECT guid, \"timestamp\", '{name}'::regclass FROM {name}")
    return moved


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    if not is_partitioned(connection, "events"):
        _set_aside(connection)
    elif not exists(connection, OLD):
        return
    # The rest runs in transactions of its own, a month each, on a connection of its own.
    with op.get_context().autocommit_block():
        engine = sa.create_engine(connection.engine.url)
        try:
            _move(engine)
            with engine.begin() as done:
                done.exec_driver_sql(f"DROP TABLE {OLD}")
                done.exec_driver_sql("SELECT event_partitions_ensure(ARRAY[now(), now() + interval '1 month'])")
                done.exec_driver_sql("ANALYZE events")  # the partitioned table's own statistics, for the planner
        finally:
            engine.dispose()


def downgrade():
    raise NotImplementedError("partitioned audit events are not converted back")
