"""one person, several accounts: user identities, link codes, a chat binding per platform

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_identities",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_user_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_identities_user_id_users")
        ),
        sa.PrimaryKeyConstraint("platform", "platform_user_id", name=op.f("pk_user_identities")),
        sa.UniqueConstraint("user_id", "platform", name=op.f("uq_user_identities_user_id")),
    )
    # Every person's own account, the one they registered with.
    op.execute(
        "INSERT INTO user_identities (platform, platform_user_id, user_id, linked_at) "
        "SELECT platform, platform_user_id, id, created_at FROM users"
    )
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_link_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_link_codes_code_hash")),
    )
    op.create_index(op.f("ix_link_codes_user_id"), "link_codes", ["user_id"], unique=False)
    with op.batch_alter_table("dialog_states") as batch:
        batch.add_column(sa.Column("asked_on", sa.String(length=16), nullable=True))

    # A binding per (person, platform): the platform column filled from the person's own
    # account (the only one there was), then made part of the key. Batch mode copies the
    # table on SQLite, which cannot change a primary key in place.
    with op.batch_alter_table("chat_bindings") as batch:
        batch.add_column(sa.Column("platform", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE chat_bindings SET platform = "
        "(SELECT users.platform FROM users WHERE users.id = chat_bindings.user_id)"
    )
    with op.batch_alter_table("chat_bindings") as batch:
        batch.alter_column("platform", existing_type=sa.String(length=16), nullable=False)
        batch.drop_constraint("pk_chat_bindings", type_="primary")
        batch.create_primary_key("pk_chat_bindings", ["user_id", "platform"])


def downgrade() -> None:
    # Each person keeps the binding of the account they registered with; the accounts
    # linked since are forgotten with user_identities.
    op.execute(
        "DELETE FROM chat_bindings WHERE platform <> "
        "(SELECT users.platform FROM users WHERE users.id = chat_bindings.user_id)"
    )
    with op.batch_alter_table("chat_bindings") as batch:
        batch.drop_constraint("pk_chat_bindings", type_="primary")
        batch.create_primary_key("pk_chat_bindings", ["user_id"])
        batch.drop_column("last_used_at")
        batch.drop_column("platform")
    with op.batch_alter_table("dialog_states") as batch:
        batch.drop_column("asked_on")
    op.drop_index(op.f("ix_link_codes_user_id"), table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_table("user_identities")
