"""The pacing core alone: whatever the messages, the limits hold."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.decisions.pacing import Limits, Pace, paused, pick, ready_at, sent

LIMITS = Limits(per_second=30, chat_interval=1.0)


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
    assert most_in_a_second(times) <= 30
    for chat in set(chats):
        mine = sorted(t for t, c in zip(times, chats, strict=True) if c == chat)
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(mine))


def test_many_chats_go_at_the_full_rate() -> None:
    times = drain([str(n) for n in range(600)])
    # 600 messages at 30 a second: the last leaves 599/30 s after the first.
    assert max(times) - min(times) == pytest.approx(599 / 30)


def test_a_chat_that_must_wait_does_not_hold_up_the_others() -> None:
    times = drain(["a", "a", "b", "c"])
    # The second message to "a" waits its second; "b" and "c" go meanwhile.
    assert times[0] < times[2] < times[3] < times[1]
    assert times[1] - times[0] == 1.0


def test_interactive_replies_go_first_and_the_outbox_gets_what_is_left() -> None:
    pace = Pace()
    # Five replies in the same instant: none waits for anything...
    for chat in "vwxyz":
        pace = sent(pace, LIMITS, chat, 100.0)
    # ...and the next pushed message waits for their share of the second.
    assert ready_at(pace, "other", 100.0) == pytest.approx(100.0 + 5 / 30)
    # A reply in a chat keeps that chat's next push a second away.
    assert ready_at(pace, "v", 100.0) == 101.0


def test_flood_control_pauses_everything() -> None:
    pace = paused(Pace(), 150.0)
    assert ready_at(pace, "a", 100.0) == 150.0
    assert ready_at(pace, "a", 160.0) == 160.0


def test_configurable_limits() -> None:
    times = drain(["a", "b", "a"], Limits(per_second=2, chat_interval=5.0))
    assert times == [1000.0, 1000.5, 1005.0]
