"""Units of work: one transaction, with every repository bound to it.

:class:`Work` is the synchronous one, over a ``Session``: a chat turn's whole read and write
is one function over it, run on SQLite's writer thread (:mod:`storage.writer`) or inside
``AsyncSession.run_sync`` (PostgreSQL). :class:`UnitOfWork` is the asynchronous one, for
code on the event loop; its repositories are awaitable faces of the same ones
(:mod:`storage.async_repositories`), and :meth:`UnitOfWork.run` hands a function the
:class:`Work` of its transaction. Nothing is committed unless ``commit`` is called, so a
handler that raises half-way leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from storage.async_repositories import (
    AsyncAreaRepository,
    AsyncAuditRepository,
    AsyncClassificationRepository,
    AsyncDialogStateRepository,
    AsyncFollowupRepository,
    AsyncHouseholdRepository,
    AsyncIdentityRepository,
    AsyncInbox,
    AsyncInterviewRepository,
    AsyncInviteRepository,
    AsyncMeetingRepository,
    AsyncOutbox,
    AsyncRegistrationFailureRepository,
    AsyncReportRepository,
    AsyncShownLists,
    AsyncUpdateLedger,
    AsyncUserRepository,
    AsyncZaloOaTokens,
)
from storage.followup import FollowupRepository
from storage.identities import IdentityRepository
from storage.meetings import MeetingRepository
from storage.outbox import Outbox
from storage.reports import ReportRepository
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
    ShownLists,
    UpdateLedger,
    UserRepository,
)
from storage.zalo_oa_tokens import ZaloOaTokens

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")


class _Repository(Generic[R]):
    """A repository of a :class:`Work`, made the first time it is asked for: a transaction
    uses a few of them, and every update costs one or two transactions."""

    def __init__(self, make: Callable[[Session], R]) -> None:
        self.make = make

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, work: Work, owner: type | None = None) -> R:
        repository = work.__dict__[self.name] = self.make(work.session)
        return repository


class _AsyncRepository(Generic[A]):
    """The awaitable face of the :class:`Work`'s repository of the same name, for a
    :class:`UnitOfWork`, made the first time it is asked for."""

    def __init__(self, make: Callable[[AsyncSession, Any], A]) -> None:
        self.make = make

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, uow: UnitOfWork, owner: type | None = None) -> A:
        sync = getattr(uow.work, self.name)
        repository = uow.__dict__[self.name] = self.make(uow.session, sync)
        return repository


class Work:
    """The repositories of one transaction, over a synchronous ``Session``. Its owner
    commits or rolls back; a function given a Work only reads and writes."""

    areas = _Repository(AreaRepository)
    users = _Repository(UserRepository)
    invites = _Repository(InviteRepository)
    registration_failures = _Repository(RegistrationFailureRepository)
    households = _Repository(HouseholdRepository)
    interviews = _Repository(InterviewRepository)
    classifications = _Repository(ClassificationRepository)
    audit = _Repository(AuditRepository)
    updates = _Repository(UpdateLedger)
    inbox = _Repository(Inbox)
    dialogs = _Repository(DialogStateRepository)
    shown_lists = _Repository(ShownLists)
    meetings = _Repository(MeetingRepository)
    followup = _Repository(FollowupRepository)
    reports = _Repository(ReportRepository)
    outbox = _Repository(Outbox)
    identities = _Repository(IdentityRepository)
    zalo_oa_tokens = _Repository(ZaloOaTokens)

    def __init__(self, session: Session) -> None:
        self.session = session

    def flush(self) -> None:
        self.session.flush()


class UnitOfWork:
    session: AsyncSession
    work: Work

    areas = _AsyncRepository(AsyncAreaRepository)
    users = _AsyncRepository(AsyncUserRepository)
    invites = _AsyncRepository(AsyncInviteRepository)
    registration_failures = _AsyncRepository(AsyncRegistrationFailureRepository)
    households = _AsyncRepository(AsyncHouseholdRepository)
    interviews = _AsyncRepository(AsyncInterviewRepository)
    classifications = _AsyncRepository(AsyncClassificationRepository)
    audit = _AsyncRepository(AsyncAuditRepository)
    updates = _AsyncRepository(AsyncUpdateLedger)
    inbox = _AsyncRepository(AsyncInbox)
    dialogs = _AsyncRepository(AsyncDialogStateRepository)
    shown_lists = _AsyncRepository(AsyncShownLists)
    meetings = _AsyncRepository(AsyncMeetingRepository)
    followup = _AsyncRepository(AsyncFollowupRepository)
    reports = _AsyncRepository(AsyncReportRepository)
    outbox = _AsyncRepository(AsyncOutbox)
    identities = _AsyncRepository(AsyncIdentityRepository)
    zalo_oa_tokens = _AsyncRepository(AsyncZaloOaTokens)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.work = Work(self.session.sync_session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.session.in_transaction():
            # Rolls back what was not committed, and gives the connection back.
            await self.session.close()
        else:
            # Committed (or never begun): the connection is back in the pool already, and
            # forgetting the objects loaded is all there is left to do; no round trip, no
            # switch to a greenlet.
            self.session.sync_session.close()

    async def run(self, work: Callable[[Work], T]) -> T:
        """``work`` over this transaction's :class:`Work` (the same objects, the same
        transaction), run on the session's synchronous side."""
        return await self.session.run_sync(lambda _session: work(self.work))

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
