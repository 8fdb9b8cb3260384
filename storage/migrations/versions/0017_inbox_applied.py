"""an applied update marked in the inbox, the waiting ones indexed apart

Every turn on a shared database asks whether its sender has earlier updates waiting; asked
of the ledger row by row, that read all of the sender's week in the inbox.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_updates") as batch:
        batch.add_column(
            sa.Column("applied", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.drop_index("ix_inbox_updates_platform_sender")
    op.execute(
        "UPDATE inbox_updates SET applied = true WHERE EXISTS (SELECT 1 FROM processed_updates"
        " WHERE processed_updates.platform = inbox_updates.platform"
        " AND processed_updates.update_key = inbox_updates.update_key)"
    )
    # The predicates as each dialect renders the queries' "not applied" (SQLite uses a
    # partial index only for a query repeating its WHERE).
    op.create_index(
        "ix_inbox_updates_waiting",
        "inbox_updates",
        ["platform", "sender", "id"],
        postgresql_where=sa.text("NOT applied"),
        sqlite_where=sa.text("applied = 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_updates_waiting", table_name="inbox_updates")
    with op.batch_alter_table("inbox_updates") as batch:
        batch.create_index("ix_inbox_updates_platform_sender", ["platform", "sender"])
        batch.drop_column("applied")
