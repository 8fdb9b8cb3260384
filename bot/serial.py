"""One person's messages one at a time, in the order they came; different people's at once.

A collaborator's answers must apply in the order sent (the dialog state is per person), but
one village's collaborator need not wait for another's commit and replies. Every channel
runs each update under :meth:`PerSender.turn` with the sender's key; ``asyncio.Lock`` wakes
its waiters first come, first served, so updates started in arrival order apply in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class PerSender:
    def __init__(self) -> None:
        # key -> (lock, turns holding or waiting for it); dropped when unused, so the
        # table holds only people with an update in flight.
        self.locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, key: Hashable | None) -> AsyncIterator[None]:
        """Hold ``key``'s turn (none is needed for ``None``: nobody to keep in order)."""
        if key is None:
            yield
            return
        lock, waiting = self.locks.get(key) or (asyncio.Lock(), 0)
        self.locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self.locks[key]
            if waiting == 1:
                del self.locks[key]
            else:
                self.locks[key] = (lock, waiting - 1)
