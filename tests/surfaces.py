"""Chat surfaces for the interview driver: the terminal channel and Telegram via the fake."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.telegram import ALLOWED_UPDATES, build_application
from bot.channels.terminal import TerminalChannel
from bot.channels.zalo_bot import ZaloBotChannel
from bot.conversation import Conversation
from bot.messages import Choices, Notice, Outgoing, Text
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo_bot import FakeZaloBot


def texts(replies: list[Outgoing]) -> list[str]:
    return [r.text for r in replies if isinstance(r, Text | Choices | Notice)]


class TerminalSurface:
    """The real terminal channel, typed into: buttons are chosen by their number."""

    def __init__(self, runtime: Runtime | Conversation, user_id: str, download_dir: Path) -> None:
        self.output: list[str] = []
        self.channel = TerminalChannel(
            runtime.conversation if isinstance(runtime, Runtime) else runtime,
            user_id=user_id,
            display_name=user_id,
            read_line=self._no_input,
            write=self.output.append,
            download_dir=download_dir,
        )
        self.last_buttons: list[tuple[str, str]] = []

    @staticmethod
    async def _no_input() -> str | None:
        return None

    def _remember(self, replies: list[Outgoing]) -> list[str]:
        for reply in replies:
            if isinstance(reply, Choices):
                self.last_buttons = [(c.label, c.data) for c in reply.choices]
        return texts(replies)

    async def type(self, text: str) -> list[str]:
        return self._remember(await self.channel.send(text))

    async def press(self, data: str) -> list[str]:
        assert data in self.channel.pending.values(), f"{data!r} is not on the screen"
        return self._remember(await self.channel.send(self.key_for(data)))

    def buttons(self) -> list[tuple[str, str]]:
        return list(self.last_buttons)

    def screen(self) -> str:
        """What the terminal printed last (the question with its numbered list)."""
        return [text for text in self.output if text][-1]

    def key_for(self, data: str) -> str:
        """What is typed in the terminal to pick the button with ``data``."""
        [key] = [key for key, shown in self.channel.pending.items() if shown == data]
        return key


observer_groups = itertools.count(1)


class TelegramSurface:
    """A Telegram user talking to the real PTB application through the fake Bot API.

    Each action waits until the application has finished handling that update (a
    handler in a later group observes it), then returns what the bot sent meanwhile.
    """

    def __init__(self, fake: FakeTelegram, application: Application, user_id: int) -> None:
        self.fake = fake
        self.user = fake.user(id=user_id, first_name="Hoa")
        self.chat_id = user_id
        self.handled: dict[int, asyncio.Event] = {}
        self.seen = len(fake.messages_to(user_id))
        self.answered = len(fake.calls("answerCallbackQuery"))
        self.last_update: dict[str, Any] | None = None
        self.attach(application)

    def attach(self, application: Application) -> None:
        async def observe(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            self.handled.setdefault(update.update_id, asyncio.Event()).set()

        # A group of its own after the bot's (group 0): in one group only the first
        # matching handler runs, so a second person's surface would never hear of theirs.
        application.add_handler(TypeHandler(Update, observe), group=next(observer_groups))

    async def handled_update(self, update: dict[str, Any]) -> None:
        """Wait until the application has finished handling ``update``."""
        event = self.handled.setdefault(update["update_id"], asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout=15)

    async def _settle(self, update: dict[str, Any]) -> list[str]:
        self.last_update = update
        await self.handled_update(update)
        messages = self.fake.messages_to(self.chat_id)
        new, self.seen = messages[self.seen :], len(messages)
        notices = self.fake.calls("answerCallbackQuery")
        toasts, self.answered = notices[self.answered :], len(notices)
        return [m.get("text", "") for m in new] + [n["text"] for n in toasts if n.get("text")]

    async def type(self, text: str) -> list[str]:
        return await self._settle(await self.user.send_text(text))

    async def press(self, data: str) -> list[str]:
        return await self._settle(await self.user.press(data, force=True))

    async def press_on(self, data: str, message_id: int) -> list[str]:
        return await self._settle(await self.user.press(data, message_id, force=True))

    async def replay_last(self) -> list[str]:
        """Telegram delivers the last update again (a retry after a lost acknowledgement)."""
        assert self.last_update is not None
        update_id = self.last_update["update_id"]
        self.handled[update_id] = asyncio.Event()
        await self.fake.push_update_again(self.last_update)
        return await self._settle(self.last_update)

    def buttons(self) -> list[tuple[str, str]]:
        for message in reversed(self.fake.messages_to(self.chat_id)):
            markup = self.fake.message(self.chat_id, message["message_id"]).get("reply_markup")
            if markup:
                return [
                    (b["text"], b["callback_data"])
                    for row in markup["inline_keyboard"]
                    for b in row
                ]
        return []


@asynccontextmanager
async def telegram_bot(
    settings: Settings, runtime: Runtime | None = None
) -> AsyncIterator[Application]:
    """The real application polling the fake, as `rasoat run` would run it: on ``runtime``
    (shared with another channel of the process), or on a runtime of its own."""
    own = runtime is None
    runtime = runtime or await open_runtime(settings)
    application = build_application(settings, runtime)
    try:
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=list(ALLOWED_UPDATES)
            )
            try:
                yield application
            finally:
                await application.updater.stop()
                await application.stop()
    finally:
        if own:
            await runtime.close()


update_ids = itertools.count(1)


class ConversationSurface:
    """The platform-neutral Conversation itself, for fast dialog tests (with a movable clock).

    ``platform`` and ``update_keys`` make it pass for a channel adapter's messages (the
    benchmark drives registered Telegram users this way, each update with its own key).
    """

    def __init__(
        self,
        conversation: Any,
        user_id: str,
        name: str = "Hoa",
        *,
        platform: str = "terminal",
        update_keys: Iterator[int] | None = None,
    ) -> None:
        self.conversation = conversation
        self.user_id = self.chat_id = user_id
        self.name = name
        self.platform = platform
        self.update_keys = update_keys
        self.last_buttons: list[tuple[str, str]] = []
        self.last_text = ""
        self.counter = itertools.count(1)

    def _key(self) -> str | None:
        return None if self.update_keys is None else str(next(self.update_keys))

    async def _send(self, incoming: Any) -> list[str]:
        replies = await self.conversation.handle(incoming)
        for reply in replies:
            if isinstance(reply, Choices):
                self.last_buttons = [(c.label, c.data) for c in reply.choices]
            # An edit (a toggle) changes the buttons of the message on screen, not its text.
            if isinstance(reply, Text) or (isinstance(reply, Choices) and not reply.edit):
                self.last_text = reply.text
        return texts(replies)

    async def type(self, text: str) -> list[str]:
        from tests.helpers import message

        incoming = message(
            text,
            user_id=self.user_id,
            name=self.name,
            update_key=self._key(),
            platform=self.platform,
        )
        return await self._send(incoming)

    async def press(self, data: str) -> list[str]:
        from tests.helpers import press

        incoming = press(data, user_id=self.user_id, update_key=self._key(), platform=self.platform)
        return await self._send(incoming)

    def shown(self) -> str:
        """The text of the latest message the bot sent."""
        return self.last_text

    def button_data(self) -> list[str]:
        return [data for _, data in self.last_buttons]

    def buttons(self) -> list[tuple[str, str]]:
        return list(self.last_buttons)


class ZaloSurface:
    """A Zalo user typing to the real Zalo Bot channel through the fake Bot Platform.

    Zalo has no buttons: ``press`` types the key the numbered list shows for the choice;
    toggles of several answers are remembered and typed together in one message ("1,3")
    when "done" is pressed, as a person answers there.
    """

    def __init__(self, fake: FakeZaloBot, channel: ZaloBotChannel, user_id: str) -> None:
        self.fake = fake
        self.user_id = user_id
        self.seen = len(fake.messages_to(user_id))
        self.applied: dict[str, asyncio.Event] = {}
        self.picks: list[str] = []
        self.last: list[str] = []
        # Everything typed, in order.
        self.typed: list[str] = []
        self.attach(channel)

    def attach(self, channel: ZaloBotChannel) -> None:
        self.channel = channel

        def observe(raw: dict[str, Any]) -> None:
            key = raw["message"]["message_id"]
            self.applied.setdefault(key, asyncio.Event()).set()

        channel.observers.append(observe)

    async def send_event(self, event: dict[str, Any]) -> list[str]:
        key = event["message"]["message_id"]
        if self.fake.webhook:
            assert await self.fake.post(event) == 200
        else:
            await self.fake.send(event)
        await asyncio.wait_for(self.applied.setdefault(key, asyncio.Event()).wait(), 15)
        messages = self.fake.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        if new:
            self.last = new
        return new

    async def type(self, text: str) -> list[str]:
        self.picks = []
        self.typed.append(text)
        return await self.send_event(self.fake.event(self.user_id, text))

    async def press(self, data: str) -> list[str]:
        shown = self.channel.lists[self.user_id]
        if shown.several and data == "d":
            return await self.type(",".join(self.picks))
        key = self.key_for(data)
        if shown.several and key.isdigit():
            self.picks.append(key)
            return []
        return await self.type(key)

    def key_for(self, data: str) -> str:
        [key] = [k for k, shown in self.channel.lists[self.user_id].keys.items() if shown == data]
        return key

    def buttons(self) -> list[tuple[str, str]]:
        """The lines of the last numbered list the bot sent, with the data of their keys."""
        shown = self.channel.lists.get(self.user_id)
        if shown is None:
            return []
        labels = {}
        for message in self.last:
            for line in message.split("\n"):
                key, dot, label = line.partition(". ")
                if dot and key in shown.keys:
                    labels[key] = label
        found = [(labels[key], data) for key, data in shown.keys.items() if key in labels]
        return found + ([("Xong", "d")] if shown.several else [])


class OaSurface(ZaloSurface):
    """A Zalo user writing to the real Official Account channel through the fake OA: their
    messages are posted, signed, to the bot's webhook; a choice with a button under the
    question is tapped (its payload sent back as text), anything else typed by its key."""

    def __init__(self, fake: Any, channel: Any, user_id: str) -> None:
        super().__init__(fake, channel, user_id)
        # The choices given by tapping a button.
        self.taps: list[str] = []

    def attach(self, channel: Any) -> None:
        self.channel = channel

        def observe(raw: dict[str, Any]) -> None:
            self.applied.setdefault(raw["message"]["msg_id"], asyncio.Event()).set()

        channel.observers.append(observe)

    async def send_event(self, event: dict[str, Any]) -> list[str]:
        key = event["message"]["msg_id"]
        assert await self.fake.post(event) == 200
        await asyncio.wait_for(self.applied.setdefault(key, asyncio.Event()).wait(), 15)
        messages = self.fake.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        if new:
            self.last = new
        return new

    async def press(self, data: str) -> list[str]:
        oa: Any = self.fake
        payloads = [b["payload"] for b in oa.buttons_to(self.user_id)]
        if f"#rs:{data}" in payloads:
            self.taps.append(data)
            self.picks = []
            return await self.send_event(self.fake.event(self.user_id, f"#rs:{data}"))
        return await super().press(data)
