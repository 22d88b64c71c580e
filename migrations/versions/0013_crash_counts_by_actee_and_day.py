"""Counts of crashes by actee and UTC day, for the console's "apps with the most crashes".

/v3/audit_event_stats/top_targets ranks targets by their events of some types over a range of days. Read
from the events, it walked every crash of the range: seconds at ten million events. Kept here by triggers,
like the other counts (migrations 0005, 0009, 0010), for the crash types alone, so that no other write
pays for them; the ranking of other types is still read from the events. The actee's name is part of the
key, so that the counts give the same name (the greatest) as the events did.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = "event_counts_by_actee_day"
KEY = "type, day, actee, actee_type, actee_name"
# As models.CRASH_TYPES says today (a migration keeps the list it was written with).
TYPES = "('app.crash', 'audit.app.process.crash')"
POSTGRESQL_DAY = "(timestamp AT TIME ZONE 'UTC')::date"


def _deltas(source):
    """The (key, n) that the events of `source` add (PostgreSQL), in key order: writers lock rows alike."""
    return (f"SELECT type, {POSTGRESQL_DAY}, actee, actee_type, actee_name, count(*) FROM {source}"
            f" WHERE type IN {TYPES} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")


def _postgresql_fold(source, sign):
    return (f"INSERT INTO {TABLE} AS c ({KEY}, n) {_deltas(source)}"
            f" ON CONFLICT ({KEY}) DO UPDATE SET n = c.n {sign} excluded.n")


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("actee", sa.String(255), nullable=False),
        sa.Column("actee_type", sa.String(255), nullable=False),
        sa.Column("actee_name", sa.String(255), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("type", "day", "actee", "actee_type", "actee_name", name=f"pk_{TABLE}"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for verb, name, sign, rows in (("INSERT", "add", "+", "NEW"), ("DELETE", "subtract", "-", "OLD")):
            op.execute(f"CREATE FUNCTION {TABLE}_{name}() RETURNS trigger LANGUAGE plpgsql AS $$"
                       f" BEGIN {_postgresql_fold('changed', sign)}; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER {TABLE}_on_{verb.lower()} AFTER {verb} ON events"
                       f" REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_{name}()")
        op.execute(f"CREATE FUNCTION {TABLE}_clear() RETURNS trigger LANGUAGE plpgsql AS $$"
                   f" BEGIN DELETE FROM {TABLE}; RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER {TABLE}_on_truncate AFTER TRUNCATE ON events"
                   f" FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_clear()")
        op.execute(_postgresql_fold("events", "+"))
    else:
        # One row at a time; the day from the stored UTC text, as migration 0006's.
        for verb, row, sign in (("insert", "NEW", "+"), ("delete", "OLD", "-")):
            op.execute(f"CREATE TRIGGER {TABLE}_on_{verb} AFTER {verb.upper()} ON events"
                       f" WHEN {row}.type IN {TYPES} BEGIN"
                       f" INSERT INTO {TABLE} ({KEY}, n) VALUES ({row}.type, substr({row}.timestamp, 1, 10),"
                       f" {row}.actee, {row}.actee_type, {row}.actee_name, {sign}1)"
                       f" ON CONFLICT ({KEY}) DO UPDATE SET n = n {sign} 1; END")
        op.execute(f"INSERT INTO {TABLE} ({KEY}, n) SELECT type, substr(timestamp, 1, 10), actee, actee_type,"
                   f" actee_name, count(*) FROM events WHERE type IN {TYPES} GROUP BY 1, 2, 3, 4, 5")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for verb in ("insert", "delete", "truncate"):
            op.execute(f"DROP TRIGGER {TABLE}_on_{verb} ON events")
        for name in ("add", "subtract", "clear"):
            op.execute(f"DROP FUNCTION {TABLE}_{name}()")
    else:
        for verb in ("insert", "delete"):
            op.execute(f"DROP TRIGGER {TABLE}_on_{verb}")
    op.drop_table(TABLE)
