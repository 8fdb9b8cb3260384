"""The OA's token keeper on both databases, with Zalo's token server as a function and a
clock the test moves: what the kill test (tests/chaos/test_kill_oa_refresh.py) found, kept
from coming back without a kill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.channels.zalo_oa_tokens import NewPair, Refused, TokenKeeper, set_tokens
from bot.outbox import writer_over
from storage.uow import UnitOfWork
from tests.conftest import Database

START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
# 11 of its 25 hours left: due for a refresh (the README: when 12 are left).
DUE = 11 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Zalo:
    """The token server: the refresh tokens presented, and what it answers."""

    def __init__(self) -> None:
        self.presented: list[str] = []
        self.refuse = False

    async def refresh(self, refresh_token: str) -> NewPair:
        self.presented.append(refresh_token)
        if self.refuse:
            raise Refused("Refresh token is invalid or expired")
        number = len(self.presented)
        return NewPair(f"access-{number}", f"refresh-{number}", 90000)


async def no_sleep(seconds: float) -> None:
    raise AssertionError(f"a call waited {seconds} s")


def keeper(database: Database, zalo: Zalo, clock: Clock) -> TokenKeeper:
    return TokenKeeper(
        database.sessions,
        writer_over(database.sessions),
        zalo.refresh,
        clock=clock,
        sleep=no_sleep,
        worker="this",
    )


async def test_a_lease_a_dead_process_left_holds_up_no_call(database: Database) -> None:
    clock, zalo = Clock(), Zalo()
    token = await set_tokens(database.sessions, "refresh-0", "access-0", DUE, now=START)
    # A process took the lease to refresh, and died.
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.zalo_oa_tokens.begin_refresh(token.id, "dead", START, timedelta(minutes=2))
        await uow.commit()
    tokens = keeper(database, zalo, clock)
    # The access token still works: it is used at once, nothing waits for the dead one.
    assert await tokens.access() == "access-0"
    assert await tokens.access() == "access-0"
    assert zalo.presented == []
    # Once its lease has run out, the pair is refreshed with the unspent refresh token.
    clock.now += timedelta(minutes=3)
    assert await tokens.access() == "access-1"
    assert zalo.presented == ["refresh-0"]


async def test_after_a_refusal_the_operators_new_pair_is_taken_at_the_next_call(
    database: Database,
) -> None:
    clock, zalo = Clock(), Zalo()
    await set_tokens(database.sessions, "refresh-0", "access-0", DUE, now=START)
    tokens = keeper(database, zalo, clock)
    zalo.refuse = True
    # Refused (spent by a refresh whose pair was never stored): the old access token serves.
    assert await tokens.access() == "access-0"
    assert await tokens.access() == "access-0"
    assert zalo.presented == ["refresh-0"]
    # The operator sets a refresh token from Zalo's console (`rasoat zalo-oa tokens set`).
    zalo.refuse = False
    await set_tokens(database.sessions, "from-the-console", now=START)
    assert await tokens.access() == "access-2"
    assert zalo.presented == ["refresh-0", "from-the-console"]
