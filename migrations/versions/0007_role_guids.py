"""Roles get guids of their own, as v3 names them (GET /v3/roles/{guid}).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KEY = ("target_type", "target_guid", "role", "user_guid")


def upgrade():
    with op.batch_alter_table("roles") as batch:
        batch.add_column(sa.Column("guid", sa.String(255), nullable=True))
    connection = op.get_bind()
    for row in connection.execute(sa.text(f"SELECT {', '.join(KEY)} FROM roles")).mappings().all():
        connection.execute(sa.text("UPDATE roles SET guid = :guid WHERE " + " AND ".join(f"{k} = :{k}" for k in KEY)),
                           {**row, "guid": str(uuid.uuid4())})
    with op.batch_alter_table("roles") as batch:
        batch.alter_column("guid", existing_type=sa.String(255), nullable=False)
        batch.create_unique_constraint("uq_roles_guid", ["guid"])


def downgrade():
    with op.batch_alter_table("roles") as batch:
        batch.drop_constraint("uq_roles_guid", type_="unique")
        batch.drop_column("guid")
