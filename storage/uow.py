"""Unit of work: one transaction, with every repository bound to it.

Nothing is committed unless :meth:`UnitOfWork.commit` is called, so a handler that
raises half-way leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    AreaRepository,
    AuditRepository,
    ClassificationRepository,
    DialogStateRepository,
    HouseholdRepository,
    Inbox,
    InterviewRepository,
    InviteRepository,
    RegistrationFailureRepository,
    UpdateLedger,
    UserRepository,
)
from storage.sqlite_driver import mark_brief


class UnitOfWork:
    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, brief: bool = False) -> None:
        """``brief``: every statement of this transaction is short (a chat turn); on SQLite
        they then run without crossing threads once the write lock is held (see
        ``storage.sqlite_driver``). Anything that may read at length must not be brief."""
        self._sessions = sessions
        self._brief = brief

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        if self._brief:
            await mark_brief(self.session)
        self.areas = AreaRepository(self.session)
        self.users = UserRepository(self.session)
        self.invites = InviteRepository(self.session)
        self.registration_failures = RegistrationFailureRepository(self.session)
        self.households = HouseholdRepository(self.session)
        self.interviews = InterviewRepository(self.session)
        self.classifications = ClassificationRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.updates = UpdateLedger(self.session)
        self.inbox = Inbox(self.session)
        self.dialogs = DialogStateRepository(self.session)
        self._after_commit: list[Callable[[], None]] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed (never if it rolls back).

        For in-process caches: they may only learn what the database really holds.
        """
        self._after_commit.append(callback)

    async def commit(self) -> None:
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        self._after_commit.clear()
        await self.session.rollback()
