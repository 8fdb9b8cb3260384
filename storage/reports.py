"""The facts of a periodic report (``work.reports``): for an area's subtree and a period,
the people on the support lists, the contacts recorded and the policy dialogues held.

Synchronous, over the turn's ``Session``; :class:`storage.async_repositories.AsyncReportRepository`
is its awaitable face. The report itself is computed by the pure
:mod:`bot.decisions.reports` from what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.followup import FollowupRepository
from storage.models import (
    Area,
    Household,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    SupportAssignment,
    SupportContact,
)
from storage.report_facts import ContactFact, MeetingFact, PersonFact, ReportFacts
from storage.repositories import AreaRepository


class ReportRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def facts(
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
        """The facts of ``area_id`` and everything below it: the people on the support
        lists of ``review_year`` (``groups``), the contacts dated in [start, end) whatever
        the review year of their assignment (support given is support given), and the
        dialogues starting in [start_at, end_at), not cancelled."""
        area = self.session.get(Area, area_id)
        assert area is not None
        subtree = AreaRepository(self.session).subtree_ids([area_id])
        wanted = sorted(subtree)
        parents = set(
            self.session.scalars(
                select(Area.parent_id).where(Area.parent_id.in_(wanted)).distinct()
            )
        )
        villages = {
            int(vid): str(name)
            for vid, name in self.session.execute(
                select(Area.id, Area.name).where(Area.id.in_(wanted))
            )
            if vid not in parents
        }
        chosen = sorted(set(groups))
        people, _ = FollowupRepository(self.session).people(wanted, review_year, chosen)
        assigned = {
            (int(hid), int(index))
            for hid, index in self.session.execute(
                select(SupportAssignment.household_id, SupportAssignment.member_index)
                .join(Household, Household.id == SupportAssignment.household_id)
                .where(
                    Household.area_id.in_(wanted),
                    SupportAssignment.review_year == review_year,
                    SupportAssignment.ended_at.is_(None),
                )
            )
        }
        contacts = self.session.execute(
            select(
                SupportAssignment.household_id,
                SupportAssignment.member_index,
                Household.area_id,
                SupportAssignment.group,
                SupportContact.contact_date,
                SupportContact.kind,
                SupportContact.programme,
                SupportContact.outcome,
            )
            .join(SupportAssignment, SupportAssignment.id == SupportContact.assignment_id)
            .join(Household, Household.id == SupportAssignment.household_id)
            .where(
                Household.area_id.in_(wanted),
                SupportContact.contact_date >= start,
                SupportContact.contact_date < end,
            )
            .order_by(SupportContact.contact_date, SupportContact.id)
        )
        return ReportFacts(
            area_code=area.code,
            area_name=area.name,
            review_year=review_year,
            villages=villages,
            people=tuple(
                PersonFact(
                    p.household_id,
                    p.member_index,
                    p.village_id,
                    p.group,
                    (p.household_id, p.member_index) in assigned,
                )
                for p in people
            ),
            contacts=tuple(
                ContactFact(int(h), int(m), int(v), str(g), day, str(k), prog, str(o))
                for h, m, v, g, day, k, prog, o in contacts
            ),
            meetings=self._meetings(wanted, start_at, end_at),
        )

    def _meetings(
        self, wanted: list[int], start_at: datetime, end_at: datetime
    ) -> tuple[MeetingFact, ...]:
        invited = func.count(MeetingInvitation.id)
        attended = func.count(MeetingInvitation.id).filter(MeetingInvitation.attended.is_(True))
        rows = self.session.execute(
            select(Meeting.id, Meeting.starts_at, Meeting.place, invited, attended)
            .join(MeetingInvitation, MeetingInvitation.meeting_id == Meeting.id)
            .join(Household, Household.id == MeetingInvitation.household_id)
            .where(
                Household.area_id.in_(wanted),
                Meeting.status != MeetingStatus.CANCELLED,
                Meeting.starts_at >= start_at,
                Meeting.starts_at < end_at,
            )
            .group_by(Meeting.id, Meeting.starts_at, Meeting.place)
            .order_by(Meeting.starts_at, Meeting.id)
        )
        return tuple(
            MeetingFact(int(mid), starts, str(place), int(n), int(a or 0))
            for mid, starts, place, n, a in rows
        )
