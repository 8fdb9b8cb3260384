"""replies not yet seen, and whose each stored update is

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dialog_states") as batch:
        batch.add_column(sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seen_turn", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seen_message", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("inbox_updates") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=64), nullable=True))
    op.create_index(
        op.f("ix_inbox_updates_platform_sender"),
        "inbox_updates",
        ["platform", "sender"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_updates_platform_sender"), table_name="inbox_updates")
    with op.batch_alter_table("inbox_updates") as batch:
        batch.drop_column("sender")
    with op.batch_alter_table("dialog_states") as batch:
        batch.drop_column("seen_at")
        batch.drop_column("seen_message")
        batch.drop_column("seen_turn")
        batch.drop_column("asked_at")
