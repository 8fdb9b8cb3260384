"""The follow-up repository on both databases: who is on the support lists (the export's
rule: the latest completed interview's current rows, grouped, in an action group), and
assignments with their contacts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.dialogs.followup import due_reminders
from bot.retention import Purge, purge_year
from classification import rules_for
from classification.followup import no_capacity_group, support_groups
from storage.models import InterviewStatus, SupportAssignment, SupportContact
from storage.uow import UnitOfWork
from tests.conftest import Database, database_settings
from tests.exports.data import Planned, insert_households
from tests.helpers import add_person, area_ids, assign, seed_areas

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


async def test_people_on_the_support_lists(database: Database) -> None:
    await _commune(database)
    village = (await area_ids(database.sessions))["87-MH-A1"]
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
    village = (await area_ids(database.sessions))["87-MH-A1"]
    officer = (await add_person(database.sessions, "telegram", "77", "Lê Thị Hoa")).id
    async with UnitOfWork(database.sessions) as uow:
        [person, *_] = (await uow.followup.people([village], YEAR, GROUPS))[0]
        officers = await uow.followup.officers([village])
        assert [u.display_name for u in officers] == ["Lê Thị Hoa"]
        first = await assign(
            uow, person, YEAR, NOW, officer_name="Trần Văn Ba", officer_phone="0912345678"
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
        second = await assign(uow, person, YEAR, NOW, officer_user_id=officer)
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


async def _assigned(database: Database, officer: int | None) -> tuple[int, str]:
    """One person of Ấp 1 without labour capacity assigned to ``officer`` (or to someone
    typed) on 2026-10-01, visited once on 2026-10-20; their assignment id and name."""
    village = (await area_ids(database.sessions))["87-MH-A1"]
    group = no_capacity_group(rules_for(YEAR))
    async with UnitOfWork(database.sessions) as uow:
        people, _ = await uow.followup.people([village], YEAR, [group])
        person = people[0]
        assignment = await assign(
            uow,
            person,
            YEAR,
            datetime(2026, 10, 1, 3, 0, tzinfo=UTC),
            officer_user_id=officer,
            officer_name=None if officer else "Trần Văn Ba",
            officer_phone=None if officer else "0912345678",
        )
        await uow.followup.record(
            SupportContact(
                assignment_id=assignment.id,
                contact_date=date(2026, 10, 20),
                kind="visit",
                outcome="in_progress",
                note="Bà Hạnh cần thuốc",
            )
        )
        await uow.commit()
        return assignment.id, person.member_name


async def test_due_reminders_name_who_was_not_visited(database: Database) -> None:
    await _commune(database)
    officer = (await add_person(database.sessions, "telegram", "78", "Lê Thị Hoa")).id
    _, name = await _assigned(database, officer)
    settings = database_settings(database, RASOAT_FOLLOWUP_INTERVAL_DAYS="30")
    async with UnitOfWork(database.sessions) as uow:
        # 2026-11-10: 21 days after the visit, nothing is due.
        early = await uow.run(
            lambda work: due_reminders(work, settings, datetime(2026, 11, 10, 3, tzinfo=UTC))
        )
        late = await uow.run(
            lambda work: due_reminders(work, settings, datetime(2026, 11, 20, 3, tzinfo=UTC))
        )
    assert early == []
    [reminder] = late
    assert reminder.recipient_user_id == officer
    assert name in reminder.text and "lần gần nhất 20/10/2026" in reminder.text


async def test_purging_a_year_takes_its_follow_up_with_it(database: Database) -> None:
    await _commune(database)
    await _assigned(database, None)
    await purge_year(database.sessions, YEAR, Purge.ANONYMISE, apply=True)
    async with database.sessions() as session:
        [assignment] = (await session.scalars(select(SupportAssignment))).all()
        [contact] = (await session.scalars(select(SupportContact))).all()
    assert (assignment.member_name, assignment.officer_name, assignment.officer_phone) == (
        "",
        None,
        None,
    )
    assert contact.note is None and contact.kind == "visit"
    await purge_year(database.sessions, YEAR, Purge.DELETE, apply=True)
    async with database.sessions() as session:
        assert (await session.scalars(select(SupportAssignment))).all() == []
        assert (await session.scalars(select(SupportContact))).all() == []
