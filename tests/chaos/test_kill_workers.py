"""Two webhook workers behind one URL on one PostgreSQL, killed one at a time.

Telegram posts each update to the balancer (as to nginx in front of the workers), which
hands it to either worker; one person's updates may reach both. A worker is killed (SIGKILL)
at random moments, updates it stored and never applied included, and started again while the
other goes on serving. Every update must be applied once, in each person's order, and every
answer must land on the question that was on their screen.
"""

from __future__ import annotations

import asyncio
import random

from tests.chaos.human import READING_TIME_SETTING, form_questions
from tests.chaos.processes import Rasoat
from tests.chaos.test_kill_interviews import FINISH_WITHIN, KILLS, collaborators, seed, verdict
from tests.conftest import POSTGRESQL_ONLY, Database
from tests.fakes.balancer import Balancer
from tests.fakes.telegram import FakeTelegram
from tests.test_telegram_e2e import free_port, run_env, wait_for_port

WORKERS = 2
SECRET = "kill-workers-secret"
pytestmark = POSTGRESQL_ONLY


async def test_two_workers_killed_in_turn_lose_double_and_misplace_nothing(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed(database)
    questions = form_questions()
    rng = random.Random(23)
    humans = collaborators(fake_telegram, questions)
    env = {**run_env(database, fake_telegram), "RASOAT_READING_TIME": READING_TIME_SETTING}
    ports = [free_port() for _ in range(WORKERS)]
    last = asyncio.Event()
    stuck: list[str] = []
    async with Balancer([f"http://127.0.0.1:{port}" for port in ports]) as balancer:

        async def start(port: int) -> Rasoat:
            return await Rasoat.start(
                env,
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
                # Long enough, often, for a start (1–2 s) to serve for a while before the kill.
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                victim = kill % WORKERS
                await workers[victim].kill()
                workers[victim] = await start(ports[victim])
                started.append(workers[victim])
            last.set()
            try:
                await asyncio.wait_for(asyncio.gather(*working), timeout=FINISH_WITHIN)
            except TimeoutError:
                stuck = [human.describe() for human in humans if not human.done]
        finally:
            for task in working:
                task.cancel()
            for worker in workers:
                await worker.stop()
        served = ", ".join(f"{count}" for count in balancer.served.values())
    await verdict(
        database,
        humans,
        questions,
        stuck,
        [line for process in started for line in process.crashes],
        f"{WORKERS} webhook workers, {KILLS} kills one at a time, requests served {served}",
    )
