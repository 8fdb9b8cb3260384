"""Telegram channel over python-telegram-bot: translates updates and replies, nothing more."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from http import HTTPStatus
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot import push
from bot.conversation import must_be_seen
from bot.delivery import SendFailed, deliver, harmless
from bot.messages import (
    Choices,
    CommandMenu,
    Document,
    Incoming,
    Kind,
    Notice,
    Outgoing,
    Text,
)
from bot.outbox import OutboxSender
from bot.reminders import ReminderScheduler
from bot.runtime import Runtime, open_runtime
from bot.serial import PerSender
from bot.settings import Settings
from locales.catalog import DEFAULT_LOCALE, translate
from storage.leader import PostgresLeader
from storage.repositories import Received

log = logging.getLogger(__name__)
T = TypeVar("T")

PLATFORM = "telegram"
ALLOWED_UPDATES = ("message", "callback_query")
# What an unregistered user sees in Telegram's command menu.
DEFAULT_COMMANDS = ("start", "help")
# Telegram's flood control (429): how often, and for how long at most, a reply waits and is
# sent again. Past that the reply is dropped and logged; the answer behind it is stored, and
# the collaborator's next message shows where the interview stands.
FLOOD_RETRIES = 3
FLOOD_WAIT_LIMIT = 30.0
# The command menu set at start is cosmetic: when Telegram refuses it, the bot starts anyway
# and sets it again in the background, waiting this long first, twice as long after each
# failure, up to the longest wait.
MENU_RETRY_FIRST = 2.0
MENU_RETRY_LONGEST = 600.0
# Updates in flight at once, all chats together. Each one holds a database connection
# only while its transaction runs, so this bounds memory, not the pool.
MAX_CONCURRENT_UPDATES = 64
# Telegram's description of an edit that changes nothing.
NOT_MODIFIED = "message is not modified"


def to_incoming(update: Update) -> Incoming | None:
    """The platform-neutral form of an update, or None for updates the bot ignores."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    base = Incoming(
        platform=PLATFORM,
        user_id=str(user.id),
        chat_id=str(chat.id),
        display_name=user.full_name,
        kind=Kind.TEXT,
        update_key=str(update.update_id),
        language=user.language_code,
        private=chat.type == ChatType.PRIVATE,
    )
    if update.callback_query is not None:
        return replace(base, kind=Kind.CHOICE, choice=update.callback_query.data or "")
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        kind, command, args = Incoming.parse_text(message.text)
        return replace(
            base,
            kind=kind,
            text=message.text,
            command=command,
            args=args,
            sent_at=message.date,
            message_number=message.message_id,
        )
    attachment = message.effective_attachment
    content_type = type(attachment).__name__.lower() if attachment is not None else "other"
    return replace(base, kind=Kind.UNSUPPORTED, content_type=content_type)


def sender_of(raw: dict[str, Any]) -> str | None:
    """The id of the person who sent a raw update (``from`` of its message or button
    press), without parsing the rest."""
    for value in raw.values():
        if isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return str(sender["id"])
    return None


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split on line breaks so a long list never breaks mid-line (unless a line is huge)."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return [part.rstrip("\n") or "." for part in parts]


def keyboard(message: Choices) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(("✅ " if c.selected else "") + c.label, callback_data=c.data)
        for c in message.choices
    ]
    columns = max(1, message.columns)
    rows = [buttons[i : i + columns] for i in range(0, len(buttons), columns)]
    return InlineKeyboardMarkup(rows)


def _pressed(update: Update) -> int | None:
    """The id of the message whose button was pressed, if it can still be edited."""
    query = update.callback_query
    if query is None or query.message is None:
        return None
    return query.message.message_id


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Different people's updates run concurrently; one person's run one at a time, in order.

    A collaborator's answers must apply in the order sent (the dialog state is per user),
    but there is no reason for one village's collaborator to wait for another's database
    commit and reply round trips. PTB starts one task per update in arrival order, and
    ``bot.serial.PerSender`` (what every channel uses) keeps each user's in that order.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self.senders = PerSender()

    @property
    def _locks(self) -> dict[Any, tuple[asyncio.Lock, int]]:
        """The people with an update in flight (their turns), for tests."""
        return self.senders.locks

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_user is not None:
            return update.effective_user.id
        return update.effective_chat.id if update.effective_chat is not None else None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        async with self.senders.turn(self._key(update)):
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class ReadableUpdates(HTTPXRequest):
    """The getUpdates connection: each batch is stored before PTB sees it, and the updates
    PTB cannot read are replaced.

    Stored first because PTB confirms a batch to Telegram (the next poll's offset) while it
    is still only in memory: a crash then loses it, unless it is in the inbox, which the
    next start applies (``TelegramChannel.replay``).

    One update PTB fails to parse (a new Telegram field it does not know, say) fails the
    whole getUpdates call: PTB asks again for the same batch forever, nobody is answered,
    and each failure is logged with the update inside (names, messages). Here each update is
    read alone first; one that can't be is replaced by its bare ``update_id`` (logged by id
    only), which PTB reads, so the offset moves past it and the others are served.
    """

    # Where the updates of a getUpdates answer are stored before python-telegram-bot sees
    # them (and so before its next poll confirms them to Telegram); set by the channel.
    keep: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if code != HTTPStatus.OK or not url.endswith("/getUpdates"):
            return code, payload
        payload, updates = readable_updates(payload)
        if updates and self.keep is not None:
            # Failing here fails the poll: PTB asks again, and Telegram keeps the updates.
            await self.keep(updates)
        return code, payload


def readable_updates(payload: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """A getUpdates answer in which every update is one python-telegram-bot can read, and
    those updates."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload, []
    results = body.get("result") if isinstance(body, dict) else None
    if not isinstance(results, list):
        return payload, []
    try:
        Update.de_list(results, None)
        return payload, [raw for raw in results if isinstance(raw, dict)]
    except Exception:
        pass
    kept: list[dict[str, Any]] = []
    for raw in results:
        try:
            Update.de_json(raw, None)
            kept.append(raw)
        except Exception as error:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            log.warning(
                "update %s could not be read (%s) and was skipped", update_id, type(error).__name__
            )
            if isinstance(update_id, int):
                kept.append({"update_id": update_id})
    return json.dumps({**body, "result": kept}).encode(), kept


class DurableQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, which stores each update before taking it.

    Whatever receives updates stores them as they arrive, through :meth:`keep`, before
    Telegram is told they arrived: the polling connection each getUpdates batch
    (:class:`ReadableUpdates`; PTB's next poll confirms it), the webhook server each request
    (``bot.channels.webhook``; its 200 confirms it). ``put`` then takes them without storing
    them a second time, and stores first anything put on the queue that was not kept.
    """

    def __init__(self, store: Callable[[list[dict[str, Any]]], Awaitable[None]]) -> None:
        super().__init__()
        self.store = store
        # Updates kept and not yet put on the queue, by update_id.
        self.stored: set[int] = set()

    async def keep(self, updates: list[dict[str, Any]]) -> None:
        """Store updates as received (a committed transaction); ``put`` takes them as stored."""
        await self.store(updates)
        self.stored.update(u["update_id"] for u in updates if isinstance(u.get("update_id"), int))

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            if item.update_id in self.stored:
                self.stored.discard(item.update_id)
            else:
                await self.store([item.to_dict()])
        await super().put(item)


class StatusMessage:
    """One status message per update ("Đang xuất… 40%"), edited in place as work goes on.

    Its failures are the caller's to absorb (``bot.delivery.harmless``): a status line is a
    courtesy and must never fail the work it reports on.
    """

    def __init__(self, bot: Bot, chat_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id: int | None = None

    async def show(self, text: str) -> None:
        if self.message_id is None:
            sent = await _call("sendMessage", partial(self.bot.send_message, self.chat_id, text))
            self.message_id = sent.message_id
        else:
            await _edit(
                "editMessageText",
                partial(
                    self.bot.edit_message_text,
                    text,
                    chat_id=self.chat_id,
                    message_id=self.message_id,
                ),
            )


class TelegramChannel:
    def __init__(self, runtime: Runtime | None) -> None:
        self.runtime = runtime
        # The outbox sender, through which every reply goes: they share Telegram's limits.
        self.outbox: OutboxSender | None = None
        # The reminders' sweeps, once a minute, writing to the outbox.
        self.reminders: ReminderScheduler | None = None

    async def keep(self, updates: list[dict[str, Any]]) -> None:
        if self.runtime is None:
            raise RuntimeError("the database is not open yet")
        await self.runtime.conversation.keep(
            PLATFORM,
            [
                Received(str(raw["update_id"]), sender_of(raw), raw)
                for raw in updates
                if "update_id" in raw
            ],
        )

    async def replay(self, application: Application) -> int:
        """Apply the updates stored but not applied before the last stop; how many."""
        assert self.runtime is not None
        pending = await self._readable(
            await self.runtime.conversation.unapplied(PLATFORM), application
        )
        for update in pending:
            await self.apply(update, application)
        if pending:
            log.info("%d update(s) received before a stop applied now", len(pending))
        return len(pending)

    async def _readable(
        self, payloads: list[dict[str, Any]], application: Application
    ) -> list[Update]:
        """Stored updates as PTB reads them; one it cannot read is logged by id, settled
        (or it would be read, and fail, at every start) and left out."""
        assert self.runtime is not None
        readable: list[Update] = []
        unreadable: list[str] = []
        for payload in payloads:
            try:
                readable.append(Update.de_json(payload, application.bot))
            except Exception as error:
                # Stored as the webhook received it, and PTB could not read it then either.
                update_id = payload.get("update_id")
                log.warning(
                    "stored update %s could not be read (%s) and was skipped",
                    update_id,
                    type(error).__name__,
                )
                unreadable.append(str(update_id))
        if unreadable:
            await self.runtime.conversation.settle(PLATFORM, unreadable)
        return readable

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.apply(update, context.application)

    async def apply(self, update: Update, application: Application) -> None:
        incoming = to_incoming(update)
        if incoming is None or self.runtime is None:
            return
        conversation = self.runtime.conversation
        if conversation.shared and incoming.update_key is not None:
            # Another worker received this person's earlier updates and has not applied
            # them (it is busy, or it died): they come first, so one person's messages
            # apply in the order sent. Those it applies meanwhile are duplicates here.
            earlier = await conversation.unapplied(PLATFORM, incoming.user_id, incoming.update_key)
            for stored in await self._readable(earlier, application):
                await self._apply_one(stored, application)
        await self._apply_one(update, application)

    async def _apply_one(self, update: Update, application: Application) -> None:
        incoming = to_incoming(update)
        if incoming is None or self.runtime is None:
            return
        status = StatusMessage(application.bot, int(incoming.chat_id))
        show = harmless(status.show)
        replies = await self.runtime.conversation.handle(incoming, show)
        numbers: list[int] = []
        failed = await self.deliver(application, incoming, update, replies, numbers)
        if status.message_id is not None and any(isinstance(reply, Document) for reply in failed):
            # Else it would say "80%" for ever over a file that never came.
            await show(translate("delivery.status_failed", self.runtime.settings.locale))
        if not must_be_seen(failed):
            await self.runtime.conversation.delivered(incoming, max(numbers, default=None))

    async def deliver(
        self,
        application: Application,
        incoming: Incoming,
        update: Update,
        replies: Sequence[Outgoing],
        numbers: list[int] | None = None,
    ) -> list[Outgoing]:
        """Send the replies, each on its own; returns those that could not be delivered.
        The ids of the messages sent are added to ``numbers``."""
        # The button's spinner stops when the callback is answered: do it alongside the
        # replies rather than after them (a Bot API round trip sooner on a real network).
        answering: asyncio.Task[None] | None = None
        if update.callback_query is not None:
            notices = [reply.text for reply in replies if isinstance(reply, Notice)]
            answering = asyncio.create_task(
                self._answer_callback(update, notices[-1] if notices else None)
            )
        locale = self.runtime.settings.locale if self.runtime else DEFAULT_LOCALE
        sending = partial(
            _send,
            application.bot,
            int(incoming.chat_id),
            update,
            [] if numbers is None else numbers,
        )

        async def send(reply: Outgoing) -> None:
            if self.outbox is None or not isinstance(reply, Text | Choices | Document):
                await sending(reply)
                return
            # Ahead of every push waiting; only when pushes filled the second does it wait,
            # for the next slot (tens of milliseconds) rather than meet a 429.
            async with self.outbox.replying(incoming.chat_id):
                await sending(reply)

        try:
            return await deliver(replies, send, locale, incoming.update_key)
        finally:
            if answering is not None:
                await answering

    async def _answer_callback(self, update: Update, notice: str | None) -> None:
        assert update.callback_query is not None
        try:
            await update.callback_query.answer(notice[:200] if notice else None)
        except Exception as error:
            log.warning("could not answer a callback query: %s", type(error).__name__)


class TelegramPush:
    """The push seam on Telegram (bot.push): one message, and Telegram's answer as an outcome."""

    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def push(self, chat_id: str, message: push.Pushable) -> push.PushResult:
        *head, last = split_text(message.text)
        markup = keyboard(message) if isinstance(message, Choices) else None
        try:
            for part in head:
                await self.bot.send_message(int(chat_id), part)
            await self.bot.send_message(int(chat_id), last, reply_markup=markup)
        except RetryAfter as error:
            return push.RetryAfter(retry_seconds(error))
        except Forbidden:
            return push.Blocked()
        except BadRequest as error:
            # Telegram's description names the problem ("chat not found"), not the message.
            return push.Failed(f"BadRequest: {error}", permanent=True)
        except TelegramError as error:
            return push.Failed(type(error).__name__)
        except Exception as error:
            return push.Failed(type(error).__name__)
        return push.Sent()


async def _send(
    bot: Bot, chat_id: int, update: Update, numbers: list[int], reply: Outgoing
) -> None:
    """One reply as Bot API calls, the ids of the messages sent added to ``numbers``;
    raises SendFailed naming the call that failed."""
    if isinstance(reply, Text):
        for part in split_text(reply.text):
            numbers.append(
                (await _call("sendMessage", partial(bot.send_message, chat_id, part))).message_id
            )
    elif isinstance(reply, Choices) and reply.edit and _pressed(update):
        await _edit(
            "editMessageReplyMarkup",
            partial(
                bot.edit_message_reply_markup,
                chat_id,
                _pressed(update),
                reply_markup=keyboard(reply),
            ),
        )
    elif isinstance(reply, Choices):
        *head, last = split_text(reply.text)
        for part in head:
            numbers.append(
                (await _call("sendMessage", partial(bot.send_message, chat_id, part))).message_id
            )
        sent = await _call(
            "sendMessage", partial(bot.send_message, chat_id, last, reply_markup=keyboard(reply))
        )
        numbers.append(sent.message_id)
    elif isinstance(reply, Document):
        # A photo shows in the chat itself; a document is a file to download.
        method, upload = (
            ("sendPhoto", bot.send_photo) if reply.inline else ("sendDocument", bot.send_document)
        )
        sent = await _call(
            method,
            partial(
                upload,
                chat_id,
                InputFile(reply.content, filename=reply.filename),
                caption=reply.caption or None,
            ),
        )
        numbers.append(sent.message_id)
    elif isinstance(reply, CommandMenu):
        commands = [BotCommand(name, text[:256]) for name, text in reply.commands]
        await _call(
            "setMyCommands",
            partial(bot.set_my_commands, commands, scope=BotCommandScopeChat(chat_id)),
        )


async def _edit(method: str, call: Callable[[], Awaitable[object]]) -> None:
    """An edit, through :func:`_call`; one that would change nothing is done already.

    Telegram refuses an edit to the content a message has ("message is not modified": the
    same status line twice, a keyboard pressed into the state it shows). The message shows
    what was asked, so that is success, not a lost reply.
    """
    try:
        await _call(method, call)
    except SendFailed as failure:
        cause = failure.__cause__
        if not (isinstance(cause, BadRequest) and NOT_MODIFIED in str(cause).lower()):
            raise


async def _call(method: str, call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, patient with flood control; any failure becomes SendFailed(method)."""
    try:
        return await _patiently(call)
    except TelegramError as error:
        # Telegram's descriptions name the problem, not the message ("Forbidden: bot was
        # blocked by the user"); PTB keeps the token out of them.
        raise SendFailed(method, f"{type(error).__name__}: {error}") from error
    except Exception as error:
        raise SendFailed(method, type(error).__name__) from error


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, made again after the wait Telegram asks for when it answers 429.

    Telegram's flood control says how long to wait (``retry_after``) and expects bots to
    honour it. The answer behind the reply is committed already; waiting keeps the reply
    (the next question, usually) from being lost. Only this person's updates wait: each
    user's are handled in turn, everyone else's go on.
    """
    for attempt in range(FLOOD_RETRIES + 1):
        try:
            return await call()
        except RetryAfter as error:
            seconds = retry_seconds(error)
            if attempt == FLOOD_RETRIES or seconds > FLOOD_WAIT_LIMIT:
                raise
            log.info("Telegram flood control: sending again in %.0f s", seconds)
            await asyncio.sleep(seconds)
    raise AssertionError("unreachable")


async def _keep_trying(call: Callable[[], Awaitable[object]]) -> None:
    """``call()`` again and again, waiting longer each time, until it works; quietly, since
    the first failure was logged."""
    wait = MENU_RETRY_FIRST
    while True:
        await asyncio.sleep(wait)
        try:
            await call()
        except SendFailed:
            wait = min(wait * 2, MENU_RETRY_LONGEST)
            continue
        log.info("command menu set")
        return


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB is moving retry_after from seconds to a timedelta (PTB_TIMEDELTA): read both.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("unhandled error in the Telegram channel", exc_info=context.error)


def start_outbox(
    runtime: Runtime, application: Application, tasks: set[asyncio.Task[None]]
) -> OutboxSender:
    """The outbox sender of this process, running (its task added to ``tasks``)."""
    settings = runtime.settings
    sender = OutboxSender(
        runtime.sessions,
        TelegramPush(application.bot),
        write=runtime.conversation.write,
        # Only one process pushes per database: the limits are the bot's, not a process's.
        leader=None if settings.is_sqlite else PostgresLeader(runtime.engine),
        limits=settings.push_limits,
        locale=settings.locale,
    )
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


def build_application(
    settings: Settings, runtime: Runtime | None = None, *, webhook: bool = False
) -> Application:
    """A ready-to-run PTB Application: polling (``run_polling``), or, with ``webhook``,
    without an updater, for ``bot.channels.webhook.serve_webhook``.

    Without ``runtime`` the database is opened in ``post_init``, which PTB runs inside
    ``run_polling`` (and ``serve_webhook`` likewise), on the loop that will serve updates.
    """
    token = settings.require_token()
    channel = TelegramChannel(runtime)
    retrying: set[asyncio.Task[None]] = set()
    sending: set[asyncio.Task[None]] = set()

    async def post_init(application: Application) -> None:
        if channel.runtime is None:
            channel.runtime = await open_runtime(settings)
        # Before polling: what a crash interrupted comes first, in order.
        await channel.replay(application)
        channel.outbox = start_outbox(channel.runtime, application, sending)
        channel.reminders = start_reminders(channel.runtime, channel.outbox, sending)
        commands = [
            BotCommand(name, translate(f"command.{name}", settings.locale))
            for name in DEFAULT_COMMANDS
        ]
        set_menu = partial(
            _call,
            "setMyCommands",
            partial(application.bot.set_my_commands, commands, scope=BotCommandScopeDefault()),
        )
        try:
            await set_menu()
        except SendFailed as failed:
            log.warning("command menu not set (%s): starting anyway, will try again", failed)
            retrying.add(asyncio.create_task(_keep_trying(set_menu)))

    async def stop_outbox(application: Application) -> None:
        # Before the bot's HTTP client closes (PTB's polling closes it before post_shutdown):
        # a message being pushed finishes and is recorded.
        if channel.reminders is not None:
            channel.reminders.stop()
        if channel.outbox is not None:
            channel.outbox.stop()
            await asyncio.gather(*sending, return_exceptions=True)

    async def post_shutdown(application: Application) -> None:
        for task in retrying:
            task.cancel()
        await stop_outbox(application)
        if runtime is None and channel.runtime is not None:
            await channel.runtime.close()

    queue = DurableQueue(channel.keep)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{settings.telegram_api_url}/bot")
        .base_file_url(f"{settings.telegram_api_url}/file/bot")
        # A collaborator's answers must apply in the order sent, but different
        # collaborators need not wait for each other.
        .concurrent_updates(PerUserUpdateProcessor())
        .update_queue(queue)
        .post_init(post_init)
        .post_stop(stop_outbox)
        .post_shutdown(post_shutdown)
    )
    if webhook:
        # Updates come from rasoat's own server (bot.channels.webhook), not PTB's.
        builder = builder.updater(None)
    else:
        # PTB's own default for the polling connection, but reading updates one by one.
        polling = ReadableUpdates(connection_pool_size=1)
        polling.keep = queue.keep
        builder = builder.get_updates_request(polling)
    application = builder.build()
    application.add_handler(TypeHandler(Update, channel.on_update))
    application.add_error_handler(_on_error)
    return application
