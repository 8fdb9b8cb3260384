"""interviews and answers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 05:56:44.935044
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "interviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("collaborator_id", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "in_progress", "completed", "cancelled", name="interview_status", native_enum=False
            ),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("prefill", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collaborator_id"], ["users.id"], name=op.f("fk_interviews_collaborator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_interviews_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interviews_collaborator_id"), ["collaborator_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interviews_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            "uq_interviews_open_household",
            ["household_id"],
            unique=True,
            sqlite_where=sa.text("status = 'in_progress'"),
            postgresql_where=sa.text("status = 'in_progress'"),
        )

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_answers_answered_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"], ["interviews.id"], name=op.f("fk_answers_interview_id_interviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("interview_id", "path", name="uq_answers_interview_path"),
    )


def downgrade() -> None:

    op.drop_table("answers")
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_interviews_open_household",
            sqlite_where=sa.text("status = 'in_progress'"),
            postgresql_where=sa.text("status = 'in_progress'"),
        )
        batch_op.drop_index(batch_op.f("ix_interviews_household_id"))
        batch_op.drop_index(batch_op.f("ix_interviews_collaborator_id"))

    op.drop_table("interviews")
