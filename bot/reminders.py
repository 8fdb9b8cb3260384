"""The reminders' clock: at start, then every minute, the sweeps that turn the passing of
time into messages (the policy dialogues' reminders, the follow-up visits) run, each as one
write of this process (``Conversation.write``: on SQLite, the writer thread), and the outbox
sender is woken for what they enqueued. One more sweep sends nothing: it forgets what served
a moment long past (``bot.retention.forget_stale``).

A sweep at start sends what fell due while the bot was down; running one twice, here or in
another process, sends nothing twice: each sweep records what it did (a meeting's offsets
done) or keys its messages (the outbox's ``dedupe_key``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from bot import retention
from bot.decisions.reports import PeriodError
from bot.dialogs import followup, meetings, reports
from bot.outbox import Alarm, Clock, EventAlarm, SystemClock, Write
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


def stale_data(settings: Settings, now: datetime, work: Work) -> int:
    retention.forget_stale(work, now)
    return 0


SWEEPS: tuple[tuple[str, Callable[[Settings, datetime, Work], int]], ...] = (
    ("meetings", meeting_reminders),
    ("followup", followup_reminders),
    ("reports", scheduled_reports),
    ("stale data", stale_data),
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
            except PeriodError as error:
                # The schedule file was edited into something wrong while the bot ran.
                log.warning("reminders: the %s sweep: %s", name, error.text("en"))
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
