"""Writing the sheets the import tests feed in, and reading back what was stored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.imports import ImportFailed
from storage.models import Area, AuditEntry, Household, Member

Row = Sequence[object]

AREA_HEADER_VI = ("Mã", "Tên", "Cấp", "Mã cấp trên", "Tổng số hộ")
AREA_HEADER_EN = ("code", "name", "level", "parent_code", "total_households")
ROSTER_HEADER_VI = (
    "Mã hộ",
    "Mã ấp",
    "Chủ hộ",
    "Phân loại",
    "Họ tên thành viên",
    "Giới tính",
    "Ngày sinh",
    "Quan hệ với chủ hộ",
)
ROSTER_HEADER_EN = (
    "household_code",
    "village_code",
    "head_name",
    "category",
    "member_name",
    "sex",
    "birth",
    "relation",
)

# Province › commune › two villages, as the roster tests expect.
TREE = [
    ("87", "Tỉnh Đồng Tháp", "tỉnh", "", ""),
    ("87-MH", "Xã Mỹ Hòa", "xã", "87", "3520"),
    ("AP1", "Ấp 1", "ấp", "87-MH", "880"),
    ("AP2", "Ấp 2", "ấp", "87-MH", "880"),
]


def write_csv(
    path: Path,
    header: Row,
    rows: Sequence[Row],
    *,
    delimiter: str = ",",
    bom: bool = False,
    encoding: str = "utf-8",
) -> Path:
    def quote(value: object) -> str:
        text = "" if value is None else str(value)
        if any(ch in text for ch in (delimiter, '"', "\n")):
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [delimiter.join(quote(value) for value in row) for row in [header, *rows]]
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_xlsx(path: Path, header: Row, rows: Sequence[Row], *, title: str | None = None) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title is not None:
        sheet.append([title])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (
                ("areas", Area),
                ("households", Household),
                ("members", Member),
                ("audit", AuditEntry),
            )
        }


def keys(failure: ImportFailed) -> list[tuple[int | None, str | None, str]]:
    return [(error.row, error.column, error.message_key) for error in failure.errors]
