"""One person, several accounts: the accounts linked to a person and the one-time codes
that link them (see :class:`storage.models.UserIdentity` and :class:`LinkCode`)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import LinkCode, UserIdentity
from storage.repositories import hash_code


class Account(NamedTuple):
    """One of a person's accounts: on which platform, its id there, since when."""

    platform: str
    platform_user_id: str
    linked_at: datetime


class IdentityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    def accounts(self, user_id: int) -> list[Account]:
        """The person's accounts, the one they registered with first."""
        rows = self.session.execute(
            select(UserIdentity.platform, UserIdentity.platform_user_id, UserIdentity.linked_at)
            .where(UserIdentity.user_id == user_id)
            .order_by(UserIdentity.linked_at, UserIdentity.platform)
        )
        return [Account(*row) for row in rows]

    def attach(self, user_id: int, platform: str, platform_user_id: str, now: datetime) -> None:
        """The account becomes the person's: a new one, or one of a deactivated person
        moved over (its history stays with that person)."""
        values = {"user_id": user_id, "linked_at": now}
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        self.session.execute(
            insert(cast(Table, UserIdentity.__table__))
            .values(platform=platform, platform_user_id=platform_user_id, **values)
            .on_conflict_do_update(index_elements=["platform", "platform_user_id"], set_=values)
        )

    def issue(
        self, user_id: int, code: str, key: bytes, now: datetime, expires_at: datetime
    ) -> None:
        """Keep ``code`` (its HMAC) as the person's link code; an earlier one still valid
        expires now, so only the newest code works."""
        self.session.execute(
            update(LinkCode)
            .where(
                LinkCode.user_id == user_id,
                LinkCode.used_at.is_(None),
                LinkCode.expires_at > now,
            )
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
        self.session.add(
            LinkCode(
                code_hash=hash_code(code, key),
                user_id=user_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        self.session.flush()

    def code(self, code: str, key: bytes) -> LinkCode | None:
        return self.session.scalar(
            select(LinkCode).where(LinkCode.code_hash == hash_code(code, key))
        )

    def claim(self, link: LinkCode, now: datetime) -> bool:
        """Mark the code used, unless another transaction did first (see InviteRepository's
        claim: a conditional UPDATE lets one of two at once through)."""
        claimed = self.session.scalar(
            update(LinkCode)
            .where(LinkCode.id == link.id, LinkCode.used_at.is_(None))
            .values(used_at=now)
            .returning(LinkCode.id)
        )
        return claimed is not None

    def prune(self, before: datetime) -> None:
        """Forget the codes that expired before ``before`` (used ones expire minutes after
        they are made): until then, typing one is answered as expired or used, not unknown."""
        self.session.execute(delete(LinkCode).where(LinkCode.expires_at < before))
