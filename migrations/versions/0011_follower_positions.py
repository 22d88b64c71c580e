"""The follower's position in each stream of the Cloud Controller it follows.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "follower_positions",
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("upstream", sa.String(2048), nullable=False),
        sa.Column("dialect", sa.String(8), nullable=False),
        sa.Column("resume_after", sa.String(255), nullable=True),
        sa.Column("head", sa.String(255), nullable=True),
        sa.Column("newest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stored", sa.BigInteger(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(2048), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name="pk_follower_positions"),
    )


def downgrade():
    op.drop_table("follower_positions")
