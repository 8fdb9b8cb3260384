"""The sender's claimed messages (bot/outbox_claims.py): the next batch is claimed while the
current one is pushed, each message is handed out once, and what is not pushed is put back.

A store of due messages in memory stands for the outbox table (the table's claims are tested
on both databases in tests/test_outbox.py); time is a number moved by hand.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.outbox_claims import Claims
from storage.outbox import Claimed

START = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def message(number: int, user_id: int | None = None) -> Claimed:
    return Claimed(number, user_id or number, "telegram", str(number), {"text": "x"}, 1)


class Store:
    """Due messages, claimed in order, a batch at a time; what each claim saw."""

    def __init__(self, messages: list[Claimed], batch: int) -> None:
        self.due = list(messages)
        self.batch = batch
        self.now = START
        self.taken = 0
        # How many had been taken (pushed) when each claim began.
        self.claims_at: list[int] = []
        self.released: list[int] = []
        self.settled = 0

    async def claim(self) -> list[Claimed]:
        self.claims_at.append(self.taken)
        # A claim is a database round trip: the sender goes on meanwhile.
        await asyncio.sleep(0)
        batch, self.due = self.due[: self.batch], self.due[self.batch :]
        return batch

    async def release(self, ids: list[int]) -> None:
        self.released += ids

    async def settle(self) -> None:
        self.settled += 1

    def claims(self) -> Claims:
        return Claims(
            self.claim,
            self.release,
            lambda: self.now,
            batch=self.batch,
            hold=timedelta(seconds=100),
        )


async def drain(store: Store, claims: Claims) -> list[int]:
    pushed = []
    while waiting := await claims.waiting(store.settle):
        assert waiting[0].id not in pushed
        pushed.append(claims.take(0).id)
        store.taken += 1
        # The push: the sender awaits the platform, and a claim under way goes on.
        await asyncio.sleep(0)
    return pushed


async def test_the_next_batch_is_claimed_while_the_current_one_is_pushed() -> None:
    store = Store([message(n) for n in range(1, 21)], batch=9)
    pushed = await drain(store, store.claims())
    assert pushed == list(range(1, 21))
    # Batches of 9, the next asked for when 3 are left and claimed while the first of them
    # is pushed; the third came back short, and one more claim, after the outcomes were
    # written, found nothing.
    assert store.claims_at == [0, 7, 16, 20]
    assert store.settled == 1
    assert store.released == []


async def test_what_is_held_when_it_stops_is_put_back_with_a_claim_under_way() -> None:
    store = Store([message(n) for n in range(1, 21)], batch=9)
    claims = store.claims()
    for _ in range(7):
        await claims.waiting(store.settle)
        claims.take(0)
        store.taken += 1
        await asyncio.sleep(0)
    # The second batch is being claimed; the sender stops before it comes back.
    assert store.claims_at == [0, 7]
    await claims.close()
    assert sorted(store.released) == [8, 9, *range(10, 19)]


async def test_a_batch_held_too_long_is_put_back_rather_than_pushed() -> None:
    store = Store([message(n) for n in range(1, 6)], batch=9)
    claims = store.claims()
    assert [m.id for m in await claims.waiting(store.settle)] == [1, 2, 3, 4, 5]
    claims.take(0)
    # Its lease is nearly over: the rest go back, to be claimed again.
    store.now += timedelta(seconds=100)
    store.due = [message(n) for n in (2, 3, 4, 5)]
    assert [m.id for m in await claims.waiting(store.settle)] == [2, 3, 4, 5]
    assert store.released == [2, 3, 4, 5]


async def test_messages_to_someone_who_blocked_the_bot_are_not_handed_out() -> None:
    store = Store([message(1, user_id=7), message(2), message(3, user_id=7)], batch=9)
    claims = store.claims()
    await claims.waiting(store.settle)
    assert claims.take(0).id == 1
    claims.gone(7)
    # Also in a batch claimed later, before their block was written.
    store.due = [message(4, user_id=7), message(5)]
    assert await drain(store, claims) == [2, 5]


async def test_after_flood_control_it_claims_again() -> None:
    store = Store([message(1), message(2)], batch=9)
    claims = store.claims()
    await claims.waiting(store.settle)
    claims.take(0)
    # The platform asked for a pause: the message is due again later, claimed again then.
    claims.again()
    store.due = [message(1)]
    assert await drain(store, claims) == [2, 1]
