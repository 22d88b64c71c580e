"""Indexes for v3's actor_guids and actor_names filters, in the list order like the others.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_events_actor_timestamp_id", "events", ["actor", "timestamp", "id"])
    op.create_index("ix_events_actor_name_timestamp_id", "events", ["actor_name", "timestamp", "id"])


def downgrade():
    op.drop_index("ix_events_actor_name_timestamp_id", "events")
    op.drop_index("ix_events_actor_timestamp_id", "events")
