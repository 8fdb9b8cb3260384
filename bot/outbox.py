"""The outbox sender: pushes due outbox messages, paced, and records what became of each.

The shell around bot/decisions/pacing.py and bot/decisions/outbox.py. One loop per process
(per database with PostgreSQL: only the holder of the leader lock pushes). It claims a batch
in one short transaction, pushes each message outside any transaction, and records the
outcomes right after, while the next messages are pushed (those that came in while one write
was going share the next: a group commit). A crash between a push and its record re-sends
that message once its lease runs out: the only duplicate there can be.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.decisions import pacing
from bot.decisions.outbox import (
    Done,
    GiveUp,
    Later,
    Outcome,
    Undeliverable,
    Unreachable,
    after_push,
)
from bot.messages import Text
from bot.push import Push, decode, encode
from locales.catalog import translate
from storage.outbox import BLOCKED, Claimed
from storage.uow import UnitOfWork, Work

log = logging.getLogger(__name__)

# Seconds of pushing at the full rate: the claim between two batches (and the writes
# finished before it) is time the outbox does not push.
BATCH = 150
# Far longer than a batch takes at 30 a second; a sender that died holds its batch this long.
LEASE = timedelta(minutes=2)
# A batch is put back this long before its lease ends, rather than pushed past it.
LEASE_MARGIN = timedelta(seconds=20)
# A push this late (seconds: a timer's lateness) still counts as on time (see _push).
LATENESS = 0.003
# How often an idle sender looks for messages other processes enqueued (its own wake it).
IDLE = timedelta(seconds=5)


T = TypeVar("T")


class Write(Protocol):
    """How this process writes (``Conversation.write``): ``job`` over one transaction,
    committed before its result is returned."""

    def __call__(self, job: Callable[[Work], T]) -> Awaitable[T]: ...


def writer_over(sessions: async_sessionmaker[AsyncSession]) -> Write:
    """A :class:`Write` of its own transactions, for a process without a Conversation."""

    async def write(job: Callable[[Work], T]) -> T:
        async with UnitOfWork(sessions) as uow:
            result = await uow.run(job)
            await uow.commit()
            return result

    return write


class Clock(Protocol):
    def now(self) -> datetime: ...


class Alarm(Protocol):
    async def wait(self, until: datetime) -> None:
        """Return at ``until``, or sooner if woken."""

    def wake(self) -> None: ...


class Leader(Protocol):
    async def hold(self) -> bool: ...

    async def release(self) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class EventAlarm:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._woken = asyncio.Event()

    async def wait(self, until: datetime) -> None:
        seconds = (until - self.clock.now()).total_seconds()
        if seconds > 0 and not self._woken.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), seconds)
        self._woken.clear()

    def wake(self) -> None:
        self._woken.set()


def moment(seconds: float) -> datetime:
    """The first datetime not before ``seconds`` (datetimes count whole microseconds: one
    rounded down would wake a waiter just before its time, for ever)."""
    at = datetime.fromtimestamp(seconds, UTC)
    return at if at.timestamp() >= seconds else at + timedelta(microseconds=1)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        push: Push,
        *,
        write: Write | None = None,
        clock: Clock | None = None,
        alarm: Alarm | None = None,
        leader: Leader | None = None,
        limits: pacing.Limits | None = None,
        locale: str = "vi",
        worker: str | None = None,
        batch: int = BATCH,
        lease: timedelta = LEASE,
    ) -> None:
        self.sessions = sessions
        self.push = push
        # Claims and outcomes go the way turns do: on SQLite, one writer per process.
        self.write = write or writer_over(sessions)
        self.clock = clock or SystemClock()
        self.alarm = alarm or EventAlarm(self.clock)
        self.leader = leader
        self.limits = limits or pacing.Limits()
        self.locale = locale
        self.worker = worker or worker_name()
        self.batch = batch
        self.lease = lease
        self.pace = pacing.Pace()
        self._stopping = False

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def replied(self, chat_id: str) -> None:
        """An interactive reply went to ``chat_id``: it shares the platform's limits."""
        self.pace = pacing.replied(self.pace, self.limits, chat_id, self._now())

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next idle check."""
        self.alarm.wake()

    def stop(self) -> None:
        self._stopping = True
        self.alarm.wake()

    async def run(self) -> None:
        """Until :meth:`stop`: push what is due, then sleep until the next is."""
        try:
            while not self._stopping:
                now = self.clock.now()
                if self.leader is not None and not await self.leader.hold():
                    await self.alarm.wait(now + IDLE)
                    continue
                try:
                    await self.send_due()
                    wake_at = await self._next_wake()
                except Exception:
                    # The database is away, say: nothing is lost, it is all still pending.
                    log.exception("outbox: could not send; trying again shortly")
                    wake_at = self.clock.now() + IDLE
                if not self._stopping:
                    await self.alarm.wait(wake_at)
        finally:
            if self.leader is not None:
                await self.leader.release()

    async def send_due(self) -> int:
        """Push every message due now; how many were pushed."""
        pushed = 0
        while not self._stopping:
            now = self.clock.now()
            claimed = await self.write(partial(self._claim, now))
            if not claimed:
                break
            pushed += await self._push(claimed, now + self.lease - LEASE_MARGIN)
        return pushed

    def _claim(self, now: datetime, work: Work) -> list[Claimed]:
        # Each channel's sender pushes to its own platform's people only.
        return work.outbox.claim(self.worker, now, self.lease, self.batch, self.push.platform)

    async def _next_wake(self) -> datetime:
        now = self.clock.now()
        async with UnitOfWork(self.sessions) as uow:
            due = await uow.outbox.next_due(self.push.platform)
        paused = moment(max(self.pace.paused_until, 0.0))
        if due is None:
            return now + IDLE
        return min(max(due, paused, now), now + IDLE)

    async def _push(self, claimed: Sequence[Claimed], hold_until: datetime) -> int:
        waiting = list(claimed)
        pushed = 0
        # Outcomes not yet written, and the write under way: one at a time, so the sender's
        # writes stay in order, each taking every outcome that came in meanwhile. All are
        # written before the next claim.
        outcomes: list[tuple[Claimed, Outcome, datetime]] = []
        recording: asyncio.Task[None] | None = None
        try:
            while waiting and not self._stopping and self.clock.now() < hold_until:
                if outcomes and (recording is None or recording.done()):
                    if recording is not None:
                        await recording
                    recording = asyncio.create_task(self._record(outcomes))
                    outcomes = []
                index, at = pacing.pick(self.pace, [m.chat_id for m in waiting], self._now())
                if at > self._now():
                    await self.alarm.wait(moment(at))
                    continue
                message = waiting.pop(index)
                # Counted from when it was due to go (if the wake-up was only a timer's
                # lateness behind) rather than when it went: else each message's lateness
                # and the time its push takes would add up to a slower rate.
                let_through = max(at, self._now() - LATENESS)
                self.pace = pacing.sent(self.pace, self.limits, message.chat_id, let_through)
                result = await self.push.push(message.chat_id, decode(message.message))
                now = self.clock.now()
                outcome = after_push(result, message.attempts, now)
                outcomes.append((message, outcome, now))
                pushed += 1
                if isinstance(outcome, Unreachable):
                    # Failed with them once recorded (Outbox.block): not tried meanwhile.
                    waiting = [m for m in waiting if m.user_id != message.user_id]
                if isinstance(outcome, Later) and outcome.pause:
                    log.info("outbox: flood control, pausing until %s", outcome.at.isoformat())
                    self.pace = pacing.paused(self.pace, outcome.at.timestamp())
                    break
        finally:
            if recording is not None:
                await recording
            if outcomes:
                await self._record(outcomes)
            if waiting:
                # Not tried: free for the next claim at once, in their order.
                ids = [m.id for m in waiting]
                await self.write(lambda work: work.outbox.release(ids))
        return pushed

    async def _record(self, outcomes: Sequence[tuple[Claimed, Outcome, datetime]]) -> None:
        def record(work: Work) -> None:
            for message, outcome, now in outcomes:
                self._record_one(work, message, outcome, now)

        await self.write(record)

    def _record_one(self, work: Work, message: Claimed, outcome: Outcome, now: datetime) -> None:
        if isinstance(outcome, Done):
            work.outbox.sent(message.id, now)
        elif isinstance(outcome, Later):
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
