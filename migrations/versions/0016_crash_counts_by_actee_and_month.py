"""Crash counts by actee and UTC month, ranked within each month: the console's top crashing apps without a sum
over every app.

/v3/audit_event_stats/top_targets summed the counts by actee and day (migration 0013) of its whole window: a
row per app and day with a crash, millions over a year of a large foundation. The month's counts, indexed by
size, give each month's most crashing apps at once; an app in none of those lists has at most the sum of the
lists' last counts, so a window whose top apps crash more than that is ranked from a few dozen apps (stats.py).
No name in the key: a rename must not split an app into rows that each stay under a list's last count.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLE = "event_counts_by_actee_month"
KEY = "type, month, actee, actee_type"
# As models.CRASH_TYPES says today (a migration keeps the list it was written with).
TYPES = "('app.crash', 'audit.app.process.crash')"
POSTGRESQL_MONTH = "date_trunc('month', timestamp AT TIME ZONE 'UTC')::date"
SQLITE_MONTH = "substr({row}.timestamp, 1, 7) || '-01'"


def _deltas(source):
    """The (key, n) that the events of `source` add (PostgreSQL), in key order: writers lock rows alike."""
    return (f"SELECT type, {POSTGRESQL_MONTH}, actee, actee_type, count(*) FROM {source}"
            f" WHERE type IN {TYPES} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")


def _postgresql_fold(source, sign):
    return (f"INSERT INTO {TABLE} AS c ({KEY}, n) {_deltas(source)}"
            f" ON CONFLICT ({KEY}) DO UPDATE SET n = c.n {sign} excluded.n")


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("actee", sa.String(255), nullable=False),
        sa.Column("actee_type", sa.String(255), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("type", "month", "actee", "actee_type", name=f"pk_{TABLE}"),
    )
    # Read backwards: each month's most crashing first.
    op.create_index(f"ix_{TABLE}_ranked", TABLE, ["type", "month", "n"])
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
        # From the counts by day, which hold the same crashes a row per day.
        op.execute(f"INSERT INTO {TABLE} ({KEY}, n) SELECT type, date_trunc('month', day)::date, actee, actee_type,"
                   f" sum(n) FROM event_counts_by_actee_day GROUP BY 1, 2, 3, 4")
    else:
        for verb, row, sign in (("insert", "NEW", "+"), ("delete", "OLD", "-")):
            op.execute(f"CREATE TRIGGER {TABLE}_on_{verb} AFTER {verb.upper()} ON events"
                       f" WHEN {row}.type IN {TYPES} BEGIN"
                       f" INSERT INTO {TABLE} ({KEY}, n) VALUES ({row}.type, {SQLITE_MONTH.format(row=row)},"
                       f" {row}.actee, {row}.actee_type, {sign}1)"
                       f" ON CONFLICT ({KEY}) DO UPDATE SET n = n {sign} 1; END")
        op.execute(f"INSERT INTO {TABLE} ({KEY}, n) SELECT type, substr(day, 1, 7) || '-01', actee, actee_type,"
                   f" sum(n) FROM event_counts_by_actee_day GROUP BY 1, 2, 3, 4")


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
