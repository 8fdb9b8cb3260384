"""classifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:09:22.590208
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "classifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=True),
        sa.Column("member_name", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("group", sa.String(length=32), nullable=True),
        sa.Column("deprived", sa.JSON(), nullable=False),
        sa.Column("rule_set", sa.String(length=32), nullable=False),
        sa.Column("rule_hash", sa.String(length=64), nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_classifications_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_classifications_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classifications")),
    )
    with op.batch_alter_table("classifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_classifications_household_current", ["household_id", "current"], unique=False
        )
        batch_op.create_index(
            "ix_classifications_interview_current", ["interview_id", "current"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("classifications", schema=None) as batch_op:
        batch_op.drop_index("ix_classifications_interview_current")
        batch_op.drop_index("ix_classifications_household_current")

    op.drop_table("classifications")
