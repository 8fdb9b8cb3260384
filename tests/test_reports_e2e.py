"""/summary, /export and /report through the real bot and the fake Bot API, with scoping."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from docx import Document as WordDocument
from openpyxl import load_workbook

from bot.admin import create_invites
from bot.settings import load_settings
from storage.models import InterviewStatus, Role
from tests.conftest import INVITE_KEY, Database
from tests.exports.data import Planned, insert_households
from tests.fakes.telegram import TOKEN, FakeTelegram, UploadedFile
from tests.helpers import seed_areas
from tests.surfaces import TelegramSurface, telegram_bot

YEAR = datetime.now(UTC).year


def documents(fake: FakeTelegram, chat_id: int, method: str = "sendDocument") -> list[UploadedFile]:
    """The files uploaded to the chat, whether they arrived or the fake refused them."""
    field = "photo" if method == "sendPhoto" else "document"
    return [
        call[field]
        for call in fake.calls(method)
        if int(call["chat_id"]) == chat_id and isinstance(call[field], UploadedFile)
    ]


async def interviewed_commune(database: Database) -> None:
    """Two households of Ấp 1 and one of Ấp 2, interviewed."""
    await seed_areas(database.sessions)
    done = InterviewStatus.COMPLETED
    await insert_households(
        database.sessions,
        YEAR,
        [
            Planned("HH-001", "87-MH-A1", 0, done, None),
            Planned("HH-002", "87-MH-A1", 1, done, None),
            Planned("HH-003", "87-MH-A2", 0, done, None),
        ],
    )


async def test_summary_export_and_report_over_telegram(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await interviewed_commune(database)
    settings = load_settings(
        **database.env(), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake_telegram.base_url
    )
    async with telegram_bot(settings) as application:
        supervisor = TelegramSurface(fake_telegram, application, user_id=901)
        [code] = await create_invites(
            database.sessions, Role.SUPERVISOR, "87-MH-A1", days=1, key=INVITE_KEY
        )
        await supervisor.type(f"/start {code.code}")

        replies = "\n".join(await supervisor.type("/summary"))
        assert "Ấp 1" in replies and "a) Tổng số hộ nghèo" in replies
        assert "b) Tổng số hộ cận nghèo" in replies
        # The chart is a photo, shown in the chat, not a file to download.
        [chart] = documents(fake_telegram, 901, "sendPhoto")
        assert chart.content.startswith(b"\x89PNG")
        assert documents(fake_telegram, 901) == []

        refused = "\n".join(await supervisor.type("/summary 87-MH-A2"))
        assert "không có quyền xem số liệu của Ấp 2" in refused
        assert len(documents(fake_telegram, 901, "sendPhoto")) == 1

        await supervisor.type("/export")
        workbook = load_workbook(io.BytesIO(documents(fake_telegram, 901)[-1].content))
        members = workbook.worksheets[1]
        codes = {row[0] for row in members.iter_rows(values_only=True) if row and row[0]}
        assert "HH-001" in codes and "HH-003" not in codes  # Ấp 2 is outside the scope

        await supervisor.type("/export csv")
        archive = zipfile.ZipFile(io.BytesIO(documents(fake_telegram, 901)[-1].content))
        first = archive.read(archive.namelist()[0])
        assert first.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel

        await supervisor.type("/report")
        report = WordDocument(io.BytesIO(documents(fake_telegram, 901)[-1].content))
        text = "\n".join(paragraph.text for paragraph in report.paragraphs)
        assert "Tổng số hộ nghèo" in text

        refused = "\n".join(await supervisor.type("/export 87-MH-A2"))
        assert "Ấp 2 (87-MH-A2) không thuộc phạm vi của bạn" in refused
        # Each export showed its progress in one status message, edited in place.
        texts = [m.get("text", "") for m in fake_telegram.messages_to(901)]
        assert sum(text.startswith("Đang xuất…") for text in texts) == 3
