"""Several channels in one process (bot.service): Telegram polling and Zalo Bot by webhook
against their fakes over loopback HTTP, one database, one Conversation, each message sent
on its own taken to its person's platform; and `rasoat run --channel telegram,zalo-bot` as
a process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.registry import CHANNELS, Endpoint
from bot.channels.zalo_bot import PLATFORM as ZALO
from bot.channels.zalo_bot import ZaloBotChannel
from bot.cli import build_parser
from bot.cli_run import channel_plans
from bot.messages import Text
from bot.push import encode
from bot.service import bind, running
from bot.settings import Settings, SettingsError, load_settings
from forms import current_form
from forms.codec import assemble, flatten
from storage.models import Area, Household, Interview, InterviewStatus, Role
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.zalo_bot import TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import seed_areas
from tests.interview_driver import HOUSEHOLD_CODE, Collaborator, scripted_household, seed_household
from tests.surfaces import TelegramSurface, ZaloSurface
from tests.test_interview_e2e import YEAR, register
from tests.test_telegram_e2e import new_invite, start_rasoat, stop
from tests.test_zalo_bot_e2e import free_socket

TELEGRAM_USER = 111
ZALO_USER = "6ede9afa66b88fe6d6a9"
ZALO_HOUSEHOLD = "HH-ZALO"
SECRET = "one-secret-for-the-webhooks"


def both(database: Database, fake_telegram: FakeTelegram, fake_zalo: FakeZaloBot) -> Settings:
    return load_settings(
        **database.env(),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake_telegram.base_url,
        ZALO_BOT_TOKEN=ZALO_TOKEN,
        ZALO_BOT_API_URL=fake_zalo.base_url,
    )


async def interview(collab: Collaborator, code: str) -> None:
    await collab.say("/interview")
    await collab.say(code.lower())
    [pick] = [data for label, data in collab.surface.buttons() if code in label]
    await collab.tap(pick)
    await collab.confirm_roster()
    final = "\n".join(await collab.finish())
    assert f"Đã hoàn thành phỏng vấn hộ {code}" in final


async def stored(database: Database, code: str) -> dict[str, object]:
    async with UnitOfWork(database.sessions) as uow:
        interview = await uow.session.scalar(
            select(Interview).join(Household).where(Household.code == code)
        )
        assert interview is not None and interview.status is InterviewStatus.COMPLETED
        return flatten(assemble(current_form(), await uow.interviews.answers(interview)))


def said(collab: Collaborator) -> dict[str, object]:
    return {key: flatten({"x": value})["x"] for key, value in collab.said.items()}


async def test_a_telegram_and_a_zalo_collaborator_interview_at_once_in_one_process(
    database: Database, fake_telegram: FakeTelegram, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    async with UnitOfWork(database.sessions) as uow:
        village = await uow.areas.by_code("87-MH-A2")
        assert isinstance(village, Area)
        uow.session.add(scripted_household(ZALO_HOUSEHOLD, village.id, YEAR))
        await uow.commit()
    settings = both(database, fake_telegram, fake_zalo)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    plans = [
        (CHANNELS["telegram"], Endpoint(webhook=False, listen="127.0.0.1", port=0, path="t")),
        (
            CHANNELS["zalo-bot"],
            Endpoint(
                webhook=True,
                listen="127.0.0.1",
                port=port,
                path="zalo",
                secret=SECRET,
                url=f"http://127.0.0.1:{port}/zalo",
            ),
        ),
    ]
    async with running(settings, plans, bind(settings, plans)) as service:
        assert fake_zalo.webhook["url"].endswith("/zalo")
        application = service.channels["telegram"]
        channel = service.channels["zalo-bot"]
        assert isinstance(channel, ZaloBotChannel)
        telegram = TelegramSurface(fake_telegram, application, TELEGRAM_USER)  # type: ignore[arg-type]
        zalo = ZaloSurface(fake_zalo, channel, ZALO_USER)
        await register(telegram, database)
        code = await new_invite(database, Role.COLLABORATOR, "87-MH-A2")
        assert any("cộng tác viên của Ấp 2" in r for r in await zalo.type(f"/start {code}"))
        on_telegram = Collaborator(telegram, database.sessions, "telegram", str(TELEGRAM_USER))
        on_zalo = Collaborator(zalo, database.sessions, ZALO, ZALO_USER)

        await asyncio.gather(
            interview(on_telegram, HOUSEHOLD_CODE), interview(on_zalo, ZALO_HOUSEHOLD)
        )

        # Each person's message goes to their own platform (its channel's sender).
        zalo_seen = len(fake_zalo.messages_to(ZALO_USER))
        telegram_seen = len(fake_telegram.messages_to(TELEGRAM_USER))
        async with UnitOfWork(database.sessions) as uow:
            for platform, user_id in (("telegram", str(TELEGRAM_USER)), (ZALO, ZALO_USER)):
                user = await uow.users.by_platform_id(platform, user_id)
                assert user is not None
                now = service.senders[platform].clock.now()
                text = f"Nhắc riêng cho {platform}"
                assert await uow.outbox.enqueue(user.id, encode(Text(text)), text, now, now)
            await uow.commit()
        service.wake()
        # (Nothing waited on this chat before: the first messages sent to it.)
        *_, pushed = await fake_telegram.wait_for_messages(
            TELEGRAM_USER, count=telegram_seen + 1, timeout=10
        )
        assert pushed["text"] == "Nhắc riêng cho telegram"
        received = await fake_zalo.wait_for_to(ZALO_USER, zalo_seen + 1)
        assert received[zalo_seen:] == ["Nhắc riêng cho zalo-bot"]

    for collab, code in ((on_telegram, HOUSEHOLD_CODE), (on_zalo, ZALO_HOUSEHOLD)):
        answers = await stored(database, code)
        assert answers.pop("household_code") == code
        assert {k: v for k, v in answers.items() if k in collab.said} == said(collab)
        assert set(collab.said) <= set(answers)
    # Zalo's answers were typed: several choices as numbers in one message.
    assert any("," in typed and typed.replace(",", "").isdigit() for typed in zalo.typed)


def plans_of(*argv: str, **env: str) -> list[tuple[str, Endpoint]]:
    settings = load_settings(TELEGRAM_BOT_TOKEN=TOKEN, ZALO_BOT_TOKEN=ZALO_TOKEN, **env)
    args = build_parser().parse_args(["run", *argv])
    return [(kind.name, endpoint) for kind, endpoint in channel_plans(settings, args)]


def test_each_channel_has_its_own_options_and_defaults() -> None:
    plans = dict(
        plans_of(
            "--channel",
            "telegram,zalo-bot",
            "--webhook",
            "--secret=shared-secret",
            "--telegram-webhook-url=https://bot.example.vn/telegram",
            "--zalo-bot-webhook-url=https://bot.example.vn/zalo",
            "--zalo-bot-secret=zalo-only-secret",
        )
    )
    assert plans["telegram"] == Endpoint(
        True, "127.0.0.1", 8443, "telegram", "shared-secret", "https://bot.example.vn/telegram"
    )
    assert plans["zalo-bot"] == Endpoint(
        True, "127.0.0.1", 8444, "zalo", "zalo-only-secret", "https://bot.example.vn/zalo"
    )
    # Only Zalo by webhook; Telegram polls, and listens nowhere.
    plans = dict(plans_of("--channel", "telegram,zalo-bot", "--webhook", "zalo-bot"))
    assert not plans["telegram"].webhook and plans["zalo-bot"].webhook
    # One channel keeps the plain options, as before.
    [(name, endpoint)] = plans_of("--webhook", "--port=9000", "--path=hook")
    assert (name, endpoint.port, endpoint.path) == ("telegram", 9000, "hook")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--channel", "telegram,zalo-bot", "--webhook", "--port=9000"), "port 9000"),
        (
            ("--channel", "telegram,zalo-bot", "--webhook", "--webhook-url=https://x.vn/h"),
            "--telegram-webhook-url",
        ),
        (("--channel", "telegram", "--webhook", "zalo-bot"), "--channel"),
    ],
)
def test_options_that_cannot_work_together_are_refused(argv: tuple[str, ...], said: str) -> None:
    with pytest.raises(SettingsError, match=said):
        plans_of(*argv)


def test_an_unknown_channel_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--channel", "telegram,viber"])
    assert "zalo-bot" in capsys.readouterr().err


async def test_rasoat_run_with_two_channels_registers_a_person_on_each(
    database: Database, fake_telegram: FakeTelegram, fake_zalo: FakeZaloBot, tmp_path: Path
) -> None:
    await seed_areas(database.sessions)
    staff = await new_invite(database, Role.COMMUNE_STAFF, "87-MH")
    collaborator = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    with free_socket() as taken:
        port = taken.getsockname()[1]
    env = {
        **database.env(),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake_telegram.base_url,
        "ZALO_BOT_TOKEN": ZALO_TOKEN,
        "ZALO_BOT_API_URL": fake_zalo.base_url,
    }
    process = await start_rasoat(
        env,
        "--channel=telegram,zalo-bot",
        "--webhook=zalo-bot",
        f"--zalo-bot-port={port}",
        f"--zalo-bot-secret={SECRET}",
        f"--zalo-bot-webhook-url=http://127.0.0.1:{port}/zalo",
    )
    try:
        await fake_telegram.wait_for_call("deleteWebhook", timeout=30)
        await asyncio.wait_for(fake_zalo.webhook_set.wait(), 30)
        await fake_telegram.user(id=444, first_name="Dung").send_command("/start", staff)
        assert await fake_zalo.post(fake_zalo.event(ZALO_USER, f"/start {collaborator}")) == 200
        [welcome, _menu] = await fake_telegram.wait_for_messages(444, count=2, timeout=20)
        [zalo_welcome, *_] = await fake_zalo.wait_for_to(ZALO_USER, 2, seconds=20)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert "cán bộ xã của Xã Mỹ Hòa" in welcome["text"]
    assert "cộng tác viên của Ấp 1" in zalo_welcome
    assert TOKEN not in output and ZALO_TOKEN not in output and "Dung" not in output
