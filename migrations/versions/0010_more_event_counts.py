"""Counts by actee, actor and actor name too, and each day's lowest and highest event id.

v3 filters audit events by target (cf CLI's `cf events APP`) and by actor; their totals come from
counts like those by space and organization, not from a COUNT over millions of rows. v3 lists in
insertion (id) order by default: a time range there is helped by the ids its days hold (an event of a
day has an id between the day's first_id and last_id, which deletes only make wider), so the page
starts its walk of the ids where the range does.

The triggers of migrations 0005 (PostgreSQL) and 0006 (SQLite) are replaced by these.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Every column an event is counted by, besides its type and day: (target_type, column).
TARGETS = (("space", "space_guid"), ("organization", "organization_guid"), ("actee", "actee"), ("actor", "actor"),
           ("actor_name", "actor_name"))
OLD_TARGETS = TARGETS[:2]


def _target_deltas(source, targets):
    parts = " UNION ALL ".join(
        f"SELECT '{kind}', {column}, type, count(*) FROM {source} WHERE {column} IS NOT NULL GROUP BY 2, 3"
        for kind, column in targets)
    return f"SELECT * FROM ({parts}) AS delta ORDER BY 1, 2, 3"


def _postgresql_functions(targets, with_ids):
    """The statement-level trigger functions; rows in key order, so that writers lock them alike."""
    day = "(timestamp AT TIME ZONE 'UTC')::date"
    if with_ids:
        add_days = (f"INSERT INTO event_counts_by_day AS c (type, day, n, first_id, last_id)"
                    f" SELECT type, {day}, count(*), min(id), max(id) FROM changed GROUP BY 1, 2 ORDER BY 1, 2"
                    " ON CONFLICT (type, day) DO UPDATE SET n = c.n + excluded.n,"
                    " first_id = least(c.first_id, excluded.first_id),"
                    " last_id = greatest(c.last_id, excluded.last_id);")
    else:
        add_days = (f"INSERT INTO event_counts_by_day AS c (type, day, n) SELECT type, {day}, count(*)"
                    " FROM changed GROUP BY 1, 2 ORDER BY 1, 2"
                    " ON CONFLICT (type, day) DO UPDATE SET n = c.n + excluded.n;")
    subtract_days = (f"INSERT INTO event_counts_by_day AS c (type, day, n) SELECT type, {day}, count(*)"
                     " FROM changed GROUP BY 1, 2 ORDER BY 1, 2"
                     " ON CONFLICT (type, day) DO UPDATE SET n = c.n - excluded.n;")
    targets_sql = _target_deltas("changed", targets)

    def targets_fold(sign):
        return (f"INSERT INTO event_counts_by_target AS c (target_type, target_guid, type, n) {targets_sql}"
                f" ON CONFLICT (target_type, target_guid, type) DO UPDATE SET n = c.n {sign} excluded.n;")

    return [
        f"CREATE OR REPLACE FUNCTION event_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {add_days} {targets_fold('+')} RETURN NULL; END $$",
        f"CREATE OR REPLACE FUNCTION event_counts_subtract() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {subtract_days} {targets_fold('-')} RETURN NULL; END $$",
    ]


# SQLite: one row at a time ("WHERE true" lets SQLite read ON CONFLICT as the upsert clause).
def _sqlite_trigger(verb, targets, with_ids):
    row, sign = ("NEW", "+") if verb == "insert" else ("OLD", "-")
    if with_ids and verb == "insert":
        days = ("INSERT INTO event_counts_by_day (type, day, n, first_id, last_id)"
                " SELECT NEW.type, substr(NEW.timestamp, 1, 10), 1, NEW.id, NEW.id WHERE true"
                " ON CONFLICT (type, day) DO UPDATE SET n = n + 1,"
                " first_id = min(coalesce(first_id, excluded.first_id), excluded.first_id),"
                " last_id = max(coalesce(last_id, excluded.last_id), excluded.last_id);")
    else:
        days = (f"INSERT INTO event_counts_by_day (type, day, n) SELECT {row}.type, substr({row}.timestamp, 1, 10),"
                f" {sign}1 WHERE true ON CONFLICT (type, day) DO UPDATE SET n = n {sign} 1;")
    by_target = " ".join(
        f"INSERT INTO event_counts_by_target (target_type, target_guid, type, n)"
        f" SELECT '{kind}', {row}.{column}, {row}.type, {sign}1 WHERE {row}.{column} IS NOT NULL"
        f" ON CONFLICT (target_type, target_guid, type) DO UPDATE SET n = n {sign} 1;"
        for kind, column in targets)
    return f"CREATE TRIGGER event_counts_on_{verb} AFTER {verb} ON events BEGIN {days} {by_target} END"


def _install(targets, with_ids):
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql_functions(targets, with_ids):
            op.execute(statement)
    else:
        for verb in ("insert", "delete"):
            op.execute(f"DROP TRIGGER event_counts_on_{verb}")
            op.execute(_sqlite_trigger(verb, targets, with_ids))


def upgrade():
    with op.batch_alter_table("event_counts_by_day") as batch:
        batch.add_column(sa.Column("first_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_id", sa.BigInteger(), nullable=True))
    day = ("(timestamp AT TIME ZONE 'UTC')::date" if op.get_bind().dialect.name == "postgresql"
           else "substr(timestamp, 1, 10)")
    op.execute(f"UPDATE event_counts_by_day SET first_id = bounds.first_id, last_id = bounds.last_id FROM"
               f" (SELECT type, {day} AS day, min(id) AS first_id, max(id) AS last_id FROM events GROUP BY 1, 2)"
               f" AS bounds WHERE bounds.type = event_counts_by_day.type AND bounds.day = event_counts_by_day.day")
    op.execute("INSERT INTO event_counts_by_target (target_type, target_guid, type, n) "
               + _target_deltas("events", TARGETS[2:]))
    _install(TARGETS, with_ids=True)


def downgrade():
    _install(OLD_TARGETS, with_ids=False)
    op.execute("DELETE FROM event_counts_by_target WHERE target_type IN ('actee', 'actor', 'actor_name')")
    with op.batch_alter_table("event_counts_by_day") as batch:
        batch.drop_column("last_id")
        batch.drop_column("first_id")
