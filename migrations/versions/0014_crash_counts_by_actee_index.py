"""The crash counts by actee and day, found by actee: the console reads the days of its top apps only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_event_counts_by_actee_day_actee", "event_counts_by_actee_day",
                    ["actee", "actee_type", "type", "day"])


def downgrade():
    op.drop_index("ix_event_counts_by_actee_day_actee", "event_counts_by_actee_day")
