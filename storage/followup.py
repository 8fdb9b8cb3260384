"""The follow-up of support: who needs it, who is responsible, and the contacts recorded.

Synchronous, over the turn's ``Session`` (bound in :class:`storage.uow.Work` as
``work.followup``); :class:`storage.async_repositories.AsyncFollowupRepository` is its
awaitable face for the command line and imports.

The people who need support are the members on the export's group lists: the current
classification rows of each household's latest completed interview, grouped into one of
the groups the caller names (``classification.followup.support_groups``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from classification.labour import MemberOutcome
from storage.models import (
    Area,
    Classification,
    Household,
    Interview,
    InterviewStatus,
    SupportAssignment,
    SupportContact,
    User,
    UserArea,
)


@dataclass(frozen=True, slots=True)
class SupportPerson:
    """One member on a support list, as the lists show them."""

    household_id: int
    household_code: str
    head_name: str
    village_id: int
    village_name: str
    member_index: int
    member_name: str
    group: str


def _latest_completed() -> Select[Any]:
    # The export's choice of a household's interview: its last completed one.
    return (
        select(func.max(Interview.id))
        .where(Interview.status == InterviewStatus.COMPLETED)
        .group_by(Interview.household_id)
    )


PeopleRow = Select[int, str, str, int, str, int | None, str | None, str | None]


def _people(groups: Iterable[str]) -> PeopleRow:
    query: PeopleRow = (
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Area.id,
            Area.name,
            Classification.member_index,
            Classification.member_name,
            Classification.group,
        )
        .join(Household, Household.id == Classification.household_id)
        .join(Area, Area.id == Household.area_id)
        .where(
            Classification.current.is_(True),
            Classification.member_index.is_not(None),
            Classification.outcome == MemberOutcome.GROUPED.value,
            Classification.group.in_(sorted(groups)),
            Classification.interview_id.in_(_latest_completed()),
        )
    )
    return query


def _person(row: Sequence[Any]) -> SupportPerson:
    hid, code, head, village_id, village, index, name, group = row
    return SupportPerson(
        int(hid),
        str(code),
        str(head),
        int(village_id),
        str(village),
        int(index),
        str(name or ""),
        str(group),
    )


class FollowupRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- who needs support ----------------------------------------------------------------

    def people(
        self,
        area_ids: Iterable[int],
        year: int,
        groups: Iterable[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[SupportPerson], int]:
        """A page of the members on the support lists of ``area_ids`` in ``year``, by
        village, household and member, with how many there are in all."""
        wanted = sorted(area_ids)
        query = _people(groups).where(Household.area_id.in_(wanted), Household.review_year == year)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ordered = query.order_by(Area.code, Household.code, Classification.member_index)
        if limit is not None:
            ordered = ordered.offset(offset).limit(limit)
        return [_person(row) for row in self.session.execute(ordered)], int(total)

    def person(
        self, household_id: int, member_index: int, groups: Iterable[str]
    ) -> SupportPerson | None:
        """That member, if they are on a support list."""
        row = self.session.execute(
            _people(groups).where(
                Household.id == household_id, Classification.member_index == member_index
            )
        ).first()
        return _person(row) if row is not None else None

    def officers(self, area_ids: Iterable[int]) -> list[User]:
        """The active registered users of ``area_ids``, by name."""
        query = (
            select(User)
            .join(UserArea, UserArea.user_id == User.id)
            .where(UserArea.area_id.in_(sorted(area_ids)), User.active.is_(True))
            .distinct()
            .order_by(User.display_name, User.id)
        )
        return list(self.session.scalars(query))

    # -- assignments ----------------------------------------------------------------------

    def current(self, household_id: int, member_index: int) -> SupportAssignment | None:
        return self.session.scalar(
            select(SupportAssignment).where(
                SupportAssignment.household_id == household_id,
                SupportAssignment.member_index == member_index,
                SupportAssignment.ended_at.is_(None),
            )
        )

    def assign(self, assignment: SupportAssignment, now: datetime) -> SupportAssignment:
        """Makes ``assignment`` the member's current one, ending the one before."""
        self.session.execute(
            update(SupportAssignment)
            .where(
                SupportAssignment.household_id == assignment.household_id,
                SupportAssignment.member_index == assignment.member_index,
                SupportAssignment.ended_at.is_(None),
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
        assignment.assigned_at = now
        self.session.add(assignment)
        self.session.flush()
        return assignment

    def get(self, assignment_id: int) -> SupportAssignment | None:
        return self.session.get(SupportAssignment, assignment_id)

    def of_officer(self, user_id: int) -> list[SupportAssignment]:
        """The officer's current assignments, oldest first."""
        return list(
            self.session.scalars(
                select(SupportAssignment)
                .where(
                    SupportAssignment.officer_user_id == user_id,
                    SupportAssignment.ended_at.is_(None),
                )
                .order_by(SupportAssignment.household_id, SupportAssignment.member_index)
            )
        )

    def current_for(self, household_ids: Iterable[int]) -> list[SupportAssignment]:
        """The current assignments of these households' members."""
        return list(
            self.session.scalars(
                select(SupportAssignment).where(
                    SupportAssignment.household_id.in_(sorted(household_ids)),
                    SupportAssignment.ended_at.is_(None),
                )
            )
        )

    def current_in_year(self, year: int, groups: Iterable[str]) -> list[SupportAssignment]:
        """Every current assignment of ``year`` for members of ``groups`` (the reminders)."""
        return list(
            self.session.scalars(
                select(SupportAssignment)
                .where(
                    SupportAssignment.review_year == year,
                    SupportAssignment.group.in_(sorted(groups)),
                    SupportAssignment.ended_at.is_(None),
                )
                .order_by(SupportAssignment.id)
            )
        )

    # -- contacts -------------------------------------------------------------------------

    def record(self, contact: SupportContact) -> SupportContact:
        self.session.add(contact)
        self.session.flush()
        return contact

    def contacts(self, assignment_ids: Iterable[int]) -> list[SupportContact]:
        """Every contact of these assignments, latest first."""
        return list(
            self.session.scalars(
                select(SupportContact)
                .where(SupportContact.assignment_id.in_(sorted(assignment_ids)))
                .order_by(SupportContact.contact_date.desc(), SupportContact.id.desc())
            )
        )

    def last_contacts(self, assignment_ids: Iterable[int]) -> dict[int, date]:
        """The latest contact date of each assignment that has one."""
        rows = self.session.execute(
            select(SupportContact.assignment_id, func.max(SupportContact.contact_date))
            .where(SupportContact.assignment_id.in_(sorted(assignment_ids)))
            .group_by(SupportContact.assignment_id)
        )
        return {int(aid): day for aid, day in rows}
