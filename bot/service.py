"""``rasoat run``: one process, one or several channels (``bot.channels.registry``), one
database, one Conversation (its turns, where there are two cores, applied by a process of
their own: ``bot.turn_process``) and one reminders' clock.

Each message the bot sends on its own goes to the channel of its person's platform: each
channel has its platform's outbox sender (``bot.sending``), which claims that platform's
messages only, keeps to its limits (a 429 from Zalo does not hold up Telegram) and, with
several processes on PostgreSQL, is the one pusher of its platform's lock.

In order: the sockets of the channels that listen are bound (a port in use stops the start
before anything else), the database is opened and migrated, each channel applies what it
stored and did not apply before the last stop and starts receiving, and only then the
senders and the reminders' sweeps (which wake them all) start. A stop undoes it in reverse:
the sweeps and the senders first (a push in hand finishes and is recorded while the
channels' clients are still open), then each channel stops receiving and finishes the
updates in hand, then the database closes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from bot import heap
from bot.channels.http import listening_socket, until
from bot.channels.registry import ChannelKind, Endpoint, Hooks
from bot.outbox import OutboxSender
from bot.push import Push, Pushable, PushResult
from bot.reminders import ReminderScheduler
from bot.runtime import Runtime, open_runtime
from bot.sending import sender_for
from bot.settings import Settings
from bot.turn_process import Forked, TurnProcess, TurnProcessGone

Plan = tuple[ChannelKind, Endpoint]


@dataclass(slots=True)
class Service:
    runtime: Runtime
    # Set when a channel's receiving ended by itself: the process should stop.
    ended: asyncio.Event
    # By channel name, the channel object (a PTB Application, a ZaloBotChannel…).
    channels: dict[str, object] = field(default_factory=dict)
    # By platform, its outbox sender.
    senders: dict[str, OutboxSender] = field(default_factory=dict)

    def wake(self) -> None:
        for sender in self.senders.values():
            sender.wake()


class LatePush:
    """A channel's push, known once the channel is open: its sender is made before, so
    that the channel is told of it (the replies it sends count in its pacing)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.target: Push | None = None

    async def push(self, chat_id: str, message: Pushable) -> PushResult:
        if self.target is None:
            raise RuntimeError(f"the {self.platform} channel is not open")
        return await self.target.push(chat_id, message)


class CannotListen(Exception):
    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"{address}: {detail}")
        self.address = address
        self.detail = detail


def bind(settings: Settings, plans: Sequence[Plan]) -> dict[str, socket.socket]:
    """The sockets of the channels that listen, bound now (CannotListen if one cannot be)."""
    bound: dict[str, socket.socket] = {}
    try:
        for kind, endpoint in plans:
            if kind.listens(settings, endpoint):
                try:
                    bound[kind.name] = listening_socket(endpoint.listen, endpoint.port)
                except OSError as error:
                    address = f"{endpoint.listen}:{endpoint.port}"
                    raise CannotListen(address, error.strerror or type(error).__name__) from None
    except BaseException:
        for sock in bound.values():
            sock.close()
        raise
    return bound


@asynccontextmanager
async def running(
    settings: Settings,
    plans: Sequence[Plan],
    sockets: dict[str, socket.socket],
    runtime: Runtime | None = None,
    turns: Forked | None = None,
) -> AsyncIterator[Service]:
    """The channels of ``plans`` receiving, their senders and the sweeps running (on
    ``runtime``, or a runtime of its own, its turns applied by ``turns`` if given);
    everything stopped at exit."""
    own = runtime is None
    runtime = runtime or await open_runtime(settings, turns=turns)
    service = Service(runtime, asyncio.Event())
    if isinstance(runtime.conversation, TurnProcess):
        runtime.conversation.on_lost = service.ended.set
    # The sweeps write as the turns do, and wake every sender for what they enqueue.
    reminders = ReminderScheduler(runtime.conversation.write, settings, wake=service.wake)
    try:
        async with AsyncExitStack() as stack:
            for kind, endpoint in plans:
                push = LatePush(kind.platform)
                sender = sender_for(runtime, push)
                opened = await stack.enter_async_context(
                    kind.open(
                        settings,
                        runtime,
                        endpoint,
                        sockets.pop(kind.name, None),
                        Hooks(sender, service.ended),
                    )
                )
                push.target = opened.push
                service.senders[kind.platform] = sender
                service.channels[kind.name] = opened.handle
            tasks = [asyncio.create_task(s.run()) for s in service.senders.values()]
            tasks.append(asyncio.create_task(reminders.run()))
            try:
                yield service
            finally:
                reminders.stop()
                for sender in service.senders.values():
                    sender.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for sock in sockets.values():
            sock.close()
        if own:
            await runtime.close()


async def serve(
    settings: Settings,
    plans: Sequence[Plan],
    sockets: dict[str, socket.socket],
    stop: asyncio.Event,
    turns: Forked | None = None,
) -> None:
    """Run ``plans`` (listening on ``sockets``, see :func:`bind`) until ``stop`` is set, or
    a channel ends by itself."""
    async with running(settings, plans, sockets, turns=turns) as service:
        # Started: what lives as long as the process, frozen (bot.heap).
        heap.settle(settings, turns=turns is None)
        ended = asyncio.ensure_future(service.ended.wait())
        try:
            await until(stop, ended)
        finally:
            ended.cancel()
    turns_process = service.runtime.conversation
    if isinstance(turns_process, TurnProcess) and turns_process.lost:
        # Not a stop asked for: the supervisor should start rasoat again.
        raise TurnProcessGone("the turn process ended")
