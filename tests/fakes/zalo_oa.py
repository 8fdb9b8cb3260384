"""A fake Zalo Official Account on 127.0.0.1 (aiohttp), API v3 and its token server, with
the shapes of ``zalo-oa-api.json``: message/cs (text up to 2,000 UTF-16 units, template
buttons, media by attachment id, files by token), the uploads (PDF/Word files, PNG/JPEG
images), user/detail, and /v4/oa/access_token, whose refresh tokens work once and whose
access tokens expire on the test's clock. Errors are injected per call (``fail``: -216,
-230, an HTTP status); a person is made silent too long (``silence``: -230 until they
write). People's messages are posted to the webhook signed as Zalo signs them, or forged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

Json = dict[str, Any]
SAMPLES: Json = json.loads((Path(__file__).parent / "zalo-oa-api.json").read_text("utf-8"))
LIMITS: Json = SAMPLES["limits"]
APP_ID = SAMPLES["event"]["app_id"]
OA_ID = SAMPLES["event"]["recipient"]["id"]
APP_SECRET = "app-secret-key-of-the-test"
OA_SECRET = "oa-secret-key-of-the-test"
ACCESS_LIFE = timedelta(seconds=int(SAMPLES["refreshed"]["expires_in"]))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sign(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode())
    return f"mac={digest.hexdigest()}"


class FakeZaloOa:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.access: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set()
        # Refresh tokens presented, in order, and whether each worked.
        self.refreshes: list[tuple[str, bool]] = []
        # message/cs calls answered with success: (user id, message).
        self.sent: list[tuple[str, Json]] = []
        self.uploads: dict[str, tuple[str, str, int]] = {}
        self.errors: list[tuple[str, int]] = []
        self.violations: list[str] = []
        self.failing: dict[str, list[int]] = defaultdict(list)
        self.silent: set[str] = set()
        self.names: dict[str, str] = {}
        # Called once a refresh token is spent, before the answer goes (a crash there).
        self.after_refresh: Callable[[], None] | None = None
        # Answer a spent refresh with HTTP 502 instead of the pair (the answer lost).
        self.lose_refresh_answer = False
        self.webhook_url = ""
        self._sent_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v4/oa/access_token", self._refresh)
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v2.0/oa/upload/{kind}", self._upload)
        app.router.add_get("/v3.0/oa/user/detail", self._user)
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

    def issue(self, life: timedelta = ACCESS_LIFE) -> tuple[str, str]:
        """A new pair, as Zalo's console gives one: (access token, refresh token)."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = self.clock() + life
        self.refresh_tokens.add(refresh)
        return access, refresh

    def expire_all(self) -> None:
        """Every access token stops working now (Zalo invalidated them)."""
        self.access = {token: self.clock() for token in self.access}

    def fail(self, call: str, *answers: int) -> None:
        """Answer the next calls of ``call`` ("message", "upload", "refresh") with these:
        a Zalo error code (negative) or an HTTP status."""
        self.failing[call] += answers

    def silence(self, user_id: str) -> None:
        """``user_id`` has not written for over 7 days: -230 until they write."""
        self.silent.add(user_id)

    # -- the token server -------------------------------------------------------------------

    async def _refresh(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            self.violations.append("a refresh without the app's id and secret key")
            return web.json_response(SAMPLES["errors"]["refresh"])
        if form.get("grant_type") != "refresh_token":
            self.violations.append("a refresh without grant_type=refresh_token")
        if self.failing["refresh"]:
            return web.json_response({}, status=self.failing["refresh"].pop(0))
        token = str(form.get("refresh_token", ""))
        if token not in self.refresh_tokens:
            self.refreshes.append((token, False))
            return web.json_response(SAMPLES["errors"]["refresh"])
        # Spent, whatever becomes of the answer: Zalo's refresh token works once.
        self.refresh_tokens.discard(token)
        self.refreshes.append((token, True))
        access, refresh = self.issue()
        if self.after_refresh is not None:
            self.after_refresh()
        if self.lose_refresh_answer:
            return web.json_response({}, status=502)
        life = str(int(ACCESS_LIFE.total_seconds()))
        return web.json_response(
            {"access_token": access, "refresh_token": refresh, "expires_in": life}
        )

    # -- the API ----------------------------------------------------------------------------

    def _token_ok(self, request: web.Request) -> bool:
        expiry = self.access.get(request.headers.get("access_token", ""))
        return expiry is not None and self.clock() < expiry

    def _injected(self, call: str) -> web.Response | None:
        if not self.failing[call]:
            return None
        answer = self.failing[call].pop(0)
        self.errors.append((call, answer))
        if answer > 0:
            return web.json_response(SAMPLES["errors"].get(str(answer), {}), status=answer)
        return web.json_response(SAMPLES["errors"].get(str(answer), {"error": answer}))

    async def _message(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            self.errors.append(("message", -216))
            return web.json_response(SAMPLES["errors"]["-216"])
        injected = self._injected("message")
        if injected is not None:
            return injected
        body = await request.json()
        user = body.get("recipient", {}).get("user_id")
        message = body.get("message")
        if not isinstance(user, str) or not isinstance(message, dict):
            return self._invalid("message/cs without a recipient and a message")
        if user in self.silent:
            self.errors.append(("message", -230))
            return web.json_response(SAMPLES["errors"]["-230"])
        problem = self._check(message)
        if problem:
            return self._invalid(problem)
        async with self._sent_changed:
            self.sent.append((user, message))
            self._sent_changed.notify_all()
        return web.json_response(
            {**SAMPLES["sent"], "data": {**SAMPLES["sent"]["data"], "user_id": user}}
        )

    def _check(self, message: Json) -> str:
        text, attachment = message.get("text"), message.get("attachment")
        if text is None and attachment is None:
            return "a message with neither text nor attachment"
        if text is not None and not 1 <= utf16_units(str(text)) <= LIMITS["message.text"]:
            return f"a text of {utf16_units(str(text))} UTF-16 units"
        if attachment is None:
            return ""
        payload = attachment.get("payload", {})
        if attachment.get("type") == "file":
            known = self.uploads.get(str(payload.get("token")))
            return "" if known and known[0] == "file" else "a file token never uploaded"
        if payload.get("template_type") == "media":
            [element] = payload.get("elements", [{}])
            known = self.uploads.get(str(element.get("attachment_id")))
            return "" if known and known[0] == "image" else "an image never uploaded"
        buttons = payload.get("buttons", [])
        if text is None or not 1 <= len(buttons) <= LIMITS["buttons"]:
            return f"{len(buttons)} buttons under text {text is not None}"
        for button in buttons:
            if button.get("type") not in SAMPLES["button_types"]:
                return f"a button of type {button.get('type')}"
            if not 1 <= len(button.get("title", "")) <= LIMITS["button.title"]:
                return "a button title too long or empty"
            if len(str(button.get("payload", ""))) > LIMITS["button.payload"]:
                return "a button payload too long"
        return ""

    def _invalid(self, problem: str) -> web.Response:
        self.violations.append(problem)
        self.errors.append(("message", -201))
        return web.json_response(SAMPLES["errors"]["-201"])

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            return web.json_response(SAMPLES["errors"]["-216"])
        injected = self._injected("upload")
        if injected is not None:
            return injected
        kind = request.match_info["kind"]
        form = await request.post()
        field = form.get("file")
        if not isinstance(field, web.FileField):
            return self._invalid("an upload without a file")
        content = field.file.read()
        suffix = PurePath(field.filename).suffix.lower()
        if suffix not in LIMITS[f"upload.{kind}.types"] or len(content) > LIMITS[f"upload.{kind}"]:
            return self._invalid(f"an upload/{kind} of a {suffix} of {len(content)} bytes")
        key = secrets.token_hex(16)
        self.uploads[key] = (kind, field.filename, len(content))
        data = {"token": key} if kind == "file" else {"attachment_id": key}
        return web.json_response({"error": 0, "message": "Success", "data": data})

    async def _user(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            return web.json_response(SAMPLES["errors"]["-216"])
        user = json.loads(request.query.get("data", "{}")).get("user_id", "")
        data = {"user_id": user, "display_name": self.names.get(user, "Người dùng Zalo")}
        return web.json_response({"error": 0, "message": "Success", "data": data})

    # -- the people -------------------------------------------------------------------------

    def event(self, user_id: str, text: str, *, at: datetime | None = None) -> Json:
        event = json.loads(json.dumps(SAMPLES["event"]))
        event["sender"]["id"] = user_id
        event["message"] = {"text": text, "msg_id": secrets.token_hex(10)}
        event["timestamp"] = str(int((at or self.clock()).timestamp() * 1000))
        return event

    async def post(self, event: Json, *, secret: str = OA_SECRET, raw: bytes | None = None) -> int:
        """Zalo posting ``event`` to the webhook, signed with ``secret``; the bot's status.
        A person who writes opens their window again."""
        assert self._session is not None and self.webhook_url, "no webhook URL"
        body = raw if raw is not None else json.dumps(event).encode()
        headers = {
            "X-ZEvent-Signature": sign(event["app_id"], body, event["timestamp"], secret),
            "Content-Type": "application/json",
        }
        async with self._session.post(self.webhook_url, data=body, headers=headers) as reply:
            if reply.status == 200:
                self.silent.discard(event["sender"]["id"])
            return reply.status

    async def wait_for(self, seen: Callable[[], bool], seconds: float = 15) -> None:
        """Until ``seen()`` holds of what was sent."""
        async with asyncio.timeout(seconds), self._sent_changed:
            await self._sent_changed.wait_for(seen)

    def messages_to(self, user_id: str) -> list[str]:
        """What ``user_id`` sees, one entry a message: its text, "[image]" or "[file NAME]"."""
        seen = []
        for to, message in self.sent:
            if to != user_id:
                continue
            payload = message.get("attachment", {}).get("payload", {})
            if "text" in message:
                seen.append(str(message["text"]))
            elif payload.get("template_type") == "media":
                seen.append("[image]")
            else:
                seen.append(f"[file {self.uploads[payload['token']][1]}]")
        return seen

    def buttons_to(self, user_id: str) -> list[Json]:
        """The buttons of the last message to ``user_id`` that had a question's text, and of
        the button-only messages after it."""
        found: list[Json] = []
        for to, message in self.sent:
            if to != user_id:
                continue
            buttons = message.get("attachment", {}).get("payload", {}).get("buttons")
            if buttons is None:
                found = []
            else:
                found += buttons
        return found


@pytest_asyncio.fixture
async def fake_oa() -> AsyncIterator[FakeZaloOa]:
    """A running fake; the test fails if the bot made a call the API refuses."""
    fake = FakeZaloOa()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert fake.violations == []
