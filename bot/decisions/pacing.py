"""When the next pushed message may go: Telegram's limits as token buckets over a given time.

Two gates: all messages together (30 a second by default) and each chat (one a second). The
interactive replies go first: they never wait. The outbox keeps ``reserve`` messages a second
of the overall rate free for them (a bucket of their own); replies beyond that are counted in
the outbox's bucket, which then gives way. Without the reserve, a reply arriving while the
outbox uses the whole rate would be one message too many for that second. Times are seconds
on any one clock; nothing here reads one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class Limits:
    per_second: float = 30.0
    # Seconds between two messages to one chat.
    chat_interval: float = 1.0
    # Of per_second, what the outbox leaves to the interactive replies.
    reserve: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.reserve < self.per_second:
            raise ValueError("the reserve must be less than the rate")

    @property
    def interval(self) -> float:
        """Between two pushed messages."""
        return 1.0 / (self.per_second - self.reserve)


@dataclass(frozen=True, slots=True)
class Pace:
    # When the overall bucket has a token again; later than now while replies ran ahead of it.
    next_any: float = NEVER
    # Per chat, when it may get a message again (only chats still waiting are kept).
    next_chat: Mapping[str, float] = field(default_factory=dict)
    # Nothing goes before this: the platform's flood control asked for a pause.
    paused_until: float = NEVER
    # When the replies' own bucket has a token again.
    next_reply: float = NEVER


def ready_at(pace: Pace, chat: str, now: float) -> float:
    """The earliest time, not before ``now``, a message to ``chat`` may go."""
    return max(now, pace.next_any, pace.next_chat.get(chat, NEVER), pace.paused_until)


def pick(pace: Pace, chats: Sequence[str], now: float) -> tuple[int, float]:
    """Which of the waiting messages (by chat, oldest first) goes next, and when: the one
    ready first, so a chat that must wait does not hold up the others."""
    if not chats:
        raise ValueError("nothing to pick from")
    times = [ready_at(pace, chat, now) for chat in chats]
    best = min(range(len(chats)), key=lambda index: (times[index], index))
    return best, times[best]


def sent(pace: Pace, limits: Limits, chat: str, at: float) -> Pace:
    """The pace after a pushed message to ``chat`` at ``at``."""
    return Pace(
        max(pace.next_any, at) + limits.interval,
        _chat_waits(pace, limits, chat, at),
        pace.paused_until,
        pace.next_reply,
    )


def replied(pace: Pace, limits: Limits, chat: str, at: float) -> Pace:
    """The pace after an interactive reply to ``chat`` at ``at`` (which did not wait): from
    the reserve if it has room, else counted against the outbox, whose next push moves
    later by one."""
    chats = _chat_waits(pace, limits, chat, at)
    if limits.reserve > 0 and at >= pace.next_reply:
        return Pace(pace.next_any, chats, pace.paused_until, at + 1.0 / limits.reserve)
    return Pace(max(pace.next_any, at) + limits.interval, chats, pace.paused_until, pace.next_reply)


def _chat_waits(pace: Pace, limits: Limits, chat: str, at: float) -> dict[str, float]:
    chats = {c: t for c, t in pace.next_chat.items() if t > at}
    chats[chat] = max(chats.get(chat, NEVER), at + limits.chat_interval)
    return chats


def paused(pace: Pace, until: float) -> Pace:
    """Flood control: nothing before ``until``."""
    return Pace(pace.next_any, pace.next_chat, max(pace.paused_until, until), pace.next_reply)
