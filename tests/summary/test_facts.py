"""The member_facts projection: the pure projection, and keeping it in step with answers
recorded one at a time through the chat's InterviewSession (the call the lead wires into
``InterviewSession.record``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.interview.session import InterviewSession
from forms import current_form
from forms.codec import flatten
from storage.models import Household, HouseholdCategory, Interview, InterviewStatus, MemberFact
from storage.stats_facts import project_members, refresh_member_facts
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.summary.population import add_areas

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_projection_of_stored_answers() -> None:
    rows = {
        "member_count": 3,
        "members/0/name": "An",
        "members/0/age": 40,
        "members/0/labour_capacity": "yes",
        "members/0/employment_status": "looking",
        "members/1/name": "Bình",
        "members/1/age": 70.0,
        "members/1/labour_capacity": "no",
        "members/2/name": "Chi",
        "members/2/age": "",
        "members/10/age": "12",
        "water_source": "tap",
    }
    assert project_members(rows) == [
        (0, 40, "yes", "looking"),
        (1, 70, "no", "unable"),
        (2, None, None, None),
        (10, 12, None, None),
    ]
    assert project_members({}) == []


async def facts(database: Database, interview_id: int) -> list[tuple[object, ...]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(
                MemberFact.member_index,
                MemberFact.age,
                MemberFact.labour_capacity,
                MemberFact.employment_status,
            )
            .where(MemberFact.interview_id == interview_id)
            .order_by(MemberFact.member_index)
        )
        return [tuple(row) for row in rows]


async def test_facts_follow_answers_recorded_in_the_chat(database: Database) -> None:
    ids = await add_areas(database.sessions, [("87", "Xã Mỹ Hòa", "xã", None)])
    form = current_form()
    async with UnitOfWork(database.sessions) as uow:
        household = Household(
            code="H1",
            review_year=2026,
            area_id=ids["87"],
            head_name="An",
            head_name_search="an",
            category=HouseholdCategory.POOR,
        )
        uow.session.add(household)
        await uow.session.flush()
        interview = await uow.interviews.add(
            Interview(
                household_id=household.id,
                form_id=form.form_id,
                form_version=form.version,
                status=InterviewStatus.IN_PROGRESS,
            )
        )
        interview_id = interview.id
        await uow.commit()

    async def answer(*pairs: tuple[tuple[object, ...], object]) -> list[bool]:
        wrote = []
        async with UnitOfWork(database.sessions) as uow:
            interview = await uow.interviews.get(interview_id)
            assert interview is not None
            session = await uow.run(
                lambda work: InterviewSession.load(work, interview, date(2026, 11, 30))
            )
            for path, value in pairs:
                await uow.run(lambda _work, p=path, v=value: session.record(p, v, None, NOW))  # type: ignore[misc]
                # record() refreshed the facts already: a second refresh has nothing to write.
                wrote.append(
                    await uow.run(
                        lambda work: refresh_member_facts(work, interview, flatten(session.answers))
                    )
                )
            await uow.commit()
        return wrote

    written = await answer(
        (("member_count",), 2),
        (("members", 0, "name"), "Nguyễn Văn An"),
        (("members", 0, "birth_known"), "year_only"),
        (("members", 0, "birth_year"), 1980),
        (("members", 0, "labour_capacity"), "yes"),
        (("members", 0, "employment_status"), "looking"),
    )
    # Member 1 exists (the household has two) but nothing is known of it yet.
    assert await facts(database, interview_id) == [(0, 46, "yes", "looking"), (1, None, None, None)]
    assert written == [False] * 6

    # Losing working capacity drops the status question; the fact says "unable".
    await answer((("members", 0, "labour_capacity"), "no"))
    assert (await facts(database, interview_id))[0] == (0, 46, "no", "unable")

    # One member fewer: that member's answers are deleted, and so is their fact, while the
    # other member's stays as it was.
    assert await answer((("member_count",), 1)) == [False]  # the answer's refresh did it
    assert await facts(database, interview_id) == [(0, 46, "no", "unable")]
