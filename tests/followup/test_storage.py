"""The follow-up repository on both databases: who is on the support lists (the export's
rule: the latest completed interview's current rows, grouped, in an action group), and
assignments with their contacts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from classification import rules_for
from classification.followup import no_capacity_group, support_groups
from storage.models import Area, InterviewStatus, Role, SupportAssignment, SupportContact
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.helpers import add_user, seed_areas

YEAR = 2026
GROUPS = support_groups(rules_for(YEAR))
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


async def _commune(database: Database) -> None:
    await seed_areas(database.sessions)
    await insert_households(
        database.sessions,
        YEAR,
        [
            Planned("HH-001", "87-MH-A1", 0),
            Planned("HH-002", "87-MH-A1", 1),
            Planned("HH-003", "87-MH-A2", 0),
            Planned("HH-004", "87-MH-A1", 0, InterviewStatus.IN_PROGRESS),
        ],
    )


async def _village(database: Database, code: str) -> int:
    async with database.sessions() as session:
        area = await session.scalar(select(Area).where(Area.code == code))
        assert area is not None
        return area.id


async def test_people_on_the_support_lists(database: Database) -> None:
    await _commune(database)
    village = await _village(database, "87-MH-A1")
    async with UnitOfWork(database.sessions) as uow:
        people, total = await uow.followup.people([village], YEAR, GROUPS)
        page, same_total = await uow.followup.people([village], YEAR, GROUPS, offset=1, limit=2)
    assert total == len(people) == same_total
    # Only completed interviews count: HH-004 is in progress.
    assert {p.household_code for p in people} == {"HH-001", "HH-002"}
    assert all(p.group in GROUPS for p in people)
    assert no_capacity_group(rules_for(YEAR)) in {p.group for p in people}
    assert page == people[1:3]
    # The stable group ("not_target") is on no list.
    async with UnitOfWork(database.sessions) as uow:
        others, _ = await uow.followup.people([village], YEAR, ["not_target"])
    assert not {(p.household_id, p.member_index) for p in others} & {
        (p.household_id, p.member_index) for p in people
    }


async def test_reassigning_ends_the_previous_assignment_and_contacts_are_kept(
    database: Database,
) -> None:
    await _commune(database)
    village = await _village(database, "87-MH-A1")
    officer = (
        await add_user(
            database.sessions,
            platform="telegram",
            platform_user_id="77",
            name="Lê Thị Hoa",
            role=Role.COLLABORATOR,
            area_codes=["87-MH-A1"],
            locale="vi",
        )
    ).id
    async with UnitOfWork(database.sessions) as uow:
        [person, *_] = (await uow.followup.people([village], YEAR, GROUPS))[0]
        officers = await uow.followup.officers([village])
        assert [u.display_name for u in officers] == ["Lê Thị Hoa"]
        first = await uow.followup.assign(
            SupportAssignment(
                review_year=YEAR,
                household_id=person.household_id,
                member_index=person.member_index,
                member_name=person.member_name,
                group=person.group,
                officer_name="Trần Văn Ba",
                officer_phone="0912345678",
            ),
            NOW,
        )
        await uow.followup.record(
            SupportContact(
                assignment_id=first.id,
                contact_date=date(2026, 11, 20),
                kind="loan",
                programme="da2",
                outcome="received",
            )
        )
        second = await uow.followup.assign(
            SupportAssignment(
                review_year=YEAR,
                household_id=person.household_id,
                member_index=person.member_index,
                member_name=person.member_name,
                group=person.group,
                officer_user_id=officer,
            ),
            NOW,
        )
        await uow.followup.record(
            SupportContact(
                assignment_id=second.id,
                contact_date=date(2026, 11, 30),
                kind="visit",
                outcome="in_progress",
            )
        )
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        current = await uow.followup.current(person.household_id, person.member_index)
        assert current is not None and current.id == second.id
        old = await uow.followup.get(first.id)
        assert old is not None and old.ended_at == NOW
        assert [a.id for a in await uow.followup.of_officer(officer)] == [second.id]
        assert [a.id for a in await uow.followup.current_for([person.household_id])] == [second.id]
        assert await uow.followup.last_contacts([first.id, second.id]) == {
            first.id: date(2026, 11, 20),
            second.id: date(2026, 11, 30),
        }
        kinds = [c.kind for c in await uow.followup.contacts([first.id, second.id])]
        assert kinds == ["visit", "loan"]
        assert [a.id for a in await uow.followup.current_in_year(YEAR, [person.group])] == [
            second.id
        ]
