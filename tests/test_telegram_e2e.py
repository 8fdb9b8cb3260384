"""The real bot against the fake Bot API over loopback HTTP: in-process and as `rasoat run`."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from telegram.ext import Application

from bot.admin import create_invites
from bot.channels.telegram import ALLOWED_UPDATES, DurableQueue, build_application
from bot.runtime import open_runtime
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import InboxUpdate, ProcessedUpdate, Role
from storage.repositories import Received
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, POSTGRESQL_ONLY, Database
from tests.fakes.telegram import TOKEN, FakeTelegram, FakeUser
from tests.helpers import seed_areas

ROOT = Path(__file__).resolve().parent.parent


def bot_settings(database: Database, fake: FakeTelegram, **extra: str) -> Settings:
    return load_settings(
        **database.env(), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.base_url, **extra
    )


async def new_invite(database: Database, role: Role, area: str) -> str:
    [created] = await create_invites(database.sessions, role, area, days=7, key=INVITE_KEY)
    return created.code


@pytest.fixture
async def polling_bot(
    database: Database, fake_telegram: FakeTelegram
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The real PTB Application, polling the fake, in this event loop."""
    await seed_areas(database.sessions)
    settings = bot_settings(database, fake_telegram)
    runtime = await open_runtime(settings)
    application = build_application(settings, runtime)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=list(ALLOWED_UPDATES)
        )
        yield application
        await application.updater.stop()
        await application.stop()
    await runtime.close()


async def test_a_webhooks_updates_go_to_their_turn_while_stored_only_behind_one_writer(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    """On SQLite (one writer, which applies a store before the turns asked after it) the
    webhook hands an update over while it is being stored; on PostgreSQL, where a turn
    runs on a connection of its own beside the store, only once stored."""
    settings = bot_settings(database, fake_telegram)
    runtime = await open_runtime(settings)
    try:
        application = build_application(settings, runtime, webhook=True)
        queue = application.update_queue
        assert isinstance(queue, DurableQueue) and not queue.writes_in_order
        assert application.post_init is not None
        await application.post_init(application)
        assert queue.writes_in_order == (database.backend == "sqlite")
    finally:
        await runtime.close()


async def test_registration_over_telegram(
    polling_bot: Application,  # type: ignore[type-arg]
    database: Database,
    fake_telegram: FakeTelegram,
) -> None:
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    user = fake_telegram.user(id=111, first_name="An", language_code="vi")
    await user.send_command("/start", code)
    welcome, menu = await fake_telegram.wait_for_messages(111, count=2)
    assert "cộng tác viên của Ấp 1" in welcome["text"]
    buttons = [b["callback_data"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[0] == "cmd:interview" and {"cmd:whoami", "cmd:help"} <= set(buttons)
    scoped = await fake_telegram.wait_for_call("setMyCommands")
    while scoped.get("scope", {}).get("type") != "chat":
        scoped = await fake_telegram.wait_for_call("setMyCommands")
    names = [c["command"] for c in scoped["commands"]]
    assert names[0] == "interview" and {"back", "review", "pause", "tiep", "help"} <= set(names)

    await user.press("cmd:whoami", menu)
    [who] = await fake_telegram.wait_for_messages(111)
    assert "Vai trò: cộng tác viên" in who["text"]
    await fake_telegram.wait_for_call("answerCallbackQuery")

    await user.send_text("/help")
    [help_text] = await fake_telegram.wait_for_messages(111)
    assert help_text["text"].startswith(translate("help.intro.collaborator"))


async def test_wrong_code_unknown_user_and_odd_messages(
    polling_bot: Application,  # type: ignore[type-arg]
    database: Database,
    fake_telegram: FakeTelegram,
) -> None:
    stranger = fake_telegram.user(id=222, first_name="Bình")
    await stranger.send_text("chào bot")
    [reply] = await fake_telegram.wait_for_messages(222)
    assert reply["text"] == translate("registration.unknown_user")
    await stranger.send_command("/start", "WRONG123")
    [reply] = await fake_telegram.wait_for_messages(222)
    assert reply["text"] == translate("registration.code_unknown")

    code = await new_invite(database, Role.SUPERVISOR, "87-MH")
    await stranger.send_command("/start", code)
    await fake_telegram.wait_for_messages(222, count=2)
    await stranger.send_sticker()
    [reply] = await fake_telegram.wait_for_messages(222)
    assert reply["text"] == translate("fallback.unsupported")
    await stranger.send_photo()
    [reply] = await fake_telegram.wait_for_messages(222)
    assert reply["text"] == translate("fallback.unsupported")
    await stranger.send_text("/nope")
    [reply] = await fake_telegram.wait_for_messages(222)
    assert reply["text"] == translate("fallback.unknown_command", command="nope")
    await stranger.send_text("x" * 4000)
    [reply] = await fake_telegram.wait_for_messages(222)
    assert "quá dài" in reply["text"]


async def test_flood_control_is_honoured(
    polling_bot: Application,  # type: ignore[type-arg]
    database: Database,
    fake_telegram: FakeTelegram,
) -> None:
    """Telegram answers 429 with how long to wait. A short wait is waited out and the reply
    arrives late rather than never; an hour's wait drops the reply, never the answer."""
    patient = fake_telegram.user(id=333, first_name="Cúc")
    patient.flood(messages=2, retry_after=1)
    await patient.send_command("/start", await new_invite(database, Role.COLLABORATOR, "87-MH-A1"))
    welcome, menu = await fake_telegram.wait_for_messages(333, count=2, timeout=10)
    assert "cộng tác viên của Ấp 1" in welcome["text"]
    assert "reply_markup" in menu
    assert [error[1] for error in fake_telegram.api_errors] == [429, 429]

    hurried = fake_telegram.user(id=444, first_name="Dũng")
    hurried.flood(messages=1, retry_after=3600)
    await hurried.send_command("/start", await new_invite(database, Role.COLLABORATOR, "87-MH-A1"))
    await fake_telegram.wait_for_errors(3)  # its first reply refused: not worth an hour's wait
    # The replies after the refused one still go, then the way back to what was lost.
    menu, notice = await fake_telegram.wait_for_messages(444, count=2)
    assert "reply_markup" in menu
    assert notice["text"] == translate("delivery.reply_lost", command="/tiep")
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.users.by_platform_id("telegram", "444") is not None
    await hurried.send_text("/help")
    [reply] = await fake_telegram.wait_for_messages(444)
    assert "/interview" in reply["text"]


async def test_duplicate_delivery_registers_once(
    polling_bot: Application,  # type: ignore[type-arg]
    database: Database,
    fake_telegram: FakeTelegram,
) -> None:
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    user = fake_telegram.user(id=333, first_name="Chi")
    update = await user.send_command("/start", code)
    await fake_telegram.wait_for_messages(333, count=2)
    await fake_telegram.push_update_again(update)
    await user.send_text("/whoami")
    [reply] = await fake_telegram.wait_for_messages(333)
    # The redelivered /start produced nothing: the next message is the /whoami answer.
    assert "Vai trò" in reply["text"]


@POSTGRESQL_ONLY
async def test_an_earlier_update_another_worker_held_applies_first(
    polling_bot: Application,  # type: ignore[type-arg]
    database: Database,
    fake_telegram: FakeTelegram,
) -> None:
    """Another worker stored this person's /start and died before applying it: their next
    message, received here, applies it first (found within its own turn), then itself,
    each once."""
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    user = fake_telegram.user(id=351, first_name="Lan")
    held = text_update(user, 35001, f"/start {code}")
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", [Received("35001", "351", held)])
        await uow.commit()
    sent = await user.send_text("/whoami")
    welcome, _menu, who = await fake_telegram.wait_for_messages(351, count=3)
    assert "cộng tác viên của Ấp 1" in welcome["text"]
    assert "Vai trò: cộng tác viên" in who["text"]
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.inbox.unapplied("telegram") == []
        claimed = await uow.session.scalars(
            select(ProcessedUpdate.update_key).order_by(ProcessedUpdate.processed_at)
        )
        assert list(claimed) == ["35001", str(sent["update_id"])]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(port: int) -> None:
    async with asyncio.timeout(20):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return


def run_env(database: Database, fake: FakeTelegram) -> dict[str, str]:
    """The environment of a `rasoat run` on ``database`` against the fake Bot API."""
    return {**database.env(), "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.base_url}


async def start_rasoat(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE"))}
    full_env.update(env)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        *args,
        env=full_env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop(process: asyncio.subprocess.Process) -> str:
    if process.returncode is None:
        process.terminate()
    output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    return output.decode(errors="replace")


async def test_rasoat_run_polling_registers_a_user(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COMMUNE_STAFF, "87-MH")
    env = run_env(database, fake_telegram)
    process = await start_rasoat(env)
    try:
        await fake_telegram.wait_for_call("deleteWebhook", timeout=20)
        await fake_telegram.user(id=444, first_name="Dung").send_command("/start", code)
        welcome, _menu = await fake_telegram.wait_for_messages(444, count=2, timeout=20)
        assert "cán bộ xã của Xã Mỹ Hòa" in welcome["text"]
    finally:
        output = await stop(process)
    assert TOKEN not in output


async def test_rasoat_run_webhook_checks_the_secret(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A2")
    port = free_port()
    env = run_env(database, fake_telegram)
    url = f"http://127.0.0.1:{port}/hook"
    process = await start_rasoat(
        env,
        "--webhook",
        "--listen=127.0.0.1",
        f"--port={port}",
        "--path=hook",
        "--secret=s3cret-token-value",
        f"--webhook-url={url}",
    )
    try:
        registered = await fake_telegram.wait_for_call("setWebhook", timeout=20)
        assert registered["url"] == url and registered["secret_token"] == "s3cret-token-value"
        await wait_for_port(port)
        user = fake_telegram.user(id=555, first_name="Em")
        update = {
            "update_id": 90001,
            "message": {
                "message_id": 1,
                "date": int(datetime.now(UTC).timestamp()),
                "chat": user.chat(),
                "from": user.as_dict(),
                "text": f"/start {code}",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        assert registered["allowed_updates"] == list(ALLOWED_UPDATES)
        assert registered["max_connections"] == 40
        assert await fake_telegram.deliver_webhook(update, secret="wrong") == 403
        assert await fake_telegram.deliver_webhook(update, secret=None) == 403
        assert await fake_telegram.deliver_webhook(update, secret="s3cret-token-valuE") == 403
        assert fake_telegram.messages_to(555) == []
        assert await inbox_keys(database) == []  # refused before anything was stored
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.text == "ok"
            assert (await client.get("/hook")).status_code == 404
            assert (await client.get("/telegram?token=x")).status_code == 404
            refused = await client.post(
                "/hook",
                content=b"<html>Nguy\xe1\xbb\x85n</html>",
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token-value"},
            )
            assert refused.status_code == 400
        assert await inbox_keys(database) == []
        assert await fake_telegram.deliver_webhook(update) == 200
        welcome, _menu = await fake_telegram.wait_for_messages(555, count=2, timeout=20)
        assert "cộng tác viên của Ấp 2" in welcome["text"]
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert TOKEN not in output and "s3cret-token-value" not in output
    assert "Nguyễn" not in output and "token=x" not in output
    # Other workers may serve the same URL: a stop leaves the webhook set.
    assert fake_telegram.calls("deleteWebhook") == [] and fake_telegram.webhook_url == url


async def inbox_keys(database: Database) -> list[str]:
    async with database.sessions() as session:
        return list((await session.scalars(select(InboxUpdate.update_key))).all())


async def start_webhook(
    database: Database, fake: FakeTelegram, secret: str = "s3cret", **env: str
) -> tuple[asyncio.subprocess.Process, int]:
    """`rasoat run --webhook` on a free port (``env`` added to its environment), once it has
    set its webhook and listens."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    setting = len(fake.calls("setWebhook"))
    process = await start_rasoat(
        run_env(database, fake) | env,
        "--webhook",
        f"--port={port}",
        "--path=hook",
        f"--secret={secret}",
        f"--webhook-url={url}",
    )
    try:
        async with asyncio.timeout(30):
            while len(fake.calls("setWebhook")) <= setting:
                if process.returncode is not None:
                    raise AssertionError(await stop(process))
                await asyncio.sleep(0.05)
        await wait_for_port(port)
    except BaseException:
        print(await stop(process))
        raise
    return process, port


def text_update(user: FakeUser, update_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(datetime.now(UTC).timestamp()),
        "chat": user.chat(),
        "from": user.as_dict(),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


async def test_a_webhook_update_python_telegram_bot_cannot_read(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    """Stored, answered 200 (or Telegram would send it for ever), logged by its id alone,
    and never in anyone's way: not the next update's, not the next start's."""
    secret_name = "Trần Thị Kín Đáo"
    # PTB 22 refuses a poll without its required fields (a TypeError naming none of them).
    poll = {"update_id": 93001, "poll": {"id": "p1", "question": f"Hộ của {secret_name}?"}}
    await seed_areas(database.sessions)
    process, _port = await start_webhook(database, fake_telegram)
    try:
        assert await fake_telegram.deliver_webhook(poll) == 200
        assert await inbox_keys(database) == ["93001"]
        other = fake_telegram.user(id=931, first_name="Hùng")
        assert await fake_telegram.deliver_webhook(text_update(other, 93002, "chào")) == 200
        [reply] = await fake_telegram.wait_for_messages(931, timeout=20)
        assert reply["text"] == translate("registration.unknown_user")
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert "update 93001 could not be read (TypeError)" in output
    assert secret_name not in output and "Kín" not in output
    assert "Traceback" not in output

    # The next start finds it stored and not applied: it is skipped, by id, once.
    process, _port = await start_webhook(database, fake_telegram)
    try:
        another = fake_telegram.user(id=932, first_name="Mai")
        assert await fake_telegram.deliver_webhook(text_update(another, 93003, "chào")) == 200
        [reply] = await fake_telegram.wait_for_messages(932, timeout=20)
        assert reply["text"] == translate("registration.unknown_user")
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert "stored update 93001 could not be read (TypeError)" in output
    assert secret_name not in output and "Kín" not in output
    runtime = await open_runtime(bot_settings(database, fake_telegram))
    try:
        assert await runtime.conversation.unapplied("telegram") == []
    finally:
        await runtime.close()


async def test_a_webhook_answers_a_button_press_in_its_own_answer(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    """No answerCallbackQuery call of its own: the press is answered in the webhook's 200,
    the toast with it, and the replies come as usual."""
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    process, _port = await start_webhook(database, fake_telegram)
    user = fake_telegram.user(id=951, first_name="Thu")
    try:
        await user.send_command("/start", code)
        _welcome, menu = await fake_telegram.wait_for_messages(951, count=2, timeout=20)
        [[first, *_], *_] = menu["reply_markup"]["inline_keyboard"]
        pressed = await user.press(first["callback_data"], menu)
        [reply] = await fake_telegram.wait_for_messages(951, count=1, timeout=20)
        assert reply["text"]
        # Another interview's button, or forged data: told in a toast, in the same way.
        stale = await user.press("a:999999:0", menu, force=True)
        await fake_telegram.wait_for_call("answerCallbackQuery", timeout=20)
        await fake_telegram.wait_for_call("answerCallbackQuery", timeout=20)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert fake_telegram.webhook_answers == ["answerCallbackQuery", "answerCallbackQuery"]
    # Each press stored as received and applied (on PostgreSQL by its turn, in the turn's
    # transaction; on SQLite by the webhook, ahead of the turn in the one writer).
    async with database.sessions() as session:
        rows = await session.execute(
            select(InboxUpdate.update_key, InboxUpdate.payload, InboxUpdate.applied)
        )
        kept = {key: (payload, applied) for key, payload, applied in rows}
    for update in (pressed, stale):
        assert kept[str(update["update_id"])] == (update, True)
    plain, toast = fake_telegram.calls("answerCallbackQuery")
    assert plain == {"callback_query_id": pressed["callback_query"]["id"]}
    assert toast == {
        "callback_query_id": stale["callback_query"]["id"],
        "text": translate("interview.stale"),
    }


async def test_a_webhook_stop_finishes_the_updates_in_hand(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    """SIGTERM right after Telegram's 200: the update is applied and answered before the
    process ends, which it does cleanly."""
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    process, _port = await start_webhook(database, fake_telegram)
    user = fake_telegram.user(id=941, first_name="Tâm")
    update = text_update(user, 94001, f"/start {code}")
    try:
        assert await fake_telegram.deliver_webhook(update) == 200
        process.terminate()
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    welcome, _menu = fake_telegram.messages_to(941)
    assert "cộng tác viên của Ấp 1" in welcome["text"]
    assert "webhook server stopped" in output
