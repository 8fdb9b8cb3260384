"""Webhook workers killed one at a time: two behind one URL on one PostgreSQL, and SQLite's
one.

Telegram posts each update to the balancer (as to nginx in front of the workers), which
hands it to either worker; one person's updates may reach both. A worker is killed (SIGKILL)
at random moments, updates it stored and never applied included, and started again while the
other goes on serving. Every update must be applied once, in each person's order, and every
answer must land on the question that was on their screen. A button press goes to its turn
unstored, for the turn to store it, and SQLite's worker hands any other update to its turn
while it is being stored (bot.channels.webhook): killed anywhere in between, nothing may be
lost or doubled either.
"""

from __future__ import annotations

import asyncio
import random

from tests.chaos.forks import Forked, Forks
from tests.chaos.human import READING_TIME_SETTING, form_questions
from tests.chaos.test_kill_interviews import KILLS, collaborators, finished, seed, verdict
from tests.conftest import POSTGRESQL_ONLY, SQLITE_ONLY, Database
from tests.fakes.balancer import Balancer
from tests.fakes.telegram import FakeTelegram
from tests.test_telegram_e2e import free_port, run_env, wait_for_port

SECRET = "kill-workers-secret"


@POSTGRESQL_ONLY
async def test_two_workers_killed_in_turn_lose_double_and_misplace_nothing(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await killed_in_turn(database, fake_telegram, 2, random.Random(23))


@SQLITE_ONLY
async def test_the_one_sqlite_worker_killed_loses_doubles_and_misplaces_nothing(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await killed_in_turn(database, fake_telegram, 1, random.Random(29))


async def killed_in_turn(
    database: Database, fake_telegram: FakeTelegram, count: int, rng: random.Random
) -> None:
    """``count`` webhook workers behind one balancer, killed one after another (each started
    again at once) while the collaborators answer their interviews; then the verdict."""
    await seed(database)
    questions = form_questions()
    humans = collaborators(fake_telegram, questions)
    env = {**run_env(database, fake_telegram), "RASOAT_READING_TIME": READING_TIME_SETTING}
    ports = [free_port() for _ in range(count)]
    last = asyncio.Event()
    stuck: list[str] = []
    async with (
        Balancer([f"http://127.0.0.1:{port}" for port in ports]) as balancer,
        Forks(env) as forks,
    ):

        async def start(port: int) -> Forked:
            return await forks.start(
                "run",
                "--webhook",
                f"--port={port}",
                "--path=hook",
                f"--secret={SECRET}",
                f"--webhook-url={balancer.url}/hook",
            )

        workers = [await start(port) for port in ports]
        started = list(workers)
        for port in ports:
            await wait_for_port(port)
        working = [asyncio.create_task(human.run(last)) for human in humans]
        try:
            for kill in range(KILLS):
                # Long enough, often, for a start to serve for a while before the kill.
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                victim = kill % count
                await workers[victim].kill()
                workers[victim] = await start(ports[victim])
                started.append(workers[victim])
            stuck = await finished(humans, working, last)
        finally:
            for task in working:
                task.cancel()
            for worker in workers:
                await worker.stop()
        served = ", ".join(f"{n}" for n in balancer.served.values())
    await verdict(
        database,
        humans,
        questions,
        stuck,
        [line for process in started for line in process.crashes],
        f"{count} webhook worker(s), {KILLS} kills one at a time, requests served {served}",
    )
