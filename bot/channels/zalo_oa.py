"""Zalo Official Account channel (OA API v3, httpx): events by webhook only, replies and
pushes through ``/v3.0/oa/message/cs`` (see README, "Zalo Official Account in detail").

- Events come signed to rasoat's webhook (bot.channels.zalo_oa_webhook); each is stored
  before its 200 and applied in its sender's turn (bot.channels.events). Its key is its
  event name and message id (``msg_id``): a replayed event is stored and applied once.
- Choices: the numbered list of the Zalo Bot channel, with buttons (bot.channels.
  zalo_oa_render); a tap comes back as text carrying the choice's data.
- Files: uploaded first, then sent by their token; the /summary chart as an image. Zalo
  takes PDF and Word files only: a workbook or a zip is replaced by a line saying so.
- Access token: kept by bot.channels.zalo_oa_tokens (refreshed before expiry, -216 then
  once more).
- Interaction window: Zalo takes no message to someone silent too long (-230, -213). A
  push then stays in the outbox as undeliverable and their supervisors are told; when the
  person next writes, what waited is sent and they are asked to write to the OA more often.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import httpx

from bot import push
from bot.channels import zalo_oa_render as render
from bot.channels.events import EventChannel
from bot.channels.retry import Sleep
from bot.channels.zalo_oa_api import INVALID_TOKEN, ZaloOaApi, ZaloOaError, token_server
from bot.channels.zalo_oa_tokens import Clock, NoToken, TokenKeeper
from bot.delivery import SendFailed, deliver
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
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from locales.catalog import translate
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

PLATFORM = "zalo-oa"
# Events a person sends (user_send_text, user_send_image...): the only ones applied.
USER_EVENT = "user_send_"
TEXT_EVENT = "user_send_text"
HTTP_SECONDS = 20.0
# What Zalo's file upload takes (PDF and Word), and how large; images for the chart.
FILE_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
FILE_LIMIT = 5 * 1024 * 1024
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
IMAGE_LIMIT = 1024 * 1024
# A 429 from Zalo says nothing of how long: the outbox pauses this long.
PUSH_PAUSE = 2.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def update_key(raw: dict[str, Any]) -> str | None:
    """An event a person sent, by its name and message id; None for the others (follows,
    "seen" receipts), which the bot does not act on."""
    event = raw.get("event_name")
    message = raw.get("message")
    if not isinstance(event, str) or not event.startswith(USER_EVENT):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("msg_id"), str):
        return None
    return f"{event}:{message['msg_id']}"[:128]


def sender_of(raw: dict[str, Any]) -> str | None:
    sender = raw.get("sender")
    if isinstance(sender, dict) and isinstance(sender.get("id"), str | int):
        return str(sender["id"])
    return None


def to_incoming(raw: dict[str, Any]) -> Incoming | None:
    """The platform-neutral form of an event a person sent (an OA chat is one to one)."""
    key, user_id = update_key(raw), sender_of(raw)
    if key is None or user_id is None:
        return None
    message: dict[str, Any] = raw["message"]
    stamp = str(raw.get("timestamp", ""))
    base = Incoming(
        platform=PLATFORM,
        user_id=user_id,
        chat_id=user_id,
        display_name="",
        kind=Kind.TEXT,
        update_key=key,
        # Zalo stamps events in milliseconds, as a string.
        sent_at=datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isdigit() else None,
    )
    event = str(raw["event_name"])
    text = message.get("text")
    if event == TEXT_EVENT and isinstance(text, str):
        data = render.chosen(text)
        if data is not None:
            return replace(base, kind=Kind.CHOICE, choice=data)
        kind, command, args = Incoming.parse_text(text)
        return replace(base, kind=kind, text=text, command=command, args=args)
    return replace(base, kind=Kind.UNSUPPORTED, content_type=event.removeprefix(USER_EVENT))


class ZaloOaChannel(EventChannel):
    platform = PLATFORM
    update_key = staticmethod(update_key)
    sender_of = staticmethod(sender_of)
    to_incoming = staticmethod(to_incoming)

    def __init__(self, runtime: Runtime, api: ZaloOaApi) -> None:
        super().__init__(runtime)
        self.api = api
        # The outbox sender, told of replies and woken when messages wait no longer.
        self.outbox: OutboxSender | None = None

    async def before(self, incoming: Incoming, first: bool) -> Incoming:
        """The person wrote, so their window is open: what waited for it goes now, and
        they are asked to write more often. A registration gets their Zalo name."""
        if first:
            # Once per event: tried again after earlier ones (EarlierFirst), or being one
            # of those, the window was reopened by its first attempt, as one person's.
            await self.reopen_window(incoming)
        if incoming.kind is Kind.COMMAND and incoming.command == "start":
            try:
                name = await self.api.display_name(incoming.user_id)
            except Exception as error:
                log.info("Zalo OA profile not read: %s", type(error).__name__)
                return incoming
            return replace(incoming, display_name=name)
        return incoming

    async def reopen_window(self, incoming: Incoming) -> int:
        conversation = self.runtime.conversation
        async with UnitOfWork(self.runtime.sessions) as uow:
            waiting = await uow.outbox.waiting_for_window(PLATFORM, incoming.user_id)
        if not waiting:
            return 0
        user_id, now = incoming.user_id, conversation.clock()
        count = await conversation.write(lambda work: work.outbox.reopen(PLATFORM, user_id, now))
        if count:
            locale = self.runtime.settings.locale
            notice = Text(translate("zalo_oa.window_reopened", locale, count=count))
            await self.deliver(incoming, [notice])
            if self.outbox is not None:
                self.outbox.wake()
        return count

    async def deliver(self, incoming: Incoming, replies: Sequence[Outgoing]) -> list[Outgoing]:
        async def send(reply: Outgoing) -> None:
            messages = await self.messages(reply)
            if not messages:
                return
            slot = self.outbox.replying(incoming.chat_id) if self.outbox else nullcontext()
            async with slot:
                for message in messages:
                    await self.send(incoming.chat_id, message)

        return await deliver(replies, send, self.runtime.settings.locale, incoming.update_key)

    async def messages(self, reply: Outgoing) -> list[render.Message]:
        """The OA messages that say ``reply`` (a file is uploaded on the way)."""
        locale = self.runtime.settings.locale
        if isinstance(reply, Text | Notice):
            return render.texts(reply.text)
        if isinstance(reply, Choices):
            more = translate("zalo_oa.more_buttons", locale)
            return render.question(reply, self.numbered(reply), more)
        if isinstance(reply, Document):
            return await self.document(reply)
        if isinstance(reply, CommandMenu):
            return []  # The OA's menu is set in Zalo's OA manager, not by the bot.
        return []

    async def document(self, reply: Document) -> list[render.Message]:
        suffix = PurePath(reply.filename).suffix.lower()
        caption = render.texts(reply.caption) if reply.caption else []
        if reply.inline and suffix in IMAGE_TYPES and len(reply.content) <= IMAGE_LIMIT:
            data = await self._upload("image", reply, IMAGE_TYPES[suffix])
            return [render.media(str(data.get("attachment_id", ""))), *caption]
        if suffix in FILE_TYPES and len(reply.content) <= FILE_LIMIT:
            data = await self._upload("file", reply, FILE_TYPES[suffix])
            return [render.file(str(data.get("token", ""))), *caption]
        if reply.inline:
            return []  # A chart beside text that says the same.
        locale = self.runtime.settings.locale
        if reply.again:
            text = translate(
                "zalo_oa.file_not_sendable", locale, file=reply.filename, command=reply.again
            )
        else:
            text = translate("zalo_oa.file_not_sendable_plain", locale, file=reply.filename)
        return render.texts(text)

    async def _upload(self, kind: str, reply: Document, mime: str) -> dict[str, Any]:
        try:
            return await self.api.upload(kind, reply.filename, reply.content, mime)
        except (ZaloOaError, httpx.HTTPError, NoToken) as error:
            raise SendFailed(f"upload/{kind}", _reason(error)) from None

    async def send(self, user_id: str, message: render.Message) -> None:
        try:
            await self.api.send_patiently(user_id, message)
        except (ZaloOaError, httpx.HTTPError, NoToken) as error:
            raise SendFailed("message/cs", _reason(error)) from None


class ZaloOaPush:
    """The push seam on the OA (bot.push): a message nobody asked for, and what Zalo said."""

    platform = PLATFORM

    def __init__(self, api: ZaloOaApi, locale: str) -> None:
        self.api = api
        self.locale = locale

    async def push(self, chat_id: str, message: push.Pushable) -> push.PushResult:
        if isinstance(message, Choices):
            messages = render.pushed(message, translate("zalo_oa.more_buttons", self.locale))
        else:
            messages = render.texts(message.text)
        try:
            for body in messages:
                await self.api.send(chat_id, body)
        except ZaloOaError as error:
            if error.window_closed:
                return push.WindowClosed()
            if error.rate_limited:
                return push.RetryAfter(PUSH_PAUSE)
            # An invalid token (after a refresh and a second try), or Zalo's own trouble:
            # tried again later; Zalo has no "blocked" answer to tell apart.
            return push.Failed(_reason(error), permanent=False)
        except NoToken:
            return push.Failed("no Zalo OA token: rasoat zalo-oa tokens set")
        except Exception as error:
            return push.Failed(type(error).__name__)
        return push.Sent()


def _reason(error: Exception) -> str:
    if isinstance(error, ZaloOaError):
        hint = " (invalid access token)" if error.code == INVALID_TOKEN else ""
        return f"HTTP {error.status}, error {error.code}{hint}: {error.description}"
    if isinstance(error, NoToken):
        return "no Zalo OA token"
    return type(error).__name__


@asynccontextmanager
async def open_channel(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = _utcnow,
) -> AsyncIterator[ZaloOaChannel]:
    """The channel on ``runtime`` (or a runtime of its own), with what a stop interrupted
    applied first; at exit the events in hand are finished."""
    app_id, app_secret, _ = settings.require_zalo_oa()
    own = runtime is None
    runtime = runtime or await open_runtime(settings)
    try:
        async with httpx.AsyncClient(timeout=HTTP_SECONDS) as client:
            refresh = token_server(settings.zalo_oa_oauth_url, app_id, app_secret, client)
            keeper = TokenKeeper(
                runtime.sessions, runtime.conversation.write, refresh, clock=clock, sleep=sleep
            )
            api = ZaloOaApi(settings.zalo_oa_api_url, client, keeper, sleep)
            channel = ZaloOaChannel(runtime, api)
            await channel.replay()
            try:
                yield channel
            finally:
                await channel.drain()
    finally:
        if own:
            await runtime.close()
