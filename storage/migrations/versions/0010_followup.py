"""responsible officers for people in support groups, and the contacts they record

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_year", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=False),
        sa.Column("member_name", sa.String(length=200), nullable=False),
        sa.Column("group", sa.String(length=32), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=True),
        sa.Column("officer_name", sa.String(length=200), nullable=True),
        sa.Column("officer_phone", sa.String(length=32), nullable=True),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_support_assignments_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["officer_user_id"],
            ["users.id"],
            name=op.f("fk_support_assignments_officer_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["users.id"], name=op.f("fk_support_assignments_assigned_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_assignments")),
    )
    op.create_index(
        "ix_support_assignments_member",
        "support_assignments",
        ["household_id", "member_index"],
        unique=False,
    )
    op.create_index(
        op.f("ix_support_assignments_officer_user_id"),
        "support_assignments",
        ["officer_user_id"],
        unique=False,
    )
    op.create_table(
        "support_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("contact_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("programme", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["support_assignments.id"],
            name=op.f("fk_support_contacts_assignment_id_support_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_support_contacts_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_contacts")),
    )
    op.create_index(
        op.f("ix_support_contacts_assignment_id"),
        "support_contacts",
        ["assignment_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_support_contacts_assignment_id"), table_name="support_contacts")
    op.drop_table("support_contacts")
    op.drop_index(op.f("ix_support_assignments_officer_user_id"), table_name="support_assignments")
    op.drop_index("ix_support_assignments_member", table_name="support_assignments")
    op.drop_table("support_assignments")
