"""The pacing core alone: whatever the pushes, the replies and the network's delays, the limits
hold, the replies come first and the outbox takes what is left."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.decisions.pacing import (
    Limits,
    Pace,
    paused,
    pick,
    push_answered,
    pushed,
    ready_at,
    replied,
    reply_answered,
)

# Telegram's: 30 in any second (and 5 ms for its rounding), one a second to a chat.
LIMITS = Limits(per_second=30, chat_interval=1.0, reserve=0, margin=0.005)
SPACING = 1.005 / 30
START = 1000.0


@dataclass(frozen=True)
class Sent:
    kind: str  # "push" or "reply"
    chat: str
    # When it was sent, and when the platform's answer came back: the platform counted it
    # at some moment in between.
    at: float
    answered: float
    # For a reply, when it was asked for.
    asked: float = 0.0


@dataclass
class Run:
    """A sender as bot/outbox.py runs one: pushes one at a time, each answered before the
    next; replies asked for meanwhile, each answered after a delay of its own."""

    limits: Limits = LIMITS
    pace: Pace = field(default_factory=Pace)
    now: float = START
    sent: list[Sent] = field(default_factory=list)

    def reply(self, chat: str, asked: float, delay: float = 0.0) -> Sent:
        self.now = max(self.now, asked)
        at, self.pace = replied(self.pace, self.limits, chat, self.now)
        assert at >= self.now
        self.pace = reply_answered(self.pace, self.limits, at, at + delay)
        message = Sent("reply", chat, at, at + delay, asked)
        self.sent.append(message)
        return message

    def push(self, chat: str, late: float = 0.0, delay: float = 0.0) -> Sent:
        at = ready_at(self.pace, self.limits, chat, self.now) + late
        self.pace = pushed(self.pace, self.limits, chat, at)
        self.pace = push_answered(self.pace, self.limits, at, at + delay)
        self.now = at + delay
        message = Sent("push", chat, at, at + delay)
        self.sent.append(message)
        return message

    def drain(
        self,
        chats: Sequence[str],
        replies: Sequence[tuple[float, str, float]] = (),
        lateness: Sequence[float] = (0.0,),
        delays: Sequence[float] = (0.0,),
    ) -> None:
        """Push every message, the one ready first first; each reply (asked at, chat,
        delay) when asked for, ahead of the next push."""
        waiting = list(chats)
        asking = sorted(replies)
        count = 0
        while waiting or asking:
            if waiting:
                index, at = pick(self.pace, self.limits, waiting, self.now)
            if asking and (not waiting or asking[0][0] <= at):
                self.reply(asking[0][1], asking[0][0], asking[0][2])
                asking.pop(0)
                continue
            chat = waiting.pop(index)
            self.push(chat, lateness[count % len(lateness)], delays[count % len(delays)])
            count += 1

    def pushes(self) -> list[Sent]:
        return [m for m in self.sent if m.kind == "push"]


def too_many_in_a_second(sent: Sequence[Sent], limits: Limits = LIMITS) -> list[Sent]:
    """The messages that, counted by the platform at the worst moments it could (between
    sending and answering), would be one too many in a second with a push among them:
    for each message, those sent before it and answered less than a second before it was
    sent could all be counted within one second ending when it was."""
    worst = []
    for last in sent:
        together = [m for m in sent if m.at <= last.at and m.answered > last.at - 1.0]
        if any(m.kind == "push" for m in together) and len(together) > limits.per_second:
            worst.append(last)
    return worst


def reserve_kept(sent: Sequence[Sent], limits: Limits) -> bool:
    """When each push went, the window before it (and the push) held no more than
    ``per_second - reserve``: the reserve's slots were free for replies."""
    for push in (m for m in sent if m.kind == "push"):
        before = [m for m in sent if m.at <= push.at and m.answered > push.at - limits.window]
        if len(before) > limits.per_second - limits.reserve:
            return False
    return True


def chat_gaps_kept(sent: Sequence[Sent], limits: Limits = LIMITS) -> bool:
    """No push within a chat interval of an earlier message to its chat."""
    for push in (m for m in sent if m.kind == "push"):
        earlier = [m.at for m in sent if m.chat == push.chat and m.at < push.at]
        if earlier and push.at - max(earlier) < limits.chat_interval - 1e-9:
            return False
    return True


chats = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=120)
replies = st.lists(
    st.tuples(
        st.floats(min_value=START - 1.5, max_value=START + 6.0),
        st.integers(min_value=100, max_value=104),
        st.floats(min_value=0.0, max_value=0.2),
    ),
    max_size=40,
)
lateness = st.lists(st.floats(min_value=0.0, max_value=0.05), min_size=1, max_size=10)
delays = st.lists(st.floats(min_value=0.0, max_value=0.2), min_size=1, max_size=10)
limits = st.integers(min_value=1, max_value=40).flatmap(
    lambda per_second: st.builds(
        Limits,
        per_second=st.just(per_second),
        chat_interval=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
        reserve=st.integers(min_value=0, max_value=min(3, per_second - 1)),
        margin=st.sampled_from([0.0, 0.005, 0.05]),
    )
)


@example(
    chat_numbers=[0],
    # A slow reply's answer (1001.125) must not drop the first reply (answered 1000.125)
    # from the log while another chat's reply goes at 1001.0, when it still counted.
    asked=[
        (999.0, 100, 0.125),
        (1000.5, 100, 0.0),
        (1001.0, 100, 0.0),
        (1001.0, 100, 0.125),
        (1001.0, 101, 0.0),
    ],
    late=[0.0],
    slow=[0.0],
    limits=Limits(per_second=5, chat_interval=0.0, reserve=2, margin=0.0),
)
@settings(max_examples=300, deadline=None)
@given(chats, replies, lateness, delays, limits)
def test_never_more_than_the_limits_however_late_and_slow(
    chat_numbers: list[int],
    asked: list[tuple[float, int, float]],
    late: list[float],
    slow: list[float],
    limits: Limits,
) -> None:
    run = Run(limits)
    run.drain(
        [str(n) for n in chat_numbers],
        [(t, str(chat), delay) for t, chat, delay in asked],
        late,
        slow,
    )
    assert len(run.pushes()) == len(chat_numbers)
    assert too_many_in_a_second(run.sent, limits) == []
    assert reserve_kept(run.sent, limits)
    assert chat_gaps_kept(run.sent, limits)


@settings(max_examples=200, deadline=None)
@given(chats, replies, delays)
def test_a_reply_never_waits_for_long(
    chat_numbers: list[int], asked: list[tuple[float, int, float]], slow: list[float]
) -> None:
    run = Run()
    run.drain([str(n) for n in chat_numbers], [(t, str(c), d) for t, c, d in asked], (0,), slow)
    for reply in (m for m in run.sent if m.kind == "reply"):
        # At most the slots of the replies asked for with it and one more, and the network's
        # delay of a message that must be answered first: never the pushes still waiting.
        together = sum(1 for m in run.sent if m.kind == "reply" and abs(m.asked - reply.asked) < 1)
        assert reply.at - max(reply.asked, START) <= (together + 1) * SPACING + max(slow) + 1e-9


def test_alone_the_outbox_goes_at_the_full_rate_evenly() -> None:
    run = Run()
    run.drain([str(n) for n in range(600)])
    times = [m.at for m in run.pushes()]
    # 600 messages at 30 in every 1.005 s: the last leaves 599 spacings after the first,
    # each 33.5 ms after the one before.
    assert times[-1] - times[0] == pytest.approx(599 * SPACING)
    assert all(b - a == pytest.approx(SPACING) for a, b in itertools.pairwise(times))


def test_a_slow_platform_slows_the_outbox_just_enough() -> None:
    run = Run()
    # Each answer comes back 10 ms after its push: the 31st push waits until a window
    # after the first one's answer, and so on.
    run.drain([str(n) for n in range(90)], delays=(0.01,))
    times = [m.at for m in run.pushes()]
    assert times[29] - times[0] == pytest.approx(29 * SPACING)
    assert times[30] - times[0] == pytest.approx(0.01 + 1.005)
    assert times[89] - times[0] == pytest.approx(2 * 0.01 + 89 * SPACING)


def test_a_late_push_does_not_slow_the_ones_after_it() -> None:
    run = Run()
    # One push 10 ms late (a busy event loop): the next keeps its slot.
    run.push("a")
    run.push("b", late=0.010)
    after = run.push("c")
    assert after.at - START == pytest.approx(2 * SPACING)


def test_a_chat_that_must_wait_does_not_hold_up_the_others() -> None:
    run = Run()
    run.drain(["a", "a", "b", "c"])
    in_order = sorted(run.pushes(), key=lambda m: m.at)
    # The second message to "a" waits its second; "b" and "c" go meanwhile.
    assert [m.chat for m in in_order] == ["a", "b", "c", "a"]
    first, _b, c, second = (m.at for m in in_order)
    assert c - first == pytest.approx(2 * SPACING)
    assert second - first == 1.0


def test_a_reply_during_a_broadcast_takes_the_next_slot_and_the_outbox_the_one_after() -> None:
    run = Run()
    for n in range(40):
        run.push(str(n))
    # Asked for halfway between two pushes: it waits for the next slot, half a spacing...
    last = run.pushes()[-1].at
    reply = run.reply("collaborator", last + SPACING / 2)
    assert reply.at == pytest.approx(last + SPACING)
    # ...which the outbox would have had: its next push comes a spacing after the reply.
    assert run.push("41").at == pytest.approx(last + 2 * SPACING)
    # A reply in that chat keeps the outbox's messages to it a second away.
    assert ready_at(run.pace, LIMITS, "collaborator", run.now) == pytest.approx(reply.at + 1.0)


def test_replies_when_the_outbox_is_quiet_never_wait() -> None:
    run = Run()
    run.push("a", delay=0.05)
    # A window after the last push was answered, 40 replies in an instant (more than the
    # limit, which only the platform enforces on replies) all go at once...
    quiet = START + 0.05 + LIMITS.window
    for n in range(40):
        assert run.reply(str(n), quiet).at == quiet
    # ...and the outbox waits until they are a window old, not for all 40 slots they took.
    assert run.push("b").at == pytest.approx(quiet + LIMITS.window)


def test_a_reserve_lets_replies_go_at_once_during_a_broadcast() -> None:
    limits = Limits(per_second=30, chat_interval=1.0, reserve=2, margin=0.005)
    run = Run(limits)
    for n in range(60):
        run.push(str(n))
    now = run.now + 0.001
    # Two replies in the same instant: both go at once, into the two slots kept free.
    assert [run.reply(chat, now).at for chat in "xy"] == [now, now]
    # Pushes alone go at 28 in a window, evenly.
    times = [m.at for m in run.pushes()]
    assert times[-1] - times[0] == pytest.approx(59 * 1.005 / 28)
    assert too_many_in_a_second(run.sent, limits) == []


def test_flood_control_pauses_the_pushes() -> None:
    pace = paused(Pace(), 150.0)
    assert ready_at(pace, LIMITS, "a", 100.0) == 150.0
    assert ready_at(pace, LIMITS, "a", 160.0) == 160.0


def test_the_check_above_can_fail() -> None:
    """Pushed at twice the spacing they get, 31 messages fall within a second."""
    sent = [
        Sent("push", str(n), START + n * SPACING / 2, START + n * SPACING / 2) for n in range(31)
    ]
    assert too_many_in_a_second(sent) == [sent[-1]]
    # Answered late, 31 evenly spaced pushes could still be counted within one second.
    slow = [Sent("push", str(n), START + n * SPACING, START + n * SPACING + 0.1) for n in range(31)]
    assert too_many_in_a_second(slow) == [slow[-1]]


def test_configurable_limits() -> None:
    run = Run(Limits(per_second=2, chat_interval=5.0, reserve=0, margin=0.0))
    run.drain(["a", "b", "a"])
    assert [m.at for m in run.pushes()] == [START, START + 0.5, START + 5.0]


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="reserve"):
        Limits(per_second=30, reserve=30)
    with pytest.raises(ValueError, match="negative"):
        Limits(margin=-0.1)
