"""kill -9 in the middle of interviews: no answer lost, doubled or put on a question not shown.

Collaborators (``tests.chaos.human``) interview their households through the fake Bot API
while `rasoat run` (forked from a zygote: tests/chaos/forks.py) is killed (SIGKILL) at random
moments, its channels' process or its turns' process (bot.turn_process, which stops the
other), and started again. They act only on what reached their phone and, when the bot seems
stuck, do the last thing again: the retyped "2" of a lost reply must not become the answer
to a question they never saw. At the end every interview is finished and every stored answer
is the one meant for its question.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime

from sqlalchemy import select

from storage.models import Answer, Household, Interview, InterviewStatus
from storage.uow import UnitOfWork
from tests.chaos.forks import Forks
from tests.chaos.human import (
    HEAD_NAME,
    READING_TIME_SETTING,
    Human,
    Question,
    asked_path,
    expected_answers,
    form_questions,
    same_value,
)
from tests.chaos.world import add_collaborators, applied
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram
from tests.helpers import seed_areas
from tests.interview_driver import scripted_household
from tests.test_telegram_e2e import run_env

YEAR = datetime.now(UTC).year
KILLS = int(os.environ.get("RASOAT_KILLS", "50"))
# How long the last start has to see the interviews in hand through.
FINISH_WITHIN = float(os.environ.get("RASOAT_CHAOS_WAIT", "300"))
PEOPLE = [611, 612, 613]
# More than they can do while the kills go on: they are never idle.
HOUSEHOLDS_EACH = 20


def codes(person: int) -> list[str]:
    return [f"HH-{person}-{number:02}" for number in range(1, HOUSEHOLDS_EACH + 1)]


def collaborators(fake: FakeTelegram, questions: dict[str, Question]) -> list[Human]:
    """The people of the kill tests, each with their households and their own luck."""
    return [
        Human(fake, person, codes(person), HEAD_NAME, questions, random.Random(person))
        for person in PEOPLE
    ]


async def seed(database: Database) -> None:
    await seed_areas(database.sessions)
    async with UnitOfWork(database.sessions) as uow:
        village = await uow.areas.by_code("87-MH-A1")
        assert village is not None
        for person in PEOPLE:
            for code in codes(person):
                uow.session.add(scripted_household(code, village.id, YEAR))
        await uow.commit()
    await add_collaborators(database, PEOPLE)


async def stored_answers(database: Database) -> dict[str, dict[str, object]]:
    """Each household's stored answers by path, and its interview's status under "_status"."""
    async with database.sessions() as session:
        rows = await session.execute(
            select(Household.code, Interview.status, Answer.path, Answer.value)
            .join(Interview, Interview.household_id == Household.id)
            .outerjoin(Answer, Answer.interview_id == Interview.id)
        )
        out: dict[str, dict[str, object]] = {}
        for code, status, path, value in rows.all():
            answers = out.setdefault(code, {"_status": status})
            if path is not None:
                answers[path] = value
        return out


async def test_interviews_survive_kills_with_every_answer_on_its_question(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed(database)
    questions = form_questions()
    rng = random.Random(11)
    humans = collaborators(fake_telegram, questions)
    env = {
        **run_env(database, fake_telegram),
        "RASOAT_READING_TIME": READING_TIME_SETTING,
        "RASOAT_TURN_PROCESS": "1",
    }
    last = asyncio.Event()
    stuck: list[str] = []
    async with Forks(env) as forks:
        started = [await forks.start("run")]
        working = [asyncio.create_task(human.run(last)) for human in humans]
        try:
            for _ in range(KILLS):
                # Long enough, often, for a start to serve for a while before the kill.
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                # Either process of a `rasoat run`: the channels' or the turns'
                # (bot.turn_process).
                if not (rng.random() < 0.5 and await started[-1].kill_turns()):
                    await started[-1].kill()
                started.append(await forks.start("run"))
            stuck = await finished(humans, working, last)
        finally:
            for task in working:
                task.cancel()
            await started[-1].stop()

    crashes = [line for process in started for line in process.crashes]
    await verdict(database, humans, questions, stuck, crashes, f"{KILLS} kills")


async def finished(
    humans: list[Human], working: list[asyncio.Task[None]], last: asyncio.Event
) -> list[str]:
    """The last start runs until the interviews in hand are done: those left stuck."""
    last.set()
    try:
        await asyncio.wait_for(asyncio.gather(*working), timeout=FINISH_WITHIN)
    except TimeoutError:
        return [human.describe() for human in humans if not human.done]
    return []


async def verdict(
    database: Database,
    humans: list[Human],
    questions: dict[str, Question],
    stuck: list[str],
    crashes: list[str],
    title: str,
) -> None:
    """Prints the figures of a kill run and checks them: every update applied, every
    answer on its question, every interview started finished."""
    meant = expected_answers(questions)
    stored = await stored_answers(database)
    misplaced: list[str] = []
    interviews = [code for human in humans for code in human.finished]
    unfinished = sorted(set(stored) - set(interviews))
    for code in interviews:
        answers = stored[code]
        assert answers.pop("_status") is InterviewStatus.COMPLETED, code
        asked = {path: value for path, value in answers.items() if asked_path(path)}
        for path in sorted(set(asked) | set(meant)):
            if path not in asked or path not in meant or not same_value(asked[path], meant[path]):
                misplaced.append(
                    f"{code} {path}: stored {asked.get(path)!r}, meant {meant.get(path)!r}"
                )
    pushed = {str(update) for human in humans for update in human.sent}
    done = await applied(database)
    lost = sorted(pushed - set(done), key=int)
    print(
        f"\nkill -9 during interviews ({database.backend}): {title}, "
        f"{len(pushed)} updates, lost {len(lost)}, doubled {len(done) - len(set(done))}, "
        f"misplaced {len(misplaced)}, crashes {len(crashes)}, "
        f"left without their question {len(stuck)}, interviews finished {len(interviews)}"
    )
    if misplaced:
        wrong = {line.split(" ")[0] for line in misplaced}
        stories = [
            human.story(code) for human in humans for code in human.finished if code in wrong
        ]
        raise AssertionError("\n".join([*misplaced, *stories]))
    assert lost == []
    assert crashes == [], "\n".join(crashes[:20])
    # Every interview started was finished, each by the person who started it.
    assert stuck == [] and unfinished == [], "\n".join(stuck)
