"""SQLite's count triggers take an event's day from its text, which holds for every stored time.

SQLite's date() answers NULL for the last half-millisecond of year 9999 (it rounds into year 10000),
and the trigger then refused the row. The stored text is UTC 'YYYY-MM-DD HH:MM:SS…', so its first
ten characters are the day. PostgreSQL's triggers need no change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# 0005's SQLite trigger (migrations are history, so it is repeated here), the day expression apart.
SQLITE_TRIGGER = """
CREATE TRIGGER event_counts_on_{verb} AFTER {verb} ON events BEGIN
  INSERT INTO event_counts_by_day (type, day, n) SELECT {row}.type, {day}, {sign}1 WHERE true
    ON CONFLICT (type, day) DO UPDATE SET n = n {sign} 1;
  INSERT INTO event_counts_by_target (target_type, target_guid, type, n)
    SELECT 'space', {row}.space_guid, {row}.type, {sign}1 WHERE {row}.space_guid IS NOT NULL
    ON CONFLICT (target_type, target_guid, type) DO UPDATE SET n = n {sign} 1;
  INSERT INTO event_counts_by_target (target_type, target_guid, type, n)
    SELECT 'organization', {row}.organization_guid, {row}.type, {sign}1 WHERE {row}.organization_guid IS NOT NULL
    ON CONFLICT (target_type, target_guid, type) DO UPDATE SET n = n {sign} 1;
END
"""


def _recreate(day):
    for verb, row, sign in (("insert", "NEW", "+"), ("delete", "OLD", "-")):
        op.execute(f"DROP TRIGGER event_counts_on_{verb}")
        op.execute(SQLITE_TRIGGER.format(verb=verb, row=row, sign=sign, day=day.format(row=row)))


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _recreate("substr({row}.timestamp, 1, 10)")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _recreate("date({row}.timestamp)")
