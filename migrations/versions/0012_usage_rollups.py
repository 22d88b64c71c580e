"""Usage rollups: meters, their closed segments and per-day sums of each series (metering.py).

The usage streams are folded into these in position order; the stream's events already stored are
folded by the first writes after this migration, or at once by `flask events fold`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    folds = op.create_table(
        "usage_folds",
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("folded_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("stream", name="pk_usage_folds"),
    )
    op.bulk_insert(folds, [{"stream": "app_usage_events", "position": 0},
                           {"stream": "service_usage_events", "position": 0}])
    op.create_table(
        "usage_meters",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("guid", sa.String(255), nullable=False),
        sa.Column("org_guid", sa.String(255), nullable=False),
        sa.Column("space_guid", sa.String(255), nullable=False),
        sa.Column("space_name", sa.String(255), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("parent_guid", sa.String(255), nullable=True),
        sa.Column("parent_name", sa.String(255), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("since", sa.BigInteger(), nullable=True),
        sa.Column("instances", sa.Integer(), nullable=True),
        sa.Column("memory_in_mb", sa.Integer(), nullable=True),
        sa.Column("plan_guid", sa.String(255), nullable=True),
        sa.Column("plan_name", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("kind", "guid", name="pk_usage_meters"),
    )
    op.create_index("ix_usage_meters_org_guid_kind", "usage_meters", ["org_guid", "kind"])
    op.create_index("ix_usage_meters_kind_since", "usage_meters", ["kind", "since"])
    op.create_table(
        "usage_segments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("guid", sa.String(255), nullable=False),
        sa.Column("org_guid", sa.String(255), nullable=False),
        sa.Column("space_guid", sa.String(255), nullable=False),
        sa.Column("parent_guid", sa.String(255), nullable=True),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("memory_in_mb", sa.Integer(), nullable=False),
        sa.Column("plan_guid", sa.String(255), nullable=True),
        sa.Column("plan_name", sa.String(255), nullable=True),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("stopped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_usage_segments"),
    )
    op.create_index("ix_usage_segments_org_guid_kind_stopped", "usage_segments", ["org_guid", "kind", "stopped"])
    op.create_index("ix_usage_segments_kind_started", "usage_segments", ["kind", "started"])
    op.create_index("ix_usage_segments_kind_stopped", "usage_segments", ["kind", "stopped"])
    op.create_table(
        "usage_days",
        sa.Column("series", sa.String(300), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("area", sa.BigInteger(), nullable=False),
        sa.Column("mb_net", sa.BigInteger(), nullable=False),
        sa.Column("mb_area", sa.BigInteger(), nullable=False),
        sa.Column("peak_before", sa.BigInteger(), nullable=True),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", "day", name="pk_usage_days"),
    )


def downgrade():
    op.drop_table("usage_days")
    op.drop_table("usage_segments")
    op.drop_table("usage_meters")
    op.drop_table("usage_folds")
