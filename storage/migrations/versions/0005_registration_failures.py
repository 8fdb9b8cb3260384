"""registration failures (wrong invite codes, for the lock-out)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_failures")),
    )
    op.create_index(
        "ix_registration_failures_who",
        "registration_failures",
        ["platform", "platform_user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_registration_failures_who", table_name="registration_failures")
    op.drop_table("registration_failures")
