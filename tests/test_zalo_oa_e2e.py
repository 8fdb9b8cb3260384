"""The real Zalo Official Account channel (`serve_zalo_oa`, as `rasoat run --channel
zalo-oa` runs it) against the fake OA over loopback HTTP: signed webhook events, a whole
household, buttons, files, the chart, the outbox through the interaction window, forged
events, and the token's refresh (due, -216, lost, refused, across restarts)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.admin import create_invites
from bot.channels.zalo_oa import PLATFORM, ZaloOaChannel
from bot.channels.zalo_oa_tokens import set_tokens
from bot.channels.zalo_oa_webhook import serve_zalo_oa
from bot.demo.loader import load_demo
from bot.messages import Text
from bot.push import encode
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import InboxUpdate, OutboxMessage, Role
from storage.outbox import WINDOW_CLOSED
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, OA_SECRET, FakeZaloOa
from tests.helpers import seed_areas
from tests.interview_driver import Collaborator, Surface, seed_household
from tests.surfaces import OaSurface
from tests.test_interview_e2e import check_stored_answers, interview_scenario, register
from tests.test_settings_and_cli import rasoat

YEAR = datetime.now(UTC).year
USER = "6142494823556912345"
SUPERVISOR = "7142494823556900001"


class MovableClock:
    """The token keeper's, the webhook's and the fake's time: the real time moved on by
    the test (never slept on). Events are stamped with it, and a message stamped before
    the question it answers reached the phone would not be taken as its answer."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def move(self, delta: timedelta) -> None:
        self.ahead += delta


def oa_settings(database: Database, fake: FakeZaloOa) -> Settings:
    return load_settings(
        **database.env(),
        ZALO_OA_APP_ID=APP_ID,
        ZALO_OA_APP_SECRET=APP_SECRET,
        ZALO_OA_SECRET_KEY=OA_SECRET,
        ZALO_OA_API_URL=fake.base_url,
        ZALO_OA_OAUTH_URL=fake.base_url,
    )


async def given_tokens(database: Database, fake: FakeZaloOa) -> tuple[str, str]:
    """A pair from the fake's "console", stored as `rasoat zalo-oa tokens set` does."""
    access, refresh = fake.issue()
    await set_tokens(database.sessions, refresh, access, 90000, now=fake.clock())
    return access, refresh


@asynccontextmanager
async def oa_bot(
    settings: Settings, fake: FakeZaloOa, clock: MovableClock
) -> AsyncIterator[ZaloOaChannel]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    fake.webhook_url = f"http://127.0.0.1:{sock.getsockname()[1]}/zalo-oa"
    stop = asyncio.Event()
    ready: asyncio.Future[ZaloOaChannel] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        serve_zalo_oa(
            settings, sock, path="/zalo-oa", stop=stop, clock=clock, ready=ready.set_result
        )
    )
    try:
        waiting: set[asyncio.Future[object]] = {serving, ready}  # type: ignore[arg-type]
        done, _ = await asyncio.wait(waiting, timeout=20, return_when="FIRST_COMPLETED")
        assert ready in done, serving.result() if serving.done() else "not ready"
        yield ready.result()
    finally:
        stop.set()
        await serving


async def stored_events(database: Database) -> int:
    async with UnitOfWork(database.sessions) as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(InboxUpdate).where(InboxUpdate.platform == PLATFORM)
        )
    return int(count or 0)


async def current_refresh_token(database: Database) -> str:
    async with UnitOfWork(database.sessions) as uow:
        token = await uow.zalo_oa_tokens.current()
    assert token is not None
    return token.refresh_token


async def test_full_interview_over_the_oa_with_a_refresh_and_a_restart_between(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    clock = MovableClock()
    fake_oa.clock = clock
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    _, first_refresh = await given_tokens(database, fake_oa)
    settings = oa_settings(database, fake_oa)
    bots = [oa_bot(settings, fake_oa, clock)]
    surface = OaSurface(fake_oa, await bots[0].__aenter__(), USER)
    await register(surface, database)
    collab = Collaborator(surface, database.sessions, PLATFORM, USER)

    async def restart() -> Surface:
        await bots[-1].__aexit__(None, None, None)
        # 14 hours on: the access token has 11 of its 25 left, due for a refresh.
        clock.move(timedelta(hours=14))
        bots.append(oa_bot(settings, fake_oa, clock))
        surface.attach(await bots[-1].__aenter__())
        return surface

    try:
        await interview_scenario(collab, restart)
        # Refreshed once, in the middle of the interview, with the pair set at the start.
        assert fake_oa.refreshes == [(first_refresh, True)]
        second_refresh = await current_refresh_token(database)
        assert second_refresh != first_refresh
    finally:
        await bots[-1].__aexit__(None, None, None)
    await check_stored_answers(database, collab)
    # Single answers were tapped as buttons; several typed together ("1,3").
    assert len(surface.taps) > 10 and all(not tap.startswith("t:") for tap in surface.taps)
    assert any(re.fullmatch(r"\d+(,\d+)+", typed) for typed in surface.typed), surface.typed

    # A restart between refreshes: the new process refreshes with the stored pair (the
    # first refresh token is spent: Zalo would refuse it).
    clock.move(timedelta(hours=14))
    async with oa_bot(settings, fake_oa, clock) as channel:
        surface.attach(channel)
        [who] = await surface.type("/whoami")
        assert "Vai trò" in who
    assert fake_oa.refreshes == [(first_refresh, True), (second_refresh, True)]


async def test_summary_chart_report_file_and_a_workbook_it_cannot_send(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    clock = MovableClock()
    fake_oa.clock = clock
    settings = oa_settings(database, fake_oa)
    # The demo commune: three villages interviewed, figures for a chart.
    invites = await load_demo(
        database.sessions, INVITE_KEY, settings.review_dates, datetime.now(UTC)
    )
    await given_tokens(database, fake_oa)
    fake_oa.names[SUPERVISOR] = "Trần Văn Giám"
    async with oa_bot(settings, fake_oa, clock) as channel:
        surface = OaSurface(fake_oa, channel, SUPERVISOR)
        code = invites[Role.SUPERVISOR].code
        assert any("giám sát" in r for r in await surface.type(f"/start {code}"))
        summary = await surface.type("/summary")
        assert "[image]" in summary, summary
        report = await surface.type("/report")
        assert any(r.startswith("[file ") and r.endswith(".docx]") for r in report), report
        export = await surface.type("/export")
        assert any("Zalo OA chỉ nhận tệp PDF và Word" in r for r in export), export
    kinds = sorted(kind for kind, _, _ in fake_oa.uploads.values())
    assert kinds == ["file", "image"]
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id(PLATFORM, SUPERVISOR)
        # The name Zalo shows, read from the OA's user/detail at registration.
        assert user is not None and user.display_name == "Trần Văn Giám"


async def collaborator_invited(database: Database, fake: FakeZaloOa) -> tuple[MovableClock, str]:
    """The fake on a clock the test moves, the areas, the OA's tokens stored, and the
    registration a collaborator of Ấp 1 types: the clock and that text."""
    clock = MovableClock()
    fake.clock = clock
    await seed_areas(database.sessions)
    await given_tokens(database, fake)
    [invite] = await create_invites(
        database.sessions, Role.COLLABORATOR, "87-MH-A1", days=1, key=INVITE_KEY
    )
    return clock, f"/start {invite.code}"


async def test_forged_stale_and_replayed_events_change_nothing(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    clock, text = await collaborator_invited(database, fake_oa)
    async with oa_bot(oa_settings(database, fake_oa), fake_oa, clock) as channel:
        assert await fake_oa.post(fake_oa.event(USER, text), secret="not-the-oa-key") == 401
        stale = fake_oa.event(USER, text, at=clock() - timedelta(minutes=6))
        assert await fake_oa.post(stale) == 401
        ahead = fake_oa.event(USER, text, at=clock() + timedelta(minutes=6))
        assert await fake_oa.post(ahead) == 401
        other_app = fake_oa.event(USER, text) | {"app_id": "1111111111111111111"}
        assert await fake_oa.post(other_app) == 401
        event = fake_oa.event(USER, text)
        assert await fake_oa.post(event, raw=b"{not json") == 401
        assert await stored_events(database) == 0 and fake_oa.sent == []

        surface = OaSurface(fake_oa, channel, USER)
        first = await surface.send_event(event)
        assert any("cộng tác viên của Ấp 1" in reply for reply in first)
        # Zalo posting the same event again: 200, stored once, applied once.
        surface.applied.pop(event["message"]["msg_id"])
        assert await surface.send_event(event) == []
    assert await stored_events(database) == 1


async def test_an_invalid_token_is_refreshed_and_the_call_made_once_more(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    clock = MovableClock()
    fake_oa.clock = clock
    await given_tokens(database, fake_oa)
    async with oa_bot(oa_settings(database, fake_oa), fake_oa, clock) as channel:
        surface = OaSurface(fake_oa, channel, USER)
        fake_oa.expire_all()  # Zalo stopped taking it before its time.
        assert await surface.type("xin chào") == [translate("registration.unknown_user")]
        # 429 twice: waited out (1 s, 2 s: the channel asks, nothing sleeps long).
        fake_oa.fail("message", 429, 429)
        assert await surface.type("xin chào") == [translate("registration.unknown_user")]
    assert [ok for _, ok in fake_oa.refreshes] == [True]
    assert ("message", -216) in fake_oa.errors
    assert fake_oa.errors.count(("message", 429)) == 2


async def test_a_refresh_zalo_spent_but_rasoat_never_stored_is_told_to_the_operator(
    database: Database, fake_oa: FakeZaloOa, tmp_path: Path
) -> None:
    """The crash between Zalo's answer and the store, as the OA API allows it to end: the
    stored refresh token is spent, the old access token still serves until it expires, and
    the operator is told to set a new pair, which then works."""
    clock = MovableClock()
    fake_oa.clock = clock
    await given_tokens(database, fake_oa)
    settings = oa_settings(database, fake_oa)
    # Zalo down at the first try (the token not spent): nothing lost, tried again later.
    fake_oa.fail("refresh", 503)
    clock.move(timedelta(hours=14))
    async with oa_bot(settings, fake_oa, clock) as channel:
        surface = OaSurface(fake_oa, channel, USER)
        assert await surface.type("a") == [translate("registration.unknown_user")]
        assert fake_oa.refreshes == []
        # Zalo spends the token and its answer is lost (the process "died" there).
        fake_oa.lose_refresh_answer = True
        clock.move(timedelta(minutes=2))
        assert await surface.type("b") == [translate("registration.unknown_user")]
        fake_oa.lose_refresh_answer = False
        clock.move(timedelta(minutes=2))
        # The stored refresh token is spent: refused, recorded; the old access token serves.
        assert await surface.type("c") == [translate("registration.unknown_user")]
    assert [ok for _, ok in fake_oa.refreshes] == [True, False]
    env = {
        **database.env(),
        "ZALO_OA_APP_ID": APP_ID,
        "ZALO_OA_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": OA_SECRET,
    }
    status = rasoat("zalo-oa", "tokens", "status", env=env, cwd=tmp_path)
    assert status.returncode == 1 and "Zalo đã từ chối refresh token" in status.stdout
    # The operator sets a new pair from Zalo's console.
    access, refresh = fake_oa.issue()
    done = rasoat(
        "zalo-oa",
        "tokens",
        "set",
        # With '=': a token may begin with '-', which argparse would take for an option.
        f"--refresh-token={refresh}",
        f"--access-token={access}",
        "--expires-in",
        "90000",
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and refresh not in done.stdout
    assert rasoat("zalo-oa", "tokens", "status", env=env, cwd=tmp_path).returncode == 0
    assert await current_refresh_token(database) == refresh


async def test_a_reminder_past_the_window_waits_the_supervisor_is_told_and_it_goes_later(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    clock = MovableClock()
    fake_oa.clock = clock
    await seed_areas(database.sessions)
    await given_tokens(database, fake_oa)
    codes = {}
    for role, area in ((Role.COLLABORATOR, "87-MH-A1"), (Role.SUPERVISOR, "87-MH")):
        [invite] = await create_invites(database.sessions, role, area, days=1, key=INVITE_KEY)
        codes[role] = invite.code
    async with oa_bot(oa_settings(database, fake_oa), fake_oa, clock) as channel:
        collaborator = OaSurface(fake_oa, channel, USER)
        supervisor = OaSurface(fake_oa, channel, SUPERVISOR)
        await collaborator.type(f"/start {codes[Role.COLLABORATOR]}")
        await supervisor.type(f"/start {codes[Role.SUPERVISOR]}")
        fake_oa.silence(USER)
        async with UnitOfWork(database.sessions) as uow:
            user = await uow.users.by_platform_id(PLATFORM, USER)
            assert user is not None
            now = datetime.now(UTC)
            for n in (1, 2):
                message = encode(Text(f"Nhắc việc {n}"))
                await uow.outbox.enqueue(user.id, message, f"test:{n}", now, now)
            await uow.commit()
        assert channel.outbox is not None
        channel.outbox.wake()
        note = translate("outbox.window_note", name="Người dùng Zalo", areas="Ấp 1")
        await fake_oa.wait_for(lambda: note in fake_oa.messages_to(SUPERVISOR))
        async with UnitOfWork(database.sessions) as uow:
            failures = await uow.session.scalars(
                select(OutboxMessage.failure).where(OutboxMessage.user_id == user.id)
            )
            assert list(failures) == [WINDOW_CLOSED, WINDOW_CLOSED]
        # Told once for the silence, not for each reminder.
        assert fake_oa.messages_to(SUPERVISOR).count(note) == 1
        # The collaborator writes: asked to write more often, and the reminders follow.
        replies = await collaborator.type("/whoami")
        assert replies[0] == translate("zalo_oa.window_reopened", count=2)
        await fake_oa.wait_for(lambda: "Nhắc việc 2" in fake_oa.messages_to(USER))
    assert fake_oa.messages_to(USER).count("Nhắc việc 1") == 1


def test_rasoat_run_zalo_oa_says_what_is_missing(tmp_path: Path) -> None:
    env = {"ZALO_OA_APP_ID": APP_ID, "ZALO_OA_APP_SECRET": "", "ZALO_OA_SECRET_KEY": OA_SECRET}
    result = rasoat("run", "--channel", "zalo-oa", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "ZALO_OA_APP_SECRET" in result.stderr and OA_SECRET not in result.stderr
    env["ZALO_OA_APP_SECRET"] = APP_SECRET
    result = rasoat("run", "--channel", "zalo-oa", "--port", "0", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "rasoat zalo-oa tokens set" in result.stderr and "Traceback" not in result.stderr
