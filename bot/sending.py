"""What a channel's process starts to send on its own: the outbox sender over the channel's
push (bot.push) and the reminders' sweeps that feed it; shared by every channel."""

from __future__ import annotations

import asyncio

from bot.outbox import OutboxSender
from bot.push import Push
from bot.reminders import ReminderScheduler
from bot.runtime import Runtime
from storage.leader import PostgresLeader

# Telegram's pusher lock keeps the key it had before other platforms pushed.
UNSCOPED = "telegram"


def sender_for(runtime: Runtime, push: Push) -> OutboxSender:
    """The outbox sender of this process for ``push``'s platform (not running yet)."""
    settings = runtime.settings
    scope = "" if push.platform == UNSCOPED else push.platform
    return OutboxSender(
        runtime.sessions,
        push,
        write=runtime.conversation.write,
        # Only one process pushes per database and platform: the limits are the bot's.
        leader=None if settings.is_sqlite else PostgresLeader(runtime.engine, scope),
        limits=settings.push_limits,
        locale=settings.locale,
    )


def start_sender(runtime: Runtime, push: Push, tasks: set[asyncio.Task[None]]) -> OutboxSender:
    """The outbox sender of this process for ``push``'s platform, running (its task added
    to ``tasks``)."""
    sender = sender_for(runtime, push)
    tasks.add(asyncio.create_task(sender.run()))
    return sender


def start_reminders(
    runtime: Runtime, sender: OutboxSender, tasks: set[asyncio.Task[None]]
) -> ReminderScheduler:
    """The reminders' sweeps of this process, running (its task added to ``tasks``): they
    write as the turns do, and wake ``sender`` for what they enqueue."""
    reminders = ReminderScheduler(runtime.conversation.write, runtime.settings, wake=sender.wake)
    tasks.add(asyncio.create_task(reminders.run()))
    return reminders
