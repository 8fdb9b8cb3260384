"""The export's group lists carry the current officers, and the lists filled in by hand
come back in with `rasoat followup import`: all or nothing, errors in Vietnamese by sheet,
row and column, officers matched to registered users by name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from exports.export_run import ExportRequest, ExportSettings, run_export
from storage.imports import ImportFailed
from storage.imports.followup import import_followup
from storage.models import SupportAssignment
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.helpers import add_person, seed_areas

YEAR = 2026
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
OFFICER = "Người phụ trách"
PHONE = "Điện thoại người phụ trách"


async def _export(database: Database, folder: Path) -> Path:
    async with UnitOfWork(database.sessions) as uow:
        outcome = await run_export(
            uow,
            None,
            ExportRequest(area_code="87-MH", year=YEAR),
            ExportSettings(ZoneInfo("Asia/Ho_Chi_Minh")),
            now=NOW,
            folder=folder,
        )
        await uow.commit()
    [exported] = outcome.files
    return exported.path


def _fill(
    path: Path, out: Path, fill: dict[tuple[str, int], tuple[str | None, str | None]]
) -> None:
    """Writes officers on the group sheets' rows named by (household code, member number)."""
    book = load_workbook(path)
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows())
        header = next((i for i, row in enumerate(rows) if row[0].value == "Mã hộ"), None)
        if header is None:
            continue
        names = [cell.value for cell in rows[header]]
        if OFFICER not in names:
            continue
        code, number = names.index("Mã hộ"), names.index("STT thành viên")
        for row in rows[header + 1 :]:
            wanted = fill.get((row[code].value, row[number].value))
            if wanted is not None:
                row[names.index(OFFICER)].value, row[names.index(PHONE)].value = wanted
    book.save(out)


def _officers(path: Path) -> dict[tuple[str, int], tuple[object, object]]:
    found = {}
    for sheet in load_workbook(path, read_only=True).worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        header = next((i for i, row in enumerate(rows) if row and row[0] == "Mã hộ"), None)
        if header is None or OFFICER not in rows[header]:
            continue
        names = list(rows[header])
        for row in rows[header + 1 :]:
            found[(row[0], row[names.index("STT thành viên")])] = (
                row[names.index(OFFICER)],
                row[names.index(PHONE)],
            )
    return found


async def _count(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(SupportAssignment)) or 0)


async def test_a_filled_in_list_round_trips(database: Database, tmp_path: Path) -> None:
    await seed_areas(database.sessions)
    await insert_households(
        database.sessions,
        YEAR,
        [Planned("HH-001", "87-MH-A1", 0), Planned("HH-002", "87-MH-A2", 1)],
    )
    await add_person(database.sessions, "telegram", "55", "Lê Thị Hoa")
    exported = await _export(database, tmp_path)
    listed = sorted(_officers(exported))
    assert len(listed) >= 3 and all(value == (None, None) for value in _officers(exported).values())
    (first, second, third) = listed[:3]
    assert first[0] == "HH-001"

    bad = tmp_path / "bad.xlsx"
    _fill(
        exported,
        bad,
        {
            first: ("le thi hoa", None),  # a registered user of the village, no phone needed
            second: ("Trần Văn Ba", "12345"),  # a bad phone
            third: ("Phạm Văn Tư", None),  # not a user: a phone is needed
        },
    )
    with pytest.raises(ImportFailed) as failed:
        await import_followup(database.sessions, bad, year=YEAR, now=NOW)
    rendered = failed.value.render("vi")
    assert "số điện thoại “12345” chưa đúng" in rendered
    assert "“Phạm Văn Tư” không phải người dùng bot của địa bàn" in rendered
    assert "Dòng" in rendered and "› Điện thoại người phụ trách" in rendered
    assert await _count(database) == 0  # all or nothing

    good = tmp_path / "good.xlsx"
    _fill(
        exported,
        good,
        {
            first: ("le thi hoa", None),
            second: ("Trần Văn Ba", "0912 345 678"),
            third: ("Phạm Văn Tư", "+84 987 654 321"),
        },
    )
    result = await import_followup(database.sessions, good, year=YEAR, now=NOW)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    again = await import_followup(database.sessions, good, year=YEAR, now=NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    async with database.sessions() as session:
        rows = (await session.scalars(select(SupportAssignment))).all()
    by_name = {row.officer_name: row for row in rows}
    assert by_name["Trần Văn Ba"].officer_phone == "0912345678"
    assert by_name["Phạm Văn Tư"].officer_phone == "+84987654321"
    assert sum(row.officer_user_id is not None for row in rows) == 1

    # The next export shows them in the lists.
    again_folder = tmp_path / "again"
    again_folder.mkdir()
    shown = _officers(await _export(database, again_folder))
    assert shown[first] == ("Lê Thị Hoa", None)
    assert shown[second] == ("Trần Văn Ba", "0912345678")

    # A different officer replaces the current one; the old assignment is ended, not lost.
    changed = tmp_path / "changed.xlsx"
    _fill(exported, changed, {first: ("Đỗ Văn Năm", "0901234567")})
    result = await import_followup(database.sessions, changed, year=YEAR, now=NOW)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert await _count(database) == 4


async def test_rows_naming_people_off_the_lists_are_refused(
    database: Database, tmp_path: Path
) -> None:
    await seed_areas(database.sessions)
    await insert_households(database.sessions, YEAR, [Planned("HH-001", "87-MH-A1", 0)])
    path = tmp_path / "list.csv"
    path.write_text(
        "Mã hộ,STT thành viên,Người phụ trách,Điện thoại người phụ trách\n"
        "HH-404,1,Trần Văn Ba,0912345678\n"
        "HH-001,x,Trần Văn Ba,0912345678\n"
        "HH-001,99,Trần Văn Ba,0912345678\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_followup(database.sessions, path, year=YEAR, now=NOW)
    rendered = failed.value.render("vi")
    assert "không có hộ mã HH-404 trong danh sách năm 2026" in rendered
    assert "STT thành viên “x” không phải là số thứ tự" in rendered
    assert "thành viên số 99 của hộ HH-001 không thuộc danh sách cần hỗ trợ" in rendered
    assert await _count(database) == 0
