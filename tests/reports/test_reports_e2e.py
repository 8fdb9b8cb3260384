"""/baocao through the real bot and the fake Bot API: a supervisor asks for this quarter's
report and gets the text, the workbook and the Word file; a bad period gets a clear
Vietnamese message; another area is refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from docx import Document as WordDocument
from openpyxl import load_workbook

from bot.admin import create_invites
from bot.decisions.reports import Span, containing
from bot.settings import load_settings
from classification import rules_for
from classification.followup import support_groups
from storage.models import (
    Area,
    InterviewStatus,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Role,
    SupportContact,
)
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.exports.data import Planned, insert_households
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.helpers import assign, seed_areas
from tests.surfaces import TelegramSurface, telegram_bot
from tests.test_reports_e2e import documents

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# The bot reads the real clock: the data are dated inside the quarter it is now.
TODAY = datetime.now(VN).date()
YEAR = TODAY.year
QUARTER = containing(Span.QUARTER, TODAY)


async def _seed(database: Database) -> None:
    await seed_areas(database.sessions)
    done = InterviewStatus.COMPLETED
    await insert_households(
        database.sessions,
        YEAR,
        [Planned("HH-001", "87-MH-A1", 0, done), Planned("HH-002", "87-MH-A2", 0, done)],
    )
    async with UnitOfWork(database.sessions) as uow:
        village = await uow.areas.by_code("87-MH-A1")
        assert isinstance(village, Area)
        people, _ = await uow.followup.people([village.id], YEAR, support_groups(rules_for(YEAR)))
        person = people[0]
        assignment = await assign(
            uow,
            person,
            YEAR,
            datetime.now(UTC),
            officer_name="Trần Văn Ba",
            officer_phone="0912345678",
        )
        await uow.followup.record(
            SupportContact(
                assignment_id=assignment.id,
                contact_date=TODAY,
                kind="job_referral",
                programme="da4",
                outcome="found_job",
            )
        )
        household = await uow.households.by_code("HH-001", YEAR)
        assert household is not None
        starts = datetime.combine(QUARTER.start, datetime.min.time(), VN) + timedelta(hours=8)
        meeting = await uow.meetings.add(
            Meeting(
                area_id=village.id,
                review_year=YEAR,
                starts_at=starts,
                place="Hội trường ấp",
                categories=["poor"],
                support_groups=[],
                status=MeetingStatus.HELD,
            ),
            [village.id],
        )
        uow.meetings.add_invitation(
            MeetingInvitation(meeting_id=meeting.id, household_id=household.id, attended=True)
        )
        await uow.commit()


async def test_a_supervisor_gets_the_quarter_report(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await _seed(database)
    settings = load_settings(
        **database.env(), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake_telegram.base_url
    )
    async with telegram_bot(settings) as application:
        supervisor = TelegramSurface(fake_telegram, application, user_id=911)
        [code] = await create_invites(
            database.sessions, Role.SUPERVISOR, "87-MH-A1", days=1, key=INVITE_KEY
        )
        await supervisor.type(f"/start {code.code}")

        text = "\n".join(await supervisor.type("/baocao quy"))
        assert f"quý {QUARTER.number}/{YEAR}" in text
        assert "Ấp 1" in text
        assert "1 lượt, 1 người" in text
        assert "• Dự án 4: 1 lượt, 1 người" in text
        assert "1 người đã có việc làm" in text
        assert "1 cuộc; mời 1 hộ, 1 hộ tham dự" in text
        files = {f.filename: f for f in documents(fake_telegram, 911)}
        stem = f"bao-cao-87-MH-A1-{QUARTER.code}"
        assert set(files) == {f"{stem}.xlsx", f"{stem}.docx"}

        workbook = load_workbook(io.BytesIO(files[f"{stem}.xlsx"].content))
        rows = [
            row
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            if row and row[0]
        ]
        assert ("Dự án 4", 1, 1) in rows
        assert ("Số người đã có việc làm", 1) in rows
        for sheet in workbook.worksheets:
            assert sheet.page_setup.paperSize == 9  # A4

        word = WordDocument(io.BytesIO(files[f"{stem}.docx"].content))
        section = word.sections[0]
        assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
        assert word.styles["Normal"].font.name == "Times New Roman"
        assert "Đối thoại chính sách: 1 cuộc" in "\n".join(p.text for p in word.paragraphs)
        cells = [c.text for t in word.tables for r in t.rows for c in r.cells]
        assert "Dự án 4" in cells

        bad = "\n".join(await supervisor.type("/baocao quy 7"))
        assert "Quý 7 không có: ghi quý từ 1 đến 4." in bad
        refused = "\n".join(await supervisor.type("/baocao quy 87-MH-A2"))
        assert "Không xem được báo cáo của địa bàn “87-MH-A2”" in refused
        assert len(documents(fake_telegram, 911)) == 2
