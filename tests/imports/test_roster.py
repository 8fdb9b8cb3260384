"""Importing the household roster, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from storage.imports import ImportFailed, import_areas, import_roster
from storage.models import AuditEntry, Household, HouseholdCategory
from tests.imports.files import (
    AREA_HEADER_EN,
    ROSTER_HEADER_EN,
    ROSTER_HEADER_VI,
    TREE,
    counts,
    keys,
    write_csv,
    write_xlsx,
)

Sessions = async_sessionmaker[AsyncSession]
YEAR = 2025
DEMO_DIR = Path(__file__).resolve().parents[2] / "bot" / "demo"

ROSTER = [
    ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "Trần Công Hải", "nam", "11/6/1974", "chủ hộ"),
    ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "Lê Thị Mai", "nữ", "1976", "vợ"),
    ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "Trần Minh Bình", "nam", "2007-01-25", "con"),
    ("H002", "AP2", "Đặng Hữu Thắng", "Cận nghèo", "Đặng Hữu Thắng", "Nam", "28/11/1971", "Chủ hộ"),
    ("H002", "AP2", "Đặng Hữu Thắng", "Cận nghèo", "Đặng Thị Hoa", "Nữ", "3/2/1950", "Mẹ"),
]


@pytest.fixture
async def areas(sessions: Sessions, tmp_path: Path) -> None:
    await import_areas(sessions, write_csv(tmp_path / "areas.csv", AREA_HEADER_EN, TREE))


async def stored(sessions: Sessions, year: int = YEAR) -> dict[str, dict[str, Any]]:
    async with sessions() as session:
        query = (
            select(Household)
            .where(Household.review_year == year)
            .options(selectinload(Household.members))
        )
        households = (await session.scalars(query)).unique().all()
    return {
        household.code: {
            "area": household.area.code,
            "head": household.head_name,
            "search": household.head_name_search,
            "category": household.category,
            "members": [
                (m.position, m.full_name, m.sex, m.birth_date, m.birth_year, m.relation)
                for m in household.members
            ],
        }
        for household in households
    }


EXPECTED = {
    "H001": {
        "area": "AP1",
        "head": "Trần Công Hải",
        "search": "tran cong hai",
        "category": HouseholdCategory.POOR,
        "members": [
            (1, "Trần Công Hải", "male", date(1974, 6, 11), 1974, "head"),
            (2, "Lê Thị Mai", "female", None, 1976, "spouse"),
            (3, "Trần Minh Bình", "male", date(2007, 1, 25), 2007, "child"),
        ],
    },
    "H002": {
        "area": "AP2",
        "head": "Đặng Hữu Thắng",
        "search": "dang huu thang",
        "category": HouseholdCategory.NEAR_POOR,
        "members": [
            (1, "Đặng Hữu Thắng", "male", date(1971, 11, 28), 1971, "head"),
            (2, "Đặng Thị Hoa", "female", date(1950, 2, 3), 1950, "parent"),
        ],
    },
}


@pytest.mark.usefixtures("areas")
async def test_csv_import_then_reimport_changes_nothing(sessions: Sessions, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ho.csv", ROSTER_HEADER_VI, ROSTER)
    first = await import_roster(sessions, path, year=YEAR)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert first.details["members_created"] == 5
    assert await stored(sessions) == EXPECTED
    assert first.render() == (
        "Đã nhập 2 hộ năm 2025 (5 thành viên): 2 hộ mới, 0 hộ cập nhật, 0 hộ không đổi; "
        "thành viên: 5 mới, 0 cập nhật, 0 không đổi."
    )

    again = await import_roster(sessions, path, year=YEAR)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert again.details["members_unchanged"] == 5
    assert again.details["members_created"] == again.details["members_updated"] == 0
    assert await stored(sessions) == EXPECTED
    assert (await counts(sessions))["members"] == 5

    async with sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "roster.imported")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert len(audit) == 2
    assert audit[0].details["file"] == "ho.csv"
    assert audit[0].details["year"] == YEAR
    assert (audit[0].details["created"], audit[1].details["unchanged"]) == (2, 2)


@pytest.mark.usefixtures("areas")
async def test_xlsx_with_english_headers_and_typed_cells(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [
        (
            "H001",
            "AP1",
            "Tran Cong Hai",
            "poor",
            "Tran Cong Hai",
            "male",
            datetime(1974, 6, 11),
            "head",
        ),
        ("H001", "AP1", "Tran Cong Hai", "poor", "Le Thi Mai", "female", 1976, "spouse"),
    ]
    path = write_xlsx(tmp_path / "ho.xlsx", ROSTER_HEADER_EN, rows, title="Household list")
    result = await import_roster(sessions, path, year=YEAR)
    assert result.created == 1
    members = (await stored(sessions))["H001"]["members"]
    assert members == [
        (1, "Tran Cong Hai", "male", date(1974, 6, 11), 1974, "head"),
        (2, "Le Thi Mai", "female", None, 1976, "spouse"),
    ]


@pytest.mark.usefixtures("areas")
async def test_semicolon_bom_and_interleaved_households(sessions: Sessions, tmp_path: Path) -> None:
    interleaved = [ROSTER[0], ROSTER[3], ROSTER[1], ROSTER[4], ROSTER[2]]
    path = write_csv(tmp_path / "ho.csv", ROSTER_HEADER_VI, interleaved, delimiter=";", bom=True)
    await import_roster(sessions, path, year=YEAR)
    assert await stored(sessions) == EXPECTED


@pytest.mark.usefixtures("areas")
async def test_changed_file_updates_adds_and_keeps(sessions: Sessions, tmp_path: Path) -> None:
    await import_roster(
        sessions, write_csv(tmp_path / "a.csv", ROSTER_HEADER_VI, ROSTER), year=YEAR
    )
    changed = [
        # H001: the wife is no longer listed, the son's relation was corrected and
        # a baby was born; the son now comes first.
        ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "TRAN MINH BINH", "nam", "25/1/2007", "cháu"),
        ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "Trần Công Hải", "nam", "11/6/1974", "chủ hộ"),
        ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "Trần Bé", "nữ", "2024", "con"),
        # H002: recategorised and moved.
        ("H002", "AP1", "Đặng Hữu Thắng", "thoát nghèo", "Đặng Hữu Thắng", "", "1971", ""),
        ("H002", "AP1", "Đặng Hữu Thắng", "thoát nghèo", "Đặng Thị Hoa", "Nữ", "3/2/1950", "Mẹ"),
    ]
    result = await import_roster(
        sessions, write_csv(tmp_path / "b.csv", ROSTER_HEADER_VI, changed), year=YEAR
    )
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)
    assert result.details == {
        "year": YEAR,
        "rows": 5,
        "members_created": 1,
        "members_updated": 2,
        "members_unchanged": 2,
        "members_kept": 1,
        "households_kept": 0,
    }
    assert "1 thành viên có trong dữ liệu nhưng không có trong tệp" in result.render()
    now = await stored(sessions)
    assert now["H001"]["members"] == [
        (1, "TRAN MINH BINH", "male", date(2007, 1, 25), 2007, "grandchild"),
        (2, "Trần Công Hải", "male", date(1974, 6, 11), 1974, "head"),
        (3, "Trần Bé", "female", None, 2024, "child"),
        # Not in the file: kept, after the listed members.
        (4, "Lê Thị Mai", "female", None, 1976, "spouse"),
    ]
    assert now["H002"]["category"] == HouseholdCategory.ESCAPED
    assert now["H002"]["area"] == "AP1"
    # Empty cells and a bare year do not erase what was stored.
    assert now["H002"]["members"][0] == (
        1,
        "Đặng Hữu Thắng",
        "male",
        date(1971, 11, 28),
        1971,
        "head",
    )

    again = await import_roster(
        sessions, write_csv(tmp_path / "b.csv", ROSTER_HEADER_VI, changed), year=YEAR
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert again.details["members_kept"] == 1


@pytest.mark.usefixtures("areas")
async def test_years_are_separate(sessions: Sessions, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ROSTER_HEADER_VI, ROSTER)
    await import_roster(sessions, path, year=YEAR)
    only_one = write_csv(tmp_path / "b.csv", ROSTER_HEADER_VI, ROSTER[:3])
    result = await import_roster(sessions, only_one, year=YEAR + 1)
    assert result.created == 1
    assert set(await stored(sessions, YEAR + 1)) == {"H001"}
    assert await stored(sessions) == EXPECTED
    assert (await import_roster(sessions, only_one, year=YEAR)).details["households_kept"] == 1


@pytest.mark.usefixtures("areas")
async def test_every_error_with_its_row_and_nothing_written(
    sessions: Sessions, tmp_path: Path
) -> None:
    good = ("H001", "AP1", "Trần Công Hải", "hộ nghèo")
    rows = [
        (*good, "Trần Công Hải", "nam", "11/6/1974", "chủ hộ"),  # 2
        (*good, "Lê Thị Mai", "nữ", "1976", "vợ"),  # 3
        ("H001", "AP2", "Trần Công Hải", "hộ nghèo", "A", "nam", "2000", "con"),  # 4
        ("H001", "AP1", "Trần Văn Khác", "cận nghèo", "B", "nam", "2001", "con"),  # 5
        (*good, "le thi mai", "nữ", "12/3/1976", "khác"),  # 6: same as row 3
        ("H003", "AP9", "Ngô Văn Tư", "nghèo", "Ngô Văn Tư", "nam", "1960", "chủ hộ"),  # 7
        ("H004", "87-MH", "Lý Văn Năm", "khá giả", "Lý Văn Năm", "x", "1960", "bạn"),  # 8
        ("H005", "AP2", "Phan Văn Sáu", "nghèo", "", "nam", "31/2/1980", "chủ hộ"),  # 9
        ("H005", "AP2", "Phan Văn Sáu", "nghèo", "Phan Bé", "nữ", "1/1/2999", "con"),  # 10
        ("H005", "AP2", "Phan Văn Sáu", "nghèo", "Phan Cụ", "nam", "1850", "cha"),  # 11
        ("H005", "AP2", "Phan Văn Sáu", "nghèo", "Phan Văn Sáu", "nam", "", "chủ hộ"),  # 12
        ("H005", "AP2", "Phan Văn Sáu", "nghèo", "Phan Hai", "nam", "1990", "chủ hộ"),  # 13
        ("H005", "AP2", "Phan Văn Sáu", "nghèo", "Phan Ba", "nam", "1991", "chủ hộ"),  # 14
        ("", "AP2", "", "nghèo", "Vô Danh", "nam", "1990", "con"),  # 15
    ]
    with pytest.raises(ImportFailed) as failure:
        await import_roster(
            sessions, write_csv(tmp_path / "ho.csv", ROSTER_HEADER_VI, rows), year=YEAR
        )
    assert keys(failure.value) == [
        (4, "Mã ấp", "imports.household_disagrees"),
        (5, "Chủ hộ", "imports.household_disagrees"),
        (5, "Phân loại", "imports.household_disagrees"),
        (6, "Họ tên thành viên", "imports.duplicate_member"),
        (7, "Mã ấp", "imports.unknown_village"),
        (8, "Phân loại", "imports.invalid_category"),
        (8, "Giới tính", "imports.invalid_sex"),
        (8, "Quan hệ với chủ hộ", "imports.invalid_relation"),
        (8, "Mã ấp", "imports.not_a_village"),
        (9, "Họ tên thành viên", "imports.required"),
        (9, "Ngày sinh", "imports.invalid_birth"),
        (10, "Ngày sinh", "imports.birth_in_future"),
        (11, "Ngày sinh", "imports.birth_too_old"),
        (12, "Ngày sinh", "imports.required"),
        (14, "Quan hệ với chủ hộ", "imports.second_head"),
        (15, "Mã hộ", "imports.required"),
        (15, "Chủ hộ", "imports.required"),
    ]
    by_row = {(error.row, error.column): error.render() for error in failure.value.errors}
    assert by_row[7, "Mã ấp"] == "Dòng 7, cột 'Mã ấp': mã ấp 'AP9' không có trong danh sách địa bàn"
    assert by_row[4, "Mã ấp"] == (
        "Dòng 4, cột 'Mã ấp': khác với dòng 2 của cùng hộ 'H001' ('AP1'); "
        "các dòng của một hộ phải ghi giống nhau ở cột này"
    )
    assert by_row[5, "Phân loại"].endswith(
        "khác với dòng 2 của cùng hộ 'H001' ('hộ nghèo'); "
        "các dòng của một hộ phải ghi giống nhau ở cột này"
    )
    assert (
        by_row[10, "Ngày sinh"]
        == "Dòng 10, cột 'Ngày sinh': ngày sinh '1/1/2999' ở trong tương lai"
    )
    assert failure.value.errors[0].render("en") == (
        "Row 4, column 'Mã ấp': differs from row 2 of the same household 'H001' ('AP1'); "
        "all rows of a household must agree on this column"
    )
    assert await counts(sessions) == {"areas": 4, "households": 0, "members": 0, "audit": 1}


async def test_missing_column_stops_before_any_row(sessions: Sessions, tmp_path: Path) -> None:
    header = [name for name in ROSTER_HEADER_VI if name != "Mã ấp"]
    rows = [tuple(value for index, value in enumerate(row) if index != 1) for row in ROSTER]
    with pytest.raises(ImportFailed) as failure:
        await import_roster(sessions, write_csv(tmp_path / "a.csv", header, rows), year=YEAR)
    assert keys(failure.value) == [(1, None, "imports.missing_column")]
    assert (
        failure.value.errors[0].render()
        == "Dòng 1: thiếu cột bắt buộc 'Mã ấp' (hoặc 'village_code')"
    )


@pytest.mark.usefixtures("areas")
async def test_optional_columns_may_be_absent(sessions: Sessions, tmp_path: Path) -> None:
    header = (*ROSTER_HEADER_VI[:5], "Năm sinh")
    years = ("1974", "1976", "2007", "1971", "1950")
    rows = [(*row[:5], year) for row, year in zip(ROSTER, years, strict=True)]
    await import_roster(sessions, write_csv(tmp_path / "a.csv", header, rows), year=YEAR)
    members = (await stored(sessions))["H002"]["members"]
    assert members == [
        (1, "Đặng Hữu Thắng", None, None, 1971, None),
        (2, "Đặng Thị Hoa", None, None, 1950, None),
    ]


@pytest.mark.usefixtures("areas")
async def test_progress_bar_goes_to_stderr(
    sessions: Sessions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "a.csv", ROSTER_HEADER_VI, ROSTER)
    await import_roster(sessions, path, year=YEAR, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Kiểm tra" in captured.err


async def test_the_bundled_demo_files(sessions: Sessions) -> None:
    demo = DEMO_DIR
    await import_areas(sessions, demo / "areas.csv")
    first = await import_roster(sessions, demo / "roster.csv", year=YEAR)
    assert first.created > 0
    again = await import_roster(sessions, demo / "roster.csv", year=YEAR)
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)


@pytest.mark.large
@pytest.mark.usefixtures("areas")
async def test_fifty_thousand_member_rows(sessions: Sessions, tmp_path: Path) -> None:
    rows = []
    for number in range(12_500):
        code = f"H{number:05d}"
        village = "AP1" if number % 2 else "AP2"
        head = f"Nguyễn Văn {number}"
        category = ("hộ nghèo", "hộ cận nghèo", "hộ mới thoát nghèo")[number % 3]
        rows.append((code, village, head, category, head, "nam", "12/3/1970", "chủ hộ"))
        rows.append((code, village, head, category, f"Lê Thị {number}", "nữ", "1972", "vợ"))
        rows.append(
            (code, village, head, category, f"Nguyễn Văn Con {number}", "nam", "2001", "con")
        )
        rows.append(
            (code, village, head, category, f"Nguyễn Thị Con {number}", "nữ", "1/6/2005", "con")
        )
    path = write_csv(tmp_path / "lon.csv", ROSTER_HEADER_VI, rows)

    first = await import_roster(sessions, path, year=YEAR)
    assert (first.created, first.details["members_created"]) == (12_500, 50_000)
    assert (await counts(sessions))["members"] == 50_000

    again = await import_roster(sessions, path, year=YEAR)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 12_500)
    assert (await counts(sessions))["members"] == 50_000
