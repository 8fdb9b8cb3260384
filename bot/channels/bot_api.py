"""A turn's replies as Telegram Bot API calls, whichever client library makes them.

The Telegram channel (python-telegram-bot) and the aiogram router speak one API through two
libraries. What a reply becomes (texts cut at 4,096 characters between lines, choices as
keyboard rows, toggles edited in place, files and the chart, the chat's command menu), how a
turn is answered (the button's spinner stopped alongside the replies, lost replies followed
by the way back, the receipt once everything arrived) and the patience Telegram's flood
control asks for are decided here, once. Each library supplies :class:`BotApi`: a handful of
calls that raise ``SendFailed`` naming the method, never the message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot import push
from bot.channels.replay import apply_pending
from bot.conversation import Conversation, must_be_seen
from bot.delivery import SendFailed, deliver, harmless
from bot.messages import Choices, CommandMenu, Document, Incoming, Kind, Notice, Outgoing, Text
from locales.catalog import translate

log = logging.getLogger(__name__)
T = TypeVar("T")

# One Telegram account is one rasoat user whichever library serves it, and update ids are
# Telegram's in both.
PLATFORM = "telegram"

# Telegram's longest message text.
MAX_TEXT_LENGTH = 4096
# Telegram's longest toast (answerCallbackQuery's text) and command description.
MAX_TOAST_LENGTH = 200
MAX_COMMAND_DESCRIPTION = 256
# Telegram's flood control (429): how often, and for how long at most, a reply waits and is
# sent again. Past that the reply is dropped and logged; the answer behind it is stored, and
# the collaborator's next message shows where the interview stands.
FLOOD_RETRIES = 3
FLOOD_WAIT_LIMIT = 30.0
# Telegram's description of an edit that changes nothing.
NOT_MODIFIED = "message is not modified"

# Buttons as rows of (label, callback data), as the keyboard shows them.
Rows = list[list[tuple[str, str]]]


class BotApi(Protocol):
    """The Bot API calls a turn's replies need, in one client library. Each raises
    ``SendFailed`` (the method's name and a detail without the message) when it fails, and
    is patient with flood control (:func:`call`)."""

    async def send_text(self, chat_id: int, text: str, rows: Rows | None = None) -> int:
        """sendMessage; the id of the message sent."""
        ...

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> None: ...

    async def edit_rows(self, chat_id: int, message_id: int, rows: Rows) -> None: ...

    async def send_file(self, chat_id: int, document: Document) -> int:
        """sendPhoto for an image shown in the chat (``inline``), else sendDocument; the id
        of the message sent."""
        ...

    async def set_commands(self, chat_id: int, commands: Sequence[tuple[str, str]]) -> None:
        """setMyCommands for this chat alone."""
        ...


class Person(Protocol):
    """A Telegram user, as either library reads one."""

    @property
    def id(self) -> int: ...

    @property
    def is_bot(self) -> bool: ...

    @property
    def full_name(self) -> str: ...

    @property
    def language_code(self) -> str | None: ...


class Chat(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def type(self) -> str: ...


class Said(Protocol):
    """A message the person sent: its text (None for a sticker, a photo...), when, and its
    number in the chat."""

    @property
    def text(self) -> str | None: ...

    @property
    def date(self) -> datetime: ...

    @property
    def message_id(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Turn:
    """One update as its replies need it: the message, the id of the message whose button
    was pressed (if it can still be edited), and how to stop that button's spinner."""

    incoming: Incoming
    pressed: int | None = None
    answer_button: Callable[[str | None], Awaitable[object]] | None = None


def incoming(
    update_id: int,
    user: Person | None,
    chat: Chat | None,
    *,
    button: str | None = None,
    message: Said | None = None,
    content_type: str = "other",
) -> Incoming | None:
    """The platform-neutral form of an update, from what either library reads of it: who
    sent it, in which chat, and the data of the button pressed or the message sent (what it
    holds, where it has no text); None for updates the bot ignores."""
    if user is None or chat is None or user.is_bot:
        return None
    base = Incoming(
        platform=PLATFORM,
        user_id=str(user.id),
        chat_id=str(chat.id),
        display_name=user.full_name,
        kind=Kind.TEXT,
        update_key=str(update_id),
        language=user.language_code,
        private=chat.type == "private",
    )
    if button is not None:
        return replace(base, kind=Kind.CHOICE, choice=button)
    if message is None:
        return None
    if message.text is None:
        return replace(base, kind=Kind.UNSUPPORTED, content_type=content_type)
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


def keyboard_rows(message: Choices) -> Rows:
    """The choices as keyboard rows, ``columns`` to a row, toggled ones marked."""
    buttons = [("✅ " if c.selected else "") + c.label for c in message.choices]
    data = [c.data for c in message.choices]
    pairs = list(zip(buttons, data, strict=True))
    columns = max(1, message.columns)
    return [pairs[i : i + columns] for i in range(0, len(pairs), columns)]


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
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


def sender_of(raw: dict[str, Any]) -> str | None:
    """The id of the person who sent a raw update (``from`` of its message or button
    press), without parsing the rest."""
    for value in raw.values():
        if isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return str(sender["id"])
    return None


async def unapplied(conversation: Conversation, read: Callable[[dict[str, Any]], T]) -> list[T]:
    """Updates stored and not applied (what a stop interrupted), as ``read`` (the library's
    parser) makes them, in the order received (see :func:`readable`)."""
    return await readable(conversation, read, await conversation.unapplied(PLATFORM))


async def readable(
    conversation: Conversation,
    read: Callable[[dict[str, Any]], T],
    payloads: list[dict[str, Any]],
) -> list[T]:
    """Stored updates as ``read`` makes them. One ``read`` fails on (stored as a webhook
    received it, which the library could not read then either) is logged by its id,
    settled (or it would be read, and fail, at every start) and left out."""
    readable: list[T] = []
    unreadable: list[str] = []
    for payload in payloads:
        try:
            readable.append(read(payload))
        except Exception as error:
            update_id = payload.get("update_id")
            log.warning(
                "stored update %s could not be read (%s) and was skipped",
                update_id,
                type(error).__name__,
            )
            unreadable.append(str(update_id))
    if unreadable:
        await conversation.settle(PLATFORM, unreadable)
    return readable


async def replay(
    conversation: Conversation,
    read: Callable[[dict[str, Any]], T],
    apply: Callable[[T], Awaitable[None]],
) -> int:
    """Apply the updates stored but not applied before the last stop, in order; how many."""
    pending = await unapplied(conversation, read)
    return await apply_pending(conversation, pending, apply, "update(s)")


async def send_reply(
    api: BotApi, chat_id: int, pressed: int | None, numbers: list[int], reply: Outgoing
) -> None:
    """One reply as Bot API calls, the ids of the messages sent added to ``numbers``;
    raises SendFailed naming the call that failed."""
    if isinstance(reply, Text):
        for part in split_text(reply.text):
            numbers.append(await api.send_text(chat_id, part))
    elif isinstance(reply, Choices) and reply.edit and pressed is not None:
        await edited(api.edit_rows(chat_id, pressed, keyboard_rows(reply)))
    elif isinstance(reply, Choices):
        *head, last = split_text(reply.text)
        for part in head:
            numbers.append(await api.send_text(chat_id, part))
        numbers.append(await api.send_text(chat_id, last, keyboard_rows(reply)))
    elif isinstance(reply, Document):
        numbers.append(await api.send_file(chat_id, reply))
    elif isinstance(reply, CommandMenu):
        commands = [(name, text[:MAX_COMMAND_DESCRIPTION]) for name, text in reply.commands]
        await api.set_commands(chat_id, commands)


async def push_message(
    send_text: Callable[[str, Rows | None], Awaitable[None]],
    message: push.Pushable,
    outcome: Callable[[Exception], push.PushResult],
) -> push.PushResult:
    """A message nobody asked for (the outbox's, ``bot.push``): its text cut as a reply's
    is, the buttons on its last part, sent once, with no patience (the outbox waits what
    Telegram asks for); what Telegram answered as an outcome, read by ``outcome`` from the
    library's error."""
    *head, last = split_text(message.text)
    rows = keyboard_rows(message) if isinstance(message, Choices) else None
    try:
        for part in head:
            await send_text(part, None)
        await send_text(last, rows)
    except Exception as error:
        return outcome(error)
    return push.Sent()


async def edited(edit: Awaitable[None]) -> None:
    """An edit; one that would change nothing is done already.

    Telegram refuses an edit to the content a message has ("message is not modified": the
    same status line twice, a keyboard pressed into the state it shows). The message shows
    what was asked, so that is success, not a lost reply.
    """
    try:
        await edit
    except SendFailed as failure:
        if NOT_MODIFIED not in failure.detail.lower():
            raise


class StatusMessage:
    """One status message per update ("Đang xuất… 40%"), edited in place as work goes on.

    Its failures are the caller's to absorb (``bot.delivery.harmless``): a status line is a
    courtesy and must never fail the work it reports on.
    """

    def __init__(self, api: BotApi, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id
        self.message_id: int | None = None

    async def show(self, text: str) -> None:
        if self.message_id is None:
            self.message_id = await self.api.send_text(self.chat_id, text)
        else:
            await edited(self.api.edit_text(self.chat_id, self.message_id, text))


async def answer(
    conversation: Conversation,
    api: BotApi,
    turn: Turn,
    locale: str,
    replying: push.Replying | None = None,
    in_order: bool = False,
) -> None:
    """Apply ``turn``'s message and send its replies, each on its own; once every reply that
    must be seen arrived, say so (``Conversation.delivered``). Each message sent in the chat
    goes within ``replying`` (``OutboxSender.replying``: the outbox shares Telegram's
    limits with the replies, which take the next slot). With ``in_order``, raises
    EarlierFirst, having sent nothing, where earlier updates must come first
    (bot.channels.in_order)."""
    incoming = turn.incoming
    status = StatusMessage(api, int(incoming.chat_id))
    show = harmless(status.show)
    replies = await conversation.handle(incoming, show, in_order=in_order)
    numbers: list[int] = []
    failed = await _deliver(api, turn, replies, numbers, locale, replying)
    if status.message_id is not None and any(isinstance(reply, Document) for reply in failed):
        # Else it would say "80%" for ever over a file that never came.
        await show(translate("delivery.status_failed", locale))
    if not must_be_seen(failed):
        await conversation.delivered(incoming, max(numbers, default=None))


async def _deliver(
    api: BotApi,
    turn: Turn,
    replies: Sequence[Outgoing],
    numbers: list[int],
    locale: str,
    replying: push.Replying | None,
) -> list[Outgoing]:
    """Send the replies; returns those that could not be delivered."""
    incoming = turn.incoming
    # The button's spinner stops when the callback is answered: do it alongside the
    # replies rather than after them (a Bot API round trip sooner on a real network). An
    # answer in the webhook's 200 is given by the call itself, before any reply is sent.
    answering: asyncio.Task[None] | None = None
    if turn.answer_button is not None:
        notices = [reply.text for reply in replies if isinstance(reply, Notice)]
        toast = notices[-1][:MAX_TOAST_LENGTH] if notices else None
        try:
            answered = turn.answer_button(toast)
        except Exception as error:
            log.warning("could not answer a callback query: %s", type(error).__name__)
        else:
            answering = asyncio.create_task(_quietly(answered))

    async def send(reply: Outgoing) -> None:
        counted = replying is not None and isinstance(reply, Text | Choices | Document)
        async with replying(incoming.chat_id) if counted and replying else nullcontext():
            await send_reply(api, int(incoming.chat_id), turn.pressed, numbers, reply)

    try:
        return await deliver(replies, send, locale, incoming.update_key)
    finally:
        if answering is not None:
            await answering


async def _quietly(answered: Awaitable[object]) -> None:
    try:
        await answered
    except Exception as error:
        log.warning("could not answer a callback query: %s", type(error).__name__)


async def call(
    method: str,
    request: Callable[[], Awaitable[T]],
    flood_wait: Callable[[Exception], float | None],
    from_telegram: Callable[[Exception], bool],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``request()``, made again after the wait Telegram asks for when it answers 429
    (``flood_wait``: the seconds an error asks to wait, None for any other error); any
    failure becomes SendFailed(method).

    Telegram's flood control says how long to wait (``retry_after``) and expects bots to
    honour it. The answer behind the reply is committed already; waiting keeps the reply
    (the next question, usually) from being lost. Only this person's updates wait: each
    user's are handled in turn, everyone else's go on. The detail of an error Telegram
    answered (``from_telegram``) is its description, which names the problem ("Forbidden:
    bot was blocked by the user"), never the message; of any other, its type alone.
    """
    for attempt in range(FLOOD_RETRIES + 1):
        try:
            return await request()
        except Exception as error:
            seconds = flood_wait(error)
            if seconds is None or attempt == FLOOD_RETRIES or seconds > FLOOD_WAIT_LIMIT:
                detail = f"{type(error).__name__}: {error}" if from_telegram(error) else ""
                raise SendFailed(method, detail or type(error).__name__) from error
            log.info("Telegram flood control: sending again in %.0f s", seconds)
            await sleep(seconds)
    raise AssertionError("unreachable")
