"""The real bot against the fake Bot API over loopback HTTP: in-process and as `rasoat run`."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.admin import create_invites
from bot.channels.telegram import ALLOWED_UPDATES, build_application
from bot.i18n import translate
from bot.runtime import open_runtime
from bot.settings import Settings, load_settings
from storage.models import Role
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.fakes.telegram import TOKEN, FakeTelegram
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
        assert await fake_telegram.deliver_webhook(update, secret="wrong") == 403
        assert await fake_telegram.deliver_webhook(update, secret=None) == 403
        assert fake_telegram.messages_to(555) == []
        assert await fake_telegram.deliver_webhook(update) == 200
        welcome, _menu = await fake_telegram.wait_for_messages(555, count=2, timeout=20)
        assert "cộng tác viên của Ấp 2" in welcome["text"]
    finally:
        output = await stop(process)
    assert TOKEN not in output and "s3cret-token-value" not in output
