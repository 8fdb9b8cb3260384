"""``rasoat run``: one process, one or several channels (``bot.channels.registry``), one
database, one Conversation, one outbox sender and one reminders' clock.

In order: the sockets of the channels that listen are bound (a port in use stops the start
before anything else), the database is opened and migrated, each channel applies what it
stored and did not apply before the last stop and starts receiving, and only then the
outbox sender (routing each message to the channel of its person's platform) and the
reminders' sweeps start. A stop undoes it in reverse: the sweeps and the sender first (a
push in hand finishes and is recorded while the channels' clients are still open), then
each channel stops receiving and finishes the updates in hand, then the database closes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from bot.channels.http import listening_socket, until
from bot.channels.registry import ChannelKind, Endpoint, Hooks
from bot.outbox import OutboxSender
from bot.push import Pushes
from bot.reminders import ReminderScheduler
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.leader import PostgresLeader

Plan = tuple[ChannelKind, Endpoint]


@dataclass(slots=True)
class Service:
    runtime: Runtime
    sender: OutboxSender
    reminders: ReminderScheduler
    # Set when a channel's receiving ended by itself: the process should stop.
    ended: asyncio.Event
    # By channel name, the channel object (a PTB Application, a ZaloBotChannel).
    channels: dict[str, object] = field(default_factory=dict)


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
) -> AsyncIterator[Service]:
    """The channels of ``plans`` receiving, the sender and the sweeps running (on
    ``runtime``, or a runtime of its own); everything stopped at exit."""
    own = runtime is None
    runtime = runtime or await open_runtime(settings)
    platforms = sorted({kind.platform for kind, _ in plans})
    pushes = Pushes()
    sender = OutboxSender(
        runtime.sessions,
        pushes,
        write=runtime.conversation.write,
        # One pusher per database and set of channels: the limits are the bot's.
        leader=None if settings.is_sqlite else PostgresLeader(runtime.engine, ",".join(platforms)),
        limits=settings.push_limits,
        locale=settings.locale,
    )
    reminders = ReminderScheduler(runtime.conversation.write, settings, wake=sender.wake)
    service = Service(runtime, sender, reminders, asyncio.Event())
    hooks = Hooks(sender.replied, service.ended)
    try:
        async with AsyncExitStack() as stack:
            for kind, endpoint in plans:
                opened = await stack.enter_async_context(
                    kind.open(settings, runtime, endpoint, sockets.pop(kind.name, None), hooks)
                )
                pushes.add(opened.push)
                service.channels[kind.name] = opened.handle
            tasks = [asyncio.create_task(sender.run()), asyncio.create_task(reminders.run())]
            try:
                yield service
            finally:
                reminders.stop()
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
) -> None:
    """Run ``plans`` (listening on ``sockets``, see :func:`bind`) until ``stop`` is set, or
    a channel ends by itself."""
    async with running(settings, plans, sockets) as service:
        ended = asyncio.ensure_future(service.ended.wait())
        try:
            await until(stop, ended)
        finally:
            ended.cancel()
