"""The outbox sender: pushes due outbox messages, paced, and records what became of each.

The shell around bot/decisions/pacing.py and bot/decisions/outbox.py. One loop per process
(per database with PostgreSQL: only the holder of the leader lock pushes). It claims a batch
in one short transaction, the next while the current one is pushed; pushes each message
outside any transaction, and records the outcomes right after, while the next messages are
pushed (bot/outbox_outcomes.py). A crash between a push and its record re-sends that message
once its lease runs out: the only duplicate there can be.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.decisions import pacing
from bot.decisions.outbox import Later, Unreachable, after_push
from bot.outbox_claims import Claims
from bot.outbox_outcomes import Outcomes
from bot.push import Push, decode
from storage.outbox import Claimed
from storage.uow import UnitOfWork, Work

log = logging.getLogger(__name__)

# Five seconds of pushing at the full rate; the next is claimed when a third is left.
BATCH = 150
# Far longer than a batch takes at 30 a second; a sender that died holds its batch this long.
LEASE = timedelta(minutes=2)
# A batch is put back this long before its lease ends, rather than pushed past it.
LEASE_MARGIN = timedelta(seconds=20)
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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sessions = sessions
        self.push = push
        # Claims and outcomes go the way turns do: on SQLite, one writer per process.
        self.write = write or writer_over(sessions)
        self.clock = clock or SystemClock()
        self.alarm = alarm or EventAlarm(self.clock)
        # A reply's wait for its slot (seconds): short, and not cut short by a wake.
        self.sleep = sleep
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

    @asynccontextmanager
    async def replying(self, chat_id: str) -> AsyncIterator[None]:
        """Around an interactive reply to ``chat_id``, which shares the platform's limits:
        first its slot (at once, unless pushes filled the second), then, once sent, the
        moment the platform answered."""
        now = self._now()
        at, self.pace = pacing.replied(self.pace, self.limits, chat_id, now)
        if at > now:
            await self.sleep(at - now)
        try:
            yield
        finally:
            self.pace = pacing.reply_answered(self.pace, self.limits, at, self._now())

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
        claims = Claims(
            self._claim,
            self._release,
            self.clock.now,
            batch=self.batch,
            hold=self.lease - LEASE_MARGIN,
        )
        outcomes = Outcomes(self.write, self.locale)
        pushed = 0
        try:
            while not self._stopping:
                outcomes.pump()
                waiting = await claims.waiting(settle=outcomes.flush)
                if not waiting:
                    break
                index, at = pacing.pick(
                    self.pace, self.limits, [m.chat_id for m in waiting], self._now()
                )
                if at > self._now():
                    await self.alarm.wait(moment(at))
                    continue
                message = claims.take(index)
                sent_at = self._now()
                self.pace = pacing.pushed(self.pace, self.limits, message.chat_id, sent_at)
                result = await self.push.push(message.chat_id, decode(message.message))
                self.pace = pacing.push_answered(self.pace, self.limits, sent_at, self._now())
                now = self.clock.now()
                outcome = after_push(result, message.attempts, now)
                outcomes.add(message, outcome, now)
                pushed += 1
                if isinstance(outcome, Unreachable):
                    # Failed with them once recorded (Outbox.block): not tried meanwhile.
                    claims.gone(message.user_id)
                if isinstance(outcome, Later) and outcome.pause:
                    log.info("outbox: flood control, pausing until %s", outcome.at.isoformat())
                    self.pace = pacing.paused(self.pace, outcome.at.timestamp())
                    claims.again()
        finally:
            await outcomes.flush()
            await claims.close()
        return pushed

    async def _claim(self) -> list[Claimed]:
        now = self.clock.now()
        # Each channel's sender pushes to its own platform's people only.
        return await self.write(
            lambda work: work.outbox.claim(
                self.worker, now, self.lease, self.batch, self.push.platform
            )
        )

    async def _release(self, ids: list[int]) -> None:
        await self.write(lambda work: work.outbox.release(ids))

    async def _next_wake(self) -> datetime:
        now = self.clock.now()
        async with UnitOfWork(self.sessions) as uow:
            due = await uow.outbox.next_due(self.push.platform)
        paused = moment(max(self.pace.paused_until, 0.0))
        if due is None:
            return now + IDLE
        return min(max(due, paused, now), now + IDLE)
