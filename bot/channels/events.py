"""What the Zalo channels share: platform events stored before anything else is done with
them, applied in their sender's turn, and numbered lists whose keys are typed back.

A platform event (a JSON object) is kept in the inbox under its key (Zalo has no update
ids: the event's name and its message's id), which the conversation claims in the turn's
transaction, so a duplicated event is applied once; what was stored and not applied is
applied at the next start. One person's events apply in the order received
(``bot.serial``), and, with several workers on PostgreSQL, a person's earlier events held by
another worker are applied first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from bot.channels.in_order import in_order
from bot.channels.replay import apply_pending
from bot.channels.zalo_text import NumberedList, numbered
from bot.conversation import must_be_seen
from bot.messages import Choices, Incoming, Kind, Outgoing, Text
from bot.runtime import Runtime
from bot.serial import PerSender
from locales.catalog import translate
from storage.repositories import Received

log = logging.getLogger(__name__)

# Senders whose last list's keys are remembered (see EventChannel.lists).
LISTS_REMEMBERED = 10_000

Sleep = Callable[[float], Awaitable[None]]


class EventChannel:
    """Stores, applies and answers one platform's events; one sender's in order, others at
    once. A platform's channel says how to read its events and how to send replies."""

    platform = ""
    # How the platform's events read, as its module's functions of one event: what makes
    # it unique (None: not stored), who sent it, and the platform-neutral form the dialogs
    # see (None: ignored).
    update_key: Callable[[dict[str, Any]], str | None]
    sender_of: Callable[[dict[str, Any]], str | None]
    to_incoming: Callable[[dict[str, Any]], Incoming | None]

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.senders = PerSender()
        # What a person has on screen changes one sender at a time: a turn's replies, or a
        # message pushed to them (bot.channels.zalo_push), so the list stored is the last
        # one sent. Held only while replies are sent, not while a turn is worked out.
        self.screens = PerSender()
        # The last list shown to each sender (what typing each key picks), as stored in the
        # database (see remember_list), the oldest forgotten first.
        self.lists: dict[str, NumberedList] = {}
        # Called with each event once it is applied (tests wait on it).
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        self.tasks: set[asyncio.Task[None]] = set()

    # -- what each platform says ----------------------------------------------------------

    async def deliver(self, incoming: Incoming, replies: Sequence[Outgoing]) -> list[Outgoing]:
        """Send the replies, each on its own; those that could not be delivered."""
        raise NotImplementedError

    async def before(self, incoming: Incoming, first: bool) -> Incoming:
        """What the platform adds before a message is handled (nothing, by default).
        ``first``: the event's first attempt (see bot.channels.in_order); what must be
        done once per event is done then."""
        return incoming

    # -- shared ---------------------------------------------------------------------------

    async def keep(self, raw: dict[str, Any]) -> str | None:
        """Store an event as received; its key, or None for one that has none (ignored)."""
        key = self.update_key(raw)
        if key is None:
            log.info("a %s event without a message id was skipped", self.platform)
            return None
        await self.runtime.conversation.keep(
            self.platform, [Received(key, self.sender_of(raw), raw)]
        )
        return key

    async def replay(self) -> int:
        """Apply the events stored but not applied before the last stop; how many."""
        conversation = self.runtime.conversation
        pending = await conversation.unapplied(self.platform)
        return await apply_pending(conversation, pending, self.apply, f"{self.platform} event(s)")

    def start(self, raw: dict[str, Any]) -> asyncio.Task[None]:
        """Apply a stored event in the background (started in arrival order, so each
        sender's wait their turn in that order)."""
        task = asyncio.create_task(self.apply(raw))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for the events being applied."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def apply(self, raw: dict[str, Any]) -> None:
        sender = self.sender_of(raw)
        async with self.senders.turn(sender):
            try:
                # This person's earlier events that another worker holds, or held when it
                # died, come first (bot.channels.in_order).
                await in_order(self.apply_one, raw, _as_stored)
            except Exception:
                log.exception("unhandled error in the %s channel", self.platform)
            for observe in self.observers:
                observe(raw)

    async def incoming(self, raw: dict[str, Any]) -> Incoming | None:
        """The event as the dialogs see it: a typed key of the list shown is its choice."""
        incoming = self.to_incoming(raw)
        if incoming is None or incoming.kind is not Kind.TEXT:
            return incoming
        data = (await self.shown(incoming.user_id)).picked(incoming.text)
        if data is None:
            return incoming
        return replace(incoming, kind=Kind.CHOICE, choice=data, text="")

    async def shown(self, user_id: str) -> NumberedList:
        """The list last shown to ``user_id``: from memory, or the database after a start
        (and always where several workers share it: another may have shown a newer one)."""
        conversation = self.runtime.conversation
        if conversation.shared or user_id not in self.lists:
            stored = await conversation.shown_list(self.platform, user_id)
            keys, several = stored or ({}, False)
            self.lists[user_id] = NumberedList((), keys, several)
            if len(self.lists) > LISTS_REMEMBERED:
                del self.lists[next(iter(self.lists))]
        return self.lists[user_id]

    async def apply_one(self, raw: dict[str, Any], first: bool = False) -> None:
        """Apply an event and send its replies; with ``first``, raises EarlierFirst where
        earlier events must come first (bot.channels.in_order)."""
        try:
            incoming = await self.incoming(raw)
            if incoming is None:
                return
            incoming = await self.before(incoming, first)
        except Exception as error:
            await self.unreadable(raw, error)
            return
        replies = await self.runtime.conversation.handle(incoming, in_order=first)
        async with self.screens.turn(incoming.user_id):
            await self.remember_list(incoming.user_id, replies)
            failed = await self.deliver(incoming, replies)
        if replies and not must_be_seen(failed):
            await self.runtime.conversation.delivered(incoming)

    async def unreadable(self, raw: dict[str, Any], error: Exception) -> None:
        """An event that failed before its turn counts as an attempt, as a turn that raised
        does: else it would fail again at every start, unseen. Logged by platform and id,
        and the error's type: its message may quote the event."""
        key = self.update_key(raw)
        log.error("%s event %s could not be read (%s)", self.platform, key, type(error).__name__)
        await self.runtime.conversation.failed(self.platform, key)

    def numbered(self, reply: Choices) -> NumberedList:
        return numbered(reply, translate("zalo.several_hint", self.runtime.settings.locale))

    async def remember_list(self, user_id: str, replies: Sequence[Outgoing]) -> None:
        """Keys typed next name the newest list only (a question without one has none):
        stored before the list is sent. If it cannot be, a key typed next is taken as text,
        which the dialog answers by showing its question again."""
        lists = [reply for reply in replies if isinstance(reply, Choices)]
        before = self.lists.get(user_id)
        if lists:
            now = self.numbered(lists[-1])
        elif any(isinstance(reply, Text) for reply in replies) and before and before.keys:
            now = NumberedList((), {})
        else:
            return
        try:
            await self.show(user_id, now)
        except Exception as error:
            log.warning("the list shown could not be stored: %s", type(error).__name__)

    async def show(self, user_id: str, shown: NumberedList) -> None:
        """``shown`` is the list on ``user_id``'s screen from now on: what a key they type
        picks, stored first (here and in the database)."""
        self.lists[user_id] = shown
        await self.runtime.conversation.show_list(self.platform, user_id, shown.keys, shown.several)


async def _as_stored(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # An event is applied as stored: the payload is the event.
    return payloads
