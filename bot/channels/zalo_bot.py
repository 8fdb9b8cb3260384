"""Zalo Bot Platform channel over httpx: one update in, replies out as numbered text.

``{base}/bot{token}/{method}``; answers are ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ...}`` (see README, "Zalo Bot").

What Zalo's API does not give, and how the channel makes up for it:

- getUpdates returns one update (an object, not a list), HTTP 408 when nothing came, and
  has no offset: an update fetched is gone from Zalo. Each is stored (``keep``) before
  anything else is done with it, and the next start applies what was stored and not
  applied. One fetched by a process that dies before storing it is lost: the webhook, which
  is answered 200 only once the update is stored, is the production mode.
- No update ids: an update's key is its event name and message id, which the conversation
  claims in the turn's transaction, so a duplicated event is applied once.
- No buttons: choices are numbered lists (``bot.channels.zalo_text``); a typed key becomes
  the choice it names.
- No files: with ``RASOAT_PUBLIC_URL`` set, a document goes as a short-lived signed link to
  rasoat's own server (``bot.links``) and the chart as ``sendPhoto`` of such a link (Zalo
  takes photos by URL only); without it, a line says the file is on Telegram.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from http import HTTPStatus
from typing import Any

import httpx

from bot.channels.events import EventChannel
from bot.channels.retry import patiently, wait_or_stop
from bot.channels.zalo_text import split_message
from bot.delivery import SendFailed, deliver
from bot.links import LinkStore
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
from bot.push import Replying
from bot.runtime import Runtime, open_runtime
from bot.server_key import server_key
from bot.settings import Settings
from locales.catalog import translate

log = logging.getLogger(__name__)

PLATFORM = "zalo-bot"
TEXT_EVENT = "message.text.received"
# How long Zalo holds a getUpdates open (its default), and how much longer the HTTP request
# waits: a request that gave up before Zalo answered could lose the update Zalo sends then.
POLL_SECONDS = 30
HTTP_MARGIN_SECONDS = 15
# Any other call.
HTTP_SECONDS = 20.0
# After a failed poll (network, Zalo down), waits growing up to the last.
POLL_RETRY_WAITS = (1.0, 2.0, 5.0, 10.0, 30.0)

Sleep = Callable[[float], Awaitable[None]]


class ZaloBotError(Exception):
    """A call Zalo answered with an error; never carries a message's text."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(f"{method}: HTTP {status}: {description}")
        self.method = method
        self.status = status
        self.description = description


class ZaloBotApi:
    """The Bot Platform's methods this channel calls, over one httpx client."""

    def __init__(
        self, base_url: str, token: str, client: httpx.AsyncClient, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.base = f"{base_url.rstrip('/')}/bot{token}"
        self.client = client
        self.sleep = sleep

    async def call(
        self, method: str, payload: dict[str, Any], http_seconds: float | None = None
    ) -> Any:
        response = await self.client.post(
            f"{self.base}/{method}",
            json=payload,
            timeout=httpx.USE_CLIENT_DEFAULT if http_seconds is None else http_seconds,
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == HTTPStatus.OK and isinstance(body, dict) and body.get("ok"):
            return body.get("result")
        description = body.get("description", "") if isinstance(body, dict) else ""
        raise ZaloBotError(method, response.status_code, str(description)[:200])

    async def get_update(self, seconds: int = POLL_SECONDS) -> dict[str, Any] | None:
        """The next update, or None when none came within ``seconds`` (HTTP 408)."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": seconds}, http_seconds=seconds + HTTP_MARGIN_SECONDS
            )
        except ZaloBotError as error:
            if error.status == HTTPStatus.REQUEST_TIMEOUT:
                return None
            raise
        return result if isinstance(result, dict) else None

    async def send_message(self, chat_id: str, text: str) -> Any:
        return await self.patiently("sendMessage", {"chat_id": chat_id, "text": text})

    async def patiently(self, method: str, payload: dict[str, Any]) -> Any:
        """``method``, made again after a bounded wait while Zalo answers 429."""
        return await patiently(
            lambda: self.call(method, payload),
            lambda error: (
                isinstance(error, ZaloBotError) and error.status == HTTPStatus.TOO_MANY_REQUESTS
            ),
            self.sleep,
        )


def unwrapped(body: Any) -> dict[str, Any] | None:
    """The update in a webhook body or a getUpdates result: Zalo's documentation shows it
    wrapped (``{"ok": true, "result": {...}}``), deployments receive it flat."""
    if isinstance(body, dict) and "event_name" not in body and isinstance(body.get("result"), dict):
        body = body["result"]
    if isinstance(body, dict) and isinstance(body.get("event_name"), str):
        return body
    return None


def update_key(raw: dict[str, Any]) -> str | None:
    """What makes an update unique: its event and its message's id (Zalo has no update id)."""
    message = raw.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("message_id"), str):
        return None
    return f"{raw['event_name']}:{message['message_id']}"[:128]


def sender_of(raw: dict[str, Any]) -> str | None:
    message = raw.get("message")
    sender = message.get("from") if isinstance(message, dict) else None
    if isinstance(sender, dict) and isinstance(sender.get("id"), str):
        return str(sender["id"])
    return None


def to_incoming(raw: dict[str, Any]) -> Incoming | None:
    """The platform-neutral form of an update, or None for one the bot ignores (follows,
    other bots, a shape it does not know)."""
    message = raw.get("message")
    key = update_key(raw)
    if not isinstance(message, dict) or key is None:
        return None
    sender: dict[str, Any] = message.get("from") or {}
    chat: dict[str, Any] = message.get("chat") or {}
    if not isinstance(sender, dict) or not isinstance(chat, dict):
        return None
    user_id = sender.get("id")
    if not isinstance(user_id, str) or sender.get("is_bot"):
        return None
    stamp = message.get("date")
    base = Incoming(
        platform=PLATFORM,
        user_id=user_id,
        chat_id=str(chat.get("id") or user_id),
        display_name=str(sender.get("display_name") or ""),
        kind=Kind.TEXT,
        update_key=key,
        private=chat.get("chat_type", "PRIVATE") == "PRIVATE",
        # Zalo stamps messages in milliseconds.
        sent_at=datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else None,
    )
    event = str(raw["event_name"])
    if event == TEXT_EVENT and isinstance(message.get("text"), str):
        kind, command, args = Incoming.parse_text(message["text"])
        return replace(base, kind=kind, text=message["text"], command=command, args=args)
    # "message.image.received" -> "image"; stickers, voice and the unknown alike.
    content = event.split(".")[1] if event.count(".") == 2 else "other"
    return replace(base, kind=Kind.UNSUPPORTED, content_type=content)


class ZaloBotChannel(EventChannel):
    """Stores, applies and answers Zalo Bot updates (bot.channels.events)."""

    platform = PLATFORM
    update_key = staticmethod(update_key)
    sender_of = staticmethod(sender_of)
    to_incoming = staticmethod(to_incoming)

    def __init__(self, runtime: Runtime, api: ZaloBotApi, links: LinkStore | None = None) -> None:
        super().__init__(runtime)
        self.api = api
        # Where files go as links (None: no public address, files are said to be on Telegram).
        self.links = links
        # Around every message sent in reply: the outbox keeps to the limits with them.
        self.replying: Replying | None = None

    async def deliver(self, incoming: Incoming, replies: Sequence[Outgoing]) -> list[Outgoing]:
        async def send(reply: Outgoing) -> None:
            if isinstance(reply, Document) and self.links is not None:
                await self.send_link(incoming, reply)
                return
            for text in self.texts(reply):
                await self.send_text(incoming.chat_id, text)

        return await deliver(replies, send, self.runtime.settings.locale, incoming.update_key)

    async def send_link(self, incoming: Incoming, reply: Document) -> None:
        """A file as a link to rasoat's own server: a download for the person who asked,
        once; a chart as a photo Zalo fetches from there."""
        assert self.links is not None
        owner = f"{PLATFORM}:{incoming.user_id}"
        media_type = mimetypes.guess_type(reply.filename)[0] or "application/octet-stream"
        keep = partial(self.links.put, once=not reply.inline)
        try:
            link = await asyncio.to_thread(keep, owner, reply.filename, reply.content, media_type)
        except OSError as error:
            raise SendFailed("link", type(error).__name__) from None
        if reply.inline:
            payload = {"chat_id": incoming.chat_id, "photo": link.url}
            caption = split_message(reply.caption)[0] if reply.caption else ""
            if caption:
                payload["caption"] = caption
            await self._sent("sendPhoto", payload)
            return
        settings = self.runtime.settings
        text = translate(
            "zalo.file_link",
            settings.locale,
            caption=reply.caption or reply.filename,
            file=reply.filename,
            url=link.url,
            until=link.expires_at.astimezone(settings.tz).strftime("%H:%M %d/%m/%Y"),
        )
        for piece in split_message(text):
            await self.send_text(incoming.chat_id, piece)

    def texts(self, reply: Outgoing) -> list[str]:
        """The messages that say ``reply`` on Zalo (a file as a line: see :meth:`send_link`
        for files as links)."""
        locale = self.runtime.settings.locale
        if isinstance(reply, Text | Notice):
            return split_message(reply.text)
        if isinstance(reply, Choices):
            return list(self.numbered(reply).messages)
        if isinstance(reply, Document):
            if reply.inline:
                # A chart beside text that says the same: Zalo takes photos by URL only.
                return []
            if reply.again:
                text = translate(
                    "zalo.file_on_telegram", locale, file=reply.filename, command=reply.again
                )
            else:
                text = translate("zalo.file_on_telegram_plain", locale, file=reply.filename)
            return split_message(text)
        if isinstance(reply, CommandMenu):
            return []  # Zalo has no command menu.
        return []

    async def send_text(self, chat_id: str, text: str) -> None:
        await self._sent("sendMessage", {"chat_id": chat_id, "text": text})

    async def _sent(self, method: str, payload: dict[str, Any]) -> None:
        chat_id = str(payload["chat_id"])
        try:
            async with self.replying(chat_id) if self.replying else nullcontext():
                await self.api.patiently(method, payload)
        except ZaloBotError as error:
            # Zalo's 403 is its own internal error, not a person who blocked the bot.
            raise SendFailed(method, f"HTTP {error.status}: {error.description}") from None
        except httpx.HTTPError as error:
            raise SendFailed(method, type(error).__name__) from None

    async def poll(self, stop: asyncio.Event, seconds: int = POLL_SECONDS) -> None:
        """getUpdates until ``stop``: each update stored first, then applied."""
        failures = 0
        while not stop.is_set():
            try:
                raw = await self.api.get_update(seconds)
            except (ZaloBotError, httpx.HTTPError) as error:
                wait = POLL_RETRY_WAITS[min(failures, len(POLL_RETRY_WAITS) - 1)]
                failures += 1
                log.warning("getUpdates failed (%s): again in %.0f s", _reason(error), wait)
                await wait_or_stop(stop, wait, self.api.sleep)
                continue
            failures = 0
            update = unwrapped(raw)
            if update is None:
                continue
            try:
                if await self.keep(update) is None:
                    continue
            except Exception as error:
                # Zalo will not send it again: the one case polling loses an update.
                log.error("a Zalo update could not be stored (%s): lost", type(error).__name__)
                continue
            self.start(update)


def _reason(error: Exception) -> str:
    if isinstance(error, ZaloBotError):
        return f"HTTP {error.status}"
    return type(error).__name__


def parse_body(body: bytes) -> dict[str, Any] | None:
    """The update in a webhook request's body, or None if it holds none."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return unwrapped(decoded)


def link_store(settings: Settings) -> LinkStore | None:
    """Where files wait as links, when people can reach rasoat's server (RASOAT_PUBLIC_URL)."""
    if settings.public_url is None:
        return None
    return LinkStore(
        settings.links_dir,
        server_key(settings),
        settings.public_url,
        timedelta(minutes=settings.link_minutes),
    )


@asynccontextmanager
async def open_channel(
    settings: Settings,
    runtime: Runtime | None = None,
    sleep: Sleep = asyncio.sleep,
    links: LinkStore | None = None,
) -> AsyncIterator[ZaloBotChannel]:
    """The channel on ``runtime`` (or a runtime of its own), with what a stop interrupted
    applied first; at exit the updates in hand are finished. Files go as links through
    ``links`` (by default as the settings say)."""
    token = settings.require_zalo_bot_token()
    own = runtime is None
    runtime = runtime or await open_runtime(settings)
    try:
        async with httpx.AsyncClient(timeout=HTTP_SECONDS) as client:
            channel = ZaloBotChannel(
                runtime,
                ZaloBotApi(settings.zalo_bot_api_url, token, client, sleep),
                links or link_store(settings),
            )
            if channel.links is not None:
                # What expired while the bot was down goes now, not at the next request.
                await asyncio.to_thread(channel.links.sweep)
            await channel.replay()
            try:
                yield channel
            finally:
                await channel.drain()
    finally:
        if own:
            await runtime.close()
