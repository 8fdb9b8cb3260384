"""Files over the upload limit are split into parts (xlsx) or zipped (csv); progress."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace

import pytest
from openpyxl.workbook import Workbook
from sqlalchemy import select

from bot.dialogs import exports as export_dialog
from bot.export_cli import export_to_files
from bot.messages import Document
from bot.settings import Settings
from exports.export_run import ExportRequest, ExportSettings, Format, run_export
from exports.packaging import split_evenly
from storage.models import AuditEntry
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.conftest import NOW, Commune
from tests.exports.helpers import command, documents, table, workbook


async def test_large_workbook_is_split_into_complete_parts(
    commune: Commune, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    [whole] = documents(await commune.conversation.handle(command("/export", commune.staff)))
    limit = int(len(whole.content) * 0.8)
    monkeypatch.setattr(export_dialog, "UPLOAD_LIMIT", limit)
    parts = documents(await commune.conversation.handle(command("/export", commune.staff)))
    assert len(parts) >= 2
    assert parts[0].filename == f"rasoat-87-MH-2026-phan-1-{len(parts)}.xlsx"
    assert all(len(part.content) <= limit for part in parts)
    assert "phần 1/" in parts[0].caption
    async with database.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "export.xlsx")
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None and entry.details["households"] == 8
    assert entry.details["members"] == 21 and len(entry.details["files"]) == len(parts)
    codes = [row["Mã hộ"] for part in parts for row in table(workbook(part), "Hộ gia đình")]
    assert codes == [f"HH-00{n}" for n in range(1, 9)]


async def test_large_csv_is_zipped(commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "/export csv thanh-vien"
    [plain] = documents(await commune.conversation.handle(command(text, commune.staff)))
    monkeypatch.setattr(export_dialog, "UPLOAD_LIMIT", len(plain.content) - 1)
    [zipped] = documents(await commune.conversation.handle(command(text, commune.staff)))
    assert zipped.filename == "rasoat-87-MH-2026-thanh-vien.zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert archive.read("thanh-vien.csv") == plain.content


def test_split_evenly_keeps_order() -> None:
    assert split_evenly(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert split_evenly([1], 4) == [[1]]


async def test_progress_rises_to_one(commune: Commune, database: Database, tmp_path: Path) -> None:
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    settings = ExportSettings(tz=UTC, batch_size=2)
    async with UnitOfWork(database.sessions) as uow:
        await run_export(
            uow,
            None,
            ExportRequest(Format.XLSX),
            settings,
            now=NOW,
            folder=tmp_path,
            progress=progress,
        )
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] == 1.0


async def test_chat_progress_is_shown_in_steps() -> None:
    shown: list[str] = []

    async def sink(text: str) -> None:
        shown.append(text)

    ctx = SimpleNamespace(progress=sink, t=lambda key, **p: f"Đang xuất… {p['percent']}%")
    report = export_dialog._progress(ctx)  # type: ignore[arg-type]
    assert report is not None
    for fraction in (0.0, 0.1, 0.25, 0.41, 0.45, 0.99, 1.0):
        await report(fraction)
    # It ends at 100% (the file is ready), never left at 80% (issue 9).
    assert shown == [f"Đang xuất… {percent}%" for percent in (0, 20, 40, 80, 100)]


async def test_command_line_export(
    commune: Commune, database: Database, settings: Settings, tmp_path: Path
) -> None:
    written = await export_to_files(
        database.sessions, settings, area="87-MH-A2", fmt="docx", output=tmp_path, now=NOW
    )
    assert [path.name for path in written] == ["rasoat-87-MH-A2-2026-muc-II.docx"]
    written = await export_to_files(
        database.sessions, settings, area="87-MH", fmt="xlsx", output=tmp_path, now=NOW
    )
    assert len(table(workbook_from(written[0]), "Thành viên")) == 21


def workbook_from(path: Path) -> Workbook:
    return workbook(Document(path.name, path.read_bytes()))
