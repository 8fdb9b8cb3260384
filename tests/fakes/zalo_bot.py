"""A fake Zalo Bot Platform on 127.0.0.1 (aiohttp), with the documented shapes
(``zalo-bot-api.json``): getMe, getUpdates (one update, HTTP 408 when none), sendMessage
(at most 2,000 UTF-16 units), sendPhoto (a photo by http(s) URL only, as Zalo takes it),
setWebhook, deleteWebhook; JSON and form bodies. Updates
people send go to getUpdates, or are posted to the webhook once one is set, wrapped or
flat, with the secret header. Errors are injected per method (``fail``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

Json = dict[str, Any]
SAMPLES: Json = json.loads((Path(__file__).parent / "zalo-bot-api.json").read_text("utf-8"))
TOKEN = "12345689:abc-xyz"
TEXT_LIMIT = SAMPLES["limits"]["sendMessage.text"]
SECRET_HEADER = "X-Bot-Api-Secret-Token"


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def hex_id() -> str:
    return secrets.token_hex(10)


class FakeZaloBot:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.updates: asyncio.Queue[Json] = asyncio.Queue()
        # Every call as received: (method, params).
        self.calls: list[tuple[str, Json]] = []
        # sendMessage calls answered ok: (chat_id, text).
        self.sent: list[tuple[str, str]] = []
        # sendPhoto calls answered ok: (chat_id, photo URL, caption).
        self.photos: list[tuple[str, str, str]] = []
        self.errors: list[tuple[str, int]] = []
        self.violations: list[str] = []
        self.webhook: Json = {}
        self.webhook_set = asyncio.Event()
        self.webhook_deleted = asyncio.Event()
        # method -> statuses to answer its next calls with, in order.
        self.failing: dict[str, list[int]] = defaultdict(list)
        self.longest_poll = 1.0
        self._sent_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, *statuses: int) -> None:
        """Answer the next calls of ``method`` with these HTTP errors, one each."""
        self.failing[method] += statuses

    # -- the API ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error("?", 401)
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        if self.failing[method]:
            return self._error(method, self.failing[method].pop(0))
        if method == "getMe":
            return _ok(SAMPLES["getMe"]["result"])
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "sendMessage":
            return await self._send_message(params)
        if method == "sendPhoto":
            return await self._send_photo(params)
        if method == "setWebhook":
            secret = str(params.get("secret_token", ""))
            low, high = SAMPLES["limits"]["setWebhook.secret_token"]
            if not low <= len(secret) <= high:
                self.violations.append("setWebhook: secret_token of a wrong length")
                return self._error(method, 400)
            self.webhook = {"url": params.get("url", ""), "secret": secret}
            self.webhook_set.set()
            return _ok({**SAMPLES["setWebhook"]["result"], "url": self.webhook["url"]})
        if method == "deleteWebhook":
            self.webhook = {}
            self.webhook_deleted.set()
            return _ok(SAMPLES["deleteWebhook"]["result"])
        return self._error(method, 404)

    async def _get_updates(self, params: Json) -> web.Response:
        if self.webhook:
            self.violations.append("getUpdates while a webhook is set")
            return self._error("getUpdates", 400)
        seconds = min(float(params.get("timeout", 30)), self.longest_poll)
        try:
            update = await asyncio.wait_for(self.updates.get(), seconds)
        except TimeoutError:
            return _json(408, SAMPLES["errors"]["408"])
        return _ok(update)

    async def _send_message(self, params: Json) -> web.Response:
        chat_id, text = params.get("chat_id"), params.get("text")
        if not isinstance(chat_id, str) or not isinstance(text, str):
            self.violations.append("sendMessage without a chat_id and a text")
            return self._error("sendMessage", 400)
        if not 1 <= utf16_units(text) <= TEXT_LIMIT:
            self.violations.append(f"sendMessage of {utf16_units(text)} UTF-16 units")
            return self._error("sendMessage", 400)
        async with self._sent_changed:
            self.sent.append((chat_id, text))
            self._sent_changed.notify_all()
        return _ok({"message_id": hex_id(), "date": int(time.time() * 1000)})

    async def _send_photo(self, params: Json) -> web.Response:
        chat_id, photo = params.get("chat_id"), params.get("photo")
        caption = params.get("caption", "")
        if not isinstance(chat_id, str) or not isinstance(photo, str):
            self.violations.append("sendPhoto without a chat_id and a photo")
            return self._error("sendPhoto", 400)
        if not photo.startswith(("http://", "https://")):
            self.violations.append("sendPhoto of something else than a URL")
            return self._error("sendPhoto", 400)
        if not isinstance(caption, str) or utf16_units(caption) > TEXT_LIMIT:
            self.violations.append("sendPhoto with a caption over the limit")
            return self._error("sendPhoto", 400)
        async with self._sent_changed:
            self.photos.append((chat_id, photo, caption))
            self._sent_changed.notify_all()
        return _ok({"message_id": hex_id(), "date": int(time.time() * 1000)})

    def _error(self, method: str, status: int) -> web.Response:
        self.errors.append((method, status))
        body = SAMPLES["errors"].get(str(status), {"ok": False, "error_code": status})
        return _json(status, body)

    # -- the people -------------------------------------------------------------------------

    def event(self, user_id: str, text: str, name: str = "Hoa", chat_type: str = "PRIVATE") -> Json:
        event = copy.deepcopy(SAMPLES["update"])
        message = event["message"]
        message["from"] |= {"id": user_id, "display_name": name}
        message["chat"] |= {"id": user_id, "chat_type": chat_type}
        message |= {"text": text, "message_id": hex_id(), "date": int(time.time() * 1000)}
        return event

    async def send(self, event: Json) -> None:
        """A person's message, for getUpdates."""
        await self.updates.put(event)

    async def post(self, event: Json, *, wrapped: bool = True, secret: str | None = None) -> int:
        """Zalo posting ``event`` to the webhook set (wrapped as its docs show, or flat);
        the bot's HTTP status."""
        assert self._session is not None and self.webhook, "no webhook set"
        body = {"ok": True, "result": event} if wrapped else event
        headers = {SECRET_HEADER: self.webhook["secret"] if secret is None else secret}
        async with self._session.post(self.webhook["url"], json=body, headers=headers) as reply:
            return reply.status

    def messages_to(self, chat_id: str) -> list[str]:
        return [text for to, text in self.sent if to == chat_id]

    async def wait_for_sent(self, count: int, seconds: float = 10) -> None:
        async with asyncio.timeout(seconds), self._sent_changed:
            await self._sent_changed.wait_for(lambda: len(self.sent) >= count)

    async def wait_for_to(self, chat_id: str, count: int, seconds: float = 15) -> list[str]:
        """The first ``count`` messages to ``chat_id``, once they came."""
        async with asyncio.timeout(seconds), self._sent_changed:
            await self._sent_changed.wait_for(lambda: len(self.messages_to(chat_id)) >= count)
        return self.messages_to(chat_id)[:count]


async def _params(request: web.Request) -> Json:
    """JSON, form or query parameters, as Zalo takes them all."""
    params: Json = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params |= body
        else:
            params |= dict(await request.post())
    return params


def _ok(result: Any) -> web.Response:
    return _json(200, {"ok": True, "result": result})


def _json(status: int, body: Json) -> web.Response:
    return web.json_response(body, status=status)


@pytest_asyncio.fixture
async def fake_zalo() -> AsyncIterator[FakeZaloBot]:
    """A running fake; the test fails if the bot made a call the API refuses."""
    fake = FakeZaloBot()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert fake.violations == []
