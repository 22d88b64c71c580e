"""Users and clients of the built-in token issuer, and the `cf` client every cf tool logs in with.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "users",
        sa.Column("guid", sa.String(255), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("scopes", sa.String(2048), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("guid", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    clients = op.create_table(
        "clients",
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("secret_hash", sa.String(512), nullable=True),
        sa.Column("scopes", sa.String(2048), nullable=False),
        sa.Column("grant_types", sa.String(255), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_clients"),
    )
    # cf tools authenticate as client "cf" with an empty secret ("Basic cf:").
    op.bulk_insert(clients, [{"client_id": "cf", "secret_hash": None, "scopes": "",
                              "grant_types": "password refresh_token", "created_at": datetime.now(timezone.utc)}])


def downgrade():
    op.drop_table("clients")
    op.drop_table("users")
