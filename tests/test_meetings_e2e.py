"""Policy dialogues through the real bot polling the fake Bot API: a supervisor schedules a
dialogue in chat and sees it listed; the reminder reaches the collaborator, who presses
"Đã mời"; the supervisor sees the status.

The reminder is produced by the real sweep (``send_due_reminders``) and delivered with the
Telegram adapter's own keyboard (tests/test_reminders_outbox.py sends it through the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from telegram.ext import Application

from bot.channels.telegram import keyboard
from bot.dialogs import meetings as shell
from bot.messages import Choices
from storage.models import MeetingInvitation, Role
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram, Json
from tests.helpers import add_poor_households
from tests.test_telegram_e2e import bot_settings, new_invite, polling_bot

__all__ = ["polling_bot"]

VN_OFFSET = timedelta(hours=7)


def buttons(message: Json) -> list[str]:
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_supervisor_schedules_and_a_collaborator_marks_invited(
    polling_bot: Application,  # type: ignore[type-arg]
    database: Database,
    fake_telegram: FakeTelegram,
) -> None:
    village_id = await add_poor_households(database.sessions)

    supervisor = fake_telegram.user(id=111, first_name="Sơn")
    await supervisor.send_command("/start", await new_invite(database, Role.SUPERVISOR, "87-MH"))
    await fake_telegram.wait_for_messages(111, count=2)
    collaborator = fake_telegram.user(id=222, first_name="Cúc")
    await collaborator.send_command(
        "/start", await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    )
    await fake_telegram.wait_for_messages(222, count=2)

    # Ten days ahead, at 08:00 in Vietnam.
    day = (datetime.now(UTC) + VN_OFFSET + timedelta(days=10)).date()
    starts_at = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)

    await supervisor.send_text("/doithoai")
    [ask] = await fake_telegram.wait_for_messages(111)
    assert ask["text"].startswith("📅 Buổi đối thoại chính sách diễn ra lúc nào?")
    await supervisor.send_text(f"{day:%d/%m/%Y} 08:00")
    [ask] = await fake_telegram.wait_for_messages(111)
    assert ask["text"].startswith("📍 Tổ chức ở đâu?")
    await supervisor.send_text("Hội trường UBND xã")
    [villages] = await fake_telegram.wait_for_messages(111)
    assert buttons(villages) == [
        f"mt:v:{village_id}",
        "mt:v:" + str(village_id + 1),
        "mt:d",
        "mt:x",
    ]
    await supervisor.press(f"mt:v:{village_id}", villages)
    await supervisor.press("mt:d", villages)
    [categories] = await fake_telegram.wait_for_messages(111)
    await supervisor.press("mt:c:poor", categories)
    await supervisor.press("mt:d", categories)
    [groups] = await fake_telegram.wait_for_messages(111)
    await supervisor.press("mt:d", groups)
    [confirm] = await fake_telegram.wait_for_messages(111)
    assert f"08:00 {day:%d/%m/%Y}" in confirm["text"] and "Ấp 1" in confirm["text"]
    await supervisor.press("mt:ok", confirm)
    [done] = await fake_telegram.wait_for_messages(111)
    assert done["text"].startswith("✅ Đã lên lịch buổi đối thoại số 1; 2 hộ được mời.")

    await supervisor.send_text("/doithoai ds")
    [listed] = await fake_telegram.wait_for_messages(111)
    assert f"Số 1: 08:00 {day:%d/%m/%Y}, Hội trường UBND xã — Ấp 1 (đã lên lịch)" in listed["text"]

    # Three days before: the sweep's reminder, delivered as the outbox sender will.
    settings = bot_settings(database, fake_telegram)
    async with UnitOfWork(database.sessions) as uow:
        [reminder] = await uow.run(
            lambda work: shell.send_due_reminders(
                work, settings, starts_at - timedelta(days=3), settings.offsets
            )
        )
        await uow.commit()
    assert isinstance(reminder.message, Choices)
    await polling_bot.bot.send_message(
        chat_id=222, text=reminder.message.text, reply_markup=keyboard(reminder.message)
    )
    [received] = await fake_telegram.wait_for_messages(222)
    assert "Hội trường UBND xã" in received["text"]
    first, _second = buttons(received)
    await collaborator.press(first, received)
    answer = await fake_telegram.wait_for_call("answerCallbackQuery")
    while answer.get("text") is None:
        answer = await fake_telegram.wait_for_call("answerCallbackQuery")
    assert answer["text"] == "Đã ghi: hộ A1-01 đã được mời."
    async with database.sessions() as session:
        invited = (
            await session.scalars(
                select(MeetingInvitation).where(MeetingInvitation.invited_at.is_not(None))
            )
        ).all()
        assert [i.id for i in invited] == [int(first.removeprefix("mi:"))]

    await supervisor.send_text("/doithoai trangthai 1")
    [status] = await fake_telegram.wait_for_messages(111)
    assert "đã mời 1/2 hộ" in status["text"]
    assert "Cúc: còn 1 hộ chưa mời" in status["text"]
    assert "A1-02 · Trần Thị Bé (Ấp 1)" in status["text"]
