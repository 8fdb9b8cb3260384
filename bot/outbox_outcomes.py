"""What became of each pushed outbox message, written while the next ones are pushed.

One write at a time, so a sender's writes stay in order, each taking every outcome that came
in while the one before was going (a group commit); the messages that went are marked in one
statement. A person who blocked the bot has their chat closed and their supervisors told, in
the same transaction; so do they when the platform takes no message until the person writes
again (the first of such a silence).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bot.decisions.outbox import Done, GiveUp, Later, Outcome, Undeliverable, Unreachable
from bot.messages import Text
from bot.push import encode
from locales.catalog import translate
from storage.outbox import BLOCKED, Claimed
from storage.uow import Work

log = logging.getLogger(__name__)

Record = tuple[Claimed, Outcome, datetime]


class Outcomes:
    def __init__(self, write: Callable[[Callable[[Work], None]], Awaitable[None]], locale: str):
        self.write = write
        self.locale = locale
        self._waiting: list[Record] = []
        self._writing: asyncio.Future[None] | None = None

    def add(self, message: Claimed, outcome: Outcome, at: datetime) -> None:
        self._waiting.append((message, outcome, at))
        self.pump()

    def pump(self) -> None:
        """Start writing what has come in, unless a write is going (its error, if it
        failed, is raised here)."""
        if not self._waiting:
            return
        if self._writing is not None:
            if not self._writing.done():
                return
            finished, self._writing = self._writing, None
            finished.result()
        records, self._waiting = self._waiting, []
        self._writing = asyncio.ensure_future(self.write(lambda work: self._record(work, records)))

    async def flush(self) -> None:
        """Until every outcome added is written."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing
        records, self._waiting = self._waiting, []
        if records:
            await self.write(lambda work: self._record(work, records))

    def _record(self, work: Work, records: Sequence[Record]) -> None:
        # Those that went first: a person's message sent before the one that found them
        # gone stays sent when the block fails the rest.
        work.outbox.sent_all(
            (message.id, at) for message, outcome, at in records if isinstance(outcome, Done)
        )
        for message, outcome, at in records:
            if not isinstance(outcome, Done):
                self._record_one(work, message, outcome, at)

    def _record_one(self, work: Work, message: Claimed, outcome: Outcome, now: datetime) -> None:
        if isinstance(outcome, Later):
            work.outbox.again([message.id], outcome.at, counted=not outcome.pause)
        elif isinstance(outcome, GiveUp):
            log.warning("outbox: message %d not delivered: %s", message.id, outcome.reason)
            work.outbox.failed(message.id, now, outcome.reason)
        elif isinstance(outcome, Unreachable):
            work.outbox.failed(message.id, now, BLOCKED)
            if work.outbox.block(message.user_id, now, message.platform):
                self._tell_supervisors(work, message, now, "blocked")
        elif isinstance(outcome, Undeliverable) and work.outbox.undeliverable(
            message.id, message.user_id, now
        ):
            # The first of this person's silence: told once, not at every reminder.
            self._tell_supervisors(work, message, now, "window")

    def _tell_supervisors(self, work: Work, message: Claimed, now: datetime, why: str) -> None:
        """``why``: "blocked" (the person blocked the bot) or "window" (the platform
        takes no message to them until they write again)."""
        user = work.users.get(message.user_id)
        if user is None:
            return
        supervisors = work.outbox.supervisors_of(user.id)
        log.info(
            "outbox: user %d unreachable (%s); %d supervisor(s) told",
            user.id,
            why,
            len(supervisors),
        )
        note = translate(
            f"outbox.{why}_note",
            self.locale,
            name=user.display_name,
            areas=", ".join(area.name for area in user.areas),
        )
        for supervisor in supervisors:
            work.outbox.enqueue(
                supervisor.id,
                encode(Text(note)),
                f"{why}:{message.id}:{supervisor.id}",
                now,
                now,
            )
