"""Importing the area tree, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.imports import ImportFailed, import_areas
from storage.models import Area, AuditEntry
from tests.imports.files import (
    AREA_HEADER_EN,
    AREA_HEADER_VI,
    TREE,
    counts,
    keys,
    write_csv,
    write_xlsx,
)

Sessions = async_sessionmaker[AsyncSession]
DEMO_AREAS = Path(__file__).resolve().parents[2] / "bot" / "demo" / "areas.csv"


async def tree(sessions: Sessions) -> dict[str, tuple[str, str, str | None, int | None]]:
    """code -> (name, level, parent code, total households)."""
    async with sessions() as session:
        areas = (await session.scalars(select(Area))).all()
    code_of = {area.id: area.code for area in areas}
    return {
        area.code: (
            area.name,
            area.level,
            code_of.get(area.parent_id) if area.parent_id else None,
            area.total_households,
        )
        for area in areas
    }


EXPECTED = {
    "87": ("Tỉnh Đồng Tháp", "tỉnh", None, None),
    "87-MH": ("Xã Mỹ Hòa", "xã", "87", 3520),
    "AP1": ("Ấp 1", "ấp", "87-MH", 880),
    "AP2": ("Ấp 2", "ấp", "87-MH", 880),
}


async def test_csv_import_then_reimport_changes_nothing(sessions: Sessions, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dia_ban.csv", AREA_HEADER_EN, TREE)
    first = await import_areas(sessions, path)
    assert (first.created, first.updated, first.unchanged) == (4, 0, 0)
    assert await tree(sessions) == EXPECTED
    assert first.render() == "Đã nhập 4 địa bàn: 4 mới, 0 cập nhật, 0 không đổi."

    again = await import_areas(sessions, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert await tree(sessions) == EXPECTED
    assert (await counts(sessions))["areas"] == 4

    async with sessions() as session:
        audit = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [entry.action for entry in audit] == ["areas.imported", "areas.imported"]
    assert audit[0].details == {"file": "dia_ban.csv", "created": 4, "updated": 0, "unchanged": 0}
    assert audit[1].details["unchanged"] == 4


async def test_xlsx_with_vietnamese_headers_and_children_before_parents(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [
        (code, name, level, parent or None, int(total) if total else None)
        for code, name, level, parent, total in reversed(TREE)
    ]
    path = write_xlsx(tmp_path / "dia_ban.xlsx", AREA_HEADER_VI, rows, title="ĐỊA BÀN")
    result = await import_areas(sessions, path)
    assert result.created == 4
    assert await tree(sessions) == EXPECTED


async def test_changed_file_updates_and_moves(sessions: Sessions, tmp_path: Path) -> None:
    await import_areas(sessions, write_csv(tmp_path / "a.csv", AREA_HEADER_EN, TREE))
    changed = [
        ("87-MH", "Xã Mỹ Hòa", "xã", "87", "3600"),
        ("87-MH-B", "Xã Mỹ Bình", "xã", "87", ""),
        # AP2 moves to the new commune, which is only created by this same file.
        ("AP2", "Ấp Hai", "ấp", "87-MH-B", ""),
    ]
    result = await import_areas(sessions, write_csv(tmp_path / "b.csv", AREA_HEADER_EN, changed))
    assert (result.created, result.updated, result.unchanged) == (1, 2, 0)
    assert await tree(sessions) == {
        **EXPECTED,
        "87-MH": ("Xã Mỹ Hòa", "xã", "87", 3600),
        "87-MH-B": ("Xã Mỹ Bình", "xã", "87", None),
        # An empty total keeps the stored one.
        "AP2": ("Ấp Hai", "ấp", "87-MH-B", 880),
    }


async def test_parent_may_be_an_existing_area(sessions: Sessions, tmp_path: Path) -> None:
    await import_areas(sessions, write_csv(tmp_path / "a.csv", AREA_HEADER_EN, TREE[:2]))
    villages = write_csv(tmp_path / "b.csv", AREA_HEADER_VI, TREE[2:], delimiter=";", bom=True)
    result = await import_areas(sessions, villages)
    assert result.created == 2
    assert await tree(sessions) == EXPECTED


async def test_every_error_is_reported_and_nothing_is_written(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [
        ("87", "Tỉnh Đồng Tháp", "tỉnh", "", ""),  # row 2
        ("87-MH", "Xã Mỹ Hòa", "xã", "87", "nhiều"),  # 3: bad total
        ("87", "Tỉnh khác", "tỉnh", "", ""),  # 4: duplicate code
        ("AP1", "Ấp 1", "ấp", "87-XX", ""),  # 5: unknown parent
        ("C1", "", "ấp", "87-MH", ""),  # 6: no name
        ("X", "Vòng X", "ấp", "Y", ""),  # 7: X -> Y -> Z -> X
        ("Y", "Vòng Y", "ấp", "Z", ""),  # 8
        ("Z", "Vòng Z", "ấp", "X", ""),  # 9
        ("S", "Tự trỏ", "ấp", "S", ""),  # 10: its own parent
        ("L" * 33, "Mã dài", "ấp", "", ""),  # 11: code too long
    ]
    with pytest.raises(ImportFailed) as failure:
        await import_areas(sessions, write_csv(tmp_path / "a.csv", AREA_HEADER_VI, rows))
    assert keys(failure.value) == [
        (3, "Tổng số hộ", "imports.invalid_count"),
        (4, "Mã", "imports.duplicate_area_code"),
        (5, "Mã cấp trên", "imports.unknown_parent"),
        (6, "Tên", "imports.required"),
        (7, "Mã cấp trên", "imports.area_cycle"),
        (10, "Mã cấp trên", "imports.area_cycle"),
        (11, "Mã", "imports.too_long"),
    ]
    rendered = [error.render() for error in failure.value.errors]
    assert rendered[1] == "Dòng 4, cột 'Mã': mã '87' bị trùng với dòng 2"
    assert rendered[2] == (
        "Dòng 5, cột 'Mã cấp trên': mã cấp trên '87-XX' không có trong tệp "
        "và cũng không có trong danh sách địa bàn"
    )
    assert rendered[4] == "Dòng 7, cột 'Mã cấp trên': mã cấp trên tạo thành vòng lặp: X → Y → Z → X"
    assert rendered[5].endswith("S → S")
    assert await counts(sessions) == {"areas": 0, "households": 0, "members": 0, "audit": 0}


async def test_cycle_through_stored_areas(sessions: Sessions, tmp_path: Path) -> None:
    await import_areas(sessions, write_csv(tmp_path / "a.csv", AREA_HEADER_EN, TREE))
    before = await tree(sessions)
    # Making the province a child of one of its own villages.
    moved = [("87", "Tỉnh Đồng Tháp", "tỉnh", "AP1", "")]
    with pytest.raises(ImportFailed) as failure:
        await import_areas(sessions, write_csv(tmp_path / "b.csv", AREA_HEADER_EN, moved))
    assert keys(failure.value) == [(2, "parent_code", "imports.area_cycle")]
    assert failure.value.errors[0].params == {"cycle": "87 → AP1 → 87-MH → 87"}
    assert await tree(sessions) == before


async def test_actor_is_recorded(sessions: Sessions, tmp_path: Path) -> None:
    from storage.models import Role, User
    from storage.uow import UnitOfWork

    async with UnitOfWork(sessions) as uow:
        user = await uow.users.add(
            User(platform="terminal", platform_user_id="1", display_name="A", role=Role.ADMIN)
        )
        await uow.commit()
    await import_areas(
        sessions, write_csv(tmp_path / "a.csv", AREA_HEADER_EN, TREE), actor_id=user.id
    )
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry))
    assert entry is not None and entry.actor_id == user.id


async def test_the_bundled_demo_file(sessions: Sessions) -> None:
    demo = DEMO_AREAS
    result = await import_areas(sessions, demo)
    assert result.created > 0
    assert (await import_areas(sessions, demo)).unchanged == result.created
