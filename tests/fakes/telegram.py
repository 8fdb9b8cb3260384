"""A loopback fake of the Telegram Bot API, spoken over real HTTP.

The bot under test talks to it exactly as to api.telegram.org (``TELEGRAM_API_URL=fake.base_url``),
so PTB's own request encoding, retries and polling loop are exercised. Every request is checked
against the Bot API spec; a violation is answered with 400 and fails the test at teardown.

Tests drive the "user side" through :class:`FakeUser` and inspect what the bot sent with
``wait_for_messages`` / ``calls``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import enum
import itertools
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

from tests.fakes.spec import Spec, SpecError, UploadedFile, load_spec, visible_text

__all__ = ["TOKEN", "Failure", "FakeTelegram", "FakeUser", "UploadedFile", "fake_telegram"]

TOKEN = "123456789:AAE_rasoat-fake-token"
Json = dict[str, Any]

# True while the fake makes a request a webhook's answer carried (not an HTTP call).
IN_WEBHOOK_ANSWER: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "in_webhook_answer", default=False
)
_log = logging.getLogger(__name__)
# Telegram withholds these unless a bot asks for them explicitly.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip
# A 1x1 grayscale JPEG, so a bot that sniffs a downloaded photo sees a real JPEG header.
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0"
    "000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bff"
    "c400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a10823"
    "42b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a5354555657"
    "58595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aa"
    "b2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8"
    "f9faffda0008010100003f00fbd3ffd9"
)


class ApiError(Exception):
    """A legitimate Telegram error (not a malformed request): answered but not a violation."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


class Secret(enum.Enum):
    REGISTERED = "registered"


class Failure(enum.Enum):
    """How a method made to fail (``FakeTelegram.fail``) answers, after the request was
    validated like any other."""

    # Telegram's own JSON error answer with status 500.
    ERROR_500 = "500"
    # A proxy in front of the Bot API answers 502 with an HTML page, not JSON.
    BAD_GATEWAY = "502"
    # The connection is closed without any answer.
    DISCONNECT = "disconnect"
    # 200 OK whose ``result`` is not what the method returns (a broken proxy or server): the
    # client fails parsing it with an error of its own, not a Telegram error.
    GARBLED = "garbled"
    # No answer at all, until the fake stops: the bot is stuck in the call (and is killed
    # there by a test, the reply never having reached anyone).
    HANG = "hang"


@dataclass
class _Failing:
    how: Failure
    # Calls still to fail; None: every call, for good.
    left: int | None
    # Only calls whose parameters match (e.g. one chat), else every call of the method.
    when: Callable[[Json], bool] | None


@dataclass
class _Queued:
    update: Json
    # A deliberate re-delivery must survive offset confirmation until it has been delivered once.
    replay: bool = False
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next(k for k in self.update if k != "update_id")


@dataclass
class _Limits:
    per_second: int
    chat_interval: float
    chat_burst: int
    clock: Callable[[], float]
    # Times of the messages let through: all of them (the last second's), and per chat.
    times: collections.deque[float] = field(default_factory=collections.deque)
    chats: dict[int, collections.deque[float]] = field(default_factory=dict)

    def wait(self, chat_id: int) -> float:
        """0 and the message counted, or how long it would have to wait."""
        now = self.clock()
        # A hair of slack: a sender pacing exactly at the limit lands on the window's edge.
        slack = 1e-6
        while self.times and self.times[0] <= now - 1.0 + slack:
            self.times.popleft()
        chat = self.chats.setdefault(chat_id, collections.deque())
        while chat and chat[0] <= now - self.chat_interval + slack:
            chat.popleft()
        waits = [0.0]
        if len(self.times) >= self.per_second:
            waits.append(self.times[0] + 1.0 - now)
        if len(chat) >= self.chat_burst:
            waits.append(chat[0] + self.chat_interval - now)
        if max(waits) > 0:
            return max(waits)
        self.times.append(now)
        chat.append(now)
        return 0.0


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


@dataclass
class FakeUser:
    """A Telegram user in a private chat with the bot."""

    fake: FakeTelegram
    id: int
    first_name: str
    language_code: str | None = "vi"
    username: str | None = None

    def as_dict(self) -> Json:
        user: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat(self) -> Json:
        chat: Json = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat

    async def send_text(self, text: str, *, chat: Json | None = None) -> Json:
        """``text`` in the private chat with the bot, or in ``chat`` (see FakeTelegram.group)."""
        content: Json = {"text": text}
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        if len(command) > 1:
            # Telegram clients mark a leading /command; PTB's CommandHandler relies on it.
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._send(content, chat)

    async def send_command(self, command: str = "/start", payload: str | None = None) -> Json:
        command = command if command.startswith("/") else f"/{command}"
        return await self.send_text(f"{command} {payload}" if payload else command)

    async def send_sticker(self, emoji: str = "👍") -> Json:
        stored = self.fake._store_file(b"RIFF-fake-webp", "stickers", "webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._send({"sticker": sticker})

    async def send_photo(self, content: bytes = TINY_JPEG, caption: str | None = None) -> Json:
        stored = self.fake._store_file(content, "photos", "jpg")
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 1,
            "height": 1,
            "file_size": len(content),
        }
        return await self._send({"photo": [size]} | ({"caption": caption} if caption else {}))

    async def send_document(
        self, content: bytes, filename: str = "file.pdf", mime_type: str = "application/pdf"
    ) -> Json:
        stored = self.fake._store_file(content, "documents", filename.rsplit(".", 1)[-1])
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        return await self._send({"document": document})

    async def press(
        self,
        callback_data: str,
        message: Json | int | None = None,
        *,
        force: bool = False,
        chat: Json | None = None,
    ) -> Json:
        """Tap an inline button on a message the bot sent (default: its latest with a keyboard).

        ``message`` may be an entry from ``wait_for_messages`` or a message_id. A button that is
        not on the message raises, unless ``force`` (to simulate forged or stale data).
        """
        stored = self.fake._message_for_press(chat["id"] if chat else self.id, message)
        buttons = [
            b.get("callback_data")
            for row in stored.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
        ]
        if callback_data not in buttons and not force:
            raise AssertionError(f"no button {callback_data!r} on message: {buttons}")
        query_id = str(next(self.fake._ids))
        self.fake._open_callback_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self.as_dict(),
            "chat_instance": str(-self.id),
            "message": json.loads(json.dumps(stored)),
            "data": callback_data,
        }
        return await self.fake.push_update({"callback_query": query})

    def flood(self, messages: int = 1, retry_after: int = 1) -> None:
        """The bot's next ``messages`` messages to this user get 429 Too Many Requests with
        ``retry_after`` seconds, like Telegram's flood control."""
        self.fake._flooded[self.id] = (messages, retry_after)

    def block(self, blocked: bool = True) -> None:
        """Sending to this user now fails with 403, like a user who blocked the bot."""
        (self.fake._blocked.add if blocked else self.fake._blocked.discard)(self.id)

    async def _send(self, content: Json, chat: Json | None = None) -> Json:
        chat = chat or self.chat()
        message = {
            "message_id": self.fake._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self.as_dict(),
            **content,
        }
        self.fake._messages[(chat["id"], message["message_id"])] = message
        return await self.fake.push_update({"message": message})


class FakeTelegram:
    """The fake server plus its test-driver API. Use ``async with`` or the ``fake_telegram``
    fixture."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        extra_tokens: tuple[str, ...] = (),
        bot_username: str = "rasoat_test_bot",
        bot_first_name: str = "Rà soát (test)",
        spec_path: Path | None = None,
        webhook_retry_delay: float = 0.2,
    ) -> None:
        self.token = token
        self.tokens = {token, *extra_tokens}
        self.spec: Spec = load_spec(spec_path)
        self.bot_user: Json = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.webhook_retry_delay = webhook_retry_delay
        self.violations: list[str] = []
        self.api_errors: list[tuple[str, int, str]] = []
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status)
        # The methods webhook answers carried (made too, and in ``calls``), in order.
        self.webhook_answers: list[str] = []
        self.users: dict[int, FakeUser] = {}

        self._update_ids = itertools.count(10001)
        self._ids = itertools.count(1)  # files and callback queries
        self._cond = asyncio.Condition()
        self._queue: list[_Queued] = []
        self._allowed_updates: frozenset[str] | None = None
        self._poll_lock = asyncio.Lock()
        self._calls: list[tuple[str, Json]] = []
        self._call_cursor: dict[str, int] = defaultdict(int)
        self._sent: list[Json] = []
        self._sent_cursor: dict[int, int] = defaultdict(int)
        self._messages: dict[tuple[int, int], Json] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._open_callback_queries: set[str] = set()
        self._blocked: set[int] = set()
        # chat -> (messages still refused, seconds to wait): flood control (see FakeUser.flood)
        self._flooded: dict[int, tuple[int, int]] = {}
        # method -> how and how often it fails (see fail)
        self._failing: dict[str, _Failing] = {}
        # Telegram's sending limits, when enforced (see enforce_limits).
        self._limits: _Limits | None = None
        # Messages refused with 429 for going beyond those limits.
        self.rate_limited = 0
        self._groups: dict[int, Json] = {}
        self._commands: dict[tuple[str, str], list[Json]] = {}
        self._menu_buttons: dict[int | None, Json] = {}
        self._webhook: Json = {}
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)  # sendDocument allows 50 MB
        app.router.add_route("GET", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Cancelling a long poll whose client went away frees the poller slot at once, as
        # PTB's updater drops its in-flight getUpdates when it stops.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._closing = True
        await self._notify()
        if self._webhook_task:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """PTB's ``base_url`` (it appends the token itself)."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    def assert_no_violations(self) -> None:
        assert not self.violations, "bot sent invalid Telegram requests:\n" + "\n".join(
            self.violations
        )

    def take_violations(self) -> list[str]:
        """Return and clear the violations, for tests that provoke them on purpose."""
        taken, self.violations[:] = list(self.violations), []
        return taken

    # -- driver: user side -----------------------------------------------------------------------

    def user(
        self,
        id: int = 111,
        first_name: str = "An",
        language_code: str | None = "vi",
        username: str | None = None,
    ) -> FakeUser:
        if id not in self.users:
            self.users[id] = FakeUser(self, id, first_name, language_code, username)
        return self.users[id]

    def group(self, id: int = -1001, type: str = "group", title: str = "Ấp 1") -> Json:
        """A group, supergroup or channel chat the bot is a member of; users send there with
        ``send_text(..., chat=...)`` and ``press(..., chat=...)``."""
        self._groups[id] = {"id": id, "type": type, "title": title}
        return self._groups[id]

    async def push_update(self, update: Json) -> Json:
        """Queue a raw update; ``update_id`` is assigned unless given."""
        update = {"update_id": next(self._update_ids)} | update
        self._queue.append(_Queued(update))
        await self._notify()
        return update

    async def push_update_again(self, update: Json) -> Json:
        """Deliver an update with the same update_id once more (Telegram redelivery)."""
        self._queue.append(_Queued(dict(update), replay=True))
        await self._notify()
        return update

    def fail(
        self,
        method: str,
        times: int | None = 1,
        how: Failure = Failure.ERROR_500,
        when: Callable[[Json], bool] | None = None,
    ) -> None:
        """The next ``times`` valid calls of ``method`` (every one, for good, if None) fail
        ``how``, as a Bot API server in trouble would; ``when`` picks which calls (by their
        parameters). The failed calls are in ``calls`` and in ``api_errors``."""
        if method not in self.spec.methods:
            raise AssertionError(f"no Bot API method {method!r}")
        if times is not None and times <= 0:
            self._failing.pop(method, None)
            return
        self._failing[method] = _Failing(how, times, when)

    def heal(self, method: str) -> None:
        """``method`` works again."""
        self._failing.pop(method, None)

    async def deliver_webhook(
        self, update: Json, secret: str | Secret | None = Secret.REGISTERED
    ) -> int:
        """POST ``update`` to the registered webhook with the given secret header, bypassing the
        queue; returns the HTTP status (e.g. 401/403 for a wrong secret)."""
        if not self._webhook.get("url"):
            raise AssertionError("no webhook registered (setWebhook was not called)")
        if secret is Secret.REGISTERED:
            secret = self._webhook.get("secret_token")
        return await self._post_webhook(update, secret)

    def enforce_limits(
        self,
        per_second: int = 30,
        chat_interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        chat_burst: int = 1,
    ) -> None:
        """From now on, like Telegram: at most ``per_second`` messages in any second, and
        ``chat_burst`` to one chat within ``chat_interval`` seconds; beyond, 429 with the
        wait (counted in ``rate_limited``). ``clock``: the seconds the limits are measured
        on (a test's clock)."""
        self._limits = _Limits(per_second, chat_interval, chat_burst, clock)

    # -- driver: inspecting the bot --------------------------------------------------------------

    def calls(self, method: str) -> list[Json]:
        return [params for name, params in self._calls if name == method]

    async def wait_for_call(self, method: str, timeout: float = 5.0) -> Json:  # noqa: ASYNC109
        """The next call of ``method`` not returned by an earlier wait_for_call."""

        def ready() -> bool:
            return len(self.calls(method)) > self._call_cursor[method]

        await self._wait(ready, timeout, lambda: f"no {method} call; calls: {self._call_names()}")
        params = self.calls(method)[self._call_cursor[method]]
        self._call_cursor[method] += 1
        return params

    async def wait_for_errors(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until the server has answered ``count`` requests with an error in all."""
        await self._wait(
            lambda: len(self.api_errors) >= count,
            timeout,
            lambda: f"{len(self.api_errors)} errors: {self.api_errors}",
        )

    @property
    def sent(self) -> list[Json]:
        """Every message the bot sent, to anyone, in order (as in ``messages_to``)."""
        return list(self._sent)

    def messages_to(self, chat_id: int) -> list[Json]:
        """Every message the bot sent to the chat: request params + ``message_id`` + ``method``."""
        return [m for m in self._sent if m["chat_id"] == chat_id]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a per-call default reads better in tests
    ) -> list[Json]:
        """The next ``count`` messages sent to the chat that no earlier wait returned."""

        def ready() -> bool:
            return len(self.messages_to(chat_id)) >= self._sent_cursor[chat_id] + count

        def explain() -> str:
            new = self.messages_to(chat_id)[self._sent_cursor[chat_id] :]
            return (
                f"expected {count} message(s) to {chat_id}, got {new}; calls: {self._call_names()}"
            )

        await self._wait(ready, timeout, explain)
        start = self._sent_cursor[chat_id]
        self._sent_cursor[chat_id] += count
        return self.messages_to(chat_id)[start : start + count]

    def command_menu(self, scope: Json | None = None) -> list[Json]:
        """The commands set for ``scope`` (the default scope if None), as getMyCommands says."""
        return self._api_getMyCommands({"scope": scope} if scope else {})

    def message(self, chat_id: int, message_id: int) -> Json:
        """The current state of a message (after edits), as a Telegram Message object."""
        return self._messages[(chat_id, message_id)]

    def file_content(self, file_id: str) -> bytes:
        return self._files[file_id].content

    @property
    def webhook_url(self) -> str:
        return str(self._webhook.get("url", ""))

    @property
    def pending_updates(self) -> list[Json]:
        return [q.update for q in self._queue]

    # -- HTTP ------------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] not in self.tokens:
            return _error(401, "Unauthorized")
        try:
            form, body = await _read_params(request)
            # Telegram reads top-level JSON strings like form values ("5", a JSON-encoded markup).
            form |= {k: v for k, v in body.items() if isinstance(v, str)}
            typed = {k: v for k, v in body.items() if not isinstance(v, str)}
            params = {**self.spec.decode_form(method, form), **typed}
            self.spec.validate(method, params)
            failing = self._take_failure(method, params)
            if failing is not None:
                return await self._fail(request, method, params, failing)
            result = await self._dispatch(method, params)
        except SpecError as exc:
            self.violations.append(f"{method}: {exc}")
            _log.error("fake Telegram: bad request %s: %s", method, exc)
            return _error(400, f"Bad Request: {exc}")
        except ApiError as exc:
            self.api_errors.append((method, exc.code, exc.description))
            await self._notify()
            return _error(exc.code, exc.description, exc.retry_after)
        except Exception as exc:  # a bug in the fake must not look like a passing test
            self.violations.append(f"{method}: fake crashed: {exc!r}")
            _log.exception("fake Telegram crashed on %s", method)
            return _error(500, f"Internal Server Error: {exc!r}")
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.tokens:
            return _error(401, "Unauthorized")
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(body=stored.content)
        return _error(404, "Not Found")

    def _take_failure(self, method: str, params: Json) -> Failure | None:
        failing = self._failing.get(method)
        if failing is None or (failing.when is not None and not failing.when(params)):
            return None
        if failing.left is not None:
            failing.left -= 1
            if failing.left <= 0:
                del self._failing[method]
        return failing.how

    async def _fail(
        self, request: web.Request, method: str, params: Json, how: Failure
    ) -> web.Response:
        self._calls.append((method, params))
        code = {Failure.ERROR_500: 500, Failure.BAD_GATEWAY: 502}.get(how, 0)
        self.api_errors.append((method, code, f"made to fail: {how.value}"))
        await self._notify()
        if how is Failure.ERROR_500:
            return _error(500, "Internal Server Error")
        if how is Failure.BAD_GATEWAY:
            page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=502, text=page, content_type="text/html")
        if how is Failure.GARBLED:
            return web.json_response({"ok": True, "result": "garbled"})
        if how is Failure.HANG:
            await self._wait_quietly(lambda: self._closing)
            return _error(500, "Internal Server Error")
        assert request.transport is not None
        request.transport.abort()
        # Never written: the client has lost the connection already.
        return web.Response(status=500)

    async def _dispatch(self, method: str, params: Json) -> Any:
        self._calls.append((method, params))
        await self._notify()
        handler: Callable[[Json], Any] | None = getattr(self, f"_api_{method}", None)
        if handler is not None:
            result = handler(params)
            return await result if asyncio.iscoroutine(result) else result
        if self.spec.returns.get(method) == ["Message"] and "chat_id" in params:
            return await self._send(method, params, {})
        return True

    # -- methods ---------------------------------------------------------------------------------

    def _api_getMe(self, params: Json) -> Json:
        return self.bot_user

    async def _api_getUpdates(self, params: Json) -> list[Json]:
        if self._webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        try:
            # A poller whose client just disconnected may still be unwinding: give it a moment.
            await asyncio.wait_for(self._poll_lock.acquire(), 0.2)
        except TimeoutError:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            ) from None
        try:
            return await self._poll(params)
        finally:
            self._poll_lock.release()

    async def _poll(self, params: Json) -> list[Json]:
        if "allowed_updates" in params:
            self._allowed_updates = frozenset(params["allowed_updates"]) or None
        offset = params.get("offset")
        if offset:
            self._confirm(offset)
        limit = params.get("limit", 100)
        if not 1 <= limit <= 100:
            raise SpecError("limit must be 1-100")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(params.get("timeout", 0)):
                await self._wait_quietly(lambda: bool(self._deliverable()) or self._closing)
        batch = self._deliverable()[:limit]
        for queued in batch:
            queued.delivered = True
        return [q.update for q in batch]

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._queue = self._queue[offset:]
            return
        self._queue = [
            q for q in self._queue if q.update_id >= offset or (q.replay and not q.delivered)
        ]

    def _deliverable(self) -> list[_Queued]:
        def allowed(q: _Queued) -> bool:
            if self._allowed_updates is None:
                return q.kind not in _OPT_IN_UPDATES
            return q.kind in self._allowed_updates

        # Updates of a type the bot did not ask for are dropped, as Telegram does.
        self._queue = [q for q in self._queue if allowed(q)]
        return self._queue

    def _api_deleteWebhook(self, params: Json) -> bool:
        self._set_webhook({}, params.get("drop_pending_updates", False))
        return True

    def _api_setWebhook(self, params: Json) -> bool:
        if not params["url"]:
            return self._api_deleteWebhook(params)
        self._set_webhook(params, params.get("drop_pending_updates", False))
        if "allowed_updates" in params:
            self._allowed_updates = frozenset(params["allowed_updates"]) or None
        self._webhook_task = asyncio.create_task(self._webhook_worker())
        return True

    def _set_webhook(self, webhook: Json, drop_pending: bool) -> None:
        if self._webhook_task:
            self._webhook_task.cancel()
            self._webhook_task = None
        self._webhook = dict(webhook)
        self._webhook_error = None
        if drop_pending:
            self._queue.clear()

    def _api_getWebhookInfo(self, params: Json) -> Json:
        info: Json = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook_url:
            info["max_connections"] = self._webhook.get("max_connections", 40)
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        if self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _api_sendMessage(self, params: Json) -> Json:
        text = visible_text(params["text"], params.get("parse_mode"))
        content: Json = {"text": text}
        if "entities" in params:
            content["entities"] = params["entities"]
        return await self._send("sendMessage", params, content)

    async def _api_sendDocument(self, params: Json) -> Json:
        document = params["document"]
        if isinstance(document, UploadedFile):
            ext = document.filename.rsplit(".", 1)[-1] if "." in document.filename else "bin"
            stored = self._store_file(document.content, "documents", ext)
            meta: Json = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": document.filename,
                "mime_type": document.content_type,
                "file_size": len(document.content),
            }
        else:
            meta = {"file_id": document, "file_unique_id": f"u{document}"[:16]}
        return await self._send("sendDocument", params, {"document": meta})

    async def _api_sendPhoto(self, params: Json) -> Json:
        photo = params["photo"]
        content = photo.content if isinstance(photo, UploadedFile) else b""
        stored = self._store_file(content, "photos", "jpg")
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 1,
            "height": 1,
            "file_size": len(content),
        }
        return await self._send("sendPhoto", params, {"photo": [size]})

    def _api_editMessageText(self, params: Json) -> Json | bool:
        text = visible_text(params["text"], params.get("parse_mode"))
        return self._edit(params, {"text": text})

    def _api_editMessageReplyMarkup(self, params: Json) -> Json | bool:
        return self._edit(params, {})

    def _api_deleteMessage(self, params: Json) -> bool:
        key = (_chat_key(params["chat_id"]), params["message_id"])
        if self._messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _api_answerCallbackQuery(self, params: Json) -> bool:
        query_id = params["callback_query_id"]
        if query_id not in self._open_callback_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_callback_queries.discard(query_id)
        return True

    def _api_sendChatAction(self, params: Json) -> bool:
        if params["action"] not in _CHAT_ACTIONS:
            raise SpecError(f"unknown action {params['action']!r}")
        self._check_not_blocked(params["chat_id"])
        return True

    def _api_setMyCommands(self, params: Json) -> bool:
        self._commands[_commands_key(params)] = params["commands"]
        return True

    def _api_getMyCommands(self, params: Json) -> list[Json]:
        return self._commands.get(_commands_key(params), [])

    def _api_deleteMyCommands(self, params: Json) -> bool:
        self._commands.pop(_commands_key(params), None)
        return True

    def _api_setChatMenuButton(self, params: Json) -> bool:
        self._menu_buttons[params.get("chat_id")] = params.get("menu_button", {"type": "default"})
        return True

    def _api_getChatMenuButton(self, params: Json) -> Json:
        return self._menu_buttons.get(params.get("chat_id"), {"type": "default"})

    def _api_getFile(self, params: Json) -> Json:
        stored = self._files.get(params["file_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    # -- helpers ---------------------------------------------------------------------------------

    async def _send(self, method: str, params: Json, content: Json) -> Json:
        chat_id = _chat_key(params["chat_id"])
        self._check_not_blocked(chat_id)
        self._check_flood(chat_id)
        self._check_limits(chat_id)
        message: Json = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self.bot_user,
            **content,
        }
        if isinstance(params.get("caption"), str):
            message["caption"] = visible_text(params["caption"], params.get("parse_mode"))
        if "inline_keyboard" in params.get("reply_markup", {}):
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat_id, message["message_id"])] = message
        self._sent.append(
            {**params, "chat_id": chat_id, "message_id": message["message_id"], "method": method}
        )
        await self._notify()
        return message

    def _edit(self, params: Json, content: Json) -> Json | bool:
        if "inline_message_id" in params:
            return True
        if "chat_id" not in params or "message_id" not in params:
            raise SpecError("chat_id and message_id are required without inline_message_id")
        message = self._messages.get((_chat_key(params["chat_id"]), params["message_id"]))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if all(message.get(k) == v for k, v in content.items()) and message.get("reply_markup") == (
            markup or None
        ):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.update(content, edit_date=int(time.time()))
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return message

    def _message_for_press(self, chat_id: int, message: Json | int | None) -> Json:
        if message is None:
            candidates = [
                m
                for (chat, _), m in self._messages.items()
                if chat == chat_id and m["from"]["is_bot"] and "reply_markup" in m
            ]
            if not candidates:
                raise AssertionError(f"the bot sent no message with a keyboard to {chat_id}")
            return candidates[-1]
        message_id = message if isinstance(message, int) else message["message_id"]
        try:
            return self._messages[(chat_id, message_id)]
        except KeyError:
            raise AssertionError(f"no message {message_id} in chat {chat_id}") from None

    def _chat(self, chat_id: int) -> Json:
        if chat_id in self._groups:
            return self._groups[chat_id]
        if chat_id in self.users:
            return self.users[chat_id].chat()
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}

    def _check_not_blocked(self, chat_id: int | str) -> None:
        if _chat_key(chat_id) in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _check_flood(self, chat_id: int) -> None:
        refused, seconds = self._flooded.get(chat_id, (0, 0))
        if refused <= 0:
            return
        self._flooded[chat_id] = (refused - 1, seconds)
        raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    def _check_limits(self, chat_id: int) -> None:
        limits = self._limits
        if limits is None:
            return
        wait = limits.wait(chat_id)
        if wait > 0:
            self.rate_limited += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    def _next_message_id(self, chat_id: int) -> int:
        # Both sides of a private chat share one message_id sequence, as in Telegram.
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _store_file(self, content: bytes, folder: str, ext: str) -> _StoredFile:
        n = next(self._ids)
        stored = _StoredFile(f"FILE{n}", f"U{n}", f"{folder}/file_{n}.{ext}", content)
        self._files[stored.file_id] = stored
        return stored

    async def _webhook_worker(self) -> None:
        """Posts queued updates to the webhook as Telegram does: several at once (up to the
        webhook's ``max_connections``), but one person's one at a time and in order, each
        kept and posted again until it is answered 2xx."""
        busy: set[object] = set()  # senders with an update in flight
        posting: set[asyncio.Task[None]] = set()

        def ready() -> list[_Queued]:
            limit = int(self._webhook.get("max_connections") or 40)
            out: list[_Queued] = []
            seen: set[object] = set()
            for queued in self._deliverable():
                sender = _sender_of(queued.update)
                if sender not in busy and sender not in seen and len(busy) + len(out) < limit:
                    out.append(queued)
                seen.add(sender)
            return out

        async def post(queued: _Queued, sender: object) -> None:
            try:
                status = await self._post_webhook(queued.update, self._webhook.get("secret_token"))
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError):
                        self._queue.remove(queued)
                else:
                    # Telegram keeps the update and retries later; so do we, just faster.
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {status}",
                    )
                    await asyncio.sleep(self.webhook_retry_delay)
            finally:
                busy.discard(sender)
                await self._notify()

        try:
            while True:
                await self._wait_quietly(lambda: bool(ready()))
                for queued in ready():
                    sender = _sender_of(queued.update)
                    busy.add(sender)
                    task = asyncio.create_task(post(queued, sender))
                    posting.add(task)
                    task.add_done_callback(posting.discard)
        finally:
            for task in list(posting):
                task.cancel()

    async def _post_webhook(self, update: Json, secret: str | None) -> int:
        assert self._session is not None, "fake Telegram is not started"
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        answer = b""
        try:
            async with self._session.post(self.webhook_url, json=update, headers=headers) as resp:
                status = resp.status
                if 200 <= status < 300:
                    answer = await resp.read()
        except aiohttp.ClientError:
            status = 0
        if answer:
            await self._webhook_answer(answer)
        self.webhook_deliveries.append((int(update["update_id"]), status))
        return status

    async def _webhook_answer(self, body: bytes) -> None:
        """The Bot API request a webhook's answer carries, made as Telegram makes it: as if
        the bot had called the method, its result sent nowhere ("Making requests when
        getting updates"). A body that is not a request is ignored, as Telegram does; a
        request Telegram would refuse is a violation."""
        try:
            request = json.loads(body)
        except ValueError:
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return
        fields = {k: v for k, v in request.items() if k != "method"}
        method = str(request["method"])
        self.webhook_answers.append(method)
        token = IN_WEBHOOK_ANSWER.set(True)
        try:
            form = {k: v for k, v in fields.items() if isinstance(v, str)}
            typed = {k: v for k, v in fields.items() if not isinstance(v, str)}
            params = {**self.spec.decode_form(method, form), **typed}
            self.spec.validate(method, params)
            await self._dispatch(method, params)
        except SpecError as exc:
            self.violations.append(f"{method} (in a webhook's answer): {exc}")
        except ApiError as exc:
            self.api_errors.append((method, exc.code, exc.description))
        finally:
            IN_WEBHOOK_ANSWER.reset(token)

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def _wait_quietly(self, predicate: Callable[[], bool]) -> None:
        async with self._cond:
            await self._cond.wait_for(predicate)

    async def _wait(
        self, predicate: Callable[[], bool], seconds: float, explain: Callable[[], str]
    ) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._wait_quietly(predicate)
        except TimeoutError:
            raise AssertionError(f"timed out after {seconds}s: {explain()}") from None

    def _call_names(self) -> list[str]:
        return [name for name, _ in self._calls]


async def _read_params(request: web.Request) -> tuple[dict[str, str | UploadedFile], Json]:
    """Split the request into string values (query, form, multipart) and a typed JSON body."""
    form: dict[str, str | UploadedFile] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise SpecError(f"invalid JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise SpecError("JSON body must be an object")
        return form, body
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                form[name] = UploadedFile(value.filename, value.file.read(), value.content_type)
            else:
                form[name] = str(value)
    return form, {}


def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: Json = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


def _sender_of(update: Json) -> object:
    """Who sent an update (the ``from`` of its message or button press), or the update
    itself when it names nobody."""
    for value in update.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            return value["from"].get("id")
    return update.get("update_id")


def _chat_key(chat_id: object) -> int:
    try:
        return int(chat_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ApiError(400, "Bad Request: chat not found") from None


def _commands_key(params: Mapping[str, Any]) -> tuple[str, str]:
    scope = json.dumps(params.get("scope", {"type": "default"}), sort_keys=True)
    return scope, params.get("language_code", "")


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A running fake; the test fails if the bot sent any request the spec forbids."""
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    fake.assert_no_violations()
