"""kill -9 in the middle of the work: every update Telegram delivered is applied exactly once.

`rasoat run` (forked from a zygote that imported rasoat: tests/chaos/forks.py) polls the fake
Bot API while several people write to it; it is killed (SIGKILL, no goodbye) at random
moments, started again, killed again. Telegram forgets an
update once the next poll confirms it, and python-telegram-bot confirms while the update is
still only in its memory: an update must be stored before that, and applied at the next
start. Runs with `make chaos` (CI runs it); RASOAT_KILLS sets how many kills per database.
"""

from __future__ import annotations

import asyncio
import os
import random

from tests.chaos.forks import Forked, Forks
from tests.chaos.world import add_collaborators, applied
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram
from tests.helpers import seed_areas
from tests.test_telegram_e2e import run_env

KILLS = int(os.environ.get("RASOAT_KILLS", "50"))
PEOPLE = [501, 502, 503, 504]
MESSAGES_PER_PERSON = 3


async def test_no_update_is_lost_or_doubled_across_kills(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    await add_collaborators(database, PEOPLE)
    env = run_env(database, fake_telegram)
    rng = random.Random(7)
    pushed: list[str] = []
    started: list[Forked] = []
    async with Forks(env) as forks:
        for _ in range(KILLS):
            started.append(await forks.start("run"))
            # Each start deletes the webhook just before it begins polling.
            await fake_telegram.wait_for_call("deleteWebhook", timeout=30)
            for _ in range(MESSAGES_PER_PERSON):
                for person in PEOPLE:
                    update = await fake_telegram.user(id=person).send_text("/whoami")
                    pushed.append(str(update["update_id"]))
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            await started[-1].kill()

        # One last start: whatever was stored and not applied comes first, then what
        # Telegram still holds.
        started.append(await forks.start("run"))
        try:
            for _ in range(600):
                if set(await applied(database)) >= set(pushed):
                    break
                await asyncio.sleep(0.1)
        finally:
            await started[-1].stop()
    crashes = [line for process in started for line in process.crashes]
    done = await applied(database)
    lost = sorted(set(pushed) - set(done), key=int)
    doubled = len(done) - len(set(done))
    print(
        f"\nkill -9 ({database.backend}): {KILLS} kills, {len(pushed)} updates delivered, "
        f"{len(set(done) & set(pushed))} applied, lost {len(lost)}, doubled {doubled}, "
        f"crashes {len(crashes)}"
    )
    assert lost == []
    assert doubled == 0
    assert crashes == [], "\n".join(crashes[:20])
