"""The real Zalo Bot channel against the fake Bot Platform over loopback HTTP: polling and
webhook, registration by a typed code, a whole household, duplicates, 429, forged posts."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import func, select

from bot.admin import create_invites
from bot.channels.zalo_bot import PLATFORM, ZaloBotChannel, open_channel
from bot.channels.zalo_webhook import serve_zalo_webhook
from bot.messages import Incoming, Kind, Text
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import InboxUpdate, Role
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.fakes.zalo_bot import TOKEN, FakeZaloBot
from tests.helpers import seed_areas
from tests.interview_driver import seed_household
from tests.surfaces import ZaloSurface
from tests.test_interview_e2e import interview_with_a_restart
from tests.test_settings_and_cli import rasoat
from tests.test_telegram_e2e import start_rasoat
from tests.test_telegram_e2e import stop as stop_rasoat

YEAR = datetime.now(UTC).year
USER = "6ede9afa66b88fe6d6a9"
SECRET = "zalo-webhook-secret"


def zalo_settings(database: Database, fake: FakeZaloBot) -> Settings:
    return load_settings(**database.env(), ZALO_BOT_TOKEN=TOKEN, ZALO_BOT_API_URL=fake.base_url)


class Waits:
    """The waits the channel asks for (a controllable clock: nothing is slept)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@asynccontextmanager
async def polling(settings: Settings, waits: Waits | None = None) -> AsyncIterator[ZaloBotChannel]:
    """The channel polling the fake, as `rasoat run --channel zalo-bot` runs it."""
    stop = asyncio.Event()
    async with open_channel(settings, sleep=waits or Waits()) as channel:
        await channel.api.call("deleteWebhook", {})
        task = asyncio.create_task(channel.poll(stop, seconds=1))
        try:
            yield channel
        finally:
            stop.set()
            await task


async def new_invite(database: Database, role: Role, area: str) -> str:
    [created] = await create_invites(database.sessions, role, area, days=7, key=INVITE_KEY)
    return created.code


async def stored_updates(database: Database) -> int:
    async with UnitOfWork(database.sessions) as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(InboxUpdate).where(InboxUpdate.platform == PLATFORM)
        )
    return int(count or 0)


async def test_registration_by_typed_code_and_summary_as_text(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    async with polling(zalo_settings(database, fake_zalo)) as channel:
        surface = ZaloSurface(fake_zalo, channel, USER)
        assert await surface.type("xin chào") == [translate("registration.unknown_user")]
        code = await new_invite(database, Role.SUPERVISOR, "87-MH")
        replies = await surface.type(f"/start {code}")
        assert any("giám sát" in reply for reply in replies), replies
        # The menu is a numbered list: typing its key runs the command behind it.
        assert surface.buttons(), replies
        [data] = [d for _, d in surface.buttons() if d == "cmd:whoami"]
        [who] = await surface.press(data)
        assert "Vai trò" in who
        summary = "\n".join(await surface.type("/summary"))
        assert summary.strip()
        # Text only: Zalo Bot takes no files, and the chart's text says it all.
        assert [method for method, _ in fake_zalo.calls if method.startswith("sendP")] == []
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.users.by_platform_id(PLATFORM, USER) is not None


async def test_a_key_typed_after_a_restart_picks_what_was_shown(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    settings = zalo_settings(database, fake_zalo)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    async with polling(settings) as channel:
        surface = ZaloSurface(fake_zalo, channel, USER)
        await surface.type(f"/start {code}")
        key = surface.key_for("cmd:whoami")
    # A new process: nothing of the list in memory, the key still names the same choice.
    async with polling(settings) as channel:
        surface.attach(channel)
        [who] = await surface.type(key)
        assert "Vai trò" in who
        # A reply without a list: the key names nothing now, and is read as text.
        assert channel.lists[USER].keys == {}


async def test_full_interview_over_zalo(database: Database, fake_zalo: FakeZaloBot) -> None:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    surface = await interview_with_a_restart(
        database,
        partial(polling, zalo_settings(database, fake_zalo)),
        partial(ZaloSurface, fake_zalo, user_id=USER),
        PLATFORM,
        USER,
    )
    # Several answers were typed in one message, as the prompt says.
    assert any(re.fullmatch(r"\d+(,\d+)+", typed) for typed in surface.typed), surface.typed


async def test_a_duplicated_event_is_applied_once(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    async with polling(zalo_settings(database, fake_zalo)) as channel:
        surface = ZaloSurface(fake_zalo, channel, USER)
        event = fake_zalo.event(
            USER, f"/start {await new_invite(database, Role.COLLABORATOR, '87-MH-A1')}"
        )
        first = await surface.send_event(event)
        assert any("cộng tác viên của Ấp 1" in reply for reply in first)
        surface.applied.pop(event["message"]["message_id"])
        assert await surface.send_event(event) == []
        [who] = await surface.type("/whoami")
        assert "Vai trò" in who
    # The duplicate was stored once too.
    assert await stored_updates(database) == 2


async def test_rate_limit_is_waited_out_then_sent(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    waits = Waits()
    fake_zalo.fail("sendMessage", 429, 429)
    async with polling(zalo_settings(database, fake_zalo), waits) as channel:
        surface = ZaloSurface(fake_zalo, channel, USER)
        assert await surface.type("xin chào") == [translate("registration.unknown_user")]
    assert fake_zalo.errors == [("sendMessage", 429), ("sendMessage", 429)]
    assert waits.asked == [1.0, 2.0]


async def test_polling_survives_empty_polls_and_zalo_errors(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    # 408 is "nothing came"; a 403 (Zalo's internal error) is retried after a wait.
    fake_zalo.fail("getUpdates", 408, 403)
    waits = Waits()
    async with polling(zalo_settings(database, fake_zalo), waits) as channel:
        surface = ZaloSurface(fake_zalo, channel, USER)
        assert await surface.type("xin chào") == [translate("registration.unknown_user")]
    assert ("getUpdates", 403) in fake_zalo.errors
    assert waits.asked == [1.0]  # 408 is no error: no wait


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def test_webhook_takes_wrapped_and_flat_bodies_and_refuses_forgeries(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    settings = zalo_settings(database, fake_zalo)
    sock = free_socket()
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve_zalo_webhook(
            settings,
            sock,
            path="/zalo",
            secret=SECRET,
            url=f"http://127.0.0.1:{port}/zalo",
            stop=stop,
        )
    )
    try:
        await asyncio.wait_for(fake_zalo.webhook_set.wait(), 15)
        code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
        forged = fake_zalo.event(USER, f"/start {code}")
        assert await fake_zalo.post(forged, secret="not-the-secret") == 401
        assert await stored_updates(database) == 0

        wrapped = fake_zalo.event(USER, f"/start {code}")
        assert await fake_zalo.post(wrapped, wrapped=True) == 200
        await fake_zalo.wait_for_sent(2)
        # The same event again (Zalo retrying): stored and applied once.
        assert await fake_zalo.post(wrapped, wrapped=False) == 200
        flat = fake_zalo.event(USER, "/whoami")
        assert await fake_zalo.post(flat, wrapped=False) == 200
        await fake_zalo.wait_for_sent(3)
    finally:
        stop.set()
        await serving
    texts = fake_zalo.messages_to(USER)
    assert any("cộng tác viên của Ấp 1" in t for t in texts[:2])
    assert "Vai trò" in texts[2] and len(texts) == 3
    assert await stored_updates(database) == 2
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.users.by_platform_id(PLATFORM, USER) is not None


async def test_rasoat_run_channel_zalo_bot_registers_a_user(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COMMUNE_STAFF, "87-MH")
    env = {**database.env(), "ZALO_BOT_TOKEN": TOKEN, "ZALO_BOT_API_URL": fake_zalo.base_url}
    process = await start_rasoat(env, "--channel", "zalo-bot")
    try:
        await asyncio.wait_for(fake_zalo.webhook_deleted.wait(), 20)
        await fake_zalo.send(fake_zalo.event(USER, f"/start {code}", name="Dung"))
        await fake_zalo.wait_for_sent(2, seconds=20)
    finally:
        output = await stop_rasoat(process)
    assert process.returncode == 0, output
    assert "cán bộ xã của Xã Mỹ Hòa" in fake_zalo.messages_to(USER)[0]
    assert TOKEN not in output and "Dung" not in output


async def test_a_long_text_goes_in_pieces_cut_between_lines(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    lines = [
        f"{n}. Hộ ông Nguyễn Văn {n} 😀 — thu nhập 1.200.000 đồng/người/tháng" for n in range(200)
    ]
    async with polling(zalo_settings(database, fake_zalo)) as channel:
        incoming = Incoming(PLATFORM, USER, USER, "Hoa", Kind.TEXT, update_key="x")
        assert await channel.deliver(incoming, [Text("\n".join(lines))]) == []
    pieces = fake_zalo.messages_to(USER)
    assert len(pieces) > 1
    # Each fits (the fake refuses a text over 2,000 UTF-16 units), and no line was cut.
    assert [line for piece in pieces for line in piece.split("\n")] == lines


async def test_zalos_403_is_a_lost_reply_not_a_blocked_user(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    fake_zalo.fail("sendMessage", 403)
    async with polling(zalo_settings(database, fake_zalo)) as channel:
        surface = ZaloSurface(fake_zalo, channel, USER)
        [notice] = await surface.type("xin chào")
        assert notice.startswith(translate("delivery.reply_lost", command="/tiep"))
        # Not retried, and the person is still answered next time.
        assert fake_zalo.errors == [("sendMessage", 403)]
        assert await surface.type("xin chào") == [translate("registration.unknown_user")]


def test_rasoat_run_zalo_bot_says_what_is_missing(tmp_path: Path) -> None:
    result = rasoat("run", "--channel", "zalo-bot", env={"ZALO_BOT_TOKEN": ""}, cwd=tmp_path)
    assert result.returncode == 2
    assert "ZALO_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr
    env = {"ZALO_BOT_TOKEN": TOKEN}
    result = rasoat(
        "run", "--channel", "zalo-bot", "--webhook", "--secret", "short", env=env, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "WEBHOOK_SECRET" in result.stderr and TOKEN not in result.stderr
