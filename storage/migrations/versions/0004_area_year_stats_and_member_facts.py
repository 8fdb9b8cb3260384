"""area year stats and member facts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:15:54.319084
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_year_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("total_households", sa.Integer(), nullable=False),
        sa.Column("poor_households", sa.Integer(), nullable=True),
        sa.Column("near_poor_households", sa.Integer(), nullable=True),
        sa.Column("escaped_households", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_area_year_stats_area_id_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_year_stats")),
        sa.UniqueConstraint("area_id", "year", name="uq_area_year_stats_area_year"),
    )
    op.create_table(
        "member_facts",
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("member_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("labour_capacity", sa.String(length=8), nullable=True),
        sa.Column("employment_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_member_facts_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("interview_id", "member_index", name=op.f("pk_member_facts")),
    )


def downgrade() -> None:
    op.drop_table("member_facts")
    op.drop_table("area_year_stats")
