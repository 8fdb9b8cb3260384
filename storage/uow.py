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
F = TypeVar("F")


class _Named:
    _name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name


class _Made(_Named, Generic[R]):
    """A repository of the transaction, made at its first use and kept (a plain attribute
    from then on): a job uses a few of the repositories, and the writer thread makes a
    :class:`Work` for every job."""

    def __init__(self, make: Callable[[Session], R]) -> None:
        self._make = make

    def __get__(self, work: Any, owner: type | None = None) -> R:
        made = work.__dict__[self._name] = self._make(work.session)
        return made


class _Face(_Named, Generic[F]):
    """The awaitable face of the :class:`Work` repository of the same name, made at its
    first use."""

    def __init__(self, make: Callable[[AsyncSession, Any], F]) -> None:
        self._make = make

    def __get__(self, uow: Any, owner: type | None = None) -> F:
        made = uow.__dict__[self._name] = self._make(uow.session, getattr(uow.work, self._name))
        return made


class Work:
    """The repositories of one transaction, over a synchronous ``Session``. Its owner
    commits or rolls back; a function given a Work only reads and writes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    areas = _Made(AreaRepository)
    users = _Made(UserRepository)
    invites = _Made(InviteRepository)
    registration_failures = _Made(RegistrationFailureRepository)
    households = _Made(HouseholdRepository)
    interviews = _Made(InterviewRepository)
    classifications = _Made(ClassificationRepository)
    audit = _Made(AuditRepository)
    updates = _Made(UpdateLedger)
    inbox = _Made(Inbox)
    dialogs = _Made(DialogStateRepository)
    shown_lists = _Made(ShownLists)
    meetings = _Made(MeetingRepository)
    followup = _Made(FollowupRepository)
    reports = _Made(ReportRepository)
    outbox = _Made(Outbox)
    identities = _Made(IdentityRepository)
    zalo_oa_tokens = _Made(ZaloOaTokens)

    def flush(self) -> None:
        self.session.flush()


class UnitOfWork:
    """The asynchronous unit of work; its repositories too are made at their first use."""

    session: AsyncSession
    work: Work

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.work = Work(self.session.sync_session)
        return self

    areas = _Face(AsyncAreaRepository)
    users = _Face(AsyncUserRepository)
    invites = _Face(AsyncInviteRepository)
    registration_failures = _Face(AsyncRegistrationFailureRepository)
    households = _Face(AsyncHouseholdRepository)
    interviews = _Face(AsyncInterviewRepository)
    classifications = _Face(AsyncClassificationRepository)
    audit = _Face(AsyncAuditRepository)
    updates = _Face(AsyncUpdateLedger)
    inbox = _Face(AsyncInbox)
    dialogs = _Face(AsyncDialogStateRepository)
    shown_lists = _Face(AsyncShownLists)
    meetings = _Face(AsyncMeetingRepository)
    followup = _Face(AsyncFollowupRepository)
    reports = _Face(AsyncReportRepository)
    outbox = _Face(AsyncOutbox)
    identities = _Face(AsyncIdentityRepository)
    zalo_oa_tokens = _Face(AsyncZaloOaTokens)

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

    async def run(self, work: Callable[[Work], T]) -> T:
        """``work`` over this transaction's :class:`Work` (the same objects, the same
        transaction), run on the session's synchronous side."""
        return await self.session.run_sync(lambda _session: work(self.work))

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
