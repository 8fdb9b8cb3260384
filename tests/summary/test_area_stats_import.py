"""Importing area figures (all households, last year's counts): all or nothing, idempotent,
Vietnamese errors with Excel's row numbers; and how the report uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from exports.stats import build_report
from exports.stats_import import import_area_stats
from exports.summary import render_summary
from storage.imports import ImportFailed
from storage.models import AreaYearStats, HouseholdCategory
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.summary.population import Population, add_areas, add_population

AREAS = [
    ("87", "Tỉnh Đồng Tháp", "tỉnh", None),
    ("87-MH", "Xã Mỹ Hòa", "xã", "87"),
    ("87-MH-A1", "Ấp 1", "ấp", "87-MH"),
    ("87-MH-A2", "Ấp 2", "ấp", "87-MH"),
]


async def stored(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(AreaYearStats.id))) or 0)


async def test_import_is_all_or_nothing_and_idempotent(database: Database, tmp_path: Path) -> None:
    await add_areas(database.sessions, AREAS)
    good = tmp_path / "so-lieu.csv"
    good.write_text(
        "Mã địa bàn;Năm;Tổng số hộ;Số hộ nghèo;Số hộ cận nghèo\n"
        "87-MH-A1;2025;1.200;30;40\n"
        "87-MH-A2;2025;800;;\n"
        "87-MH-A1;2026;1210;;\n",
        encoding="utf-8",
    )
    result = await import_area_stats(database.sessions, good)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert "Đã nhập số liệu 3 địa bàn-năm: 3 mới" in result.render()
    again = await import_area_stats(database.sessions, good)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    bad = tmp_path / "sai.csv"
    bad.write_text(
        "ma dia ban,nam,tong so ho,so ho ngheo\n"
        "87-MH-A1,2024,1000,5\n"
        "XX,2024,10,\n"
        "87-MH-A2,1850,abc,\n"
        "87-MH-A2,2024,10,50\n"
        "87-MH-A1,2024,1000,5\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_area_stats(database.sessions, bad)
    text = failed.value.render()
    assert "Dòng 3, cột 'ma dia ban': mã địa bàn 'XX' không có trong danh sách địa bàn" in text
    assert "Dòng 4, cột 'nam': năm '1850' không hợp lệ (phải từ 2000 đến 2100)" in text
    assert "Dòng 4, cột 'tong so ho': 'abc' không phải là một số nguyên không âm" in text
    assert "Dòng 5, cột 'tong so ho': tổng số hộ (10) nhỏ hơn" in text
    assert "Dòng 6, cột 'ma dia ban': địa bàn '87-MH-A1' năm 2024 đã có ở dòng 2" in text
    assert await stored(database) == 3


async def test_xlsx_and_the_rates_it_gives(database: Database, tmp_path: Path) -> None:
    ids = await add_areas(database.sessions, AREAS)
    await add_population(
        database.sessions,
        [ids["87-MH-A1"], ids["87-MH-A2"]],
        2026,
        {
            HouseholdCategory.POOR: Population(households=20, unable=2, statuses={"employed": 5}),
            HouseholdCategory.NEAR_POOR: Population(households=10, not_interviewed=2),
        },
    )
    # Last year's roster is in the database for the near-poor count only through the
    # figures: the poor count of last year comes from the file.
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SỐ LIỆU HỘ DÂN CƯ THEO ĐỊA BÀN"])
    sheet.append(["Mã", "Năm", "Tổng số hộ", "Số hộ nghèo", "Số hộ cận nghèo"])
    sheet.append(["87-MH-A1", 2026, 1200, None, None])
    sheet.append(["87-MH-A2", 2026, 800, None, None])
    sheet.append(["87-MH", 2025, 1950, 25, 10])
    path = tmp_path / "so-lieu.xlsx"
    book.save(path)
    await import_area_stats(database.sessions, path)

    async with UnitOfWork(database.sessions) as uow:
        area = await uow.areas.by_code("87-MH")
        assert area is not None
        report = await build_report(uow, area, 2026)
    # The commune has no figure of its own for 2026: the sum of its two villages.
    assert report.total_households == 2000
    text = render_summary(report)
    # 20 / 2,000 = 1%; last year 25 / 1,950 = 1,28% -> giảm 0,28%.
    assert "a) Tổng số hộ nghèo: 20 hộ, tỷ lệ 1% (giảm 0,28%), với 07 nhân khẩu" in text
    # 12 / 2,000 = 0,6%; last year 10 / 1,950 = 0,51%.
    assert "b) Tổng số hộ cận nghèo: 12 hộ, tỷ lệ 0,6% (tăng 0,09%), với 0 nhân khẩu" in text
    assert "Đã phỏng vấn 30/32 hộ trong danh sách" in text


async def test_last_year_from_the_roster(database: Database) -> None:
    ids = await add_areas(database.sessions, AREAS[:3])
    village = [ids["87-MH-A1"]]
    await add_population(
        database.sessions, village, 2025, {HouseholdCategory.POOR: Population(households=4)}
    )
    await add_population(
        database.sessions, village, 2026, {HouseholdCategory.POOR: Population(households=3)}
    )
    async with UnitOfWork(database.sessions) as uow:
        area = await uow.areas.by_code("87-MH-A1")
        assert area is not None
        area.total_households = 200
        await uow.session.flush()
        report = await build_report(uow, area, 2026)
    # 3 / 200 = 1,5%; last year's roster: 4 / 200 = 2%.
    assert "a) Tổng số hộ nghèo: 03 hộ, tỷ lệ 1,5% (giảm 0,5%)" in render_summary(report)
