"""The reminders reach people through the outbox: the sweeps (``bot.reminders``) write them
through the Conversation's own writer, the sender pushes them through the fake Bot API, on a
clock the test moves; a restart sends nothing twice. Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram.ext import Application

from bot.channels.telegram import ALLOWED_UPDATES, TelegramPush, build_application
from bot.outbox import OutboxSender
from bot.reminders import ReminderScheduler
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from classification import rules_for
from classification.followup import no_capacity_group
from storage.models import (
    MeetingInvitation,
    OutboxMessage,
    Role,
    SupportContact,
)
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.fakes.telegram import FakeTelegram, Json
from tests.helpers import add_poor_households, assign, seed_areas
from tests.test_outbox import VirtualAlarm, VirtualClock
from tests.test_telegram_e2e import bot_settings, new_invite

VN_OFFSET = timedelta(hours=7)
SUPERVISOR, COLLABORATOR, OFFICER = 111, 222, 333


@dataclass
class Bot:
    application: Application  # type: ignore[type-arg]
    runtime: Runtime
    settings: Settings


@pytest.fixture
async def bot(database: Database, fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    """The real application polling the fake, and the runtime it writes through."""
    await seed_areas(database.sessions)
    settings = bot_settings(database, fake_telegram, RASOAT_FOLLOWUP_INTERVAL_DAYS="30")
    runtime = await open_runtime(settings)
    application = build_application(settings, runtime)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=list(ALLOWED_UPDATES)
        )
        yield Bot(application, runtime, settings)
        await application.updater.stop()
        await application.stop()
    await runtime.close()


def process(bot: Bot, clock: VirtualClock, name: str) -> tuple[ReminderScheduler, OutboxSender]:
    """What `rasoat run` starts (bot.service.running: the sender and the sweeps), on
    the test's clock: a fresh pair stands for a restarted process."""
    sender = OutboxSender(
        bot.runtime.sessions,
        TelegramPush(bot.application.bot),
        write=bot.runtime.conversation.write,
        clock=clock,
        alarm=VirtualAlarm(clock),
        worker=name,
    )
    reminders = ReminderScheduler(
        bot.runtime.conversation.write,
        bot.settings,
        wake=sender.wake,
        clock=clock,
        alarm=VirtualAlarm(clock),
    )
    return reminders, sender


def buttons(message: Json) -> list[tuple[str, str]]:
    return [
        (b["text"], b["callback_data"])
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
    ]


async def register(database: Database, fake: FakeTelegram, chat: int, role: Role, area: str) -> int:
    person = fake.user(id=chat, first_name=f"Người {chat}")
    await person.send_command("/start", await new_invite(database, role, area))
    await fake.wait_for_messages(chat, count=2)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("telegram", str(chat))
        assert user is not None
        return user.id


async def test_a_meeting_reminder_reaches_the_collaborator_once_with_its_buttons(
    bot: Bot, database: Database, fake_telegram: FakeTelegram
) -> None:
    village_id = await add_poor_households(database.sessions)
    await register(database, fake_telegram, SUPERVISOR, Role.SUPERVISOR, "87-MH")
    await register(database, fake_telegram, COLLABORATOR, Role.COLLABORATOR, "87-MH-A1")
    supervisor = fake_telegram.user(id=SUPERVISOR)
    collaborator = fake_telegram.user(id=COLLABORATOR)

    # Scheduled in chat, ten days ahead at 08:00 in Vietnam.
    day = (datetime.now(UTC) + VN_OFFSET + timedelta(days=10)).date()
    starts_at = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    for text in ("/doithoai", f"{day:%d/%m/%Y} 08:00", "Hội trường UBND xã"):
        await supervisor.send_text(text)
        [shown] = await fake_telegram.wait_for_messages(SUPERVISOR)
    for data in (f"mt:v:{village_id}", "mt:d"):
        await supervisor.press(data, shown)
    [shown] = await fake_telegram.wait_for_messages(SUPERVISOR)
    await supervisor.press("mt:c:poor", shown)
    await supervisor.press("mt:d", shown)
    [shown] = await fake_telegram.wait_for_messages(SUPERVISOR)
    await supervisor.press("mt:d", shown)
    [shown] = await fake_telegram.wait_for_messages(SUPERVISOR)
    await supervisor.press("mt:ok", shown)
    [done] = await fake_telegram.wait_for_messages(SUPERVISOR)
    assert done["text"].startswith("✅ Đã lên lịch buổi đối thoại số 1; 2 hộ được mời.")
    seen = len(fake_telegram.messages_to(COLLABORATOR))

    clock = VirtualClock()
    clock.moment = starts_at - timedelta(days=4)
    reminders, sender = process(bot, clock, "first")
    assert await reminders.sweep() == 0
    assert await sender.send_due() == 0

    # Three days before: the sweep writes the reminder; the process stops before sending.
    clock.moment = starts_at - timedelta(days=3)
    assert await reminders.sweep() == 1
    assert len(fake_telegram.messages_to(COLLABORATOR)) == seen

    # The restarted process sweeps again (nothing new) and sends what is waiting.
    reminders, sender = process(bot, clock, "second")
    assert await reminders.sweep() == 0
    assert await sender.send_due() == 1
    [received] = await fake_telegram.wait_for_messages(COLLABORATOR)
    assert "Hội trường UBND xã" in received["text"]
    assert [label for label, _ in buttons(received)] == [
        "Đã mời: A1-01 · Nguyễn Văn An",
        "Đã mời: A1-02 · Trần Thị Bé",
    ]
    first = buttons(received)[0][1]
    await collaborator.press(first, received)
    answer = await fake_telegram.wait_for_call("answerCallbackQuery")
    while answer.get("text") is None:
        answer = await fake_telegram.wait_for_call("answerCallbackQuery")
    assert answer["text"] == "Đã ghi: hộ A1-01 đã được mời."
    async with database.sessions() as session:
        invited = await session.scalars(
            select(MeetingInvitation.id).where(MeetingInvitation.invited_at.is_not(None))
        )
        assert list(invited) == [int(first.removeprefix("mi:"))]

    # Once more after another restart, at the same moment: nothing is sent twice.
    reminders, sender = process(bot, clock, "third")
    assert await reminders.sweep() == 0
    assert await sender.send_due() == 0
    reminders_sent = [
        m for m in fake_telegram.messages_to(COLLABORATOR) if "Hội trường UBND xã" in m["text"]
    ]
    assert len(reminders_sent) == 1


async def test_a_follow_up_reminder_reaches_the_officer_after_the_interval_once(
    bot: Bot, database: Database, fake_telegram: FakeTelegram
) -> None:
    year = 2026
    officer = await register(database, fake_telegram, OFFICER, Role.COLLABORATOR, "87-MH-A1")
    await insert_households(database.sessions, year, [Planned("HH-001", "87-MH-A1", 0)])
    seen = len(fake_telegram.messages_to(OFFICER))
    group = no_capacity_group(rules_for(year))
    async with UnitOfWork(database.sessions) as uow:
        village = await uow.areas.by_code("87-MH-A1")
        assert village is not None
        people, _ = await uow.followup.people([village.id], year, [group])
        person = people[0]
        assignment = await assign(
            uow, person, year, datetime(2026, 10, 1, 3, 0, tzinfo=UTC), officer_user_id=officer
        )
        await uow.followup.record(
            SupportContact(
                assignment_id=assignment.id,
                contact_date=date(2026, 10, 20),
                kind="visit",
                outcome="in_progress",
            )
        )
        await uow.commit()

    clock = VirtualClock()
    # 21 days after the visit: not yet.
    clock.moment = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    reminders, sender = process(bot, clock, "first")
    assert await reminders.sweep() == 0
    assert await sender.send_due() == 0
    # 31 days after: the officer is reminded, once.
    clock.moment = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    assert await reminders.sweep() == 1
    assert await sender.send_due() == 1
    [received] = await fake_telegram.wait_for_messages(OFFICER)
    assert person.member_name in received["text"]
    assert "lần gần nhất 20/10/2026" in received["text"]

    # A restart an hour later: the same reminder is not written or sent again.
    clock.moment += timedelta(hours=1)
    reminders, sender = process(bot, clock, "second")
    assert await reminders.sweep() == 0
    assert await sender.send_due() == 0
    assert len(fake_telegram.messages_to(OFFICER)) == seen + 1
    async with database.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
        assert [(r.user_id, r.sent_at) for r in rows] == [
            (officer, clock.moment - timedelta(hours=1))
        ]


async def test_the_sweeps_run_at_start_then_every_minute_and_wake_the_sender(
    settings: Settings,
) -> None:
    clock = VirtualClock()
    start = clock.now()
    swept: list[tuple[str, datetime]] = []
    woken: list[datetime] = []

    async def write(job: Any) -> int:
        # The job is the sweep bound to its moment: which one ran, and when.
        swept.append((job.func.__name__, job.args[1]))
        return 1 if job.func.__name__ == "followup_reminders" else 0

    class Minutes(VirtualAlarm):
        async def wait(self, until: datetime) -> None:
            await super().wait(until)
            if len(swept) >= 12:
                scheduler.stop()

    scheduler = ReminderScheduler(
        write,
        settings,
        wake=lambda: woken.append(clock.now()),
        clock=clock,
        alarm=Minutes(clock),
    )
    await scheduler.run()
    minutes = [start + timedelta(minutes=n) for n in range(3)]
    assert swept == [
        (name, at)
        for at in minutes
        for name in ("meeting_reminders", "followup_reminders", "scheduled_reports", "stale_data")
    ]
    assert woken == minutes


async def test_a_schedule_file_gone_wrong_is_one_log_line_and_the_other_sweeps_run(
    settings: Settings, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = tmp_path / "lich.toml"
    schedule.write_text('send_at = "25:00"\n')
    ran: list[str] = []

    async def write(job: Any) -> int:
        ran.append(job.func.__name__)
        # The reports' sweep reads its file before it touches the database.
        return int(job(None)) if job.func.__name__ == "scheduled_reports" else 1

    scheduler = ReminderScheduler(
        write,
        settings.model_copy(update={"report_schedule": schedule}),
        wake=lambda: None,
        clock=VirtualClock(),
    )
    caplog.set_level("WARNING", logger="bot.reminders")
    assert await scheduler.sweep() == 3
    assert ran == ["meeting_reminders", "followup_reminders", "scheduled_reports", "stale_data"]
    [record] = caplog.records
    assert record.getMessage() == (
        "reminders: the reports sweep: The report schedule file (RASOAT_REPORT_SCHEDULE) "
        "is not valid: send_at = '25:00'"
    )
    assert record.exc_info is None
