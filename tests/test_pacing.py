"""The pacing core alone: whatever the messages, the limits hold."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.decisions.pacing import Limits, Pace, paused, pick, ready_at, replied, sent

# 30 a second in all, 2 of them kept for replies: the outbox alone goes at 28.
LIMITS = Limits(per_second=30, chat_interval=1.0, reserve=2)


def drain(chats: Sequence[str], limits: Limits = LIMITS, start: float = 1000.0) -> list[float]:
    """Send every message as soon as pacing allows, oldest ready first; the send times, in
    the order of ``chats``."""
    pace, now = Pace(), start
    waiting = list(enumerate(chats))
    times: dict[int, float] = {}
    while waiting:
        index, at = pick(pace, [chat for _, chat in waiting], now)
        now = at
        number, chat = waiting.pop(index)
        times[number] = now
        pace = sent(pace, limits, chat, now)
    return [times[number] for number in range(len(chats))]


def most_in_a_second(times: Sequence[float]) -> int:
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered if start <= t < start + 1.0) for start in ordered), default=0
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=150))
def test_never_more_than_the_limits(chat_numbers: list[int]) -> None:
    chats = [str(n) for n in chat_numbers]
    times = drain(chats)
    # 28 a second, so at most 29 in a second (one at each end).
    assert most_in_a_second(times) <= 29
    for chat in set(chats):
        mine = sorted(t for t, c in zip(times, chats, strict=True) if c == chat)
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(mine))


def test_many_chats_go_at_the_full_rate() -> None:
    times = drain([str(n) for n in range(600)])
    # 600 messages at 28 a second: the last leaves 599/28 s after the first.
    assert max(times) - min(times) == pytest.approx(599 / 28)


def test_a_chat_that_must_wait_does_not_hold_up_the_others() -> None:
    times = drain(["a", "a", "b", "c"])
    # The second message to "a" waits its second; "b" and "c" go meanwhile.
    assert times[0] < times[2] < times[3] < times[1]
    assert times[1] - times[0] == 1.0


def test_interactive_replies_go_first_and_the_outbox_gets_what_is_left() -> None:
    pace = Pace()
    # Five replies in the same instant: none waits for anything; the first is the reserve's...
    for chat in "vwxyz":
        pace = replied(pace, LIMITS, chat, 100.0)
    # ...and the next pushed message waits for the other four's share of the second.
    assert ready_at(pace, "other", 100.0) == pytest.approx(100.0 + 4 / 28)
    # A reply in a chat keeps that chat's next push a second away.
    assert ready_at(pace, "v", 100.0) == 101.0


def test_replies_within_the_reserve_cost_the_outbox_nothing() -> None:
    pace = Pace()
    for second in range(10):
        # Two replies a second, spread out: the reserve's two.
        pace = replied(pace, LIMITS, "a", 100.0 + second)
        pace = replied(pace, LIMITS, "b", 100.5 + second)
    assert ready_at(pace, "other", 110.0) == 110.0


def test_flood_control_pauses_everything() -> None:
    pace = paused(Pace(), 150.0)
    assert ready_at(pace, "a", 100.0) == 150.0
    assert ready_at(pace, "a", 160.0) == 160.0


def test_configurable_limits() -> None:
    times = drain(["a", "b", "a"], Limits(per_second=2, chat_interval=5.0, reserve=0))
    assert times == [1000.0, 1000.5, 1005.0]
