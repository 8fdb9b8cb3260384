"""The reminders' clock: at start, then every minute, the sweeps that turn the passing of
time into messages (the policy dialogues' reminders, the follow-up visits) run, each as one
write of this process (``Conversation.write``: on SQLite, the writer thread), and the outbox
sender is woken for what they enqueued.

A sweep at start sends what fell due while the bot was down; running one twice, here or in
another process, sends nothing twice: each sweep records what it did (a meeting's offsets
done) or keys its messages (the outbox's ``dedupe_key``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from bot.dialogs import followup, meetings, reports
from bot.outbox import Alarm, Clock, EventAlarm, OutboxSender, SystemClock, Write
from bot.runtime import Runtime
from bot.settings import Settings
from storage.uow import Work

log = logging.getLogger(__name__)

EVERY = timedelta(minutes=1)


def meeting_reminders(settings: Settings, now: datetime, work: Work) -> int:
    return len(meetings.send_due_reminders(work, settings, now, settings.offsets))


def followup_reminders(settings: Settings, now: datetime, work: Work) -> int:
    return len(followup.due_reminders(work, settings, now))


def scheduled_reports(settings: Settings, now: datetime, work: Work) -> int:
    return len(reports.send_due_reports(work, settings, now, reports.load_schedule(settings)))


SWEEPS: tuple[tuple[str, Callable[[Settings, datetime, Work], int]], ...] = (
    ("meetings", meeting_reminders),
    ("followup", followup_reminders),
    ("reports", scheduled_reports),
)


class ReminderScheduler:
    def __init__(
        self,
        write: Write,
        settings: Settings,
        *,
        wake: Callable[[], None],
        clock: Clock | None = None,
        alarm: Alarm | None = None,
        every: timedelta = EVERY,
    ) -> None:
        self.write = write
        self.settings = settings
        self.wake = wake
        self.clock = clock or SystemClock()
        self.alarm = alarm or EventAlarm(self.clock)
        self.every = every
        self._stopping = False

    async def sweep(self) -> int:
        """Every sweep once, now; how many messages they enqueued. A sweep that fails is
        tried again at the next one, the others still run."""
        now = self.clock.now()
        enqueued = 0
        for name, sweep in SWEEPS:
            try:
                enqueued += await self.write(partial(sweep, self.settings, now))
            except Exception:
                log.exception("reminders: the %s sweep failed; trying again shortly", name)
        if enqueued:
            self.wake()
        return enqueued

    async def run(self) -> None:
        """Until :meth:`stop`: a sweep at start, then one every ``every``."""
        while not self._stopping:
            started = self.clock.now()
            await self.sweep()
            if not self._stopping:
                await self.alarm.wait(started + self.every)

    def stop(self) -> None:
        self._stopping = True
        self.alarm.wake()


def start_reminders(
    runtime: Runtime, sender: OutboxSender, tasks: set[asyncio.Task[None]]
) -> ReminderScheduler:
    """The reminders' sweeps of this process, running (its task added to ``tasks``): they
    write as the turns do, and wake ``sender`` for what they enqueue."""
    reminders = ReminderScheduler(runtime.conversation.write, runtime.settings, wake=sender.wake)
    tasks.add(asyncio.create_task(reminders.run()))
    return reminders
