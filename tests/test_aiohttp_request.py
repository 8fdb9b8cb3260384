"""python-telegram-bot's requests over aiohttp (bot.channels.aiohttp_request), against the
fake Bot API: what Telegram receives, files both ways, and each failure as PTB's own error."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut

from bot.channels.aiohttp_request import AiohttpRequest
from tests.fakes.telegram import TOKEN, Failure, FakeTelegram

CHAT = 4242


def over_aiohttp(fake: FakeTelegram, request: AiohttpRequest | None = None) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{fake.base_url}/bot",
        base_file_url=f"{fake.base_url}/file/bot",
        request=request or AiohttpRequest(),
    )


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with over_aiohttp(fake_telegram) as started:
        yield started


async def test_a_message_with_buttons_reaches_telegram_as_sent(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Đúng, bắt đầu", callback_data="ok")]])
    text = "Hộ HH-01 · Nguyễn Văn Hùng\nĐúng chưa?"
    sent = await bot.send_message(CHAT, text, reply_markup=buttons)
    [received] = fake_telegram.messages_to(CHAT)
    assert received["text"] == text
    assert received["reply_markup"] == {
        "inline_keyboard": [[{"text": "Đúng, bắt đầu", "callback_data": "ok"}]]
    }
    assert sent.message_id == received["message_id"]
    assert fake_telegram.take_violations() == []


async def test_a_file_goes_up_and_comes_back_down_whole(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    content = bytes(range(256)) * 64
    upload = InputFile(content, filename="danh-sach-ho.xlsx")
    sent = await bot.send_document(CHAT, upload, caption="Danh sách hộ")
    assert sent.document is not None
    assert sent.document.file_name == "danh-sach-ho.xlsx"
    assert fake_telegram.file_content(sent.document.file_id) == content
    # Downloaded back (BaseRequest.retrieve: a GET of the file's URL).
    telegram_file = await bot.get_file(sent.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == content


async def test_an_answer_that_never_comes_is_a_timeout(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", how=Failure.HANG)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "xin chào", read_timeout=0.3)


async def test_a_dropped_connection_is_a_network_error(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", how=Failure.DISCONNECT, times=1)
    with pytest.raises(NetworkError) as raised:
        await bot.send_message(CHAT, "xin chào")
    assert not isinstance(raised.value, TimedOut)
    # The pool goes on with a new connection.
    assert (await bot.send_message(CHAT, "lần nữa")).text == "lần nữa"


async def test_nobody_listening_is_a_network_error(fake_telegram: FakeTelegram) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()


async def test_it_starts_again_after_a_stop_and_refuses_before_a_start(
    fake_telegram: FakeTelegram,
) -> None:
    request = AiohttpRequest()
    url = f"{fake_telegram.base_url}/bot{TOKEN}/getMe"
    # PTB wraps an implementation's own errors: still said, and no request made.
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)
    for _ in range(2):
        await request.initialize()
        assert (await request.post(url))["id"] == fake_telegram.bot_user["id"]
        await request.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)
    assert len(fake_telegram.calls("getMe")) == 2


async def get_me(base_url: str) -> Any:
    """getMe at ``base_url`` through a fresh AiohttpRequest, which reads the environment."""
    request = AiohttpRequest()
    await request.initialize()
    try:
        return await request.post(f"{base_url}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()


async def test_the_environments_proxy_is_used_as_httpx_used_it(
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A commune's server may reach Telegram only through a proxy named in the environment:
    # the fake stands in for the proxy, which gets the request for the real address.
    monkeypatch.setenv("HTTP_PROXY", fake_telegram.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    me = await get_me("http://api.telegram.invalid")
    assert me["id"] == fake_telegram.bot_user["id"]


async def test_no_proxy_hosts_are_reached_directly(
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy named is nobody: a request that went through it would fail.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{unused.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", nobody)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    me = await get_me(fake_telegram.base_url)
    assert me["id"] == fake_telegram.bot_user["id"]


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(*args, **kwargs)


async def test_a_request_stays_on_the_event_loop(bot: Bot, fake_telegram: FakeTelegram) -> None:
    # A thread hop per request (aiohttp's trust_env reads ~/.netrc in the executor each
    # time) cost a third of a button bot's CPU; the environment is read once for each host.
    executor = CountingExecutor()
    loop = asyncio.get_running_loop()
    loop.set_default_executor(executor)
    try:
        for n in range(3):
            await bot.send_message(CHAT, f"câu {n}")
    finally:
        # The loop closes its default executor at its end: a fresh one, for whatever follows.
        loop.set_default_executor(ThreadPoolExecutor())
        executor.shutdown()
    assert len(fake_telegram.messages_to(CHAT)) == 3
    assert executor.submitted == 0


async def test_parameters_go_as_json_and_files_as_multipart() -> None:
    """What goes over the wire: a JSON body (each parameter as python-telegram-bot encodes
    it, a keyboard as a JSON string, which the Bot API reads as it reads a form's value),
    multipart where there is a file."""
    seen: list[tuple[str, bytes]] = []

    async def record(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            me = {"id": 1, "is_bot": True, "first_name": "rasoat", "username": "rasoat_bot"}
            return web.json_response({"ok": True, "result": me})
        seen.append((request.content_type, await request.read()))
        result = {"message_id": 1, "date": 0, "chat": {"id": CHAT, "type": "private"}}
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
        async with bot:
            buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Có", callback_data="y")]])
            await bot.send_message(CHAT, "Hộ có người khuyết tật không?", reply_markup=buttons)
            await bot.send_document(CHAT, InputFile(b"xlsx", filename="ds.xlsx"))
    finally:
        await runner.cleanup()
    (json_type, body), (file_type, _) = seen
    assert json_type == "application/json" and file_type == "multipart/form-data"
    sent = json.loads(body)
    assert sent["text"] == "Hộ có người khuyết tật không?"
    assert json.loads(sent["reply_markup"]) == {
        "inline_keyboard": [[{"text": "Có", "callback_data": "y"}]]
    }
