"""Monthly sums of the usage rollups (usage_months): an organization's app report reads a row per process,
figures and month for the months wholly in its period, not each segment (metering.py, reports.py).

The sums of a store that already holds segments are made here, from its segments, in this migration's
transaction: each app segment's seconds cut at every month's start (UTC), as the fold cuts them
(metering.months_of), written in month and organization order (as the fold writes them, month after month),
so that an organization's month is a few pages. The fold rows are locked first, so that no fold adds segments
in the meantime; a service of an earlier version must not fold after this (it would add segments without their
sums). The index of an organization's meters gains `since`: the report's running processes are found by it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

POSTGRESQL_BACKFILL = """
INSERT INTO usage_months (org_guid, kind, month, guid, instances, memory_in_mb, seconds)
SELECT s.org_guid, s.kind, m.month, s.guid, s.instances, s.memory_in_mb,
       sum(least(s.stopped, m.stop) - greatest(s.started, m.first))
FROM usage_segments AS s
CROSS JOIN LATERAL (
    SELECT g::date AS month, extract(epoch FROM g)::bigint AS first,
           extract(epoch FROM g + interval '1 month')::bigint AS stop
    FROM generate_series(date_trunc('month', to_timestamp(s.started) AT TIME ZONE 'UTC'),
                         to_timestamp(s.stopped - 1) AT TIME ZONE 'UTC', interval '1 month') AS g
) AS m
WHERE s.kind = 'app' AND s.stopped > s.started
GROUP BY s.org_guid, s.kind, m.month, s.guid, s.instances, s.memory_in_mb
ORDER BY m.month, s.org_guid
"""

# Each segment's months by a recursive CTE (SQLite has no generate_series); dates as SQLAlchemy writes them.
SQLITE_BACKFILL = """
WITH RECURSIVE pieces (org_guid, kind, guid, instances, memory_in_mb, started, stopped, first, stop) AS (
    SELECT org_guid, kind, guid, instances, memory_in_mb, started, stopped,
           CAST(strftime('%s', started, 'unixepoch', 'start of month') AS INTEGER),
           CAST(strftime('%s', started, 'unixepoch', 'start of month', '+1 month') AS INTEGER)
    FROM usage_segments WHERE kind = 'app' AND stopped > started
    UNION ALL
    SELECT org_guid, kind, guid, instances, memory_in_mb, started, stopped, stop,
           CAST(strftime('%s', stop, 'unixepoch', '+1 month') AS INTEGER)
    FROM pieces WHERE stop < stopped
)
INSERT INTO usage_months (org_guid, kind, month, guid, instances, memory_in_mb, seconds)
SELECT org_guid, kind, date(first, 'unixepoch'), guid, instances, memory_in_mb,
       sum(min(stopped, stop) - max(started, first))
FROM pieces GROUP BY org_guid, kind, first, guid, instances, memory_in_mb
ORDER BY first, org_guid
"""


def upgrade():
    op.create_table(
        "usage_months",
        sa.Column("org_guid", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("guid", sa.String(255), nullable=False),
        sa.Column("instances", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("memory_in_mb", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_guid", "kind", "month", "guid", "instances", "memory_in_mb",
                                name="pk_usage_months"),
    )
    op.drop_index("ix_usage_meters_org_guid_kind", "usage_meters")
    op.create_index("ix_usage_meters_org_guid_kind_since", "usage_meters", ["org_guid", "kind", "since"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("SELECT stream FROM usage_folds FOR UPDATE")
        bind.exec_driver_sql(POSTGRESQL_BACKFILL)
        bind.exec_driver_sql("ANALYZE usage_months")
    else:
        bind.exec_driver_sql(SQLITE_BACKFILL)


def downgrade():
    op.drop_index("ix_usage_meters_org_guid_kind_since", "usage_meters")
    op.create_index("ix_usage_meters_org_guid_kind", "usage_meters", ["org_guid", "kind"])
    op.drop_table("usage_months")
