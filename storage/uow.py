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
from typing import Self, TypeVar

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


class Work:
    """The repositories of one transaction, over a synchronous ``Session``. Its owner
    commits or rolls back; a function given a Work only reads and writes."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.areas = AreaRepository(session)
        self.users = UserRepository(session)
        self.invites = InviteRepository(session)
        self.registration_failures = RegistrationFailureRepository(session)
        self.households = HouseholdRepository(session)
        self.interviews = InterviewRepository(session)
        self.classifications = ClassificationRepository(session)
        self.audit = AuditRepository(session)
        self.updates = UpdateLedger(session)
        self.inbox = Inbox(session)
        self.dialogs = DialogStateRepository(session)
        self.shown_lists = ShownLists(session)
        self.meetings = MeetingRepository(session)
        self.followup = FollowupRepository(session)
        self.reports = ReportRepository(session)
        self.outbox = Outbox(session)
        self.identities = IdentityRepository(session)
        self.zalo_oa_tokens = ZaloOaTokens(session)

    def flush(self) -> None:
        self.session.flush()


class UnitOfWork:
    session: AsyncSession
    work: Work

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        work = self.work = Work(self.session.sync_session)
        self.areas = AsyncAreaRepository(self.session, work.areas)
        self.users = AsyncUserRepository(self.session, work.users)
        self.invites = AsyncInviteRepository(self.session, work.invites)
        self.registration_failures = AsyncRegistrationFailureRepository(
            self.session, work.registration_failures
        )
        self.households = AsyncHouseholdRepository(self.session, work.households)
        self.interviews = AsyncInterviewRepository(self.session, work.interviews)
        self.classifications = AsyncClassificationRepository(self.session, work.classifications)
        self.audit = AsyncAuditRepository(self.session, work.audit)
        self.updates = AsyncUpdateLedger(self.session, work.updates)
        self.inbox = AsyncInbox(self.session, work.inbox)
        self.dialogs = AsyncDialogStateRepository(self.session, work.dialogs)
        self.shown_lists = AsyncShownLists(self.session, work.shown_lists)
        self.meetings = AsyncMeetingRepository(self.session, work.meetings)
        self.followup = AsyncFollowupRepository(self.session, work.followup)
        self.reports = AsyncReportRepository(self.session, work.reports)
        self.outbox = AsyncOutbox(self.session, work.outbox)
        self.identities = AsyncIdentityRepository(self.session, work.identities)
        self.zalo_oa_tokens = AsyncZaloOaTokens(self.session, work.zalo_oa_tokens)
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

    async def run(self, work: Callable[[Work], T]) -> T:
        """``work`` over this transaction's :class:`Work` (the same objects, the same
        transaction), run on the session's synchronous side."""
        return await self.session.run_sync(lambda _session: work(self.work))

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
