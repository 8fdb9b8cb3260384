"""Tests of the loopback fake Telegram server, driven by real PTB and raw HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.http import listening_socket
from bot.channels.telegram import DurableQueue
from bot.channels.webhook import serve_webhook
from tests.fakes.telegram import TOKEN, Failure, FakeTelegram, fake_telegram  # noqa: F401 - fixture


@pytest.fixture
def fake(fake_telegram: FakeTelegram) -> FakeTelegram:  # noqa: F811 - the imported fixture
    return fake_telegram


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.api_url, base_file_url=fake.file_url) as bot:
        yield bot


@pytest_asyncio.fixture
async def http(fake: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{fake.base_url}/bot{TOKEN}") as client:
        yield client


# -- well-formed requests --------------------------------------------------------------------------


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "rasoat_test_bot"
    assert me.is_bot


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{fake.base_url}/bot1:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=fake.api_url):  # initialize() calls getMe
            pass


async def test_send_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Có", callback_data="q1:yes")]])
    first = await bot.send_message(111, "Câu 1: Hộ có nhà ở không?", reply_markup=keyboard)
    second = await bot.send_message(111, "<b>Câu 2</b> &amp; hết", parse_mode="HTML")

    assert (first.message_id, second.message_id) == (1, 2)
    assert first.reply_markup == keyboard
    assert first.from_user is not None and first.from_user.username == "rasoat_test_bot"
    assert second.text == "Câu 2 & hết"  # Telegram returns the text without markup
    sent = await fake.wait_for_messages(111, count=2)
    assert sent[0]["text"] == "Câu 1: Hộ có nhà ở không?"
    assert sent[0]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Có", "callback_data": "q1:yes"}]]
    }
    assert [m["message_id"] for m in sent] == [1, 2]
    assert fake.messages_to(111) == sent
    with pytest.raises(AssertionError, match="expected 1 message"):
        await fake.wait_for_messages(111, timeout=0.05)


async def test_form_json_multipart_and_query_bodies(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    markup_json = json.dumps(markup)
    form = {"chat_id": "111", "text": "form", "reply_markup": markup_json}
    multipart = {
        "chat_id": (None, "111"),
        "text": (None, "multipart"),
        "reply_markup": (None, markup_json),
    }
    query = {"chat_id": "111", "text": "42", "disable_notification": "true"}
    responses = [
        await http.post("/sendMessage", data=form),
        await http.post(
            "/sendMessage", json={"chat_id": 111, "text": "json", "reply_markup": markup}
        ),
        await http.post("/sendMessage", files=multipart),
        await http.get("/sendMessage", params=query),
    ]

    assert [r.status_code for r in responses] == [200] * 4
    calls = fake.calls("sendMessage")
    assert [c["text"] for c in calls] == ["form", "json", "multipart", "42"]
    assert all(c["chat_id"] == 111 for c in calls)
    assert [c.get("reply_markup") for c in calls[:3]] == [markup] * 3
    assert calls[3]["disable_notification"] is True  # Boolean decoded; the text "42" stays a str


async def test_send_document_captures_the_upload(fake: FakeTelegram, bot: Bot) -> None:
    payload = "Mã hộ;Điểm\nH001;120\n".encode()
    message = await bot.send_document(
        111, io.BytesIO(payload), filename="ket-qua.csv", caption="Kết quả rà soát"
    )

    (sent,) = await fake.wait_for_messages(111)
    assert sent["method"] == "sendDocument"
    assert sent["document"].filename == "ket-qua.csv"
    assert sent["document"].content == payload
    assert sent["caption"] == "Kết quả rà soát"
    # The stored file can be fetched back through getFile and the file URL.
    assert message.document is not None
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == payload


async def test_bot_downloads_a_users_photo(fake: FakeTelegram, bot: Bot) -> None:
    update = await fake.user().send_photo(b"\xff\xd8fake-jpeg")
    file = await bot.get_file(update["message"]["photo"][-1]["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"\xff\xd8fake-jpeg"


async def test_edit_and_delete(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("1", callback_data="n:1")]])
    message = await bot.send_message(111, "Số người?", reply_markup=keyboard)
    await bot.edit_message_text("Số người: 1", chat_id=111, message_id=message.message_id)
    assert fake.message(111, message.message_id)["text"] == "Số người: 1"
    assert "reply_markup" not in fake.message(111, message.message_id)
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Số người: 1", chat_id=111, message_id=message.message_id)
    assert await bot.delete_message(111, message.message_id)
    with pytest.raises(BadRequest, match="not found"):
        await bot.delete_message(111, message.message_id)
    assert [e[1] for e in fake.api_errors] == [400, 400]  # real Telegram errors, not violations


# -- violations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("sendmessage", {"chat_id": 1, "text": "x"}, "not found"),
        ("sendMessage", {"chat_id": 1, "text": "x", "colour": "red"}, "unknown parameter"),
        ("sendMessage", {"text": "x"}, "missing required parameter(s) chat_id"),
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, "too long"),
        ("sendMessage", {"chat_id": 1, "text": ""}, "empty"),
        ("sendMessage", {"chat_id": 1, "text": "1 < 2", "parse_mode": "HTML"}, "unescaped"),
        ("sendMessage", {"chat_id": 1, "text": "x", "disable_notification": "maybe"}, "Boolean"),
        ("deleteMessage", {"chat_id": 1, "message_id": "abc"}, "Integer"),
        ("sendDocument", {"chat_id": 1, "document": "id", "caption": "c" * 1025}, "caption"),
        ("answerCallbackQuery", {"callback_query_id": "1", "text": "t" * 201}, "200"),
        (
            "setMyCommands",
            {"commands": [{"command": f"c{i}", "description": "d"} for i in range(101)]},
            "too many commands",
        ),
        (
            "sendMessage",
            {"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "A"}]]}},
            "exactly one action",
        ),
    ],
)
async def test_malformed_requests_are_400_and_recorded(
    fake: FakeTelegram,
    http: httpx.AsyncClient,
    method: str,
    params: dict[str, object],
    expected: str,
) -> None:
    response = await http.post(f"/{method}", json=params)

    assert response.status_code == 400
    assert response.json()["description"].startswith("Bad Request: ")
    assert expected in response.json()["description"]
    (violation,) = fake.take_violations()  # so the fixture teardown passes
    assert expected in violation


async def test_callback_data_over_64_bytes_is_a_violation(fake: FakeTelegram, bot: Bot) -> None:
    # 22 Vietnamese letters of 3 UTF-8 bytes each: only 22 characters but 66 bytes.
    data = "ệ" * 21 + "ab"
    assert len(data.encode()) == 65
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Có", callback_data=data)]])

    with pytest.raises(BadRequest, match="callback_data"):
        await bot.send_message(111, "Câu 1", reply_markup=keyboard)
    assert "BUTTON_DATA_INVALID" in fake.take_violations()[0]
    assert fake.messages_to(111) == []


async def test_teardown_check_reports_violations(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(111, "x" * 4097)
    with pytest.raises(AssertionError, match="invalid Telegram requests"):
        fake.assert_no_violations()
    fake.take_violations()


async def test_ptb_setup_calls_are_valid(fake: FakeTelegram, bot: Bot) -> None:
    from telegram import BotCommand, BotCommandScopeAllPrivateChats, MenuButtonCommands

    commands = [BotCommand("start", "Bắt đầu"), BotCommand("huy", "Hủy phiếu")]
    scope = BotCommandScopeAllPrivateChats()
    assert await bot.set_my_commands(commands, scope=scope, language_code="vi")
    assert await bot.get_my_commands(scope=scope, language_code="vi") == tuple(commands)
    assert await bot.get_my_commands() == ()
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert await bot.send_chat_action(111, "typing")
    assert await bot.delete_my_commands(scope=scope, language_code="vi")


# -- getUpdates ------------------------------------------------------------------------------------


async def test_long_poll_returns_a_queued_update(fake: FakeTelegram, bot: Bot) -> None:
    async def send_later() -> None:
        await asyncio.sleep(0.1)
        await fake.user().send_command("/start", "ABC123")

    sender = asyncio.create_task(send_later())
    # A poll far longer than the test may run: only the update's arrival can end it (the
    # guard turns a poll that ignores it into a failure instead of a hang).
    async with asyncio.timeout(120):
        (update,) = await bot.get_updates(timeout=3600, read_timeout=3700)
    await sender

    assert update.message is not None and update.message.text == "/start ABC123"
    assert update.message.entities[0].type == "bot_command"
    assert update.effective_user is not None and update.effective_user.language_code == "vi"


async def test_long_poll_times_out_with_empty_list(bot: Bot) -> None:
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.2)) == ()


async def test_offset_confirms_earlier_updates(fake: FakeTelegram, bot: Bot) -> None:
    user = fake.user()
    first = await user.send_text("một")
    second = await user.send_text("hai")

    assert [u.update_id for u in await bot.get_updates()] == [
        first["update_id"],
        second["update_id"],
    ]
    assert [u.update_id for u in await bot.get_updates()] == [
        first["update_id"],
        second["update_id"],
    ]  # not confirmed yet
    assert [u.update_id for u in await bot.get_updates(offset=second["update_id"])] == [
        second["update_id"]
    ]
    assert await bot.get_updates(offset=second["update_id"] + 1) == ()
    assert second["update_id"] > first["update_id"]


async def test_limit_and_allowed_updates(fake: FakeTelegram, bot: Bot) -> None:
    user = fake.user()
    await user.send_text("a")
    await user.send_sticker()
    assert len(await bot.get_updates(limit=1)) == 1
    await fake.push_update({"message_reaction": {"chat": user.chat(), "message_id": 1}})
    updates = await bot.get_updates(allowed_updates=["message"])
    assert [u.message is not None for u in updates] == [True, True]
    assert [u["update_id"] for u in fake.pending_updates] == [u.update_id for u in updates]


async def test_second_concurrent_poller_gets_409(
    fake: FakeTelegram, bot: Bot, http: httpx.AsyncClient
) -> None:
    # A raw client: PTB's own getUpdates connection pool has one slot and would just queue it.
    first = asyncio.create_task(bot.get_updates(timeout=1))
    await asyncio.sleep(0.05)
    response = await http.post("/getUpdates", data={"timeout": "1"})
    assert response.status_code == 409
    assert "terminated by other getUpdates" in response.json()["description"]
    await fake.user().send_text("xin chào")
    assert len(await first) == 1


async def test_duplicate_delivery_when_polling(fake: FakeTelegram, bot: Bot) -> None:
    update = await fake.user().send_text("một")
    first = await bot.get_updates()
    await fake.push_update_again(update)
    # The bot confirms the first delivery; the redelivered copy still arrives.
    again = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.update_id for u in again] == [update["update_id"]]
    assert await bot.get_updates(offset=update["update_id"] + 1) == ()


# -- webhook ---------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str | None, dict[str, object]]]]]:
    """A tiny webhook endpoint: 403 on a wrong secret, 500 for the first update with text 'fail'."""
    received: list[tuple[str | None, dict[str, object]]] = []
    failed: set[int] = set()

    async def handle(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        body = await request.json()
        received.append((secret, body))
        if secret != "s3cret-token":
            return web.Response(status=403)
        if body.get("message", {}).get("text") == "fail" and body["update_id"] not in failed:
            failed.add(body["update_id"])
            return web.Response(status=500)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    await runner.cleanup()


async def test_webhook_delivery(
    fake: FakeTelegram,
    bot: Bot,
    receiver: tuple[str, list[tuple[str | None, dict[str, object]]]],
) -> None:
    url, received = receiver
    fake.webhook_retry_delay = 0.05
    await fake.user().send_text("queued before setWebhook")
    assert await bot.set_webhook(url, secret_token="s3cret-token")
    info = await bot.get_webhook_info()
    assert info.url == url

    update = await fake.user().send_text("fail")
    await fake.push_update_again(update)
    for _ in range(100):
        if len(fake.webhook_deliveries) >= 4:
            break
        await asyncio.sleep(0.02)

    texts = [body["message"]["text"] for _, body in received]  # type: ignore[index]
    assert texts == ["queued before setWebhook", "fail", "fail", "fail"]
    assert [status for _, status in fake.webhook_deliveries] == [200, 500, 200, 200]
    assert {secret for secret, _ in received} == {"s3cret-token"}
    assert (await bot.get_webhook_info()).last_error_message is not None

    assert await fake.deliver_webhook(update, secret="wrong") == 403
    assert await fake.deliver_webhook(update) == 200
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


# -- a real PTB Application ------------------------------------------------------------------------


async def test_application_echo_round_trip(fake: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Bạn nói: {update.effective_message.text}")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Có", callback_data="q1:yes")]])
        await update.effective_message.reply_text(f"Mã: {context.args}", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Đã ghi nhận")
        await query.edit_message_text(f"Đã chọn {query.data}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.api_url)
        .base_file_url(fake.file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    user = fake.user(id=222, first_name="Bình")

    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await user.send_text("xin chào")
            (reply,) = await fake.wait_for_messages(222)
            assert reply["text"] == "Bạn nói: xin chào"

            await user.send_command("/start", "ABC123")
            (question,) = await fake.wait_for_messages(222)
            assert question["text"] == "Mã: ['ABC123']"

            await user.press("q1:yes", message=question)
            edit = await fake.wait_for_call("editMessageText")
            assert edit["text"] == "Đã chọn q1:yes"
            assert fake.calls("answerCallbackQuery")[0]["text"] == "Đã ghi nhận"
        finally:
            await app.updater.stop()
            await app.stop()

    assert fake.calls("deleteWebhook")  # PTB always clears the webhook before polling
    assert fake.api_errors == []


async def test_a_request_in_a_webhooks_answer_is_made(fake: FakeTelegram, bot: Bot) -> None:
    """As Telegram does ("Making requests when getting updates"): a method in the 200's
    JSON body is made, its result sent nowhere; a body that is no request is ignored; a
    request Telegram would refuse is a violation."""
    answers = iter(
        [
            web.json_response({"method": "sendMessage", "chat_id": 12, "text": "trong 200"}),
            web.Response(text="ok"),
            web.json_response({"method": "sendMessage", "chat_id": 12, "txt": "sai"}),
        ]
    )

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return next(answers)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        user = fake.user(id=12)
        for text in ("một", "hai", "ba"):
            await user.send_text(text)
        for _ in range(200):
            if len(fake.webhook_deliveries) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await runner.cleanup()
    assert [m["text"] for m in fake.messages_to(12)] == ["trong 200"]
    assert fake.webhook_answers == ["sendMessage", "sendMessage"]
    [violation] = fake.take_violations()
    assert "in a webhook's answer" in violation and "txt" in violation


async def test_application_in_webhook_mode(fake: FakeTelegram, unused_tcp_port: int) -> None:
    """The fake's webhook against a real server: rasoat's (python-telegram-bot's own, tornado,
    is not installed), serving a bare PTB Application built as its docs show."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    stored: list[dict[str, object]] = []

    async def store(updates: list[dict[str, object]]) -> None:
        stored.extend(updates)

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.api_url)
        .updater(None)
        .update_queue(DurableQueue(store))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    user = fake.user()
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve_webhook(
            app,
            listening_socket("127.0.0.1", unused_tcp_port),
            path="tg",
            secret="s3cret-token",
            url=f"http://127.0.0.1:{unused_tcp_port}/tg",
            stop=stop,
        )
    )
    try:
        await fake.wait_for_call("setWebhook")
        update = await user.send_text("qua webhook")
        (reply,) = await fake.wait_for_messages(user.id)
        assert reply["text"] == "qua webhook"
        assert [u["update_id"] for u in stored] == [update["update_id"]]
        assert await fake.deliver_webhook(update, secret="wrong") == 403
    finally:
        stop.set()
        await serving
    assert fake.calls("setWebhook")[0]["secret_token"] == "s3cret-token"
    assert fake.calls("deleteWebhook") == []


# -- a server in trouble ---------------------------------------------------------------------------


async def test_a_method_made_to_fail_answers_500_then_recovers(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.fail("sendMessage", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(111, "hello")
    await bot.send_message(111, "hello")
    assert [m["text"] for m in fake.messages_to(111)] == ["hello"]
    assert [(method, code) for method, code, _ in fake.api_errors] == [("sendMessage", 500)] * 2
    assert len(fake.calls("sendMessage")) == 3


async def test_failures_are_still_validated(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    fake.fail("sendMessage", times=None)
    response = await http.post("/sendMessage", json={"chat_id": 1})
    assert response.status_code == 400
    assert fake.take_violations() == ["sendMessage: missing required parameter(s) text"]


@pytest.mark.parametrize(
    ("how", "error"),
    [
        (Failure.ERROR_500, NetworkError),
        (Failure.BAD_GATEWAY, NetworkError),
        (Failure.DISCONNECT, NetworkError),
        (Failure.GARBLED, Exception),
    ],
)
async def test_each_failure_mode_fails_the_call_for_good(
    fake: FakeTelegram, bot: Bot, how: Failure, error: type[Exception]
) -> None:
    fake.fail("sendPhoto", times=None, how=how)
    for _ in range(2):
        with pytest.raises(error):
            await bot.send_photo(111, b"\x89PNG fake")
    assert fake.messages_to(111) == []
    fake.heal("sendPhoto")
    await bot.send_photo(111, b"\x89PNG fake")
    assert [m["method"] for m in fake.messages_to(111)] == ["sendPhoto"]


async def test_a_failure_can_pick_its_calls(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail("sendMessage", times=None, when=lambda params: int(params["chat_id"]) == 222)
    await bot.send_message(111, "to 111")
    with pytest.raises(NetworkError):
        await bot.send_message(222, "to 222")
    assert [m["text"] for m in fake.messages_to(111)] == ["to 111"]
