"""One person's updates in the order received, across workers sharing one database.

Telegram (or a balancer in front of Zalo's webhook) may hand one person's updates to two
workers, and a worker may die holding updates it stored and never applied. A turn asked to
keep the order (``Conversation.handle(..., in_order=True)``) looks, under the person's lock
and in its own transaction, for the sender's earlier updates stored and not applied; in the
usual case there are none and the turn goes on. Otherwise it stores nothing and raises
:class:`~bot.conversation.EarlierFirst`: those are applied here first, then the update
again. Those the other worker applies meanwhile are duplicates here, and change nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.conversation import EarlierFirst

T = TypeVar("T")


async def in_order(
    apply: Callable[[T, bool], Awaitable[None]],
    update: T,
    read: Callable[[list[dict[str, Any]]], Awaitable[list[T]]],
) -> None:
    """``apply(update, True)``, which raises EarlierFirst if earlier updates must come
    first; then each of those as ``read`` makes them from their stored payloads and
    ``update``, in order, with ``apply(..., False)``."""
    try:
        await apply(update, True)
    except EarlierFirst as first:
        for earlier in await read(first.updates):
            await apply(earlier, False)
        await apply(update, False)
