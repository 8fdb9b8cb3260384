"""One person on two channels, end to end: the real Telegram application and the real Zalo
Bot channel in one process, on one database, over loopback HTTP to the fake Bot API and the
fake Bot Platform. A collaborator registers on Telegram, links Zalo, starts a household on
Telegram and finishes it on Zalo; the stored answers are the household's, and a reminder
from the outbox reaches them on Zalo, the channel they used last."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from telegram.ext import Application

from bot.channels.zalo_bot import ZaloBotChannel, open_channel
from bot.channels.zalo_push import ZaloBotPush
from bot.outbox import OutboxSender
from bot.reminders import ReminderScheduler
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings, load_settings
from forms import FieldType, current_form
from forms.codec import assemble, flatten
from locales.catalog import translate
from storage.models import Answer, Interview, InterviewStatus, Meeting, MeetingStatus, OutboxMessage
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.fakes.telegram import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo_bot import TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import seed_areas
from tests.interview_driver import HOUSEHOLD_CODE, Collaborator, at_field, seed_household
from tests.surfaces import TelegramSurface, ZaloSurface, telegram_bot
from tests.test_interview_e2e import open_household, register
from tests.test_outbox import VirtualAlarm, VirtualClock

YEAR = datetime.now(UTC).year
TELEGRAM_USER = 777
ZALO_USER = "6ede9afa66b88fe6d6a9"
CODE = re.compile(r"/lienket ([A-Z0-9]{8})")


@dataclass
class Process:
    runtime: Runtime
    telegram: Application  # type: ignore[type-arg]
    zalo: ZaloBotChannel


@asynccontextmanager
async def both_channels(settings: Settings) -> AsyncIterator[Process]:
    """Telegram polling and Zalo Bot polling in one process, on one runtime (one
    Conversation: on SQLite, one writer)."""
    runtime = await open_runtime(settings)
    try:
        async with (
            telegram_bot(settings, runtime) as application,
            open_channel(settings, runtime) as zalo,
        ):
            await zalo.api.call("deleteWebhook", {})
            stop = asyncio.Event()
            polling = asyncio.create_task(zalo.poll(stop, seconds=1))
            try:
                yield Process(runtime, application, zalo)
            finally:
                stop.set()
                await polling
    finally:
        await runtime.close()


def joined(replies: list[str]) -> str:
    return "\n".join(replies)


async def test_a_household_started_on_telegram_is_finished_on_zalo_and_reminders_follow(
    database: Database, fake_telegram: FakeTelegram, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    household_id = await seed_household(database.sessions, YEAR)
    settings = load_settings(
        **database.env(),
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_API_URL=fake_telegram.base_url,
        ZALO_BOT_TOKEN=ZALO_TOKEN,
        ZALO_BOT_API_URL=fake_zalo.base_url,
    )
    async with both_channels(settings) as process:
        telegram = TelegramSurface(fake_telegram, process.telegram, TELEGRAM_USER)
        zalo = ZaloSurface(fake_zalo, process.zalo, ZALO_USER)

        # Registered on Telegram with an invite; a link code asked there, typed on Zalo.
        await register(telegram, database)
        [offered] = await telegram.type("/lienket")
        found = CODE.search(offered)
        assert found is not None, offered
        linked = joined(await zalo.type(f"/lienket {found.group(1)}"))
        assert "🔗 Đã liên kết: tài khoản Zalo này giờ là của Hoa (cộng tác viên)" in linked
        [who] = await zalo.type("/whoami")
        assert "Kênh đã liên kết: Telegram, Zalo" in who and "Ấp 1" in who

        # The household started on Telegram: roster confirmed, the first answers given.
        collab = Collaborator(telegram, database.sessions, "telegram", str(TELEGRAM_USER))
        roster = joined(await open_household(collab))
        assert "Danh sách có 5 nhân khẩu" in roster
        await collab.confirm_roster()
        await collab.answer_until(at_field("floor_area_m2"))
        step = (await collab.current() or (0,))[0]

        # On Zalo: what is typed first is not taken for the question Telegram showed; the
        # question comes on Zalo, and is answered there.
        collab.surface = zalo
        collab.platform, collab.user_id = "zalo-bot", ZALO_USER
        retyped = await collab.say("36")
        assert retyped[0] == translate("delivery.shown_again")
        assert "Tổng diện tích ở" in joined(retyped)
        assert (await collab.current() or (0,))[0] == step
        final = joined(await collab.finish())
        assert f"Đã hoàn thành phỏng vấn hộ {HOUSEHOLD_CODE}" in final
        assert "Hộ nghèo — thu nhập 1.200.000 đồng/người/tháng" in final

        person = await stored_answers_are_the_households(database, household_id, collab)

        # A policy dialogue of the village: its reminder goes to Zalo, used last.
        before_telegram = len(fake_telegram.messages_to(TELEGRAM_USER))
        before_zalo = len(fake_zalo.messages_to(ZALO_USER))
        starts_at = await schedule_meeting(database)
        clock = VirtualClock()
        clock.moment = starts_at - timedelta(days=3)
        sender = OutboxSender(
            process.runtime.sessions,
            ZaloBotPush(process.zalo),
            write=process.runtime.conversation.write,
            clock=clock,
            alarm=VirtualAlarm(clock),
            worker="zalo",
        )
        reminders = ReminderScheduler(
            process.runtime.conversation.write,
            settings,
            wake=sender.wake,
            clock=clock,
            alarm=VirtualAlarm(clock),
        )
        assert await reminders.sweep() == 1
        assert await sender.send_due() == 1
        [reminder] = fake_zalo.messages_to(ZALO_USER)[before_zalo:]
        assert "Hội trường UBND xã" in reminder and f"1. Đã mời: {HOUSEHOLD_CODE}" in reminder
        async with UnitOfWork(database.sessions) as uow:
            [row] = await uow.session.scalars(select(OutboxMessage))
            assert (row.user_id, row.platform, row.chat_id) == (person, "zalo-bot", ZALO_USER)
            assert row.sent_at is not None
        # Its list is the one shown on Zalo now: typing its number marks the household.
        zalo.seen = len(fake_zalo.messages_to(ZALO_USER))
        [done] = await zalo.type("1")
        assert done == translate("meetings.invited_ok", code=HOUSEHOLD_CODE)
    assert len(fake_telegram.messages_to(TELEGRAM_USER)) == before_telegram


async def stored_answers_are_the_households(
    database: Database, household_id: int, collab: Collaborator
) -> int:
    """The interview of the household is complete, by the linked person, with every
    answer the collaborator gave on either channel; the person's id."""
    form = current_form()
    async with UnitOfWork(database.sessions) as uow:
        person = await uow.users.by_platform_id("zalo-bot", ZALO_USER)
        assert person is not None
        person_id = person.id
        assert person is await uow.users.by_platform_id("telegram", str(TELEGRAM_USER))
        [interview] = await uow.session.scalars(select(Interview))
        assert interview.household_id == household_id
        assert interview.status is InterviewStatus.COMPLETED
        assert interview.collaborator_id == person_id
        stored = flatten(assemble(form, await uow.interviews.answers(interview)))
        authors = set(await uow.session.scalars(select(Answer.answered_by)))
        assert authors == {person_id}
    assert stored.pop("household_code") == HOUSEHOLD_CODE
    said = {key: flatten({"x": value})["x"] for key, value in collab.said.items()}
    for key, value in said.items():
        assert stored.get(key) == value, (key, stored.get(key), value)
    asked = {
        key for key in stored if form.fields[key.split("/")[-1]].type is not FieldType.CALCULATE
    }
    assert asked == set(said), sorted(asked ^ set(said))
    return person_id


async def schedule_meeting(database: Database) -> datetime:
    """A dialogue ten days ahead for the poor households of Ấp 1, as /doithoai stores one."""
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    starts_at = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    async with UnitOfWork(database.sessions) as uow:
        commune = await uow.areas.by_code("87-MH")
        village = await uow.areas.by_code("87-MH-A1")
        assert commune is not None and village is not None
        await uow.run(
            lambda work: work.meetings.add(
                Meeting(
                    area_id=commune.id,
                    review_year=YEAR,
                    starts_at=starts_at,
                    place="Hội trường UBND xã",
                    categories=["poor"],
                    support_groups=[],
                    status=MeetingStatus.SCHEDULED,
                    reminders_done=[],
                ),
                [village.id],
            )
        )
        await uow.commit()
    return starts_at
