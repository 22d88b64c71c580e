"""The event store: audit events, app and service usage events, and the usage streams' heads.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# bigint ids from the first day; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def guid(name, nullable=False):
    return sa.Column(name, sa.String(255), nullable=nullable)


def name(column, nullable=False, length=255):
    return sa.Column(column, sa.String(length), nullable=nullable)


def upgrade():
    op.create_table(
        "events",
        sa.Column("id", BigId, nullable=False),
        guid("guid"),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("timestamp", Time, nullable=False),
        name("type"),
        guid("actor"),
        name("actor_type"),
        name("actor_name", nullable=True),
        name("actor_username", nullable=True),
        guid("actee"),
        name("actee_type"),
        name("actee_name"),
        sa.Column("metadata", Json, nullable=False),
        guid("space_guid", nullable=True),
        guid("organization_guid", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("guid", name="uq_events_guid"),
    )
    # Each /v2/events filter, followed by the list order, so a page is one index range scan.
    op.create_index("ix_events_timestamp_id", "events", ["timestamp", "id"])
    for column in ("type", "actee", "space_guid", "organization_guid"):
        op.create_index(f"ix_events_{column}_timestamp_id", "events", [column, "timestamp", "id"])

    # Each usage stream's positions: usage-event ids are handed out from here, gap-free and in
    # commit order; every position from horizon to last_id holds an event.
    usage_streams = op.create_table(
        "usage_streams",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("horizon", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_usage_streams"),
    )
    op.bulk_insert(
        usage_streams,
        [
            {"name": "app_usage_events", "last_id": 0, "horizon": 1},
            {"name": "service_usage_events", "last_id": 0, "horizon": 1},
        ],
    )
    # Pruned usage events' positions, so that their guids still work as after_guid cursors.
    op.create_table(
        "pruned_usage_events",
        sa.Column("stream", sa.String(64), nullable=False),
        guid("guid"),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream", "guid", name="pk_pruned_usage_events"),
    )

    op.create_table(
        "app_usage_events",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        guid("guid"),
        sa.Column("created_at", Time, nullable=False),
        name("state", length=50),
        name("previous_state", nullable=True, length=50),
        sa.Column("memory_in_mb_per_instance", sa.Integer(), nullable=False),
        sa.Column("previous_memory_in_mb_per_instance", sa.Integer(), nullable=True),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("previous_instance_count", sa.Integer(), nullable=True),
        guid("app_guid"),
        name("app_name"),
        guid("space_guid"),
        name("space_name"),
        guid("org_guid"),
        guid("buildpack_guid", nullable=True),
        name("buildpack_name", nullable=True, length=2048),
        name("package_state", nullable=True, length=50),
        name("previous_package_state", nullable=True, length=50),
        guid("parent_app_guid", nullable=True),
        name("parent_app_name", nullable=True),
        name("process_type", nullable=True),
        name("task_name", nullable=True),
        guid("task_guid", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_app_usage_events"),
        sa.UniqueConstraint("guid", name="uq_app_usage_events_guid"),
    )
    op.create_index("ix_app_usage_events_created_at", "app_usage_events", ["created_at"])
    op.create_index("ix_app_usage_events_app_guid_id", "app_usage_events", ["app_guid", "id"])

    op.create_table(
        "service_usage_events",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        guid("guid"),
        sa.Column("created_at", Time, nullable=False),
        name("state", length=50),
        guid("org_guid"),
        guid("space_guid"),
        name("space_name"),
        guid("service_instance_guid"),
        name("service_instance_name"),
        name("service_instance_type"),
        guid("service_plan_guid", nullable=True),
        name("service_plan_name", nullable=True),
        guid("service_guid", nullable=True),
        name("service_label", nullable=True),
        name("service_broker_name", nullable=True),
        guid("service_broker_guid", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_service_usage_events"),
        sa.UniqueConstraint("guid", name="uq_service_usage_events_guid"),
    )
    op.create_index("ix_service_usage_events_created_at", "service_usage_events", ["created_at"])
    for column in ("service_instance_guid", "service_instance_type", "service_guid"):
        op.create_index(f"ix_service_usage_events_{column}_id", "service_usage_events", [column, "id"])


def downgrade():
    op.drop_table("service_usage_events")
    op.drop_table("app_usage_events")
    op.drop_table("pruned_usage_events")
    op.drop_table("usage_streams")
    op.drop_table("events")
