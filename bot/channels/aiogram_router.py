"""rasoat's dialogs as an aiogram 3 ``Router``, for teams that already run an aiogram bot.

::

    runtime = await open_runtime(load_settings())
    dispatcher.include_router(team_router)            # the team's own handlers first
    dispatcher.include_router(rasoat_router(runtime))  # then rasoat's
    await dispatcher.start_polling(bot, handle_as_tasks=False)

It is the Telegram channel (``bot.channels.telegram``) through another library: the same
people (platform ``telegram``, Telegram's ids), the same store, the same replies
(``bot.channels.bot_api``). What it takes: messages in private chats, and button presses
whose data is rasoat's (``cmd:<command>``, or a prefix of ``bot.router.BUTTONS``); anything
else goes on to the next router. Each update it takes is stored (the inbox) before it is
applied, applied once (claimed by its update id in its turn's transaction: a duplicate
changes nothing), one person's in the order they came (``bot.serial``), and its replies sent
through the host's ``Bot`` once the turn is committed. What a stop interrupted is applied at
the next start. aiogram confirms an update to Telegram (the next poll's offset, the
webhook's 200) after its handler returned only when it handles updates one at a time
(``handle_as_tasks=False``; a webhook's ``handle_in_background=False``): there an update is
stored before Telegram hears it arrived, as everywhere in rasoat. With aiogram's defaults it
confirms first, and an update in flight when the process dies is lost (duplicates are still
applied once).

aiogram is the optional extra ``rasoat[aiogram]``: it is imported inside the functions that
use it, so rasoat's core and ``rasoat run`` never need it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from bot import push
from bot.channels import bot_api
from bot.channels.bot_api import PLATFORM, Rows, Turn, answer, sender_of
from bot.channels.in_order import in_order
from bot.commands import BY_NAME
from bot.messages import Document, Incoming
from bot.outbox import OutboxSender
from bot.reminders import ReminderScheduler
from bot.router import BUTTONS, COMMAND_BUTTON
from bot.runtime import Runtime
from bot.sending import start_reminders, start_sender
from bot.serial import PerSender
from storage.repositories import Received

if TYPE_CHECKING:
    from aiogram import Bot, Router
    from aiogram.types import InlineKeyboardMarkup, TelegramObject, Update

log = logging.getLogger(__name__)
T = TypeVar("T")


def rasoat_router(
    runtime: Runtime, *, name: str = "rasoat", command_menus: bool = True, outbox: bool = True
) -> Router:
    """A Router serving rasoat's dialogs on ``runtime`` (``bot.runtime.open_runtime``; its
    owner closes it, after the Dispatcher has stopped).

    ``command_menus``: set each registered person's command menu (their chat's scope) to
    rasoat's commands, as ``rasoat run`` does; the bot's default menu is the team's, never
    touched. ``outbox``: between the Dispatcher's startup and shutdown, send the messages
    rasoat sends on its own (reminders, reports: the outbox and the minute-by-minute sweeps)
    through the team's bot; one process per database does it (on PostgreSQL the others
    wait their turn), so leave it on unless ``rasoat run`` serves the same bot elsewhere.
    """
    try:
        # The optional extra: imported when a team builds the router, never by rasoat's core.
        from aiogram import F, Router
        from aiogram.enums import ChatType
        from aiogram.filters.callback_data import CallbackData
    except ImportError as error:
        raise ImportError("rasoat_router needs aiogram: pip install 'rasoat[aiogram]'") from error

    class CommandButton(CallbackData, prefix=COMMAND_BUTTON):
        """A command offered as a button ("cmd:interview"), as rasoat's menus send it."""

        name: str

    channel = AiogramChannel(runtime, command_menus=command_menus, outbox=outbox)
    router = Router(name=name)
    router.message.register(channel.on_event, F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(channel.on_event, CommandButton.filter(F.name.in_(BY_NAME)))
    router.callback_query.register(channel.on_event, F.data.func(dialog_button))
    router.startup.register(channel.startup)
    router.shutdown.register(channel.shutdown)
    return router


def dialog_button(data: str) -> bool:
    """Whether a button's data belongs to one of rasoat's dialogs (its prefix names one)."""
    prefix, colon, _ = data.partition(":")
    return bool(colon) and prefix in BUTTONS


class AiogramChannel:
    """Stores, applies and answers the updates the router takes."""

    def __init__(self, runtime: Runtime, *, command_menus: bool, outbox: bool) -> None:
        self.runtime = runtime
        self.command_menus = command_menus
        self.pushing = outbox
        self.senders = PerSender()
        # The outbox sender and the reminders' sweeps, between startup and shutdown.
        self.outbox: OutboxSender | None = None
        self.reminders: ReminderScheduler | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def startup(self, bot: Bot | None = None) -> None:
        """The Dispatcher's startup (before polling, or before the webhook server listens):
        what was stored and not applied before the last stop is applied, then the outbox
        starts."""
        if bot is None:
            # aiogram passes the bot to startup handlers when polling, and in a webhook
            # when it is given to setup_application(app, dispatcher, bot=bot).
            log.warning("no bot at startup: stored updates and the outbox wait for a restart")
            return
        await bot_api.replay(self.runtime.conversation, reader(bot), partial(self.apply, bot=bot))
        if self.pushing:
            self.outbox = start_sender(self.runtime, AiogramPush(bot), self.tasks)
            self.reminders = start_reminders(self.runtime, self.outbox, self.tasks)

    async def shutdown(self) -> None:
        """Before the bot's session closes: a message being pushed finishes and is recorded."""
        if self.reminders is not None:
            self.reminders.stop()
        if self.outbox is not None:
            self.outbox.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def on_event(self, event: TelegramObject, event_update: Update, bot: Bot) -> None:
        """The handler of every event the router takes: aiogram hands it the whole update
        (``event_update``), whose id makes it unique."""
        await self.keep(event_update)
        await self.apply(event_update, bot)

    async def keep(self, update: Update) -> None:
        """Store the update as received: if the process dies before its turn is committed,
        the next start applies it."""
        raw = update.model_dump(mode="json", by_alias=True, exclude_none=True)
        received = Received(str(update.update_id), sender_of(raw), raw)
        try:
            await self.runtime.conversation.keep(PLATFORM, [received])
        except Exception as error:
            # Its turn may still be applied (and say the database is away if it is).
            log.warning("update %s not stored: %s", update.update_id, type(error).__name__)

    async def apply(self, update: Update, bot: Bot) -> None:
        incoming = to_incoming(update)
        if incoming is None:
            return
        async with self.senders.turn(incoming.user_id):
            # This person's earlier updates that another worker holds, or held when it
            # died, come first (bot.channels.in_order).
            await in_order(
                partial(self.answer, bot=bot),
                update,
                partial(bot_api.readable, self.runtime.conversation, reader(bot)),
            )

    async def answer(self, update: Update, first: bool, bot: Bot) -> None:
        incoming = to_incoming(update)
        if incoming is None:
            return
        query = update.callback_query
        turn = Turn(incoming)
        if query is not None:
            pressed = query.message.message_id if query.message is not None else None
            turn = Turn(incoming, pressed, partial(bot.answer_callback_query, query.id))
        api = AiogramApi(bot, command_menus=self.command_menus)
        replying = self.outbox.replying if self.outbox is not None else None
        await answer(
            self.runtime.conversation,
            api,
            turn,
            self.runtime.settings.locale,
            replying,
            in_order=first,
        )


def reader(bot: Bot) -> Callable[[dict[str, Any]], Update]:
    """How aiogram reads a stored update, bound to ``bot`` (its shortcuts need it)."""
    from aiogram.types import Update

    return partial(Update.model_validate, context={"bot": bot})


def to_incoming(update: Update) -> Incoming | None:
    """The platform-neutral form of an update, or None for updates the bot ignores."""
    query, message = update.callback_query, update.message
    if query is not None:
        chat = query.message.chat if query.message is not None else None
        return bot_api.incoming(update.update_id, query.from_user, chat, button=query.data or "")
    if message is None:
        return None
    kind = message.content_type
    # aiogram's ContentType is an Enum of str: its value is the name ("sticker").
    content_type = kind.value if isinstance(kind, Enum) else kind
    return bot_api.incoming(
        update.update_id,
        message.from_user,
        message.chat,
        message=message,
        content_type=content_type,
    )


class AiogramApi:
    """The Bot API calls of a turn's replies (``bot.channels.bot_api``) through aiogram.

    Texts go with ``parse_mode=None`` whatever the host's ``DefaultBotProperties`` say: they
    are plain text ("< 15 tuổi" is no HTML tag).
    """

    def __init__(self, bot: Bot, *, command_menus: bool = True) -> None:
        self.bot = bot
        self.command_menus = command_menus

    async def send_text(self, chat_id: int, text: str, rows: Rows | None = None) -> int:
        send = partial(
            self.bot.send_message,
            chat_id,
            text,
            parse_mode=None,
            reply_markup=markup(rows) if rows else None,
        )
        return (await _call("sendMessage", send)).message_id

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> None:
        edit = partial(
            self.bot.edit_message_text,
            text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=None,
        )
        await _call("editMessageText", edit)

    async def edit_rows(self, chat_id: int, message_id: int, rows: Rows) -> None:
        edit = partial(
            self.bot.edit_message_reply_markup,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=markup(rows),
        )
        await _call("editMessageReplyMarkup", edit)

    async def send_file(self, chat_id: int, document: Document) -> int:
        from aiogram.types import BufferedInputFile

        upload = BufferedInputFile(document.content, filename=document.filename)
        caption = document.caption or None
        if document.inline:
            # A photo shows in the chat itself; a document is a file to download.
            send = partial(self.bot.send_photo, chat_id, upload, caption=caption, parse_mode=None)
            return (await _call("sendPhoto", send)).message_id
        send = partial(self.bot.send_document, chat_id, upload, caption=caption, parse_mode=None)
        return (await _call("sendDocument", send)).message_id

    async def set_commands(self, chat_id: int, commands: Sequence[tuple[str, str]]) -> None:
        if not self.command_menus:
            return
        from aiogram.types import BotCommand, BotCommandScopeChat

        listed = [BotCommand(command=name, description=text) for name, text in commands]
        scope = BotCommandScopeChat(chat_id=chat_id)
        await _call("setMyCommands", partial(self.bot.set_my_commands, listed, scope=scope))


class AiogramPush:
    """The push seam (bot.push) through aiogram: one message, Telegram's answer as an
    outcome."""

    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def push(self, chat_id: str, message: push.Pushable) -> push.PushResult:
        async def send(text: str, rows: Rows | None) -> None:
            buttons = markup(rows) if rows else None
            await self.bot.send_message(int(chat_id), text, parse_mode=None, reply_markup=buttons)

        return await bot_api.push_message(send, message, _outcome)


def _outcome(error: Exception) -> push.PushResult:
    """What Telegram's answer to a pushed message means for the outbox."""
    from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter

    if isinstance(error, TelegramRetryAfter):
        return push.RetryAfter(float(error.retry_after))
    if isinstance(error, TelegramForbiddenError):
        return push.Blocked()
    if isinstance(error, TelegramBadRequest):
        # Telegram's description names the problem ("chat not found"), not the message.
        return push.Failed(f"BadRequest: {error.message}", permanent=True)
    return push.Failed(type(error).__name__)


def markup(rows: Rows) -> InlineKeyboardMarkup:
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    keyboard = [
        [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
        for row in rows
    ]
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _call(method: str, request: Callable[[], Awaitable[T]]) -> T:
    return await bot_api.call(method, request, _flood_wait, _from_telegram)


def _flood_wait(error: Exception) -> float | None:
    from aiogram.exceptions import TelegramRetryAfter

    return float(error.retry_after) if isinstance(error, TelegramRetryAfter) else None


def _from_telegram(error: Exception) -> bool:
    """Whether Telegram answered with this error (its description names the problem);
    a network error's text may name the request instead."""
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

    return isinstance(error, TelegramAPIError) and not isinstance(error, TelegramNetworkError)
