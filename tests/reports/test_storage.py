"""The facts of a periodic report, read on both databases: people on the support lists
and whether they have an officer, contacts in the period, dialogues held and attendance,
for an area's subtree only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.decisions.reports import Period, Span, build
from classification import rules_for
from classification.followup import followup_data, support_groups
from storage.models import (
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    SupportContact,
)
from storage.report_facts import ReportFacts
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.helpers import area_ids, assign, seed_areas

YEAR = 2026
GROUPS = support_groups(rules_for(YEAR))
Q4 = Period(YEAR, Span.QUARTER, 4)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)


async def _seed(database: Database) -> dict[str, int]:
    await seed_areas(database.sessions)
    await insert_households(
        database.sessions,
        YEAR,
        [
            Planned("HH-001", "87-MH-A1", 0),
            Planned("HH-002", "87-MH-A1", 1),
            Planned("HH-003", "87-MH-A2", 0),
        ],
    )
    areas = await area_ids(database.sessions)
    async with UnitOfWork(database.sessions) as uow:
        people, _ = await uow.followup.people([areas["87-MH-A1"], areas["87-MH-A2"]], YEAR, GROUPS)
        a1 = [p for p in people if p.village_id == areas["87-MH-A1"]]
        a2 = [p for p in people if p.village_id == areas["87-MH-A2"]]
        assignments = []
        # Two people of Ấp 1 and one of Ấp 2 get an officer; the rest have none.
        for person in (a1[0], a1[1], a2[0]):
            assignments.append(
                await assign(
                    uow, person, YEAR, NOW, officer_name="Trần Văn Ba", officer_phone="0912345678"
                )
            )
        contacts = [
            (assignments[0], date(2026, 10, 1), "found_job", "da4"),
            (assignments[0], date(2026, 12, 31), "received", "da2"),
            (assignments[2], date(2026, 11, 5), "started_training", "tda1_da3"),
            # Before the quarter: not in its report.
            (assignments[1], date(2026, 9, 30), "found_job", "da4"),
        ]
        for assignment, day, outcome, programme in contacts:
            await uow.followup.record(
                SupportContact(
                    assignment_id=assignment.id,
                    contact_date=day,
                    kind="job_referral",
                    programme=programme,
                    outcome=outcome,
                )
            )
        households = {}
        for code in ("HH-001", "HH-002", "HH-003"):
            household = await uow.households.by_code(code, YEAR)
            assert household is not None
            households[code] = household.id
        for starts, status, attended in (
            (datetime(2026, 11, 10, 1, 0, tzinfo=UTC), MeetingStatus.HELD, (True, False, True)),
            (datetime(2026, 12, 1, 1, 0, tzinfo=UTC), MeetingStatus.CANCELLED, (True, True, True)),
            # 07:00 on 1 January in Vietnam is still 2026 in UTC: next quarter's.
            (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), MeetingStatus.SCHEDULED, (None,) * 3),
        ):
            meeting = await uow.meetings.add(
                Meeting(
                    area_id=areas["87-MH"],
                    review_year=YEAR,
                    starts_at=starts,
                    place="Hội trường xã",
                    categories=["poor"],
                    support_groups=[],
                    status=status,
                ),
                [areas["87-MH-A1"], areas["87-MH-A2"]],
            )
            for code, came in zip(("HH-001", "HH-002", "HH-003"), attended, strict=True):
                uow.meetings.add_invitation(
                    MeetingInvitation(
                        meeting_id=meeting.id, household_id=households[code], attended=came
                    )
                )
        await uow.commit()
    return areas


async def _facts(database: Database, area: int) -> ReportFacts:
    start_at, end_at = Q4.bounds(VN)
    async with UnitOfWork(database.sessions) as uow:
        return await uow.reports.facts(
            area, YEAR, GROUPS, start=Q4.start, end=Q4.end, start_at=start_at, end_at=end_at
        )


async def test_the_commune_quarter(database: Database) -> None:
    areas = await _seed(database)
    facts = await _facts(database, areas["87-MH"])
    assert (facts.area_code, facts.area_name) == ("87-MH", "Xã Mỹ Hòa")
    assert sorted(facts.villages.values()) == ["Ấp 1", "Ấp 2"]
    assert sorted(c.day for c in facts.contacts) == [
        date(2026, 10, 1),
        date(2026, 11, 5),
        date(2026, 12, 31),
    ]
    assert [(m.invited, m.attended) for m in facts.meetings] == [(3, 2)]
    assert sum(p.assigned for p in facts.people) == 3
    assert len(facts.people) > 3
    labels = {g.id: g.label.vi for g in rules_for(YEAR).labour_groups if g.id in GROUPS}
    report = build(facts, Q4, followup_data(), labels, "vi")
    assert (report.found_job, report.started_training) == (1, 1)
    assert (report.total.contacts, report.total.people) == (3, 2)
    assert report.unassigned == len(facts.people) - 3
    # The second person of Ấp 1 was visited only in September.
    assert report.not_visited == 1


async def test_a_village_sees_its_own(database: Database) -> None:
    areas = await _seed(database)
    facts = await _facts(database, areas["87-MH-A2"])
    assert facts.villages == {areas["87-MH-A2"]: "Ấp 2"}
    assert [c.outcome for c in facts.contacts] == ["started_training"]
    assert {p.village_id for p in facts.people} == {areas["87-MH-A2"]}
    assert [(m.invited, m.attended) for m in facts.meetings] == [(1, 1)]
