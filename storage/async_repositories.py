"""Async faces of :mod:`storage.repositories`, for code that runs on the event loop (the
command line, imports, exports, deferred reads).

The repositories are synchronous: a chat turn runs them in one function, on SQLite's writer
thread or inside ``AsyncSession.run_sync`` (see :mod:`storage.uow`). Each method here runs
the repository's own on the session's synchronous side, so there is one implementation of
every query; ``tests/test_storage_faces.py`` keeps the two lists of methods equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.followup import FollowupRepository, SupportPerson
from storage.identities import Account, IdentityRepository
from storage.meetings import MeetingRepository
from storage.models import (
    Area,
    AreaYearStats,
    AuditEntry,
    Classification,
    Household,
    Interview,
    InterviewStatus,
    Invite,
    LinkCode,
    Meeting,
    MeetingInvitation,
    Role,
    ShownList,
    SupportAssignment,
    SupportContact,
    User,
)
from storage.outbox import Claimed, Outbox, OutboxCounts
from storage.report_facts import ReportFacts
from storage.reports import ReportRepository
from storage.repositories import (
    AreaRepository,
    AreaYearStatsRepository,
    AuditRepository,
    ClassificationRepository,
    DialogStateRepository,
    FactRow,
    GivenUp,
    HouseholdRepository,
    Inbox,
    InterviewInState,
    InterviewRepository,
    InviteRepository,
    MemberFactRepository,
    Receipt,
    Received,
    RegistrationFailureRepository,
    ShownLists,
    TurnRead,
    UpdateLedger,
    UserRepository,
    audit_values,
)
from storage.rows import DialogStateRow, InterviewRow, Person
from storage.zalo_oa_tokens import OaToken, ZaloOaTokens

R = TypeVar("R")
T = TypeVar("T")


class _Async(Generic[R]):
    def __init__(self, session: AsyncSession, sync: R) -> None:
        self.session = session
        self.sync = sync
        """The repository itself, bound to ``session``'s synchronous side."""

    async def _run(self, call: Callable[[R], T]) -> T:
        return await self.session.run_sync(lambda _session: call(self.sync))


class AsyncAreaRepository(_Async[AreaRepository]):
    async def by_code(self, code: str) -> Area | None:
        return await self._run(lambda r: r.by_code(code))

    async def by_codes(self, codes: Iterable[str]) -> dict[str, Area]:
        return await self._run(lambda r: r.by_codes(codes))

    async def all(self) -> Sequence[Area]:
        return await self._run(lambda r: r.all())

    async def subtree_ids(self, root_ids: Iterable[int]) -> set[int]:
        return await self._run(lambda r: r.subtree_ids(root_ids))

    async def path(self, area: Area) -> list[Area]:
        return await self._run(lambda r: r.path(area))

    def add(self, area: Area) -> None:
        return self.sync.add(area)


class AsyncUserRepository(_Async[UserRepository]):
    async def by_platform_id(self, platform: str, platform_user_id: str) -> User | None:
        return await self._run(lambda r: r.by_platform_id(platform, platform_user_id))

    async def for_turn(
        self,
        platform: str,
        platform_user_id: str,
        opened: InterviewInState,
        earlier_than: str | None = None,
    ) -> TurnRead:
        return await self._run(
            lambda r: r.for_turn(platform, platform_user_id, opened, earlier_than)
        )

    async def get(self, user_id: int) -> User | None:
        return await self._run(lambda r: r.get(user_id))

    async def add(self, user: User) -> User:
        return await self._run(lambda r: r.add(user))

    async def bind_chat(self, user: Person, platform: str, chat_id: str, now: datetime) -> None:
        return await self._run(lambda r: r.bind_chat(user, platform, chat_id, now))


class AsyncInviteRepository(_Async[InviteRepository]):
    async def by_code(self, code: str, key: bytes) -> Invite | None:
        return await self._run(lambda r: r.by_code(code, key))

    async def claim(self, invite: Invite, now: datetime) -> bool:
        return await self._run(lambda r: r.claim(invite, now))

    async def add(
        self, code: str, key: bytes, role: Role, area: Area, expires_at: datetime
    ) -> Invite:
        return await self._run(lambda r: r.add(code, key, role, area, expires_at))

    async def prune(self, before: datetime) -> None:
        return await self._run(lambda r: r.prune(before))


class AsyncRegistrationFailureRepository(_Async[RegistrationFailureRepository]):
    def record(self, platform: str, user_id: str, display_name: str, at: datetime) -> None:
        return self.sync.record(platform, user_id, display_name, at)

    async def count_since(self, platform: str, user_id: str, since: datetime) -> int:
        return await self._run(lambda r: r.count_since(platform, user_id, since))

    async def locked(self, since: datetime, limit: int) -> list[tuple[str, str, str, datetime]]:
        return await self._run(lambda r: r.locked(since, limit))

    async def lift(
        self, now: datetime, platform: str | None = None, user_id: str | None = None
    ) -> int:
        return await self._run(lambda r: r.lift(now, platform, user_id))

    async def prune(self, before: datetime) -> None:
        return await self._run(lambda r: r.prune(before))


class AsyncHouseholdRepository(_Async[HouseholdRepository]):
    async def by_code(self, code: str, year: int) -> Household | None:
        return await self._run(lambda r: r.by_code(code, year))

    async def get(self, household_id: int) -> Household | None:
        return await self._run(lambda r: r.get(household_id))

    async def with_members(self, household_id: int) -> Household | None:
        return await self._run(lambda r: r.with_members(household_id))

    async def in_areas(
        self,
        area_ids: Iterable[int],
        year: int,
        *,
        query: str = "",
        offset: int = 0,
        limit: int = 8,
    ) -> tuple[list[Household], int]:
        return await self._run(
            lambda r: r.in_areas(area_ids, year, query=query, offset=offset, limit=limit)
        )

    async def count(self) -> int:
        return await self._run(lambda r: r.count())


class AsyncInterviewRepository(_Async[InterviewRepository]):
    def remember(self, interview: InterviewRow) -> None:
        return self.sync.remember(interview)

    async def get(self, interview_id: int) -> Interview | None:
        return await self._run(lambda r: r.get(interview_id))

    async def get_for_update(self, interview_id: int) -> InterviewRow | None:
        return await self._run(lambda r: r.get_for_update(interview_id))

    async def change(self, interview: InterviewRow, **values: Any) -> InterviewRow:
        return await self._run(lambda r: r.change(interview, **values))

    async def open_for_household(self, household_id: int) -> Interview | None:
        return await self._run(lambda r: r.open_for_household(household_id))

    async def latest_for_household(self, household_id: int) -> Interview | None:
        return await self._run(lambda r: r.latest_for_household(household_id))

    async def add(self, interview: Interview) -> Interview:
        return await self._run(lambda r: r.add(interview))

    async def answers(self, interview: Interview | InterviewRow) -> list[tuple[str, Any]]:
        return await self._run(lambda r: r.answers(interview))

    async def save_answers(
        self,
        interview: Interview | InterviewRow,
        rows: dict[str, Any],
        by: Person | None,
        at: datetime,
    ) -> None:
        return await self._run(lambda r: r.save_answers(interview, rows, by, at))

    async def delete_answers(
        self, interview: Interview | InterviewRow, paths: Iterable[str]
    ) -> None:
        return await self._run(lambda r: r.delete_answers(interview, paths))

    async def record_step(
        self,
        interview: InterviewRow,
        rows: dict[str, Any],
        by: Person | None,
        at: datetime,
        step: int,
        plan_state: dict[str, Any],
    ) -> InterviewRow:
        return await self._run(lambda r: r.record_step(interview, rows, by, at, step, plan_state))

    async def statuses(self, household_ids: Iterable[int]) -> dict[int, InterviewStatus]:
        return await self._run(lambda r: r.statuses(household_ids))


class AsyncClassificationRepository(_Async[ClassificationRepository]):
    async def current_for(self, interview: Interview | InterviewRow) -> list[Classification]:
        return await self._run(lambda r: r.current_for(interview))

    async def replace(
        self, interview: Interview | InterviewRow, rows: Sequence[Classification]
    ) -> None:
        return await self._run(lambda r: r.replace(interview, rows))

    async def completed_interviews(self, area_ids: Iterable[int] | None) -> list[Interview]:
        return await self._run(lambda r: r.completed_interviews(area_ids))


class AsyncAuditRepository(_Async[AuditRepository]):
    def record(
        self,
        action: str,
        *,
        actor: Person | None = None,
        entity: str | None = None,
        entity_id: object = None,
        **details: Any,
    ) -> None:
        # Added to the session, written by its next flush: recording is no round trip here.
        self.session.add(AuditEntry(**audit_values(action, actor, entity, entity_id, details)))

    async def recent(self, limit: int = 50) -> Sequence[AuditEntry]:
        return await self._run(lambda r: r.recent(limit))


class AsyncUpdateLedger(_Async[UpdateLedger]):
    async def hold_sender(self, platform: str, sender: str) -> None:
        return await self._run(lambda r: r.hold_sender(platform, sender))

    async def hold_person(self, user_id: int) -> None:
        return await self._run(lambda r: r.hold_person(user_id))

    async def hold_and_claim(
        self, platform: str, sender: str, update_key: str, payload: dict[str, Any] | None = None
    ) -> bool:
        return await self._run(lambda r: r.hold_and_claim(platform, sender, update_key, payload))

    async def claim(self, platform: str, update_key: str) -> bool:
        return await self._run(lambda r: r.claim(platform, update_key))

    async def prune(self, before: datetime) -> None:
        return await self._run(lambda r: r.prune(before))


class AsyncInbox(_Async[Inbox]):
    async def keep(self, platform: str, updates: Sequence[Received]) -> None:
        return await self._run(lambda r: r.keep(platform, updates))

    async def unapplied(
        self, platform: str, sender: str | None = None, before: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._run(lambda r: r.unapplied(platform, sender, before))

    async def failed(self, platform: str, update_key: str) -> int:
        return await self._run(lambda r: r.failed(platform, update_key))

    async def given_up(self, platform: str | None = None) -> list[GivenUp]:
        return await self._run(lambda r: r.given_up(platform))

    async def retry(self) -> int:
        return await self._run(lambda r: r.retry())

    async def prune(self, before: datetime) -> None:
        return await self._run(lambda r: r.prune(before))


class AsyncShownLists(_Async[ShownLists]):
    async def get(self, platform: str, platform_user_id: str) -> ShownList | None:
        return await self._run(lambda r: r.get(platform, platform_user_id))

    async def show(
        self,
        platform: str,
        platform_user_id: str,
        keys: dict[str, str],
        several: bool,
        now: datetime,
    ) -> None:
        return await self._run(lambda r: r.show(platform, platform_user_id, keys, several, now))

    async def prune(self, before: datetime) -> None:
        return await self._run(lambda r: r.prune(before))


class AsyncDialogStateRepository(_Async[DialogStateRepository]):
    def remember(self, user: Person, state: DialogStateRow | None) -> None:
        return self.sync.remember(user, state)

    def hold_writes(self) -> None:
        return self.sync.hold_writes()

    async def write_held(self) -> None:
        return await self._run(lambda r: r.write_held())

    async def get(self, user: Person) -> DialogStateRow | None:
        return await self._run(lambda r: r.get(user))

    async def set(self, user: Person, dialog: str, state: dict[str, Any]) -> None:
        return await self._run(lambda r: r.set(user, dialog, state))

    async def mark_asked(self, user: Person, at: datetime, platform: str) -> bool:
        return await self._run(lambda r: r.mark_asked(user, at, platform))

    async def seen(self, receipts: Sequence[Receipt], now: datetime) -> None:
        return await self._run(lambda r: r.seen(receipts, now))

    async def clear(self, user: Person, last: dict[str, Any] | None = None) -> None:
        return await self._run(lambda r: r.clear(user, last))


class AsyncAreaYearStatsRepository(_Async[AreaYearStatsRepository]):
    async def for_years(self, years: Iterable[int]) -> list[AreaYearStats]:
        return await self._run(lambda r: r.for_years(years))

    async def for_areas(
        self, pairs: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], AreaYearStats]:
        return await self._run(lambda r: r.for_areas(pairs))

    def add(self, stats: AreaYearStats) -> None:
        return self.sync.add(stats)


class AsyncMemberFactRepository(_Async[MemberFactRepository]):
    async def for_interview(self, interview_id: int) -> dict[int, FactRow]:
        return await self._run(lambda r: r.for_interview(interview_id))

    async def replace(self, interview_id: int, facts: Sequence[FactRow]) -> bool:
        return await self._run(lambda r: r.replace(interview_id, facts))

    async def replace_members(
        self, interview_id: int, indices: Sequence[int], facts: Sequence[FactRow]
    ) -> None:
        return await self._run(lambda r: r.replace_members(interview_id, indices, facts))

    async def replace_many(self, items: Sequence[tuple[int, Sequence[FactRow]]]) -> int:
        return await self._run(lambda r: r.replace_many(items))


class AsyncMeetingRepository(_Async[MeetingRepository]):
    """The face of :class:`storage.meetings.MeetingRepository` (the command line's)."""

    async def add(self, meeting: Meeting, village_ids: Iterable[int]) -> Meeting:
        return await self._run(lambda r: r.add(meeting, village_ids))

    async def set_villages(self, meeting: Meeting, village_ids: Iterable[int]) -> None:
        return await self._run(lambda r: r.set_villages(meeting, village_ids))

    async def get(self, meeting_id: int, *, for_update: bool = False) -> Meeting | None:
        return await self._run(lambda r: r.get(meeting_id, for_update=for_update))

    async def villages(self, meeting_id: int) -> list[Area]:
        return await self._run(lambda r: r.villages(meeting_id))

    async def in_areas(
        self, area_ids: Iterable[int] | None, *, since: datetime | None = None
    ) -> list[Meeting]:
        return await self._run(lambda r: r.in_areas(area_ids, since=since))

    async def open_since(self, since: datetime) -> list[Meeting]:
        return await self._run(lambda r: r.open_since(since))

    async def invitations(self, meeting_id: int) -> list[MeetingInvitation]:
        return await self._run(lambda r: r.invitations(meeting_id))

    async def invitation(self, invitation_id: int) -> MeetingInvitation | None:
        return await self._run(lambda r: r.invitation(invitation_id))

    def add_invitation(self, invitation: MeetingInvitation) -> None:
        return self.sync.add_invitation(invitation)

    async def remove_invitations(self, invitation_ids: Sequence[int]) -> None:
        return await self._run(lambda r: r.remove_invitations(invitation_ids))

    async def candidates(
        self, year: int, village_ids: Iterable[int], categories: Iterable[str]
    ) -> list[Household]:
        return await self._run(lambda r: r.candidates(year, village_ids, categories))

    async def household_groups(self, household_ids: Iterable[int]) -> dict[int, set[str]]:
        return await self._run(lambda r: r.household_groups(household_ids))

    async def collaborators(self, village_ids: Iterable[int]) -> dict[int, list[int]]:
        return await self._run(lambda r: r.collaborators(village_ids))

    async def users(self, user_ids: Iterable[int]) -> dict[int, User]:
        return await self._run(lambda r: r.users(user_ids))

    async def for_household(self, household_id: int) -> list[tuple[Meeting, MeetingInvitation]]:
        return await self._run(lambda r: r.for_household(household_id))


class AsyncFollowupRepository(_Async[FollowupRepository]):
    async def people(
        self,
        area_ids: Iterable[int],
        year: int,
        groups: Iterable[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[SupportPerson], int]:
        return await self._run(
            lambda r: r.people(area_ids, year, groups, offset=offset, limit=limit)
        )

    async def person(
        self, household_id: int, member_index: int, groups: Iterable[str]
    ) -> SupportPerson | None:
        return await self._run(lambda r: r.person(household_id, member_index, groups))

    async def officers(self, area_ids: Iterable[int]) -> list[User]:
        return await self._run(lambda r: r.officers(area_ids))

    async def current(self, household_id: int, member_index: int) -> SupportAssignment | None:
        return await self._run(lambda r: r.current(household_id, member_index))

    async def assign(self, assignment: SupportAssignment, now: datetime) -> SupportAssignment:
        return await self._run(lambda r: r.assign(assignment, now))

    async def get(self, assignment_id: int) -> SupportAssignment | None:
        return await self._run(lambda r: r.get(assignment_id))

    async def of_officer(self, user_id: int) -> list[SupportAssignment]:
        return await self._run(lambda r: r.of_officer(user_id))

    async def current_for(self, household_ids: Iterable[int]) -> list[SupportAssignment]:
        return await self._run(lambda r: r.current_for(household_ids))

    async def current_in_year(self, year: int, groups: Iterable[str]) -> list[SupportAssignment]:
        return await self._run(lambda r: r.current_in_year(year, groups))

    async def record(self, contact: SupportContact) -> SupportContact:
        return await self._run(lambda r: r.record(contact))

    async def contacts(self, assignment_ids: Iterable[int]) -> list[SupportContact]:
        return await self._run(lambda r: r.contacts(assignment_ids))

    async def last_contacts(self, assignment_ids: Iterable[int]) -> dict[int, date]:
        return await self._run(lambda r: r.last_contacts(assignment_ids))


class AsyncReportRepository(_Async[ReportRepository]):
    async def facts(
        self,
        area_id: int,
        review_year: int,
        groups: Iterable[str],
        *,
        start: date,
        end: date,
        start_at: datetime,
        end_at: datetime,
    ) -> ReportFacts:
        return await self._run(
            lambda r: r.facts(
                area_id,
                review_year,
                groups,
                start=start,
                end=end,
                start_at=start_at,
                end_at=end_at,
            )
        )


class AsyncOutbox(_Async[Outbox]):
    """The face of :class:`storage.outbox.Outbox` (the command line's, the sender's reads)."""

    async def enqueue(
        self,
        user_id: int,
        message: dict[str, Any],
        dedupe_key: str,
        not_before: datetime,
        now: datetime,
    ) -> bool:
        return await self._run(lambda r: r.enqueue(user_id, message, dedupe_key, not_before, now))

    async def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        platform: str | None = None,
    ) -> list[Claimed]:
        return await self._run(lambda r: r.claim(worker, now, lease, limit, platform))

    async def next_due(self, platform: str | None = None) -> datetime | None:
        return await self._run(lambda r: r.next_due(platform))

    async def sent(self, message_id: int, at: datetime) -> None:
        return await self._run(lambda r: r.sent(message_id, at))

    async def sent_all(self, messages: Iterable[tuple[int, datetime]]) -> None:
        return await self._run(lambda r: r.sent_all(messages))

    async def again(
        self, message_ids: Iterable[int], not_before: datetime, *, counted: bool = True
    ) -> None:
        return await self._run(lambda r: r.again(message_ids, not_before, counted=counted))

    async def release(self, message_ids: Iterable[int]) -> None:
        return await self._run(lambda r: r.release(message_ids))

    async def failed(self, message_id: int, at: datetime, reason: str) -> None:
        return await self._run(lambda r: r.failed(message_id, at, reason))

    async def reach(self, user_id: int) -> tuple[str, str, bool]:
        return await self._run(lambda r: r.reach(user_id))

    async def block(self, user_id: int, at: datetime, platform: str) -> bool:
        return await self._run(lambda r: r.block(user_id, at, platform))

    async def undeliverable(self, message_id: int, user_id: int, at: datetime) -> bool:
        return await self._run(lambda r: r.undeliverable(message_id, user_id, at))

    async def waiting_for_window(self, platform: str, platform_user_id: str) -> int:
        return await self._run(lambda r: r.waiting_for_window(platform, platform_user_id))

    async def reopen(self, platform: str, platform_user_id: str, now: datetime) -> int:
        return await self._run(lambda r: r.reopen(platform, platform_user_id, now))

    async def supervisors_of(self, user_id: int) -> list[User]:
        return await self._run(lambda r: r.supervisors_of(user_id))

    async def known(self, dedupe_keys: Iterable[str]) -> set[str]:
        return await self._run(lambda r: r.known(dedupe_keys))

    async def counts(self) -> OutboxCounts:
        return await self._run(lambda r: r.counts())


class AsyncIdentityRepository(_Async[IdentityRepository]):
    """The face of :class:`storage.identities.IdentityRepository`."""

    async def accounts(self, user_id: int) -> list[Account]:
        return await self._run(lambda r: r.accounts(user_id))

    async def attach(
        self, user_id: int, platform: str, platform_user_id: str, now: datetime
    ) -> None:
        return await self._run(lambda r: r.attach(user_id, platform, platform_user_id, now))

    async def issue(
        self, user_id: int, code: str, key: bytes, now: datetime, expires_at: datetime
    ) -> None:
        return await self._run(lambda r: r.issue(user_id, code, key, now, expires_at))

    async def code(self, code: str, key: bytes) -> LinkCode | None:
        return await self._run(lambda r: r.code(code, key))

    async def claim(self, link: LinkCode, now: datetime) -> bool:
        return await self._run(lambda r: r.claim(link, now))

    async def prune(self, before: datetime) -> None:
        return await self._run(lambda r: r.prune(before))


class AsyncZaloOaTokens(_Async[ZaloOaTokens]):
    """The face of :class:`storage.zalo_oa_tokens.ZaloOaTokens` (the command line's)."""

    async def current(self) -> OaToken | None:
        return await self._run(lambda r: r.current())

    async def set(
        self,
        access_token: str,
        refresh_token: str,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
        now: datetime,
    ) -> OaToken:
        return await self._run(
            lambda r: r.set(access_token, refresh_token, access_expires_at, refresh_expires_at, now)
        )

    async def begin_refresh(
        self, token_id: int, worker: str, now: datetime, lease: timedelta
    ) -> bool:
        return await self._run(lambda r: r.begin_refresh(token_id, worker, now, lease))

    async def refreshed(
        self,
        token_id: int,
        access_token: str,
        refresh_token: str,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
        now: datetime,
    ) -> OaToken:
        return await self._run(
            lambda r: r.refreshed(
                token_id, access_token, refresh_token, access_expires_at, refresh_expires_at, now
            )
        )

    async def refused(self, token_id: int, now: datetime) -> None:
        return await self._run(lambda r: r.refused(token_id, now))

    async def abandon(self, token_id: int) -> None:
        return await self._run(lambda r: r.abandon(token_id))
