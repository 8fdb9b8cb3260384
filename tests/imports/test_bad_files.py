"""Files that are not what they say: every importer answers with one clear message and
stores nothing; a stray NUL or control character in a cell is dropped, never stored."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.imports import ImportFailed, import_areas, import_roster
from storage.imports.responses import import_responses
from storage.models import Household, Member
from tests.imports.files import (
    AREA_HEADER_EN,
    ROSTER_HEADER_EN,
    TREE,
    counts,
    write_csv,
    write_xlsx,
)

YEAR = 2026
Sessions = async_sessionmaker[AsyncSession]


def not_a_zip(path: Path) -> Path:
    path.write_bytes(os.urandom(2048))
    return path


def broken_xml(path: Path) -> Path:
    """A real workbook whose sheet's XML is cut in the middle (a torn download)."""
    sound = write_xlsx(path.with_name("sound.xlsx"), AREA_HEADER_EN, TREE)
    with zipfile.ZipFile(sound) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return path


def damaged_zip(path: Path) -> Path:
    """A workbook with bytes flipped in the middle (a bad disk, a bad copy)."""
    data = bytearray(write_xlsx(path.with_name("sound.xlsx"), AREA_HEADER_EN, TREE).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", [not_a_zip, broken_xml, damaged_zip])
async def test_a_workbook_that_is_not_one_gets_one_clear_error(
    sessions: Sessions, tmp_path: Path, damage: object
) -> None:
    assert callable(damage)
    path = damage(tmp_path / "danh-sach.xlsx")
    before = await counts(sessions)
    for importer in (import_areas, import_roster, import_responses):
        with pytest.raises(ImportFailed) as failure:
            await importer(sessions, path, **({} if importer is import_areas else {"year": YEAR}))
        assert [e.message_key for e in failure.value.errors] == ["imports.unreadable_xlsx"]
        assert "danh-sach.xlsx" in failure.value.errors[0].render("vi")
    assert await counts(sessions) == before


async def test_control_characters_in_a_csv_are_dropped(sessions: Sessions, tmp_path: Path) -> None:
    # A NUL in a cell made PostgreSQL refuse the whole import with a raw driver error.
    await import_areas(sessions, write_csv(tmp_path / "areas.csv", AREA_HEADER_EN, TREE))
    rows = [
        (
            "H1",
            "AP1",
            "Nguyễn\x00 Văn\x07 A",
            "poor",
            "Nguyễn\x00 Văn\x07 A",
            "nam",
            "1974",
            "chủ hộ",
        )
    ]
    await import_roster(sessions, write_csv(tmp_path / "ho.csv", ROSTER_HEADER_EN, rows), year=YEAR)
    async with sessions() as session:
        assert await session.scalar(select(Household.head_name)) == "Nguyễn Văn A"
        assert await session.scalar(select(Member.full_name)) == "Nguyễn Văn A"


def oversized_csv(path: Path) -> Path:
    with path.with_suffix(".csv").open("wb") as handle:
        handle.write(b"household_code,village_code\n")
        handle.write(b"H1,AP1\n" * (3 * 1024 * 1024))
    return path.with_suffix(".csv")


def zip_bomb(path: Path) -> Path:
    """A small workbook with a part that unpacks to 256 MB."""
    sound = write_xlsx(path.with_name("sound.xlsx"), AREA_HEADER_EN, TREE)
    with (
        zipfile.ZipFile(sound) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item))
        with target.open("xl/media/padding.bin", "w") as padding:
            chunk = bytes(1024 * 1024)
            for _ in range(256):
                padding.write(chunk)
    return path


@pytest.mark.parametrize("make", [oversized_csv, zip_bomb])
async def test_a_file_past_the_size_limit_is_refused_before_it_is_read(
    sessions: Sessions, tmp_path: Path, make: object
) -> None:
    assert callable(make)
    path = make(tmp_path / "qua-lon.xlsx")
    before = await counts(sessions)
    importers = [import_areas, import_roster]
    if path.suffix == ".xlsx":
        importers.append(import_responses)
    for importer in importers:
        with pytest.raises(ImportFailed) as failure:
            await importer(sessions, path, **({} if importer is import_areas else {"year": YEAR}))
        assert [e.message_key for e in failure.value.errors] == ["imports.too_large"]
        assert "20 MB" in failure.value.errors[0].render("vi")
    assert await counts(sessions) == before
