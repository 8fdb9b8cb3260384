"""What the outbox does with a message after the platform answered a push."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.push import Blocked, Failed, PushResult, RetryAfter, Sent, WindowClosed

# A network failure or a 5xx: tried again later, a few times, waiting longer each time.
MAX_ATTEMPTS = 6
FIRST_BACKOFF = timedelta(seconds=30)
LONGEST_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class Later:
    """Back to pending until ``at``; with ``pause``, nothing at all is pushed until then."""

    at: datetime
    pause: bool = False


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The person blocked the bot: the binding is closed and their supervisors told."""


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """The person's interaction window is closed: kept until they write again, their
    supervisors told (once for a silence)."""


Outcome = Done | Later | GiveUp | Unreachable | Undeliverable


def after_push(result: PushResult, attempts: int, now: datetime) -> Outcome:
    """``attempts``: pushes of this message so far, this one included."""
    if isinstance(result, Sent):
        return Done()
    if isinstance(result, RetryAfter):
        # Flood control is not the message's fault: it does not count against it.
        return Later(now + timedelta(seconds=max(result.seconds, 0.0)), pause=True)
    if isinstance(result, Blocked):
        return Unreachable()
    if isinstance(result, WindowClosed):
        return Undeliverable()
    if result.permanent or attempts >= MAX_ATTEMPTS:
        return GiveUp(result.reason)
    return Later(now + min(FIRST_BACKOFF * 2 ** (attempts - 1), LONGEST_BACKOFF))


__all__ = [
    "Done",
    "Failed",
    "GiveUp",
    "Later",
    "Outcome",
    "Undeliverable",
    "Unreachable",
    "after_push",
]
