"""Space and organization roles, which decide what a cloud_controller.read user may see.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "roles",
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_guid", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("user_guid", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_type", "target_guid", "role", "user_guid", name="pk_roles"),
    )
    op.create_index("ix_roles_user_guid_role", "roles", ["user_guid", "role"])


def downgrade():
    op.drop_table("roles")
