"""Policy dialogues: meetings, their villages and invitations (``work.meetings``).

Synchronous over a ``Session`` like :mod:`storage.repositories`; its awaitable face for
code on the event loop is :class:`storage.async_repositories.AsyncMeetingRepository`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import (
    Area,
    Classification,
    Household,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    MeetingVillage,
    Role,
    User,
    UserArea,
)

OPEN = (MeetingStatus.SCHEDULED, MeetingStatus.CHANGED)


class MeetingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, meeting: Meeting, village_ids: Iterable[int]) -> Meeting:
        self.session.add(meeting)
        self.session.flush()
        self.set_villages(meeting, village_ids)
        return meeting

    def set_villages(self, meeting: Meeting, village_ids: Iterable[int]) -> None:
        self.session.execute(delete(MeetingVillage).where(MeetingVillage.meeting_id == meeting.id))
        self.session.add_all(
            MeetingVillage(meeting_id=meeting.id, area_id=v) for v in sorted(set(village_ids))
        )
        self.session.flush()

    def get(self, meeting_id: int, *, for_update: bool = False) -> Meeting | None:
        query = select(Meeting).where(Meeting.id == meeting_id)
        if for_update:
            # Two reminder sweeps, or a sweep and a change, never both act on one meeting.
            query = query.with_for_update(of=Meeting)
        return self.session.scalar(query)

    def villages(self, meeting_id: int) -> list[Area]:
        rows = self.session.scalars(
            select(Area)
            .join(MeetingVillage, MeetingVillage.area_id == Area.id)
            .where(MeetingVillage.meeting_id == meeting_id)
            .order_by(Area.code)
        )
        return list(rows)

    def in_areas(
        self, area_ids: Iterable[int] | None, *, since: datetime | None = None
    ) -> list[Meeting]:
        """Meetings held in (or for villages of) the given areas, by start; None: all."""
        query = select(Meeting)
        if area_ids is not None:
            ids = list(area_ids)
            villages = select(MeetingVillage.meeting_id).where(MeetingVillage.area_id.in_(ids))
            query = query.where(Meeting.area_id.in_(ids) | Meeting.id.in_(villages))
        if since is not None:
            query = query.where(Meeting.starts_at >= since)
        return list(self.session.scalars(query.order_by(Meeting.starts_at, Meeting.id)))

    def open_since(self, since: datetime) -> list[Meeting]:
        """Meetings still scheduled that start after ``since``: those a reminder may be due
        for, or have fallen due for while the bot was down."""
        query = (
            select(Meeting)
            .where(Meeting.status.in_(OPEN), Meeting.starts_at >= since)
            .order_by(Meeting.starts_at, Meeting.id)
        )
        return list(self.session.scalars(query))

    def invitations(self, meeting_id: int) -> list[MeetingInvitation]:
        rows = self.session.scalars(
            select(MeetingInvitation)
            .join(Household, Household.id == MeetingInvitation.household_id)
            .where(MeetingInvitation.meeting_id == meeting_id)
            .order_by(Household.code)
            # Invitations added in this transaction get their household loaded too.
            .execution_options(populate_existing=True)
        )
        return list(rows)

    def invitation(self, invitation_id: int) -> MeetingInvitation | None:
        return self.session.get(MeetingInvitation, invitation_id)

    def add_invitation(self, invitation: MeetingInvitation) -> None:
        self.session.add(invitation)

    def remove_invitations(self, invitation_ids: Sequence[int]) -> None:
        if invitation_ids:
            self.session.execute(
                delete(MeetingInvitation).where(MeetingInvitation.id.in_(list(invitation_ids)))
            )

    def candidates(
        self, year: int, village_ids: Iterable[int], categories: Iterable[str]
    ) -> list[Household]:
        """The year's households of these villages and categories (before support groups)."""
        rows = self.session.scalars(
            select(Household)
            .where(
                Household.review_year == year,
                Household.area_id.in_(list(village_ids)),
                Household.category.in_(list(categories)),
            )
            .order_by(Household.code)
        )
        return list(rows)

    def household_groups(self, household_ids: Iterable[int]) -> dict[int, set[str]]:
        """The current labour/support groups of each household's members."""
        ids = list(household_ids)
        if not ids:
            return {}
        rows = self.session.execute(
            select(Classification.household_id, Classification.group).where(
                Classification.household_id.in_(ids),
                Classification.current.is_(True),
                Classification.group.is_not(None),
            )
        )
        found: dict[int, set[str]] = {}
        for household_id, group in rows:
            if group is not None:
                found.setdefault(household_id, set()).add(group)
        return found

    def collaborators(self, village_ids: Iterable[int]) -> dict[int, list[int]]:
        """The active collaborators registered for each village."""
        rows = self.session.execute(
            select(UserArea.area_id, User.id)
            .join(User, User.id == UserArea.user_id)
            .where(
                UserArea.area_id.in_(list(village_ids)),
                User.role == Role.COLLABORATOR,
                User.active.is_(True),
            )
        )
        found: dict[int, list[int]] = {}
        for area_id, user_id in rows:
            found.setdefault(area_id, []).append(user_id)
        return found

    def users(self, user_ids: Iterable[int]) -> dict[int, User]:
        ids = list(set(user_ids))
        if not ids:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(ids)))}

    def for_household(self, household_id: int) -> list[tuple[Meeting, MeetingInvitation]]:
        """The meetings a household was invited to, oldest first, with what came of each."""
        rows = self.session.execute(
            select(Meeting, MeetingInvitation)
            .join(MeetingInvitation, MeetingInvitation.meeting_id == Meeting.id)
            .where(MeetingInvitation.household_id == household_id)
            .order_by(Meeting.starts_at, Meeting.id)
        )
        return [(meeting, invitation) for meeting, invitation in rows]
