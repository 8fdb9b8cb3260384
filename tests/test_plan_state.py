"""The questionnaire state stored with an interview: a turn starts from it only while it is
the state of the stored answers, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from bot.conversation import Conversation
from bot.interview.session import InterviewSession, plan_of
from bot.settings import Settings
from forms import current_form
from forms.codec import assemble
from forms.questionnaire import Questionnaire
from storage.models import Answer, Interview
from storage.rows import InterviewRow
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.helpers import seed_areas
from tests.interview_driver import seed_household
from tests.test_interview_dialog import YEAR, collaborator
from tests.test_interview_e2e import open_household


async def answered_interview(database: Database, settings: Settings) -> int:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    conversation = Conversation(database.sessions, settings)
    collab = await collaborator(database, conversation, "77")
    await open_household(collab)
    await collab.confirm_roster()
    await collab.pick("Nông thôn")
    async with database.sessions() as session:
        return int(await session.scalar(select(Interview.id)))


async def test_each_step_stores_the_state_of_its_answers(
    database: Database, settings: Settings
) -> None:
    interview_id = await answered_interview(database, settings)
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get_for_update(interview_id)
        assert interview is not None and interview.plan_state is not None
        # The stamp reads back equal to the row's: the next turn will take the state.
        assert interview.plan_state["stamp"] == {
            "step": interview.step,
            "updated_at": interview.updated_at.isoformat(),
        }
        rows = dict(await uow.interviews.answers(interview))
        today = settings.review_dates.reference(YEAR, interview.updated_at)
        stored = Questionnaire.from_json(
            plan_of(current_form()), interview.plan_state["questionnaire"], today=today
        )
        assert stored is not None
        # The stored state holds exactly the stored answers, evaluated as from scratch.
        assert stored.rows() == rows
        fresh = Questionnaire.start(
            plan_of(current_form()), assemble(current_form(), rows.items()), today=today
        )
        assert stored.state == fresh.state
        session = await uow.run(lambda work: InterviewSession.load(work, interview, today))
        assert session.rows == rows and session.questionnaire.state == stored.state


async def test_a_state_older_than_its_answers_is_not_used(
    database: Database, settings: Settings
) -> None:
    interview_id = await answered_interview(database, settings)
    async with database.sessions() as session:
        # Another writer changed an answer and moved updated_at, but left the state.
        await session.execute(
            update(Answer)
            .where(Answer.interview_id == interview_id, Answer.path == "area_type")
            .values(value="urban")
        )
        stamp = await session.scalar(
            select(Interview.updated_at).where(Interview.id == interview_id)
        )
        await session.execute(
            update(Interview)
            .where(Interview.id == interview_id)
            .values(updated_at=stamp + timedelta(seconds=1))
        )
        await session.commit()
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get_for_update(interview_id)
        assert interview is not None
        today = settings.review_dates.reference(YEAR, interview.updated_at)
        loaded = await uow.run(lambda work: InterviewSession.load(work, interview, today))
        assert loaded.questionnaire.answers()["area_type"] == "urban"
        assert loaded.rows["area_type"] == "urban"


async def stored_state(
    uow: UnitOfWork, interview_id: int, settings: Settings
) -> tuple[InterviewRow, date, Questionnaire]:
    """The interview, locked, its reference day and the questionnaire of its stored state."""
    interview = await uow.interviews.get_for_update(interview_id)
    assert interview is not None and interview.plan_state is not None
    today = settings.review_dates.reference(YEAR, interview.updated_at)
    stored = Questionnaire.from_json(
        plan_of(current_form()), interview.plan_state["questionnaire"], today=today
    )
    assert stored is not None
    return interview, today, stored


async def test_the_next_turn_here_starts_from_the_questionnaire_it_stored(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    interview_id = await answered_interview(database, settings)

    def rebuilt(*args: object, **kwargs: object) -> None:
        raise AssertionError("the questionnaire stored by the last turn was rebuilt")

    async with UnitOfWork(database.sessions) as uow:
        interview, today, stored = await stored_state(uow, interview_id, settings)
        monkeypatch.setattr(Questionnaire, "from_json", rebuilt)
        loaded = await uow.run(lambda work: InterviewSession.load(work, interview, today))
        assert loaded.questionnaire.state == stored.state
        assert loaded.rows == dict(await uow.interviews.answers(interview))


async def test_a_state_another_worker_stored_is_read_not_remembered(
    database: Database, settings: Settings
) -> None:
    """The state remembered here serves only a load of the very same stored state: one that
    another worker stored since, with a stamp alike, is the one read."""
    interview_id = await answered_interview(database, settings)
    async with UnitOfWork(database.sessions) as uow:
        interview, today, here = await stored_state(uow, interview_id, settings)
        assert interview.plan_state is not None and here.answers()["area_type"] != "urban"
        elsewhere = here.answer([(("area_type",), "urban")])
        state = {**interview.plan_state, "questionnaire": elsewhere.to_json()}
    async with database.sessions() as session:
        await session.execute(
            update(Answer)
            .where(Answer.interview_id == interview_id, Answer.path == "area_type")
            .values(value="urban")
        )
        await session.execute(
            update(Interview).where(Interview.id == interview_id).values(plan_state=state)
        )
        await session.commit()
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.interviews.get_for_update(interview_id)
        assert read is not None
        loaded = await uow.run(lambda work: InterviewSession.load(work, read, today))
        assert loaded.questionnaire.answers()["area_type"] == "urban"
        assert loaded.rows["area_type"] == "urban"
