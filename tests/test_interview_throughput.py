"""What the throughput work must not change: the questionnaire state stored with an
interview is only a head start, writes are exactly what the database holds, and each
person's updates stay in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from telegram import Chat, Message, Update
from telegram import User as TelegramUser

from bot.channels.telegram import PerUserUpdateProcessor
from bot.conversation import Conversation
from bot.dialogs.interview import OPEN_INTERVIEW
from bot.interview.session import InterviewSession
from bot.settings import Settings
from forms import current_form
from forms.codec import assemble
from storage.models import Answer, Interview
from storage.rows import DialogStateRow, UserRow
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.helpers import seed_areas
from tests.interview_driver import Collaborator, seed_household
from tests.test_interview_dialog import collaborator, start
from tests.test_interview_e2e import YEAR


async def _open_interview(database: Database, settings: Settings) -> tuple[Collaborator, int]:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    conversation = Conversation(database.sessions, settings)
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    async with UnitOfWork(database.sessions) as uow:
        interview_id = await uow.session.scalar(select(Interview.id))
    assert interview_id is not None
    return collab, interview_id


async def _load(database: Database, interview_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the session's answers, the answers assembled straight from the stored rows)."""
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get_for_update(interview_id)
        assert interview is not None
        session = await uow.run(
            lambda work: InterviewSession.load(work, interview, datetime.now(UTC).date())
        )
        rows = await uow.interviews.answers(interview)
        return session.answers, assemble(current_form(), rows)


async def test_the_stored_state_always_holds_the_stored_answers(
    database: Database, settings: Settings
) -> None:
    collab, interview_id = await _open_interview(database, settings)
    for _ in range(25):
        await collab.answer_one()
        cached, stored = await _load(database, interview_id)
        assert cached == stored
    # The chat turns started from the stored state, not just checked against it.
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get_for_update(interview_id)
        assert interview is not None and interview.plan_state is not None
        assert interview.plan_state["stamp"]["step"] == interview.step


async def test_a_change_by_another_writer_is_seen(database: Database, settings: Settings) -> None:
    """Another worker or an import rewrote the answers: the step/updated_at it wrote
    make the stored state stale."""
    collab, interview_id = await _open_interview(database, settings)
    for _ in range(5):
        await collab.answer_one()
    async with UnitOfWork(database.sessions) as uow:
        path = await uow.session.scalar(
            select(Answer.path).where(Answer.interview_id == interview_id).order_by(Answer.id)
        )
        await uow.session.execute(
            update(Answer)
            .where(Answer.interview_id == interview_id, Answer.path == path)
            .values(value="changed elsewhere")
        )
        await uow.session.execute(
            update(Interview)
            .where(Interview.id == interview_id)
            .values(step=Interview.step + 1, updated_at=datetime.now(UTC) + timedelta(seconds=1))
        )
        await uow.commit()
    cached, stored = await _load(database, interview_id)
    assert cached == stored
    assert "changed elsewhere" in repr(cached)


async def test_nothing_is_remembered_from_a_rolled_back_answer(
    database: Database, settings: Settings
) -> None:
    collab, interview_id = await _open_interview(database, settings)
    await collab.answer_one()
    question = await collab.question()
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get_for_update(interview_id)
        assert interview is not None
        session = await uow.run(
            lambda work: InterviewSession.load(work, interview, datetime.now(UTC).date())
        )
        value = question.default if question.default is not None else question.choices[0].name
        await uow.run(lambda _work: session.record(question.path, value, None, datetime.now(UTC)))
        await uow.rollback()
    cached, stored = await _load(database, interview_id)
    assert cached == stored
    assert await collab.question() == question


async def test_save_answers_inserts_then_overwrites(database: Database, settings: Settings) -> None:
    _collab, interview_id = await _open_interview(database, settings)
    moment = datetime.now(UTC)
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get(interview_id)
        assert interview is not None
        await uow.interviews.save_answers(interview, {"a": 1, "b": ["x"]}, None, moment)
        await uow.interviews.save_answers(interview, {"a": 2}, None, moment)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.interviews.get(interview_id)
        assert interview is not None
        stored = dict(await uow.interviews.answers(interview))
        # Besides the answers of the confirmed roster.
        assert {key: stored[key] for key in ("a", "b")} == {"a": 2, "b": ["x"]}


async def test_a_step_stores_its_answers_and_moves_the_interview(
    database: Database, settings: Settings
) -> None:
    """A step of one answer (on PostgreSQL one statement with the interview's UPDATE), one of
    two, and one overwriting an answer: each stored, the interview moved on as given."""
    _collab, interview_id = await _open_interview(database, settings)
    times = [datetime(2026, 3, 2, 8, minute, tzinfo=UTC) for minute in (0, 5, 9)]
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("terminal", "1")
        interview = await uow.interviews.get_for_update(interview_id)
        assert user is not None
        assert interview is not None
        event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
        try:
            moved = await uow.interviews.record_step(
                interview, {"c": 1}, user, times[0], 7, {"stamp": "x", "questionnaire": {"v": 1}}
            )
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
        moved = await uow.interviews.record_step(
            moved, {"a": 2, "b": ["x"]}, None, times[1], 8, {"stamp": "y"}
        )
        moved = await uow.interviews.record_step(moved, {"c": 5}, user, times[2], 9, {"stamp": "z"})
        await uow.commit()
        user_id = user.id

    assert (moved.step, moved.updated_at, moved.plan_state) == (9, times[2], {"stamp": "z"})
    if database.backend == "postgresql":
        assert len(statements) == 1
        assert "INSERT INTO answers" in statements[0]
        assert "UPDATE interviews" in statements[0]
    else:
        assert len(statements) == 2
    async with UnitOfWork(database.sessions) as uow:
        stored = (
            await uow.session.execute(
                select(Interview.step, Interview.updated_at, Interview.plan_state).where(
                    Interview.id == interview_id
                )
            )
        ).one()
        assert tuple(stored) == (9, times[2], {"stamp": "z"})
        rows = (
            await uow.session.execute(
                select(Answer.path, Answer.value, Answer.answered_by, Answer.answered_at).where(
                    Answer.interview_id == interview_id, Answer.path.in_(["a", "b", "c"])
                )
            )
        ).all()
    assert sorted(tuple(row) for row in rows) == [
        ("a", 2, None, times[1]),
        ("b", ["x"], None, times[1]),
        ("c", 5, user_id, times[2]),
    ]


async def test_user_and_dialog_state_come_in_one_query(
    database: Database, settings: Settings
) -> None:
    await _open_interview(database, settings)
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.users.for_turn("terminal", "1", OPEN_INTERVIEW)
        user, state = read.user, read.state
        assert isinstance(user, UserRow) and isinstance(state, DialogStateRow)
        assert [area.code for area in user.areas] == ["87-MH-A1"]
        nobody = await uow.users.for_turn("terminal", "nobody", OPEN_INTERVIEW)
        assert (nobody.user, nobody.state) == (None, None)


# -- ordering in the Telegram channel ----------------------------------------------------


def _update(update_id: int, user_id: int) -> Update:
    user = TelegramUser(user_id, f"u{user_id}", is_bot=False)
    chat = Chat(user_id, Chat.PRIVATE)
    message = Message(update_id, datetime.now(UTC), chat, from_user=user, text="x")
    return Update(update_id, message=message)


async def test_one_persons_updates_run_in_order_and_others_concurrently() -> None:
    processor = PerUserUpdateProcessor()
    events: list[tuple[str, int]] = []
    running: set[int] = set()
    overlapped = False

    async def handle(update_id: int, pause: float) -> None:
        nonlocal overlapped
        running.add(update_id)
        overlapped = overlapped or len(running) > 1
        events.append(("start", update_id))
        await asyncio.sleep(pause)
        events.append(("end", update_id))
        running.discard(update_id)

    # User 1 sends three updates, the first one slow; user 2 sends one meanwhile.
    plan = [(1, 1, 0.05), (2, 1, 0.0), (3, 2, 0.01), (4, 1, 0.0)]
    async with processor:
        await asyncio.gather(
            *(
                processor.process_update(_update(update_id, user), handle(update_id, pause))
                for update_id, user, pause in plan
            )
        )
    first_user = [update_id for kind, update_id in events if kind == "start" and update_id != 3]
    assert first_user == [1, 2, 4]
    for earlier, later in ((1, 2), (2, 4)):
        # Each of user 1's updates ended before the next one started.
        assert events.index(("end", earlier)) < events.index(("start", later))
    assert events.index(("end", 3)) < events.index(("end", 1))  # user 2 didn't wait
    assert overlapped
    assert processor._locks == {}
