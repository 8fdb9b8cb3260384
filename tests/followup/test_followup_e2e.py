"""Through the real bot and the fake Bot API: commune staff assign responsible officers from
chat (a registered user by button, someone not using the bot by "Tên, số điện thoại"), the
officer records a contact, and it is listed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.admin import create_invites
from bot.settings import load_settings
from storage.models import Role, SupportAssignment, SupportContact, User
from tests.conftest import INVITE_KEY, Database
from tests.exports.data import Planned, insert_households
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.helpers import seed_areas
from tests.surfaces import TelegramSurface, telegram_bot

YEAR = datetime.now(UTC).year


def _data(surface: TelegramSurface, prefix: str) -> list[str]:
    return [data for _label, data in surface.buttons() if data.startswith(prefix)]


async def test_staff_assign_an_officer_who_records_a_contact(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    await insert_households(
        database.sessions,
        YEAR,
        [Planned("HH-001", "87-MH-A1", 0), Planned("HH-003", "87-MH-A2", 0)],
    )
    settings = load_settings(
        **database.env(),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake_telegram.base_url,
        RASOAT_READING_TIME="0",
    )
    async with telegram_bot(settings) as application:
        staff = TelegramSurface(fake_telegram, application, user_id=801)
        officer = TelegramSurface(fake_telegram, application, user_id=802)
        [staff_code] = await create_invites(
            database.sessions, Role.COMMUNE_STAFF, "87-MH", days=1, key=INVITE_KEY
        )
        [officer_code] = await create_invites(
            database.sessions, Role.COLLABORATOR, "87-MH-A1", days=1, key=INVITE_KEY
        )
        await staff.type(f"/start {staff_code.code}")
        await officer.type(f"/start {officer_code.code}")

        # A collaborator may not assign.
        refused = "\n".join(await officer.type("/phutrach"))
        assert "Ấp 1" not in refused and not _data(officer, "pa:")

        replies = "\n".join(await staff.type("/phutrach"))
        assert "chọn ấp" in replies
        assert [label for label, _ in staff.buttons()] == ["Ấp 1", "Ấp 2"]
        await staff.press(_data(staff, "pa:v:")[0])
        people = [(label, data) for label, data in staff.buttons() if data.startswith("pa:m:")]
        assert people and all("HH-001" in label for label, _ in people)
        first_label, first = people[0]
        second_label, second = people[1]

        # A registered user of the village, by button.
        replies = "\n".join(await staff.press(first))
        assert "Người phụ trách" in replies
        async with database.sessions() as session:
            officer_id = await session.scalar(select(User.id).where(User.platform_user_id == "802"))
        # The village's collaborator and the commune's staff (above it) may both follow up.
        assert len(_data(staff, "pa:o:")) == 2
        replies = "\n".join(await staff.press(f"pa:o:{officer_id}"))
        assert "Đã phân công Hoa phụ trách" in replies

        # Someone not using the bot, typed; a bad phone number first.
        await staff.press(second)
        assert "Số điện thoại chưa đúng" in "\n".join(await staff.type("Trần Văn Ba, 123"))
        replies = "\n".join(await staff.type("Trần Văn Ba, 0912 345 678"))
        assert "Đã phân công Trần Văn Ba (0912345678)" in replies

        # The English alias is the same dialog.
        assert "chọn ấp" in "\n".join(await staff.type("/assign"))
        assert [label for label, _ in staff.buttons()] == ["Ấp 1", "Ấp 2"]

        # The officer's list, and a contact recorded step by step.
        listed = "\n".join(await officer.type("/theodoi"))
        name = first_label.split(" · ")[0]
        assert name in listed and "chưa thăm hỏi lần nào" in listed
        assert second_label.split(" · ")[0] not in listed
        [pick] = _data(officer, "pt:a:")
        assert "Ngày nào" in "\n".join(await officer.press(pick))
        assert "chưa tới" in "\n".join(await officer.type("1/1/2099"))
        assert "Hình thức hỗ trợ" in "\n".join(await officer.type("hôm nay"))
        await officer.press("pt:k:vocational_training")
        await officer.press("pt:g:tda1_da3")
        await officer.press("pt:r:started_training")
        recorded = "\n".join(await officer.type("Đăng ký lớp may ở xã"))
        assert "Đã ghi nhận hỗ trợ" in recorded and "Tiểu dự án 1 Dự án 3" in recorded

        today = datetime.now(settings.tz).strftime("%d/%m/%Y")
        assert f"lần gần nhất {today}" in "\n".join(await officer.type("/followup"))

        # Someone else's assignment, forged, is refused.
        async with database.sessions() as session:
            typed_one = await session.scalar(
                select(SupportAssignment).where(SupportAssignment.officer_name == "Trần Văn Ba")
            )
            assert typed_one is not None and typed_one.officer_user_id is None
            assert typed_one.assigned_by is not None
        refused = "\n".join(await officer.press(f"pt:a:{typed_one.id}"))
        assert "không do bạn phụ trách" in refused

        async with database.sessions() as session:
            [contact] = (await session.scalars(select(SupportContact))).all()
        assert (contact.kind, contact.programme, contact.outcome) == (
            "vocational_training",
            "tda1_da3",
            "started_training",
        )
        assert contact.note == "Đăng ký lớp may ở xã"
