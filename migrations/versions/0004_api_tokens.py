"""API tokens, exchanged for bearer tokens by Scalingo clients.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_tokens",
        sa.Column("guid", sa.String(255), nullable=False),
        sa.Column("user_guid", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_guid"], ["users.guid"], name="fk_api_tokens_user_guid_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("guid", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_guid", "api_tokens", ["user_guid"])


def downgrade():
    op.drop_table("api_tokens")
