"""rasoat's webhook server in-process: the ASGI app driven with raw ASGI calls and httpx.

What a request is answered, what is stored and queued for each, and what reaches the log.
The real `rasoat run --webhook` is tested in tests/test_telegram_e2e.py and
tests/test_delivery_e2e.py.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot, Update

from bot.channels.button_answers import ButtonAnswers
from bot.channels.http import listening_socket
from bot.channels.telegram import DurableQueue
from bot.channels.webhook import MAX_BODY, SECRET_HEADER, webhook_app
from locales.catalog import translate
from tests.fakes.telegram import TOKEN
from tests.test_button_answers import Calls
from tests.test_settings_and_cli import rasoat

SECRET = "s3cret-token_value"
SECRET_NAME = "Nguyễn Thị Bí Mật"


class Inbox:
    """What the app stores: a list, or an error for a database that is away."""

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []
        self.failure: Exception | None = None

    async def store(self, updates: list[dict[str, Any]]) -> None:
        if self.failure is not None:
            raise self.failure
        self.kept.extend(updates)


def message(update_id: int, text: str = "chào", user_id: int = 901) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Lan"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": user_id, "type": "private", "first_name": "Lan"},
            "from": user,
            "text": text,
        },
    }


def unreadable_poll(update_id: int) -> dict[str, Any]:
    """A poll python-telegram-bot 22 refuses (required fields missing), naming someone."""
    return {"update_id": update_id, "poll": {"id": "p1", "question": SECRET_NAME}}


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def queue(inbox: Inbox) -> DurableQueue:
    return DurableQueue(inbox.store)


@pytest.fixture
def client(queue: DurableQueue) -> httpx.AsyncClient:
    app = webhook_app(queue, Bot(TOKEN), path="hook", secret=SECRET)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


async def post(
    client: httpx.AsyncClient, body: bytes | dict[str, Any], secret: str | None = SECRET
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return await client.post("/hook", content=content, headers=headers)


def queued(queue: DurableQueue) -> list[object]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_an_update_is_stored_then_answered_then_queued_once(
    client: httpx.AsyncClient, queue: DurableQueue, inbox: Inbox
) -> None:
    update = message(5001)
    response = await post(client, update)
    assert response.status_code == 200
    assert inbox.kept == [update]
    [item] = queued(queue)
    assert isinstance(item, Update) and item.update_id == 5001
    assert item.message is not None and item.message.text == "chào"
    # Taken as stored: the queue did not store it a second time, and forgot the mark.
    assert inbox.kept == [update] and queue.stored == set()


async def test_telegram_is_answered_only_once_the_update_is_stored(
    queue: DurableQueue, inbox: Inbox
) -> None:
    stored = asyncio.Event()
    store = inbox.store

    async def slow_store(updates: list[dict[str, Any]]) -> None:
        await stored.wait()
        await store(updates)

    queue.store = slow_store
    app = webhook_app(queue, Bot(TOKEN), path="hook", secret=SECRET)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:
        answer = asyncio.create_task(post(client, message(5101)))
        await asyncio.sleep(0.2)
        assert not answer.done() and inbox.kept == []
        # Where several workers share the database, not handed over either.
        assert queue.empty()
        stored.set()
        assert (await answer).status_code == 200
    assert [u["update_id"] for u in inbox.kept] == [5101]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], "bí mật"])
async def test_without_the_right_secret_nothing_is_read_or_stored(
    queue: DurableQueue, inbox: Inbox, secret: str | None
) -> None:
    app = webhook_app(queue, Bot(TOKEN), path="hook", secret=SECRET)
    headers = [(b"content-type", b"application/json")]
    if secret is not None:
        headers.append((SECRET_HEADER.lower().encode(), secret.encode()))
    status, reads = await raw_request(app, "POST", "/hook", headers, json.dumps(message(1)))
    assert status == 403
    assert reads == 0  # the body was never read
    assert inbox.kept == [] and queued(queue) == []


async def test_the_secret_is_compared_in_constant_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert (await post(client, message(1), secret="wrong")).status_code == 403
    assert (await post(client, message(2))).status_code == 200
    assert compared == [(b"wrong", SECRET.encode()), (SECRET.encode(), SECRET.encode())]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json " + SECRET_NAME.encode(),
        b"\xff\xfe" + SECRET_NAME.encode("utf-16-le"),
        json.dumps([message(1)]).encode(),
        json.dumps(SECRET_NAME).encode(),
        json.dumps({"message": {"text": SECRET_NAME}}).encode(),
        json.dumps({"update_id": "7", "message": {"text": SECRET_NAME}}).encode(),
        json.dumps({"update_id": 7.0, "message": {"text": SECRET_NAME}}).encode(),
        json.dumps({"update_id": True, "message": {"text": SECRET_NAME}}).encode(),
        b'{"update_id": 7, "x": NaN, "n": "' + SECRET_NAME.encode() + b'"}',
        b"[" * 100_000,
    ],
    ids=[
        "empty",
        "text",
        "utf16",
        "array",
        "string",
        "no-id",
        "str-id",
        "float-id",
        "bool-id",
        "nan",
        "deep",
    ],
)
async def test_a_body_that_is_not_an_update_is_refused_and_not_logged(
    client: httpx.AsyncClient,
    queue: DurableQueue,
    inbox: Inbox,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await post(client, body)
    assert response.status_code == 400
    assert inbox.kept == [] and queued(queue) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "not an update" in logged
    assert SECRET_NAME not in logged and "Bí Mật" not in logged


async def test_a_body_too_large_is_refused_unstored(
    client: httpx.AsyncClient, queue: DurableQueue, inbox: Inbox
) -> None:
    update = message(9, text="x" * MAX_BODY)
    assert (await post(client, update)).status_code == 400
    assert inbox.kept == [] and queued(queue) == []


async def test_an_update_ptb_cannot_read_is_stored_answered_and_logged_by_id_only(
    client: httpx.AsyncClient,
    queue: DurableQueue,
    inbox: Inbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    poll = unreadable_poll(6001)
    with pytest.raises(Exception):  # noqa: B017 - whatever PTB raises, it cannot read it
        Update.de_json(poll, None)
    response = await post(client, poll)
    # Stored, so answered 200: Telegram must not send it again and again.
    assert response.status_code == 200
    assert inbox.kept == [poll]
    assert queued(queue) == [] and queue.stored == set()
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.channels.webhook"]
    assert "6001" in line and "TypeError" in line
    logged = "\n".join(r.getMessage() + str(r.exc_info) + str(r.args) for r in caplog.records)
    assert SECRET_NAME not in logged

    # The next update is served as usual.
    assert (await post(client, message(6002))).status_code == 200
    [item] = queued(queue)
    assert isinstance(item, Update) and item.update_id == 6002


async def test_an_update_that_cannot_be_stored_is_never_answered_200(
    client: httpx.AsyncClient,
    queue: DurableQueue,
    inbox: Inbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox.failure = ConnectionRefusedError(f"server at db.internal refused {SECRET_NAME}")
    response = await post(client, message(7001, text=SECRET_NAME))
    assert response.status_code == 500  # Telegram sends it again later
    assert queued(queue) == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "7001" in logged and "ConnectionRefusedError" in logged
    assert SECRET_NAME not in logged

    inbox.failure = None  # the database is back: Telegram's next try is taken
    assert (await post(client, message(7001, text=SECRET_NAME))).status_code == 200
    assert [u.update_id for u in queued(queue) if isinstance(u, Update)] == [7001]


async def test_health_and_everything_else(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.text == "ok"
    assert (await client.get("/hook")).status_code == 404
    assert (await client.post("/healthz")).status_code == 404
    assert (await client.get("/")).status_code == 404
    assert (await client.post("/other", headers={SECRET_HEADER: SECRET})).status_code == 404


async def test_the_path_may_be_given_with_its_slash(queue: DurableQueue, inbox: Inbox) -> None:
    app = webhook_app(queue, Bot(TOKEN), path="/telegram", secret=SECRET)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:
        response = await client.post(
            "/telegram", content=json.dumps(message(1)), headers={SECRET_HEADER: SECRET}
        )
    assert response.status_code == 200 and len(inbox.kept) == 1


async def raw_request(
    app: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: str,
) -> tuple[int, int]:
    """One HTTP request straight through ASGI: its status, and how often the app read the
    body."""
    reads = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8443),
    }
    await app(scope, receive, send)
    return status, reads


# -- `rasoat run --webhook`: what stops it before it starts -----------------------------------


def test_the_webhook_needs_its_public_url(tmp_path: Path) -> None:
    done = rasoat("run", "--webhook", "--secret=s3cret", env=cli_env(tmp_path))
    assert done.returncode == 2
    assert "--webhook-url" in done.stderr and "Traceback" not in done.stderr


def test_max_connections_is_checked(tmp_path: Path) -> None:
    args = ("run", "--webhook", "--secret=s3cret", "--webhook-url=https://bot.example.vn/t")
    done = rasoat(*args, "--max-connections=0", env=cli_env(tmp_path))
    assert done.returncode == 2 and "--max-connections" in done.stderr


def test_a_port_in_use_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = rasoat(
            "run",
            "--webhook",
            "--secret=s3cret",
            "--webhook-url=https://bot.example.vn/t",
            f"--port={port}",
            env=cli_env(tmp_path),
        )
    assert done.returncode == 1, done.stderr
    expected = translate("cli.cannot_listen", address=f"127.0.0.1:{port}", error="")
    assert expected.split(":")[0] in done.stderr and f"127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr


def cli_env(tmp_path: Path) -> dict[str, str]:
    # Port 9 has no listener: nothing here should reach Telegram anyway.
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rasoat.db'}",
    }


def press(update_id: int, query_id: str = "q1", user_id: int = 901) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Lan"}
    shown = message(update_id)["message"] | {"from": {"id": 1, "is_bot": True, "first_name": "B"}}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": user,
            "chat_instance": "1",
            "message": shown,
            "data": "a:1:0",
        },
    }


def answering_app(inbox: Inbox, answers: ButtonAnswers) -> tuple[DurableQueue, httpx.AsyncClient]:
    queue = DurableQueue(inbox.store, answers)
    app = webhook_app(queue, Bot(TOKEN), path="hook", secret=SECRET)
    return queue, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


@pytest.mark.parametrize("in_order", [False, True], ids=["shared", "sqlite"])
async def test_a_press_is_answered_in_the_webhooks_answer_once_its_turn_answers(
    inbox: Inbox, in_order: bool
) -> None:
    answers, calls = ButtonAnswers(), Calls()
    queue, client = answering_app(inbox, answers)
    queue.writes_in_order = in_order
    async with client:
        request = asyncio.create_task(post(client, press(6001, "q-6001")))
        update = await asyncio.wait_for(queue.get(), 5)
        # On either database the press goes to its turn unstored, with what was received,
        # for the turn to store.
        assert isinstance(update, Update) and inbox.kept == []
        assert queue.received == {6001: press(6001, "q-6001")}
        # The 200 waits for the turn: it carries the answer.
        await asyncio.sleep(0.05)
        assert not request.done()
        await answers.answering(6001, calls)("Câu hỏi này đã qua")
        response = await request
    assert response.status_code == 200
    assert response.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": "q-6001",
        "text": "Câu hỏi này đã qua",
    }
    assert calls.toasts == []
    # The turn answers a press only once it stored it: the webhook stores nothing.
    assert inbox.kept == [] and queue.received == {}
    answers.release(6001)  # the turn's end, after: nothing more happens


async def test_a_turn_that_ends_without_answering_lets_the_200_go_bare(inbox: Inbox) -> None:
    answers = ButtonAnswers()
    queue, client = answering_app(inbox, answers)
    async with client:
        request = asyncio.create_task(post(client, press(6002)))
        await asyncio.wait_for(queue.get(), 5)
        assert inbox.kept == []
        answers.release(6002)  # failed, say
        response = await asyncio.wait_for(request, 5)
    assert response.status_code == 200 and response.content == b""
    # Its turn may not have stored it: stored here before the 200.
    assert inbox.kept == [press(6002)] and queue.received == {}


async def test_a_press_its_turn_did_not_answer_and_that_cannot_be_stored_is_answered_500(
    inbox: Inbox,
) -> None:
    answers = ButtonAnswers()
    queue, client = answering_app(inbox, answers)
    async with client:
        request = asyncio.create_task(post(client, press(6005)))
        await asyncio.wait_for(queue.get(), 5)
        inbox.failure = ConnectionRefusedError("the database is away")
        answers.release(6005)
        response = await asyncio.wait_for(request, 5)
    assert response.status_code == 500  # Telegram sends it again
    assert inbox.kept == []


async def test_a_press_put_on_the_queue_unstored_is_not_stored_by_the_queue(
    inbox: Inbox,
) -> None:
    queue = DurableQueue(inbox.store, ButtonAnswers())
    update = Update.de_json(press(6006), Bot(TOKEN))
    queue.received[6006] = press(6006)
    await queue.put(update)
    assert queue.get_nowait() is update and inbox.kept == []
    # Any other update put on the queue unstored is stored first, as ever.
    await queue.put(Update.de_json(press(6007), Bot(TOKEN)))
    assert [kept["update_id"] for kept in inbox.kept] == [6007]


async def test_a_slow_turn_answers_its_press_by_a_call_of_its_own(inbox: Inbox) -> None:
    answers, calls = ButtonAnswers(wait_seconds=0.05), Calls()
    queue, client = answering_app(inbox, answers)
    async with client:
        response = await asyncio.wait_for(post(client, press(6003)), 5)
        assert response.status_code == 200 and response.content == b""
        # Not answered in time: stored here before the 200.
        assert inbox.kept == [press(6003)]
        await queue.get()
        await answers.answering(6003, calls)(None)
    assert calls.toasts == [None]


async def test_a_message_is_answered_at_once_even_where_presses_wait(inbox: Inbox) -> None:
    _queue, client = answering_app(inbox, ButtonAnswers())
    async with client:
        # Nobody takes the update from the queue: the 200 does not wait for its turn.
        response = await asyncio.wait_for(post(client, message(6004)), 5)
    assert response.status_code == 200 and response.content == b""


async def test_the_servers_connections_send_without_waiting_for_acks() -> None:
    """Nagle's algorithm off on every connection the channels' servers accept: else an
    answer written in two parts (headers, then the body of a press's answer or a file)
    waits for the other side's delayed ACK of the first, 40 ms an answer. asyncio turns
    it off only on the connections of a socket made TCP by name."""
    listening = listening_socket("127.0.0.1", 0)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            connection = transport.get_extra_info("socket")
            accepted.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Accept, sock=listening)
    try:
        _reader, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_where_writes_apply_in_order_an_update_goes_to_its_turn_while_being_stored(
    inbox: Inbox,
) -> None:
    """SQLite's one writer applies the store before the turn: the turn need not wait for a
    COMMIT of its own, and Telegram is still answered only once the update is stored."""
    stored = asyncio.Event()
    store = inbox.store

    async def slow_store(updates: list[dict[str, Any]]) -> None:
        await stored.wait()
        await store(updates)

    queue, client = answering_app(inbox, ButtonAnswers())
    queue.store = slow_store
    queue.writes_in_order = True
    async with client:
        request = asyncio.create_task(post(client, message(6101)))
        update = await asyncio.wait_for(queue.get(), 5)
        assert isinstance(update, Update) and update.update_id == 6101 and inbox.kept == []
        # On the queue already; the 200 waits for the store.
        await asyncio.sleep(0.05)
        assert not request.done()
        stored.set()
        response = await asyncio.wait_for(request, 5)
    assert response.status_code == 200 and response.content == b""
    assert [u["update_id"] for u in inbox.kept] == [6101] and queue.stored == set()


async def test_where_writes_apply_in_order_a_store_that_fails_is_answered_500(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    inbox.failure = ConnectionRefusedError(f"refused {SECRET_NAME}")
    queue, client = answering_app(inbox, ButtonAnswers())
    queue.writes_in_order = True
    async with client:
        response = await asyncio.wait_for(post(client, message(6102)), 5)
    # Telegram sends it again; its turn, if it ran, sees it as a duplicate then.
    assert response.status_code == 500
    assert queue.stored == set()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "6102" in logged and SECRET_NAME not in logged


async def test_a_store_nobody_awaits_any_more_fails_without_an_error_in_the_log(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A request cut off while its update was being stored: no 200 went out (Telegram sends
    the update again), and the store's failure is not an asyncio "never retrieved" ERROR."""
    inbox.failure = ConnectionRefusedError("refused")
    queue = DurableQueue(inbox.store)
    storing = queue.storing([message(6201)])
    await asyncio.wait([storing])
    del storing
    gc.collect()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert queue.stored == set()
