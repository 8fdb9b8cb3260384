"""Importing the figures of each area and year that interviews can't give (.csv or .xlsx):
all households of the area, the poverty rate's denominator, and the official counts per
category, used for last year's rate when the database has no roster of that year.

Same contract as the other imports (storage/imports/__init__.py): every problem of the file
is reported at once, in Vietnamese, with Excel's row numbers, and nothing is written then;
otherwise one transaction and one audit entry; importing the same file again changes
nothing. An empty optional cell keeps what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.imports import values
from storage.imports.cells import RowReader
from storage.imports.errors import ErrorList, ImportResult
from storage.imports.progress import progress_bar
from storage.imports.tabular import Column, SourceRow, read_table
from storage.imports.writing import audit_import, lock_for_import
from storage.models import Area, AreaYearStats
from storage.uow import UnitOfWork

COUNT_FIELDS = ("poor_households", "near_poor_households", "escaped_households")
AREA_STATS_COLUMNS = (
    Column("area_code", "Mã địa bàn", "area_code", ("mã", "code", "mã xã", "mã ấp")),
    Column("year", "Năm", "year", ("năm rà soát", "review_year")),
    Column("total_households", "Tổng số hộ", "total_households", ("số hộ", "tổng số hộ dân cư")),
    Column("poor_households", "Số hộ nghèo", "poor_households", ("hộ nghèo",), required=False),
    Column(
        "near_poor_households",
        "Số hộ cận nghèo",
        "near_poor_households",
        ("hộ cận nghèo",),
        required=False,
    ),
    Column(
        "escaped_households",
        "Số hộ mới thoát nghèo",
        "escaped_households",
        ("hộ mới thoát nghèo", "hộ thoát nghèo"),
        required=False,
    ),
)
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class StatsRow:
    row: int
    area_code: str
    year: int
    total_households: int
    counts: dict[str, int | None]


async def import_area_stats(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    actor_id: int | None = None,
    progress: bool = False,
) -> ImportResult:
    """Create or update one AreaYearStats per (area code, year) row, all or nothing."""
    path = Path(path)
    table = read_table(path, AREA_STATS_COLUMNS)
    errors = ErrorList()
    reader = RowReader(table, errors)
    rows: list[StatsRow] = []
    first_row: dict[tuple[str, int], int] = {}
    with progress_bar(len(table.rows), "imports.progress.checking", progress) as bar:
        for source in table.rows:
            bar.update()
            parsed = _parse(source, reader)
            if parsed is None:
                continue
            key = (parsed.area_code, parsed.year)
            if key in first_row:
                reader.error(
                    source,
                    "area_code",
                    "summary.import.duplicate_row",
                    code=parsed.area_code,
                    year=parsed.year,
                    first_row=first_row[key],
                )
                continue
            first_row[key] = source.number
            rows.append(parsed)
    async with UnitOfWork(sessions) as uow:
        await lock_for_import(uow.session)
        areas = await uow.areas.by_codes(row.area_code for row in rows)
        for row in rows:
            if row.area_code not in areas:
                reader.error(
                    row.row, "area_code", "summary.import.unknown_area", code=row.area_code
                )
        errors.raise_if_any()
        result = await _write(uow.session, rows, areas)
        await audit_import(uow, "area_stats.imported", path, actor_id, result)
        await uow.commit()
    return result


def _parse(source: SourceRow, reader: RowReader) -> StatsRow | None:
    code = reader.text(source, "area_code", required=True, max_length=values.CODE_LENGTH)
    year = _number(source, reader, "year", required=True)
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        reader.error(
            source,
            "year",
            "summary.import.invalid_year",
            year=year,
            first_year=FIRST_YEAR,
            last_year=LAST_YEAR,
        )
        year = None
    total = _number(source, reader, "total_households", required=True)
    counts = {name: _number(source, reader, name, required=False) for name in COUNT_FIELDS}
    known = sum(value for value in counts.values() if value is not None)
    if total is not None and known > total:
        reader.error(
            source, "total_households", "summary.import.counts_exceed_total", total=total, sum=known
        )
        return None
    if code is None or year is None or total is None:
        return None
    return StatsRow(source.number, code, year, total, counts)


def _number(source: SourceRow, reader: RowReader, key: str, *, required: bool) -> int | None:
    raw = reader.cell(source, key)
    if raw is None:
        if required:
            reader.error(source, key, "imports.required")
        return None
    value = values.count(raw)
    if value is None:
        reader.error(source, key, "imports.invalid_count", value=raw)
    return value


async def _write(
    session: AsyncSession, rows: list[StatsRow], areas: dict[str, Area]
) -> ImportResult:
    ids = {areas[row.area_code].id for row in rows}
    stored = {
        (stats.area_id, stats.year): stats
        for stats in await session.scalars(
            select(AreaYearStats).where(AreaYearStats.area_id.in_(ids))
        )
    }
    created = updated = unchanged = 0
    for row in rows:
        area_id = areas[row.area_code].id
        current = stored.get((area_id, row.year))
        if current is None:
            session.add(
                AreaYearStats(
                    area_id=area_id,
                    year=row.year,
                    total_households=row.total_households,
                    **row.counts,
                )
            )
            created += 1
            continue
        wanted: dict[str, int | None] = {"total_households": row.total_households}
        wanted.update({name: value for name, value in row.counts.items() if value is not None})
        if all(getattr(current, name) == value for name, value in wanted.items()):
            unchanged += 1
            continue
        for name, value in wanted.items():
            setattr(current, name, value)
        updated += 1
    return ImportResult(created, updated, unchanged, {"rows": len(rows)}, kind="area_stats")


__all__ = ["AREA_STATS_COLUMNS", "import_area_stats"]
