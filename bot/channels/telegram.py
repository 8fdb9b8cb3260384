"""Telegram channel over python-telegram-bot: translates updates and replies, nothing more."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
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
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot import push
from bot.channels import bot_api
from bot.channels.aiohttp_request import AiohttpRequest
from bot.channels.bot_api import (
    PLATFORM,
    Rows,
    Turn,
    answer,
    keyboard_rows,
    sender_of,
)
from bot.channels.button_answers import ButtonAnswers
from bot.channels.in_order import in_order
from bot.conversation import NotStored
from bot.delivery import SendFailed
from bot.messages import Choices, Document, Incoming
from bot.outbox import OutboxSender
from bot.runtime import Runtime, open_runtime
from bot.serial import PerSender
from bot.settings import Settings
from bot.turn_process import TurnProcessGone
from locales.catalog import translate
from storage.repositories import Received

log = logging.getLogger(__name__)
T = TypeVar("T")

ALLOWED_UPDATES = ("message", "callback_query")
# A getUpdates answer with nothing in it.
NO_UPDATES = json.dumps({"ok": True, "result": []}).encode()
# What an unregistered user sees in Telegram's command menu.
DEFAULT_COMMANDS = ("start", "help")
# The command menu set at start is cosmetic: when Telegram refuses it, the bot starts anyway
# and sets it again in the background, waiting this long first, twice as long after each
# failure, up to the longest wait.
MENU_RETRY_FIRST = 2.0
MENU_RETRY_LONGEST = 600.0
# Updates in flight at once, all chats together. Each one holds a database connection
# only while its transaction runs, so this bounds memory, not the pool.
MAX_CONCURRENT_UPDATES = 64


def to_incoming(update: Update) -> Incoming | None:
    """The platform-neutral form of an update, or None for updates the bot ignores."""
    query, message = update.callback_query, update.message
    content_type = "other"
    if message is not None and message.text is None:
        attachment = message.effective_attachment
        content_type = type(attachment).__name__.lower() if attachment is not None else "other"
    return bot_api.incoming(
        update.update_id,
        update.effective_user,
        update.effective_chat,
        button=(query.data or "") if query is not None else None,
        message=message,
        content_type=content_type,
    )


def keyboard(message: Choices) -> InlineKeyboardMarkup:
    return markup(keyboard_rows(message))


def markup(rows: Rows) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def wire_markup(rows: Rows) -> dict[str, Any]:
    """An inline keyboard as the Bot API's JSON, for ``Bot.do_api_request``."""
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": data} for label, data in row] for row in rows
        ]
    }


class NotAMessage(Exception):
    """The Bot API answered a sent message with something else (a broken proxy or server)."""


def sent_id(result: object) -> int:
    """The id of the message a Bot API method answered with; 0 for ``true`` (an edit of a
    message the bot did not send)."""
    if result is True:
        return 0
    if isinstance(result, dict) and isinstance(result.get("message_id"), int):
        return result["message_id"]
    raise NotAMessage(type(result).__name__)


def expect_raw_requests() -> None:
    """Silence PTB's warning that a reply's Bot API method has a typed one.

    A reply's sendMessage, editMessageText and editMessageReplyMarkup go through
    Bot.do_api_request, whose result is the Bot API's JSON: the bot needs only a sent message's
    id, and Bot.send_message parses every message it sent back into a Message with its
    keyboard (about 160 µs each; 8% of the channels' loop in an interview's benchmark, py-spy).
    """
    warnings.filterwarnings(
        "ignore",
        message=r"Please use 'Bot\.(sendMessage|editMessageText|editMessageReplyMarkup)' instead",
        category=PTBUserWarning,
    )


expect_raw_requests()


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


class ReadableUpdates(AiohttpRequest):
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
            try:
                # Failing here fails the poll: PTB asks again, and Telegram keeps the updates.
                await self.keep(updates)
            except TurnProcessGone:
                # The process is stopping (its turns' process died): no updates to PTB, so
                # none confirmed; Telegram keeps them for the next start. Not an error for
                # PTB to log at every try until the stop, nor at its last poll.
                return code, NO_UPDATES
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


def _looked_at(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


def _update_ids(updates: list[dict[str, Any]]) -> list[int]:
    return [u["update_id"] for u in updates if isinstance(u.get("update_id"), int)]


class DurableQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, which stores each update before taking it.

    Whatever receives updates stores them as they arrive, through :meth:`keep`, before
    Telegram is told they arrived: the polling connection each getUpdates batch
    (:class:`ReadableUpdates`; PTB's next poll confirms it), the webhook server each request
    (``bot.channels.webhook``, through :meth:`storing`; its 200 confirms it). ``put`` then
    takes them without storing them a second time, and stores first anything put on the
    queue that was not kept.
    """

    def __init__(
        self,
        store: Callable[[list[dict[str, Any]]], Awaitable[None]],
        answers: ButtonAnswers | None = None,
        received: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        # Updates kept and not yet put on the queue, by update_id.
        self.stored: set[int] = set()
        # Where a webhook waits for the answer to a button press it received, to carry it
        # in its own answer (bot.channels.button_answers); None when polling.
        self.answers = answers
        # Whether the database applies writes in the order they are asked (SQLite's one
        # writer, reached through the turn process's one socket if there is one): set once
        # the database is open (see storing).
        self.writes_in_order = False
        # Updates put on the queue not stored, for their turns to store (a button press a
        # webhook received: bot.channels.webhook), by update_id; the
        # channel's own (TelegramChannel.received), which reads them.
        self.received: dict[int, dict[str, Any]] = {} if received is None else received

    async def keep(self, updates: list[dict[str, Any]]) -> None:
        """Store updates as received (a committed transaction); ``put`` takes them as stored."""
        await self.storing(updates)

    def storing(self, updates: list[dict[str, Any]]) -> asyncio.Task[None]:
        """:meth:`keep`, begun now: done once the updates are committed, which whoever
        received them awaits before telling Telegram. Where the database applies writes in
        the order asked (:attr:`writes_in_order`), the updates may meanwhile be put on the
        queue: their turns' writes are asked after their storing (the task's first step,
        which asks it, runs before anything put now is taken from the queue), so both go
        in one transaction or the storing in an earlier one, and the turn waits for no
        COMMIT of its own. Elsewhere (several workers, each its own connections) the caller
        awaits the task before putting them on the queue."""
        ids = _update_ids(updates)
        self.stored.update(ids)

        async def store() -> None:
            try:
                await self.store(updates)
            except BaseException:
                # Not stored: one put on the queue later is stored then.
                self.stored.difference_update(ids)
                raise

        task = asyncio.ensure_future(store())
        # Looked at even by nobody: a request cut off before its store ended gets no 200
        # (Telegram sends the update again), and its error is no "never retrieved" ERROR.
        task.add_done_callback(_looked_at)
        return task

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            if item.update_id in self.stored:
                self.stored.discard(item.update_id)
            elif item.update_id not in self.received:
                await self.store([item.to_dict()])
        await super().put(item)


class PtbApi:
    """The Bot API calls of a turn's replies (bot.channels.bot_api), over python-telegram-bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str, rows: Rows | None = None) -> int:
        return await self._request("sendMessage", rows, chat_id=chat_id, text=text)

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> None:
        await self._request(
            "editMessageText", None, chat_id=chat_id, message_id=message_id, text=text
        )

    async def edit_rows(self, chat_id: int, message_id: int, rows: Rows) -> None:
        await self._request("editMessageReplyMarkup", rows, chat_id=chat_id, message_id=message_id)

    async def _request(self, method: str, rows: Rows | None, **fields: object) -> int:
        """``method`` with ``fields`` and ``rows`` as its inline keyboard: the id of the
        message the Bot API answers with, read from its JSON (expect_raw_requests), or 0
        for an edit answered ``true``."""
        if rows:
            fields["reply_markup"] = wire_markup(rows)

        async def request() -> int:
            return sent_id(await self.bot.do_api_request(method, fields))

        return await _call(method, request)

    async def send_file(self, chat_id: int, document: Document) -> int:
        # A photo shows in the chat itself; a document is a file to download.
        method, upload = (
            ("sendPhoto", self.bot.send_photo)
            if document.inline
            else ("sendDocument", self.bot.send_document)
        )
        content = InputFile(document.content, filename=document.filename)
        send = partial(upload, chat_id, content, caption=document.caption or None)
        return (await _call(method, send)).message_id

    async def set_commands(self, chat_id: int, commands: Sequence[tuple[str, str]]) -> None:
        listed = [BotCommand(name, text) for name, text in commands]
        scope = BotCommandScopeChat(chat_id)
        await _call("setMyCommands", partial(self.bot.set_my_commands, listed, scope=scope))


class StatusMessage(bot_api.StatusMessage):
    """The status line of an update (bot.channels.bot_api.StatusMessage) through ``bot``."""

    def __init__(self, bot: Bot, chat_id: int) -> None:
        super().__init__(PtbApi(bot), chat_id)


class TelegramChannel:
    def __init__(self, runtime: Runtime | None, answers: ButtonAnswers | None = None) -> None:
        self.runtime = runtime
        # The outbox sender of Telegram in this process (bot.service), through which every
        # reply goes: they share Telegram's limits.
        self.outbox: OutboxSender | None = None
        # Button presses answered in the webhook's answer where it still waits for them.
        self.answers = answers
        # Updates received not stored, which their turns store (DurableQueue.received).
        self.received: dict[int, dict[str, Any]] = {}

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
        return await bot_api.replay(
            self.runtime.conversation,
            partial(Update.de_json, bot=application.bot),
            partial(self.apply, application=application),
        )

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.apply(update, context.application)

    async def apply(self, update: Update, application: Application) -> None:
        if self.runtime is None:
            return
        # This person's earlier updates that another worker holds, or held when it died,
        # come first (bot.channels.in_order).
        read = partial(Update.de_json, bot=application.bot)
        try:
            await in_order(
                partial(self._apply_one, application=application),
                update,
                partial(bot_api.readable, self.runtime.conversation, read),
            )
        except NotStored as error:
            # Its webhook request stores it, or refuses it: Telegram then sends it again.
            log.warning(
                "update %s was neither applied nor stored here (%s)", update.update_id, error
            )
        finally:
            if self.answers is not None:
                self.answers.release(update.update_id)

    async def _apply_one(self, update: Update, first: bool, application: Application) -> None:
        incoming = to_incoming(update)
        if incoming is None or self.runtime is None:
            return
        payload = self.received.get(update.update_id)
        if payload is not None:
            incoming = replace(incoming, payload=payload)
        query = update.callback_query
        answer_button = None
        if query is not None:
            answer_button = (
                query.answer
                if self.answers is None
                else self.answers.answering(update.update_id, query.answer)
            )
        turn = Turn(incoming, _pressed(update), answer_button)
        outbox = self.outbox
        await answer(
            self.runtime.conversation,
            PtbApi(application.bot),
            turn,
            self.runtime.settings.locale,
            outbox.replying if outbox is not None else None,
            in_order=first,
        )


class TelegramPush:
    """The push seam on Telegram (bot.push): one message, and Telegram's answer as an outcome."""

    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def push(self, chat_id: str, message: push.Pushable) -> push.PushResult:
        async def send(text: str, rows: Rows | None) -> None:
            await self.bot.send_message(
                int(chat_id), text, reply_markup=markup(rows) if rows else None
            )

        return await bot_api.push_message(send, message, _outcome)


def _outcome(error: Exception) -> push.PushResult:
    """What Telegram's answer to a pushed message means for the outbox."""
    if isinstance(error, RetryAfter):
        return push.RetryAfter(retry_seconds(error))
    if isinstance(error, Forbidden):
        return push.Blocked()
    if isinstance(error, BadRequest):
        # Telegram's description names the problem ("chat not found"), not the message.
        return push.Failed(f"BadRequest: {error}", permanent=True)
    return push.Failed(type(error).__name__)


async def _call(method: str, request: Callable[[], Awaitable[T]]) -> T:
    """``request()``, patient with flood control; any failure becomes SendFailed(method).
    PTB keeps the token out of its errors' descriptions."""
    return await bot_api.call(method, request, _flood_wait, _from_telegram)


def _flood_wait(error: Exception) -> float | None:
    return retry_seconds(error) if isinstance(error, RetryAfter) else None


def _from_telegram(error: Exception) -> bool:
    return isinstance(error, TelegramError)


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


def build_application(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    webhook: bool = False,
    outbox: OutboxSender | None = None,
) -> Application:
    """A ready-to-run PTB Application: polling (:func:`polling`), or, with ``webhook``,
    without an updater, for ``bot.channels.webhook``. ``outbox`` is Telegram's sender in
    the process (started by ``bot.service`` with the reminders once every channel is
    open), told of each reply sent.

    Without ``runtime`` the database is opened in ``post_init``, on the loop that will
    serve updates.
    """
    token = settings.require_token()
    answers = ButtonAnswers() if webhook else None
    channel = TelegramChannel(runtime, answers)
    channel.outbox = outbox
    retrying: set[asyncio.Task[None]] = set()

    async def post_init(application: Application) -> None:
        if channel.runtime is None:
            channel.runtime = await open_runtime(settings)
        queue.writes_in_order = not channel.runtime.conversation.shared
        # Before polling: what a crash interrupted comes first, in order.
        await channel.replay(application)
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

    async def post_shutdown(application: Application) -> None:
        for task in retrying:
            task.cancel()
        if runtime is None and channel.runtime is not None:
            await channel.runtime.close()

    queue = DurableQueue(channel.keep, answers, channel.received)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{settings.telegram_api_url}/bot")
        .base_file_url(f"{settings.telegram_api_url}/file/bot")
        # A collaborator's answers must apply in the order sent, but different
        # collaborators need not wait for each other.
        .concurrent_updates(PerUserUpdateProcessor())
        # Over aiohttp, not PTB's httpx: a reply costs the channels' loop a third of the
        # CPU, and goes out in the loop's pass that asked for it (bot.channels.aiohttp_request).
        .request(AiohttpRequest())
        .update_queue(queue)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if webhook:
        # Updates come from rasoat's own server (bot.channels.webhook), not PTB's.
        builder = builder.updater(None)
    else:
        # Reading updates one by one. Two connections, not PTB's one: at a stop, PTB's last
        # poll (which confirms the updates handed over) would otherwise wait for the one a
        # cancelled long poll still holds, time out, and log its traceback at ERROR.
        polling_request = ReadableUpdates(connection_pool_size=2)
        polling_request.keep = queue.keep
        builder = builder.get_updates_request(polling_request)
    application = builder.build()
    application.add_handler(TypeHandler(Update, channel.on_update))
    application.add_error_handler(_on_error)
    return application


def _polling_failed(error: TelegramError) -> None:
    """A getUpdates that failed: Telegram unreachable, or the updates it brought not stored
    (ReadableUpdates: the database, or the turn process, away). PTB asks again, waiting
    longer each time, and Telegram keeps the updates meanwhile: a warning, as the Zalo Bot
    channel's, not PTB's error with a traceback at every try."""
    cause = error.__cause__ or error
    log.warning("getUpdates failed (%s): trying again", type(cause).__name__)


@asynccontextmanager
async def polling(application: Application) -> AsyncIterator[Application]:
    """``application`` (built for polling) receiving updates: the bot checked (getMe: a
    refused token raises InvalidToken here), what a stop interrupted applied, then
    getUpdates. At exit polling stops, the updates in hand are finished and what
    ``post_shutdown`` closes is closed (PTB's run_polling, as a part of a larger process)."""
    assert application.updater is not None, "built with webhook=True"
    async with application:
        try:
            if application.post_init is not None:
                await application.post_init(application)
            await application.updater.start_polling(
                allowed_updates=list(ALLOWED_UPDATES), error_callback=_polling_failed
            )
            await application.start()
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
