"""What a stop interrupted, applied at the next start: the updates (or events) stored before
the platform was told they arrived, and not applied."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bot.conversation import Conversation

log = logging.getLogger(__name__)
T = TypeVar("T")


async def apply_pending(
    conversation: Conversation,
    pending: Sequence[T],
    apply: Callable[[T], Awaitable[None]],
    what: str,
) -> int:
    """Apply ``pending`` in order (``what`` names them in the log); how many there were.

    Where the turns' process ends meanwhile (bot.turn_process), the rest are left stored:
    this process is stopping, and its next start applies them; the log says so rather
    than "applied"."""
    for item in pending:
        if conversation.lost:
            break
        await apply(item)
    if pending and conversation.lost:
        log.warning(
            "%d %s received before a stop not applied: the turn process ended; the next "
            "start applies them",
            len(pending),
            what,
        )
    elif pending:
        log.info("%d %s received before a stop applied now", len(pending), what)
    return len(pending)
