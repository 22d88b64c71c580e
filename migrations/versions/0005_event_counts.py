"""Audit event counts by type and day, and by type and space or organization, kept by triggers.

Triggers keep the counts exact whatever writes or deletes events (the write API, the import and
prune commands, an operator's SQL, a bulk COPY): on PostgreSQL one statement-level trigger per
statement, from its transition table; on SQLite a row-level one. Existing events are counted here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The counts one set of events adds, as (table, key columns, SELECT producing keys and n from `source`).
# Rows are produced in key order, so concurrent writers lock count rows in the same order.
POSTGRESQL_DELTAS = (
    ("event_counts_by_day", "type, day",
     "SELECT type, (timestamp AT TIME ZONE 'UTC')::date, count(*) FROM {source} GROUP BY 1, 2 ORDER BY 1, 2"),
    ("event_counts_by_target", "target_type, target_guid, type",
     "SELECT * FROM (SELECT 'space', space_guid, type, count(*) FROM {source} WHERE space_guid IS NOT NULL"
     " GROUP BY 2, 3 UNION ALL SELECT 'organization', organization_guid, type, count(*) FROM {source}"
     " WHERE organization_guid IS NOT NULL GROUP BY 2, 3) AS delta ORDER BY 1, 2, 3"),
)
POSTGRESQL_TRIGGERS = """
CREATE FUNCTION event_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {add}
  RETURN NULL;
END $$;
CREATE FUNCTION event_counts_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {subtract}
  RETURN NULL;
END $$;
CREATE FUNCTION event_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_counts_by_day;
  DELETE FROM event_counts_by_target;
  RETURN NULL;
END $$;
CREATE TRIGGER event_counts_on_insert AFTER INSERT ON events REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION event_counts_add();
CREATE TRIGGER event_counts_on_delete AFTER DELETE ON events REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION event_counts_subtract();
CREATE TRIGGER event_counts_on_truncate AFTER TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION event_counts_clear();
"""


def _postgresql_upserts(source, sign):
    return "\n  ".join(
        f"INSERT INTO {table} AS c ({keys}, n) {select.format(source=source)}"
        f" ON CONFLICT ({keys}) DO UPDATE SET n = c.n {sign} excluded.n;"
        for table, keys, select in POSTGRESQL_DELTAS
    )


# SQLite: one row at a time. ("WHERE true" lets SQLite read ON CONFLICT as the upsert clause.)
SQLITE_TRIGGER = """
CREATE TRIGGER event_counts_on_{verb} AFTER {verb} ON events BEGIN
  INSERT INTO event_counts_by_day (type, day, n) SELECT {row}.type, date({row}.timestamp), {sign}1 WHERE true
    ON CONFLICT (type, day) DO UPDATE SET n = n {sign} 1;
  INSERT INTO event_counts_by_target (target_type, target_guid, type, n)
    SELECT 'space', {row}.space_guid, {row}.type, {sign}1 WHERE {row}.space_guid IS NOT NULL
    ON CONFLICT (target_type, target_guid, type) DO UPDATE SET n = n {sign} 1;
  INSERT INTO event_counts_by_target (target_type, target_guid, type, n)
    SELECT 'organization', {row}.organization_guid, {row}.type, {sign}1 WHERE {row}.organization_guid IS NOT NULL
    ON CONFLICT (target_type, target_guid, type) DO UPDATE SET n = n {sign} 1;
END
"""


def upgrade():
    op.create_table(
        "event_counts_by_day",
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("type", "day", name="pk_event_counts_by_day"),
    )
    op.create_table(
        "event_counts_by_target",
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_guid", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("target_type", "target_guid", "type", name="pk_event_counts_by_target"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_TRIGGERS.format(add=_postgresql_upserts("changed", "+"),
                                              subtract=_postgresql_upserts("changed", "-")))
        for table, keys, select in POSTGRESQL_DELTAS:
            op.execute(f"INSERT INTO {table} ({keys}, n) {select.format(source='events')}")
    else:
        op.execute(SQLITE_TRIGGER.format(verb="insert", row="NEW", sign="+"))
        op.execute(SQLITE_TRIGGER.format(verb="delete", row="OLD", sign="-"))
        op.execute("INSERT INTO event_counts_by_day (type, day, n) SELECT type, date(timestamp), count(*)"
                   " FROM events GROUP BY 1, 2")
        for target in ("space", "organization"):
            op.execute(f"INSERT INTO event_counts_by_target (target_type, target_guid, type, n)"
                       f" SELECT '{target}', {target}_guid, type, count(*) FROM events"
                       f" WHERE {target}_guid IS NOT NULL GROUP BY 2, 3")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("insert", "delete", "truncate"):
            op.execute(f"DROP TRIGGER event_counts_on_{trigger} ON events")
        for function in ("add", "subtract", "clear"):
            op.execute(f"DROP FUNCTION event_counts_{function}()")
    else:
        op.execute("DROP TRIGGER event_counts_on_insert")
        op.execute("DROP TRIGGER event_counts_on_delete")
    op.drop_table("event_counts_by_target")
    op.drop_table("event_counts_by_day")
