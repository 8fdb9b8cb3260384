"""inbox of received platform updates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("update_key", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_updates")),
        sa.UniqueConstraint("platform", "update_key", name=op.f("uq_inbox_updates_platform")),
    )
    op.create_index(
        op.f("ix_inbox_updates_received_at"), "inbox_updates", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_updates_received_at"), table_name="inbox_updates")
    op.drop_table("inbox_updates")
