"""Unit of work: one transaction, with every repository bound to it.

Nothing is committed unless :meth:`UnitOfWork.commit` is called, so a handler that
raises half-way leaves the database as it was. :class:`GroupTransaction` runs several
units of work in one transaction and one commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.outbox import Outbox
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

T = TypeVar("T")


class UnitOfWork:
    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # A part of a GroupTransaction: committed or undone by the group only.
        self._in_group = False

    async def __aenter__(self) -> Self:
        self._bind(self._sessions())
        return self

    def _bind(self, session: AsyncSession) -> None:
        self.session = session
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
        self.outbox = Outbox(self.session)
        self._after_commit: list[Callable[[], None]] = []

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
        if self._in_group:
            raise RuntimeError("a part of a group transaction is committed by the group")
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        if self._in_group:
            raise RuntimeError("a part of a group transaction is undone by raising")
        self._after_commit.clear()
        await self.session.rollback()


class TransactionLost(Exception):
    """The transaction under a :class:`GroupTransaction` ended by itself: nothing of it
    can be committed any more."""


class GroupTransaction:
    """Several units of work in one transaction and one COMMIT (a group commit).

    Each part (:meth:`run`) is a savepoint of its own: a part that raises is undone alone,
    and the others stay. Nothing of any part is durable before :meth:`commit` returns, so
    whatever a part promises (its replies) must be held until then; each part's
    :meth:`UnitOfWork.after_commit` callbacks run only then, and never for a part undone.
    Parts run one after another, on one connection.
    """

    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._after_commit: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        try:
            connection = await self.session.connection()
            self._sqlite = connection.dialect.name == "sqlite"
            if self._sqlite:
                # Python's sqlite3 begins a transaction only at the first write, so a first
                # savepoint would begin one of its own, and releasing it would commit.
                # IMMEDIATE takes the write lock now, before anything is read, so waiting
                # for another process's lock happens here, in SQLite's busy handler on
                # aiosqlite's thread, and a read can never have to be redone as a write.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            await self.session.close()
            raise
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

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]], *, alone: bool = False) -> T:
        """``work`` on a unit of work of its own, in a savepoint; what it raises, it raises
        with its changes undone (:class:`TransactionLost` if they can't be undone alone).

        ``alone``: the only part of this transaction, so it needs no savepoint: if it
        raises, the whole transaction is undone."""
        part = UnitOfWork(self._sessions)
        part._bind(self.session)
        part._in_group = True
        savepoint = None if alone else await self.session.begin_nested()
        try:
            result = await work(part)
            # Written now what the part only added: expunge_all() below would drop it.
            if savepoint is None:
                await self.session.flush()
            else:
                await savepoint.commit()
        except Exception:
            try:
                await (self.session if savepoint is None else savepoint).rollback()
            except Exception as error:
                raise TransactionLost() from error
            if savepoint is not None:
                await self._check()
            raise
        finally:
            # Each part starts with no objects loaded, as in a transaction of its own, and
            # what one handed out is never expired by a later part's undoing.
            self.session.expunge_all()
        await self._check()
        self._after_commit += part._after_commit
        return result

    async def _check(self) -> None:
        # SQLite rolls a whole transaction back by itself on some errors (disk full, I/O);
        # the next savepoint would then begin a transaction of its own, and the COMMIT
        # would store that one alone.
        if not self._sqlite:
            return
        raw = await (await self.session.connection()).get_raw_connection()
        if not getattr(raw.driver_connection, "in_transaction", True):
            raise TransactionLost()

    async def commit(self) -> None:
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()
