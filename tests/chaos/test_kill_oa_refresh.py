"""kill -9 around the Zalo Official Account's token refresh: after each kill the OA works with
a valid token, or, only when Zalo spent the refresh token and the new pair was never
stored, the operator is told so, as the README says.

The real `rasoat run --channel zalo-oa` (webhook) runs against the fake OA of the test
process, its access token due for a refresh at start. It is killed (SIGKILL) at each point
of a refresh, held there by the fake, by a server that never reads the request, or by the
database: before the request reached Zalo, while Zalo holds it (not yet spent), just after
Zalo answered (spent: the window no client can close), and after the new pair was stored;
stopped (SIGTERM) while Zalo holds it; then killed at random moments while people write and
the outbox pushes, with pairs that fall due again two seconds after they came and a token
server slow on both sides of spending a token. After each kill a new process starts at once
(forked from a zygote that imported rasoat: tests/chaos/forks.py). Runs with `make chaos`
(CI runs it); RASOAT_KILLS sets how many random kills per database.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from locales.catalog import translate
from tests.chaos.forks import Forked, Forks
from tests.chaos.oa import (
    PROMPTLY,
    black_hole,
    current,
    oa_env,
    operator_pair,
    probe,
    pushing,
    run_out_claims,
    run_out_token_leases,
    store_held,
    store_waiting,
    stored_access_tokens,
    stored_refresh_tokens,
    until,
    writing,
)
from tests.chaos.world import add_collaborators, applied
from tests.conftest import Database
from tests.fakes.zalo_oa import FakeZaloOa
from tests.helpers import seed_areas
from tests.test_telegram_e2e import free_port

KILLS = int(os.environ.get("RASOAT_KILLS", "50"))
PEOPLE = ["7100000000000000001", "7100000000000000002", "7100000000000000003"]
PROBER = PEOPLE[0]
# 11 of its 25 hours left: refreshed at once (the README: when 12 are left).
DUE = timedelta(hours=11)
# A pair that falls due 2 s after it came (12 h and 2 s left).
SOON = timedelta(hours=12, seconds=2)
# The operator's log line and status when Zalo refused the stored refresh token.
REFUSED_LOG = "Zalo refused the OA's refresh token"
REFUSED_STATUS = translate("zalo_oa.cli_refused", at="").split(":", 1)[0]
CUT_SHORT = translate("zalo_oa.cli_refreshing")
# When a random kill fell: no refresh in hand (or its pair stored), a refresh begun that Zalo
# had not spent, one Zalo spent and the process had not stored, or a try with a refresh token
# lost before (Zalo refuses it).
IDLE, UNSPENT, SPENT, AGAIN = "idle", "unspent", "spent", "again"


@dataclass
class Outcomes:
    """What each kill led to, for the verdict."""

    points: list[str] = field(default_factory=list)
    # Refresh tokens Zalo spent whose pair was never stored (each one the operator mended).
    token_lost: list[str] = field(default_factory=list)
    # Of those, the ones outside the window the README admits, and how.
    lost_elsewhere: list[str] = field(default_factory=list)
    told: int = 0
    # Refresh tokens Zalo spent for a process killed before it stored the pair.
    spent_by_the_killed: set[str] = field(default_factory=set)
    # Kills after which the stored pair was not one Zalo takes, though no kill had fallen
    # between Zalo's spending of its refresh token and the store.
    dead_pairs: list[str] = field(default_factory=list)


class World:
    """The database, the fake OA, the processes started, and what came of the kills."""

    def __init__(self, database: Database, fake: FakeZaloOa) -> None:
        self.database = database
        self.fake = fake
        port = free_port()
        fake.webhook_url = f"http://127.0.0.1:{port}/zalo-oa"
        self.run = ("run", "--channel", "zalo-oa", "--listen", "127.0.0.1", f"--port={port}")
        # Pushes to one person are paced at one a second for Telegram's sake: not here, where
        # the pacing is not under test and a process lives a second.
        self.forks = Forks({**oa_env(database, fake), "RASOAT_PUSH_CHAT_INTERVAL": "0"})
        self.outcomes = Outcomes()

    async def start(self, **env: str) -> Forked:
        """`rasoat run --channel zalo-oa`, started at once."""
        return await self.forks.start(*self.run, env=env)

    async def command(self, *args: str) -> tuple[int, str]:
        """`rasoat ARGS` as the operator runs it: its exit code and what it printed."""
        process = await self.forks.start(*args)
        code = await process.finished()
        return code, "\n".join(process.output)

    async def status(self) -> tuple[int, str]:
        return await self.command("zalo-oa", "tokens", "status")

    @property
    def crashes(self) -> list[str]:
        """Each ERROR, CRITICAL or traceback of any process but the documented refusal,
        with the lines after it."""
        found = []
        for process in self.forks.started:
            for number, line in enumerate(process.output):
                if line in process.crashes and REFUSED_LOG not in line:
                    found.append("\n".join(process.output[max(number - 3, 0) : number + 60]))
        return found


async def test_a_refresh_survives_a_kill_at_each_point_and_at_random(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    await seed_areas(database.sessions)
    await add_collaborators(database, PEOPLE, platform="zalo-oa")
    world = World(database, fake_oa)
    async with world.forks:
        try:
            await before_the_request(world)
            await while_zalo_holds_it(world)
            await just_after_zalo_answered(world)
            await after_the_store(world)
            await stopped_while_zalo_holds_it(world)
            kills = await at_random(world, random.Random(13))
        except BaseException:
            for process in world.forks.started[-3:]:
                print(f"--- process {process.number} said:")
                print("\n".join(process.output[-25:]))
            raise
    outcomes, crashes = world.outcomes, world.crashes
    in_window = len(outcomes.token_lost) - len(outcomes.lost_elsewhere)
    print(
        f"\nkill -9 around the Zalo OA token refresh ({database.backend}): "
        f"{', '.join(outcomes.points)}; {kills}; token-lost in all {len(outcomes.token_lost)} "
        f"(in the spent-but-not-stored window {in_window}, told by `tokens status` "
        f"{outcomes.told}), crashes {len(crashes)}"
    )
    assert outcomes.lost_elsewhere == []
    assert outcomes.told == len(outcomes.token_lost)
    assert crashes == [], "\n".join(crashes[:20])


async def answer(process: Forked, fake: FakeZaloOa) -> str:
    """The access token the answer to a person's message came with, from ``process``."""
    try:
        return await probe(fake, PROBER)
    except TimeoutError:
        said = "\n".join(process.output[-30:])
        raise AssertionError(f"no answer within {PROMPTLY} s; the process said:\n{said}") from None


async def before_the_request(world: World) -> None:
    """Killed with the lease taken and the request not at Zalo: the token is not spent."""
    database, fake = world.database, world.fake
    old = await operator_pair(database, fake, DUE)
    refreshes = len(fake.refreshes)
    with black_hole() as nowhere:
        process = await world.start(ZALO_OA_OAUTH_URL=nowhere)

        async def leased() -> bool:
            return (await current(database)).refreshing_until is not None

        await until(leased)
        await process.kill()
    assert len(fake.refreshes) == refreshes
    await after_an_unspent_kill(world, old)
    world.outcomes.points.append("before the request: works")


async def while_zalo_holds_it(world: World) -> None:
    """Killed while Zalo holds the request, not yet spent: the token is not spent."""
    database, fake = world.database, world.fake
    old = await operator_pair(database, fake, DUE)
    fake.hold_refresh = asyncio.Event()
    process = await world.start()
    await fake.wait_for(lambda: old[1] in fake.held)
    await process.kill()
    # Its connection closed, Zalo drops the request it had not got to.
    await fake.wait_for(lambda: old[1] in fake.dropped)
    fake.hold_refresh = None
    await after_an_unspent_kill(world, old)
    world.outcomes.points.append("held by Zalo: works")


async def after_a_kill_in_a_refresh(world: World, old: tuple[str, str]) -> Forked:
    """Right after the kill, `tokens status` shows the refresh cut short (exit 0: it cannot
    know whether Zalo spent the token) and a process started at once works with the old
    access token (the dead one's lease still on the pair, it does not refresh); the next
    process, started once that lease has run out (2 minutes: moved, not waited for)."""
    code, said = await world.status()
    assert code == 0 and CUT_SHORT in said, said
    process = await world.start()
    assert await answer(process, world.fake) == old[0]
    await process.stop()
    await run_out_token_leases(world.database)
    return await world.start()


async def after_an_unspent_kill(world: World, old: tuple[str, str]) -> None:
    """The next process refreshes with the unspent refresh token and works with the new
    pair."""
    database, fake = world.database, world.fake
    assert fake.live(*old)
    process = await after_a_kill_in_a_refresh(world, old)
    await fake.wait_for(lambda: (old[1], True) in fake.refreshes)
    new = fake.answers[old[1]]

    async def stored() -> bool:
        return (await current(database)).refresh_token == new[1]

    await until(stored)
    assert await answer(process, fake) == new[0]
    await process.stop()
    assert fake.live(*new)


async def just_after_zalo_answered(world: World) -> None:
    """Killed once Zalo spent the refresh token and answered, the new pair not stored (the
    database held meanwhile): the OA keeps working with the old access token, and the
    operator is told, as the README says, then mends it with `tokens set`."""
    database, fake = world.database, world.fake
    old = await operator_pair(database, fake, DUE)
    fake.hold_refresh = asyncio.Event()
    process = await world.start()
    await fake.wait_for(lambda: old[1] in fake.held)
    async with store_held(database):
        fake.hold_refresh.set()
        await fake.wait_for(lambda: old[1] in fake.answered)

        async def waiting() -> bool:
            return await store_waiting(database)

        # On PostgreSQL the process is seen waiting to store the pair Zalo gave it.
        await until(waiting)
        await process.kill()
    fake.hold_refresh = None
    spent_for = fake.answers[old[1]]
    assert not fake.live(*old) and spent_for[1] not in await stored_refresh_tokens(database)
    assert (await current(database)).refresh_token == old[1]
    # The next process tries the stored refresh token: Zalo refuses it, the process says so
    # in its log and still works with the old access token (Zalo keeps it valid), and the
    # status says so (exit 1).
    process = await after_a_kill_in_a_refresh(world, old)
    await fake.wait_for(lambda: (old[1], False) in fake.refreshes)

    async def refused() -> bool:
        return (await current(database)).refused_at is not None

    await until(refused)
    assert await answer(process, fake) == old[0]
    assert any(
        REFUSED_LOG in line and "rasoat zalo-oa tokens set" in line for line in process.output
    )
    code, said = await world.status()
    assert code == 1 and REFUSED_STATUS in said, said
    world.outcomes.token_lost.append(old[1])
    world.outcomes.told += 1
    # The operator gets a new refresh token from Zalo's console and sets it: the running
    # process takes it at its next call (refreshing it, as it has no access token).
    _, console = fake.issue()
    code, said = await world.command("zalo-oa", "tokens", "set", f"--refresh-token={console}")
    assert code == 0, said
    assert await answer(process, fake) == fake.answers[console][0]
    assert (await world.status())[0] == 0
    await process.stop()
    world.outcomes.points.append("just after Zalo answered: token-lost, told, mended")


async def after_the_store(world: World) -> None:
    """Killed once the new pair is stored: the next process works with it."""
    database, fake = world.database, world.fake
    old = await operator_pair(database, fake, DUE)
    process = await world.start()

    async def stored() -> bool:
        return (
            old[1] in fake.answers
            and (await current(database)).refresh_token == (fake.answers[old[1]][1])
        )

    await until(stored)
    await process.kill()
    new = fake.answers[old[1]]
    refreshes = len(fake.refreshes)
    process = await world.start()
    assert await answer(process, fake) == new[0]
    await process.stop()
    assert fake.live(*new) and len(fake.refreshes) == refreshes
    world.outcomes.points.append("after the store: works")


async def stopped_while_zalo_holds_it(world: World) -> None:
    """Stopped (SIGTERM, not a kill) while Zalo holds the request: the process waits for
    Zalo's answer and stores the new pair before it exits."""
    database, fake = world.database, world.fake
    old = await operator_pair(database, fake, DUE)
    fake.hold_refresh = asyncio.Event()
    process = await world.start()
    await fake.wait_for(lambda: old[1] in fake.held)
    os.kill(process.pid, signal.SIGTERM)
    fake.hold_refresh.set()
    fake.hold_refresh = None
    code = await process.finished()
    new = fake.answers[old[1]]
    assert code == 0 and (await current(database)).refresh_token == new[1]
    assert fake.live(*new)
    world.outcomes.points.append("stopped while Zalo held it: stored")


async def at_random(world: World, rng: random.Random) -> str:
    """Random kills while people write and the outbox pushes, each pair due 2 s after it
    came; every event the bot took applied once, every push sent, every message sent with a
    token the database held and Zalo took; a token lost exactly when a kill fell between
    Zalo spending it and the store."""
    database, fake = world.database, world.fake
    fake.refresh_life = SOON
    # Zalo's token server takes up to 200 ms before it spends the token and again before
    # it answers: kills land on both sides of the spending.
    fake.slowness = lambda: rng.uniform(0.0, 0.2)
    await operator_pair(database, fake, DUE)
    sent_before, refreshes_before = len(fake.sent), len(fake.refreshes)
    lost_before = len(world.outcomes.token_lost)
    moments: Counter[str] = Counter()
    stop = asyncio.Event()
    writers = [asyncio.create_task(writing(fake, p, 0.2, stop)) for p in PEOPLE]
    pusher = asyncio.create_task(pushing(database, PEOPLE[1], 0.3, stop))
    # Which process spent each refresh token, and how it ended (for a failure to show).
    spender: dict[str, str] = {}
    process = await world.start()
    cut_short: set[str] = set()
    for number in range(KILLS):
        began = len(fake.refreshes)
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        moments[await kill(world, process, began)] += 1
        spender |= {r: f"{process.number} killed" for r, ok in fake.refreshes[began:] if ok}
        if number == KILLS - 1:
            # The last start: the outbox messages killed processes claimed go once their
            # claims run out.
            cut_short = await run_out_claims(database)
        process = await world.start()
    began = len(fake.refreshes)
    stop.set()
    taken = [key for keys in await asyncio.gather(*writers) for key in keys]
    queued = await pusher

    async def all_done() -> bool:
        texts = [str(m.get("text")) for _, m in fake.sent[sent_before:]]
        return set(taken) <= set(await applied(database, "zalo-oa")) and set(
            queued.values()
        ) <= set(texts)

    await until(all_done, 60)
    await mend_a_lost_token(world)
    used = await answer(process, fake)
    await process.stop()
    spender |= {r: f"{process.number} stopped" for r, ok in fake.refreshes[began:] if ok}
    await mend_a_lost_token(world)
    done = await applied(database, "zalo-oa")
    texts = [str(m.get("text")) for _, m in fake.sent[sent_before:]]
    counts = {key: texts.count(said) for key, said in queued.items()}
    lost = sorted(set(taken) - set(done))
    doubled = len(done) - len(set(done))
    pushes_lost = sorted(key for key, n in counts.items() if n == 0)
    resent = sorted(key for key, n in counts.items() if n > 1 and key in cut_short)
    pushes_doubled = sorted(key for key, n in counts.items() if n > 1 and key not in cut_short)
    held = await stored_access_tokens(database)
    unheld = sorted({token for token in fake.sent_with[sent_before:] if token not in held})
    token = await current(database)
    refreshed = sum(ok for _, ok in fake.refreshes[refreshes_before:])
    token_lost = len(world.outcomes.token_lost) - lost_before
    summary = (
        f"{KILLS} random kills ({moments[IDLE]} with no refresh in hand, "
        f"{moments[UNSPENT]} during a refresh Zalo had not spent, {moments[SPENT]} after "
        f"Zalo spent it and before the store, {moments[AGAIN]} while trying a token lost "
        f"before), {refreshed} refreshes, token-lost {token_lost}; "
        f"{len(taken)} events taken, {len(set(done) & set(taken))} applied, "
        f"lost {len(lost)}, doubled {doubled}; {len(queued)} pushes, lost {len(pushes_lost)}, "
        f"doubled {len(pushes_doubled)}, sent again after a kill cut their claim short "
        f"{len(resent)}"
    )
    assert lost == [] and doubled == 0, (lost, doubled)
    assert pushes_lost == [] and pushes_doubled == [], (pushes_lost, pushes_doubled)
    # Every message went with a token Zalo took and the database held; none was refused.
    assert ("message", -216) not in fake.errors
    assert unheld == []
    assert used in held
    # After each kill the stored pair was one Zalo takes, unless the kill fell between
    # Zalo's spending and the store; a token was lost for each of those, and no other.
    assert world.outcomes.dead_pairs == []
    lost_tokens = world.outcomes.token_lost[lost_before:]
    assert set(lost_tokens) == world.outcomes.spent_by_the_killed, [
        spender.get(r, r[:6]) for r in lost_tokens
    ]
    assert token_lost == moments[SPENT]
    # The OA is left with a pair Zalo takes.
    assert fake.live(token.access_token, token.refresh_token)
    return summary


async def kill(world: World, process: Forked, began: int) -> str:
    """``process`` killed: when in a refresh it was (IDLE, UNSPENT, SPENT, AGAIN; Zalo's
    refreshes since the ``began``-th, while it lived, tell a token it spent from one spent
    before); then its lease runs out, and a refresh token Zalo refused meanwhile is
    mended."""
    database, fake = world.database, world.fake
    await process.kill()

    async def idle() -> bool:
        return fake.idle()

    # What it had sent Zalo is answered, or dropped, first: Zalo may spend a token whose
    # request arrived from a process already dead.
    await until(idle)
    token = await current(database)
    if token.refreshing_until is None or token.refreshing_until <= datetime.now(UTC):
        moment = IDLE
    elif (token.refresh_token, True) in fake.refreshes[began:]:
        moment = SPENT
    elif token.refresh_token in fake.answers:
        moment = AGAIN
    else:
        moment = UNSPENT
    outcomes = world.outcomes
    if moment == SPENT:
        outcomes.spent_by_the_killed.add(token.refresh_token)
    live = fake.live(token.access_token, token.refresh_token)
    if not live and token.refresh_token not in outcomes.spent_by_the_killed:
        outcomes.dead_pairs.append(f"after process {process.number} was killed ({moment})")
    await run_out_token_leases(database)
    await mend_a_lost_token(world)
    return moment


async def mend_a_lost_token(world: World) -> bool:
    """If Zalo refused the stored refresh token: checks it is one Zalo spent and whose pair
    was never stored (the README's window), that `tokens status` says so (exit 1), and
    sets a new pair as the operator would."""
    database, fake = world.database, world.fake
    token = await current(database)
    if token.refused_at is None:
        return False
    spent = token.refresh_token
    outcomes = world.outcomes
    outcomes.token_lost.append(spent)
    stored = await stored_refresh_tokens(database)
    if spent not in fake.answers or fake.answers[spent][1] in stored:
        outcomes.lost_elsewhere.append(f"{spent[:6]}…: spent {spent in fake.answers}")
    code, said = await world.status()
    if code == 1 and REFUSED_STATUS in said:
        outcomes.told += 1
    await operator_pair(database, fake, SOON)
    return True
