"""When the next message may go: Telegram's limits over a given time, for the outbox's pushes
and the interactive replies together.

Telegram allows ``per_second`` messages (30) in any second, and one a second to a chat.

- **The limit** is a log of the messages of the last *window* (a second and a ``margin``):
  no message goes while the window holds ``per_second`` others. A message is logged from
  the moment it is sent, and again from the moment the platform's answer came back
  (:func:`push_answered`, :func:`reply_answered`): the platform counted it somewhere in
  between, so a message that waits for the one ``per_second`` before it to have been
  answered a window ago cannot be one too many in any second the platform counts, however
  the network delays either. The margin is only for the platform's rounding.
- **The spacing**: the messages share a schedule of slots ``window / per_second`` apart, so
  the outbox never bursts, and each message takes the next slot (a virtual scheduling, as
  in the generic cell rate algorithm). A push late by less than half a spacing (a timer's
  lateness) keeps the schedule, one later starts it again; the log holds the limit either
  way.
- **The replies come first**: one never waits for a push to come, nor behind the pushes
  waiting. While the outbox is pushing, a reply takes the next free slot, about a spacing
  away at most (34 ms at Telegram's limits), and the outbox the one after it. With a
  ``reserve``, pushes leave that many slots of each window free and replies may take them
  ahead of time. When no push counts any more (none answered within a window), replies go
  at once: only the outbox is paced (more replies than the limit meet the platform's flood
  control, as without an outbox).

Times are seconds on any one clock; nothing here reads one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class Limits:
    # Messages in any second, pushes and replies together.
    per_second: int = 30
    # Seconds between two messages to one chat.
    chat_interval: float = 1.0
    # Of per_second, the slots of each window pushes leave to the replies.
    reserve: int = 0
    # Seconds added to the second the limit is kept over.
    margin: float = 0.002

    def __post_init__(self) -> None:
        if not 0 <= self.reserve < self.per_second:
            raise ValueError("the reserve must be less than the rate")
        if min(self.margin, self.chat_interval) < 0:
            raise ValueError("the margin and the chat interval cannot be negative")

    @property
    def window(self) -> float:
        """What the limit is kept over."""
        return 1.0 + self.margin

    @property
    def pushes(self) -> int:
        """How many messages a window may hold when a push goes."""
        return self.per_second - self.reserve

    @property
    def interval(self) -> float:
        """Between two slots."""
        return self.window / self.pushes


@dataclass(frozen=True, slots=True)
class Pace:
    # The pushes and the replies of the last window, each ascending: when each was sent or,
    # once the platform answered, when the answer came back.
    pushes: tuple[float, ...] = ()
    replies: tuple[float, ...] = ()
    # The next free slot.
    next_slot: float = NEVER
    # Per chat, when it may get a message again (only chats still waiting are kept).
    next_chat: Mapping[str, float] = field(default_factory=dict)
    # No push before this: the platform's flood control asked for a pause.
    paused_until: float = NEVER


def _everything(pace: Pace) -> list[float]:
    return sorted((*pace.pushes, *pace.replies))


def _free_at(recent: Sequence[float], room: int, window: float, now: float) -> float:
    """The earliest moment, not before ``now``, after which fewer than ``room`` of the
    (ascending) times ``recent`` still count: one more message then, and no window holds
    more than ``room``."""
    live = [t for t in recent if t > now - window]
    excess = len(live) - room + 1
    return now if excess <= 0 else max(now, live[excess - 1] + window)


def push_at(pace: Pace, limits: Limits, now: float) -> float:
    """The earliest time, not before ``now``, a push to a chat with no wait of its own may go."""
    return max(
        now,
        pace.next_slot,
        pace.paused_until,
        _free_at(_everything(pace), limits.pushes, limits.window, now),
    )


def ready_at(pace: Pace, limits: Limits, chat: str, now: float) -> float:
    """The earliest time, not before ``now``, a push to ``chat`` may go."""
    return max(push_at(pace, limits, now), pace.next_chat.get(chat, NEVER))


def pick(pace: Pace, limits: Limits, chats: Sequence[str], now: float) -> tuple[int, float]:
    """Which of the waiting pushes (by chat, oldest first) goes next, and when: the one
    ready first, so a chat that must wait does not hold up the others."""
    if not chats:
        raise ValueError("nothing to pick from")
    anyone = push_at(pace, limits, now)
    times = [max(anyone, pace.next_chat.get(chat, NEVER)) for chat in chats]
    best = min(range(len(chats)), key=lambda index: (times[index], index))
    return best, times[best]


def pushed(pace: Pace, limits: Limits, chat: str, at: float) -> Pace:
    """The pace once a push to ``chat`` is sent at ``at`` (not before :func:`ready_at`)."""
    interval = limits.interval
    slot = pace.next_slot if at < pace.next_slot + interval / 2 else at
    return Pace(
        _logged(pace.pushes, limits, at, at),
        _logged(pace.replies, limits, at),
        slot + interval,
        _chat_waits(pace, limits, chat, at),
        pace.paused_until,
    )


def push_answered(pace: Pace, limits: Limits, sent: float, at: float) -> Pace:
    """The platform answered, at ``at``, the push sent at ``sent``: it counts until a
    window after the answer."""
    return Pace(
        _moved(pace.pushes, limits, sent, at),
        pace.replies,
        pace.next_slot,
        pace.next_chat,
        pace.paused_until,
    )


def reply_at(pace: Pace, limits: Limits, now: float) -> float:
    """When an interactive reply asked for at ``now`` may go."""
    if not any(t > now - limits.window for t in pace.pushes):
        return now
    return max(
        now,
        pace.next_slot - limits.reserve * limits.interval,
        _free_at(_everything(pace), limits.per_second, limits.window, now),
    )


def replied(pace: Pace, limits: Limits, chat: str, now: float) -> tuple[float, Pace]:
    """A reply to ``chat`` asked for at ``now``: when it goes (:func:`reply_at`), and the
    pace with its slot taken. The schedule runs at most a window ahead: replies alone,
    beyond the limit, put the outbox off by a window, not by all they took."""
    at = reply_at(pace, limits, now)
    return at, Pace(
        _logged(pace.pushes, limits, now),
        _logged(pace.replies, limits, now, at),
        min(max(pace.next_slot, at) + limits.interval, at + limits.window),
        _chat_waits(pace, limits, chat, at),
        pace.paused_until,
    )


def reply_answered(pace: Pace, limits: Limits, sent: float, at: float) -> Pace:
    """The platform answered, at ``at``, the reply sent at ``sent`` (its slot)."""
    return Pace(
        pace.pushes,
        _moved(pace.replies, limits, sent, at),
        pace.next_slot,
        pace.next_chat,
        pace.paused_until,
    )


def _logged(
    times: tuple[float, ...], limits: Limits, now: float, at: float | None = None
) -> tuple[float, ...]:
    """``times`` (ascending) less those that no longer count at ``now``, with ``at`` added.
    Found by bisection: under load the log holds a window's replies (hundreds), and every
    reply passes here twice."""
    live = times[bisect_right(times, now - limits.window) :]
    if at is None:
        return live
    rest = list(live)
    insort(rest, at)
    return tuple(rest)


def _moved(times: tuple[float, ...], limits: Limits, sent: float, at: float) -> tuple[float, ...]:
    """``times`` with ``sent`` (if still there) moved to ``at``. Those that no longer count
    are dropped as of ``sent``, not ``at``: a message sent between the two (another chat's
    reply, while this answer was on its way) still meets those that counted then."""
    index = bisect_left(times, sent)
    if index < len(times) and times[index] == sent:
        times = times[:index] + times[index + 1 :]
    return _logged(times, limits, sent, at)


def _chat_waits(pace: Pace, limits: Limits, chat: str, at: float) -> dict[str, float]:
    chats = {c: t for c, t in pace.next_chat.items() if t > at}
    chats[chat] = max(chats.get(chat, NEVER), at + limits.chat_interval)
    return chats


def paused(pace: Pace, until: float) -> Pace:
    """Flood control: no push before ``until``."""
    return Pace(
        pace.pushes, pace.replies, pace.next_slot, pace.next_chat, max(pace.paused_until, until)
    )
