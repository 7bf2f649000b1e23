"""task surface: which API a task was created through, so its callbacks speak that API

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("surface", sa.String(length=16), nullable=False, server_default="kirin")
        )


def downgrade() -> None:
    # in place: SQLite's batch mode copies the table, and dropping the old copy cascades
    op.drop_column("tasks", "surface")
