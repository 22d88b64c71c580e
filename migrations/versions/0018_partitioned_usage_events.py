"""Usage events in partitions of a million positions (PostgreSQL): a write touches the newest partition, a tail poll
the last one or two, and retention drops whole ranges of positions.

The key is the position (id), the cursor order: after_guid, a page and a total are id ranges already, so every
read prunes to the partitions its range covers, and an ordered Append reads them in turn. Retention cuts the
stream at its oldest young event, which is a position too (the horizon), so the ranges below it go whole. The
width is the stream's `partition_width` (a million: about a month of a large foundation's app usage events).

Retention keeps the latest event of each running app or existing instance (SPEC 4.2) at its old position: the
events kept below the horizon live in one partition, `<stream>_kept`, covering every position below the first
range still attached (partitions.py rebuilds it when it drops a range).

Guids stay unique across partitions as audit events' do (migration 0017): a claim per stored guid in
`usage_guids`, kept by triggers, stale once its partition is detached. Ranges are made by the writer that takes
their first positions (`usage_partitions_ensure`), in its transaction, under the stream's lock.

An existing store is converted a range of positions a transaction, resumably. SQLite keeps its tables.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""
import importlib.util
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

STREAMS = ("app_usage_events", "service_usage_events")
WIDTH = 1_000_000


def _migration_0017():
    path = Path(__file__).with_name("0017_partitioned_events.py")
    spec = importlib.util.spec_from_file_location("migration_0017_partitioned_events", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCTIONS = r"""
CREATE FUNCTION usage_partition_name(stream text, k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT stream || '_p' || lpad(k::text, 6, '0') $$;

-- Make the missing ranges of the positions [first, last] and the range after them.
CREATE FUNCTION usage_partitions_ensure(stream text, first bigint, last bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  width bigint := (SELECT partition_width FROM usage_streams WHERE name = stream);
  schema oid := current_schema()::regnamespace;
  name text;
BEGIN
  FOR k IN first / width .. last / width + 1 LOOP
    name := usage_partition_name(stream, k);
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class WHERE relname = name AND relnamespace = schema);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', name, stream);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', stream, name, k * width,
                   (k + 1) * width);
  END LOOP;
END $$;

-- As event_guids_claim (migration 0017): a guid is claimed again only once its partition was detached.
CREATE FUNCTION usage_guids_claim() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  claimed bigint;
  width bigint := (SELECT partition_width FROM usage_streams WHERE name = TG_TABLE_NAME);
BEGIN
  INSERT INTO usage_guids AS g (stream, guid, partition)
  SELECT TG_TABLE_NAME, c.guid, i.inhrelid FROM changed c
  JOIN pg_class p ON p.relname = usage_partition_name(TG_TABLE_NAME, c.id / width)
   AND p.relnamespace = current_schema()::regnamespace
  JOIN pg_inherits i ON i.inhrelid = p.oid
  ORDER BY c.guid
  ON CONFLICT (stream, guid) DO UPDATE SET partition = excluded.partition
  WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = g.partition);
  GET DIAGNOSTICS claimed = ROW_COUNT;
  IF claimed < (SELECT count(*) FROM changed) THEN
    RAISE unique_violation USING MESSAGE = 'a usage event with this guid is stored already',
      CONSTRAINT = 'usage_guids_pkey';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION usage_guids_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM usage_guids g USING changed c WHERE g.stream = TG_TABLE_NAME AND g.guid = c.guid;
  RETURN NULL;
END $$;

CREATE FUNCTION usage_guids_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM usage_guids WHERE stream = TG_TABLE_NAME;
  RETURN NULL;
END $$;
"""
CLAIM_TRIGGERS = """
CREATE TRIGGER usage_guids_on_insert AFTER INSERT ON {t} REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_guids_claim();
CREATE TRIGGER usage_guids_on_delete AFTER DELETE ON {t} REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION usage_guids_forget();
CREATE TRIGGER usage_guids_on_truncate AFTER TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION usage_guids_clear();
"""


def _move(engine, stream, exists):
    """Copy the old table's events into their ranges, a range a transaction, skipping ranges done."""
    old = f"{stream}_unpartitioned"
    with engine.connect() as connection:
        last = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {old}").scalar()
        width = connection.exec_driver_sql("SELECT partition_width FROM usage_streams WHERE name = %s",
                                           (stream,)).scalar()
    # An empty stream gets its first range from its first writer (usage_partitions_ensure).
    ranges = range(last // width + 1 if last else 0)
    with click.progressbar(ranges, label=f"partitioning {stream}", file=sys.stderr) as ranges:
        for k in ranges:
            with engine.begin() as connection:
                name = connection.exec_driver_sql("SELECT usage_partition_name(%s, %s)", (stream, k)).scalar()
                bounds = {"low": k * width, "high": (k + 1) * width}
                in_range = "id >= %(low)s AND id < %(high)s"
                if exists(connection, name):
                    # Moved by a conversion stopped later, or made by a write meanwhile: add what it lacks.
                    connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {old} o WHERE {in_range}"
                                               f" AND NOT EXISTS (SELECT 1 FROM {name} p WHERE p.id = o.id)", bounds)
                    conflict = " ON CONFLICT (stream, guid) DO NOTHING"
                else:
                    # Filled before it is attached (no trigger fires; indexes built once, at the attach).
                    connection.exec_driver_sql(f"CREATE TABLE {name} (LIKE {stream} INCLUDING DEFAULTS)")
                    connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {old} WHERE {in_range}", bounds)
                    connection.exec_driver_sql(f"ALTER TABLE {stream} ATTACH PARTITION {name}"
                                               f" FOR VALUES FROM (%(low)s) TO (%(high)s)", bounds)
                    conflict = ""
                connection.exec_driver_sql(f"INSERT INTO usage_guids SELECT '{stream}', guid, '{name}'::regclass"
                                           f" FROM {name}{conflict}")


def upgrade():
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    earlier = _migration_0017() if postgresql else None
    if not postgresql or not earlier.exists(connection, "usage_guids"):
        # On SQLite too, so that the models say one thing (SQLite does not partition).
        op.add_column("usage_streams", sa.Column("partition_width", sa.BigInteger(), nullable=False,
                                                 server_default=str(WIDTH)))
    if not postgresql:
        return
    if not earlier.exists(connection, "usage_guids"):
        connection.exec_driver_sql("CREATE TABLE usage_guids (stream varchar(64), guid varchar(255),"
                                   " partition oid NOT NULL, PRIMARY KEY (stream, guid))")
        connection.exec_driver_sql(FUNCTIONS.replace("%", "%%"))  # format()'s, not parameters
    for stream in STREAMS:
        if not earlier.is_partitioned(connection, stream):
            earlier.set_aside(connection, stream, "id", "id")
            connection.exec_driver_sql(CLAIM_TRIGGERS.format(t=stream))
    with op.get_context().autocommit_block():
        engine = sa.create_engine(connection.engine.url)
        try:
            for stream in STREAMS:
                with engine.connect() as looking:
                    unfinished = earlier.exists(looking, f"{stream}_unpartitioned")
                if unfinished:
                    _move(engine, stream, earlier.exists)
                    with engine.begin() as done:
                        done.exec_driver_sql(f"DROP TABLE {stream}_unpartitioned")
                        done.exec_driver_sql(f"ANALYZE {stream}")
        finally:
            engine.dispose()


def downgrade():
    raise NotImplementedError("partitioned usage events are not converted back")
