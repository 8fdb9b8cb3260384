"""When typed text may answer a question the person never saw (bot.conversation.unseen)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation import GroupCommit, unseen
from bot.messages import Incoming, Kind
from storage.models import DialogState

SENT_OUT = datetime(2026, 12, 4, 9, 30, 15, 600_000, tzinfo=UTC)


def state(
    unseen_turn: str | None = None,
    seen_at: datetime | None = SENT_OUT,
    seen_message: int | None = None,
) -> DialogState:
    return DialogState(
        user_id=1,
        dialog="interview",
        state={},
        unseen_turn=unseen_turn,
        seen_at=seen_at,
        seen_message=seen_message,
    )


def typed(sent_at: datetime | None, number: int | None = None) -> Incoming:
    return Incoming(
        "telegram", "7", "7", "Hoa", Kind.TEXT, text="2", sent_at=sent_at, message_number=number
    )


def test_replies_not_confirmed_sent_are_unseen_whenever_the_text_was_typed() -> None:
    assert unseen(state("telegram:41"), typed(SENT_OUT + timedelta(hours=1)))
    assert unseen(state("telegram:41", seen_at=None), typed(None))


@pytest.mark.parametrize(
    ("sent_at", "expected"),
    [
        # Stamped a second (or more) before the replies went out: typed before seeing them.
        (datetime(2026, 12, 4, 9, 30, 14, tzinfo=UTC), True),
        (datetime(2026, 12, 4, 9, 29, 0, tzinfo=UTC), True),
        # The same second, or later: taken as an answer.
        (datetime(2026, 12, 4, 9, 30, 15, tzinfo=UTC), False),
        (datetime(2026, 12, 4, 9, 30, 16, tzinfo=UTC), False),
        # A platform without timestamps: only the confirmation counts.
        (None, False),
    ],
)
def test_text_stamped_before_the_replies_went_out_is_unseen(
    sent_at: datetime | None, expected: bool
) -> None:
    assert unseen(state(), typed(sent_at)) is expected


@pytest.mark.parametrize(("number", "expected"), [(40, True), (41, False), (42, False)])
def test_where_messages_are_numbered_the_number_tells_exactly(number: int, expected: bool) -> None:
    # The question went out as message 41: message 40 was typed before it arrived, even
    # within the same second; 42 after, even if the platform's clock said otherwise.
    late = SENT_OUT + timedelta(seconds=5)
    early = SENT_OUT - timedelta(seconds=5)
    assert unseen(state(seen_message=41), typed(late, number)) is expected
    assert unseen(state(seen_message=41), typed(early, number)) is expected


def test_a_first_turn_has_nothing_unseen() -> None:
    assert not unseen(state(seen_at=None), typed(SENT_OUT))


async def test_receipts_arriving_during_a_write_go_together_in_the_next() -> None:
    writes: list[list[str]] = []
    release = asyncio.Event()

    async def write(items: list[str]) -> None:
        writes.append(items)
        if len(writes) == 1:
            await release.wait()

    commit = GroupCommit(write)
    first = asyncio.create_task(commit.add("a"))
    await asyncio.sleep(0)
    others = [asyncio.create_task(commit.add(item)) for item in "bcd"]
    await asyncio.sleep(0)
    assert not first.done()
    release.set()
    await asyncio.gather(first, *others)
    assert writes == [["a"], ["b", "c", "d"]]


async def test_a_failed_write_fails_each_of_its_receipts_and_no_later_one() -> None:
    calls = 0

    async def write(items: list[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")

    commit = GroupCommit(write)
    with pytest.raises(ConnectionError):
        await commit.add("a")
    await commit.add("b")
    assert calls == 2
