"""The outbox messages a sender holds: claimed, not yet pushed, the next batch claimed while
the current one goes (once ``refill`` or fewer are left), so no push waits for a claim but
the first.

Each batch is held until a while before its lease ends (``hold``); what is left then, or at
the end, is put back, free for the next claim at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from storage.outbox import Claimed


class Claims:
    def __init__(
        self,
        claim: Callable[[], Awaitable[list[Claimed]]],
        release: Callable[[list[int]], Awaitable[None]],
        now: Callable[[], datetime],
        *,
        batch: int,
        hold: timedelta,
    ) -> None:
        self._claim = claim
        self._release = release
        self._now = now
        self.batch = batch
        self.refill = max(1, batch // 3)
        self.hold = hold
        self._held: list[tuple[Claimed, datetime]] = []
        self._claiming: asyncio.Task[tuple[list[Claimed], datetime]] | None = None
        # The last claim filled its batch: more may be due.
        self._more = True
        # People who blocked the bot: their messages, failed with them, are not tried.
        self._gone: set[int] = set()

    async def waiting(self, settle: Callable[[], Awaitable[None]]) -> list[Claimed]:
        """The messages held, oldest first, claiming more as they run low; none once
        nothing is due. ``settle`` writes the outcomes so far: the last claim comes after
        it, since they may have enqueued a message (a note to a supervisor) or made one due
        again (flood control)."""
        while True:
            if self._claiming is None and self._more and len(self._held) <= self.refill:
                self._claiming = asyncio.create_task(self._timed_claim())
            if self._claiming is not None and (self._claiming.done() or not self._held):
                claiming, self._claiming = self._claiming, None
                self._take(*await claiming)
            await self._release_past_hold()
            if self._held:
                return [message for message, _ in self._held]
            if self._claiming is not None or self._more:
                continue
            await settle()
            claimed, at = await self._timed_claim()
            if not claimed:
                return []
            self._take(claimed, at)

    def take(self, index: int) -> Claimed:
        """The message at ``index`` of :meth:`waiting`'s list, to be pushed."""
        return self._held.pop(index)[0]

    def gone(self, user_id: int) -> None:
        """The person blocked the bot: none of their messages are tried."""
        self._gone.add(user_id)
        self._held = [(m, until) for m, until in self._held if m.user_id != user_id]

    def again(self) -> None:
        """A message will be due again (after flood control): claim once more."""
        self._more = True

    async def close(self) -> None:
        """Put back what is held, and what a claim under way brings."""
        if self._claiming is not None:
            # Nothing to put back if it failed.
            [late] = await asyncio.gather(self._claiming, return_exceptions=True)
            self._claiming = None
            if isinstance(late, tuple):
                self._take(*late)
        held, self._held = self._held, []
        if held:
            await self._release([message.id for message, _ in held])

    async def _timed_claim(self) -> tuple[list[Claimed], datetime]:
        at = self._now()
        return await self._claim(), at

    def _take(self, claimed: list[Claimed], at: datetime) -> None:
        self._more = len(claimed) >= self.batch
        until = at + self.hold
        self._held += [(m, until) for m in claimed if m.user_id not in self._gone]

    async def _release_past_hold(self) -> None:
        now = self._now()
        if all(now < until for _, until in self._held):
            return
        await self._release([m.id for m, until in self._held if now >= until])
        self._held = [(m, until) for m, until in self._held if now < until]
