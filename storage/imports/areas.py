"""Importing the administrative tree (province › commune › village, any depth)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.imports import values
from storage.imports.cells import RowReader
from storage.imports.errors import ErrorList, ImportResult
from storage.imports.progress import progress_bar
from storage.imports.tabular import Column, Sheet, read_table
from storage.imports.writing import audit_import, lock_for_import
from storage.models import Area
from storage.uow import UnitOfWork

AREA_COLUMNS = (
    Column("code", "Mã", "code", ("mã địa bàn", "area_code")),
    Column("name", "Tên", "name", ("tên địa bàn", "area_name")),
    Column("level", "Cấp", "level", ("cấp địa bàn",)),
    Column("parent_code", "Mã cấp trên", "parent_code", ("mã địa bàn cấp trên", "parent")),
    Column("total_households", "Tổng số hộ", "total_households", ("số hộ",), required=False),
)


@dataclass(frozen=True)
class AreaRow:
    row: int
    code: str
    name: str
    level: str
    parent_code: str | None
    total_households: int | None


async def import_areas(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    actor_id: int | None = None,
    progress: bool = False,
) -> ImportResult:
    """Create or update areas by code, all or nothing; see storage/imports/__init__.py."""
    path = Path(path)
    table = read_table(path, AREA_COLUMNS)
    errors = ErrorList()
    reader = RowReader(table, errors)
    rows = _parse(table, reader, progress)
    async with UnitOfWork(sessions) as uow:
        await lock_for_import(uow.session)
        existing = {area.code: area for area in await uow.areas.all()}
        _check_tree(rows, existing, reader)
        errors.raise_if_any()
        result = await _write(uow.session, rows, existing)
        await audit_import(uow, "areas.imported", path, actor_id, result)
        await uow.commit()
    return result


def _parse(table: Sheet, reader: RowReader, progress: bool) -> list[AreaRow]:
    rows: list[AreaRow] = []
    first_row: dict[str, int] = {}
    with progress_bar(len(table.rows), "imports.progress.checking", progress) as bar:
        for row in table.rows:
            bar.update()
            code = reader.text(row, "code", required=True, max_length=values.CODE_LENGTH)
            name = reader.text(row, "name", required=True, max_length=values.NAME_LENGTH)
            level = reader.text(row, "level", required=True, max_length=values.LEVEL_LENGTH)
            parent_code = reader.text(
                row, "parent_code", required=False, max_length=values.CODE_LENGTH
            )
            total: int | None = None
            if (raw_total := reader.cell(row, "total_households")) is not None:
                total = values.count(raw_total)
                if total is None:
                    reader.error(row, "total_households", "imports.invalid_count", value=raw_total)
            if code is not None and code in first_row:
                reader.error(
                    row, "code", "imports.duplicate_area_code", code=code, first_row=first_row[code]
                )
                continue
            if code is None or name is None or level is None:
                continue
            first_row[code] = row.number
            rows.append(AreaRow(row.number, code, name, level, parent_code, total))
    return rows


def _check_tree(rows: list[AreaRow], existing: dict[str, Area], reader: RowReader) -> None:
    """Unknown parents and cycles, judged on the tree as it will be after the import."""
    in_file = {row.code: row for row in rows}
    code_of = {area.id: code for code, area in existing.items()}
    parent_of: dict[str, str | None] = {
        code: code_of.get(area.parent_id) if area.parent_id is not None else None
        for code, area in existing.items()
    }
    for row in rows:
        parent = row.parent_code
        if parent is not None and parent not in in_file and parent not in existing:
            reader.error(row.row, "parent_code", "imports.unknown_parent", code=parent)
            parent = None
        parent_of[row.code] = parent

    done: set[str] = set()
    for row in rows:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = row.code
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = parent_of.get(node)
        if node is not None and node in on_path:
            cycle = path[path.index(node) :]
            # Reported once, on the cycle's topmost row in the file, whichever row it
            # was found from; the chain starts there so it reads like the file.
            first = min((in_file[code] for code in cycle if code in in_file), key=lambda r: r.row)
            start = cycle.index(first.code)
            chain = [*cycle[start:], *cycle[:start], first.code]
            reader.error(first.row, "parent_code", "imports.area_cycle", cycle=" → ".join(chain))
        done.update(path)


async def _write(
    session: AsyncSession, rows: list[AreaRow], existing: dict[str, Area]
) -> ImportResult:
    in_file = {row.code: row for row in rows}
    depth: dict[str, int] = {}

    def depth_of(code: str) -> int:
        # Iterative: a 10-level tree is fine either way, but a long chain must not
        # hit the recursion limit.
        chain: list[str] = []
        node: str | None = code
        while node is not None and node in in_file and node not in depth:
            chain.append(node)
            node = in_file[node].parent_code
        base = depth.get(node, 0) if node is not None else 0
        for offset, item in enumerate(reversed(chain), start=1):
            depth[item] = base + offset
        return depth[code]

    by_depth: dict[int, list[AreaRow]] = {}
    for row in rows:
        by_depth.setdefault(depth_of(row.code), []).append(row)

    created = updated = unchanged = 0
    for level in sorted(by_depth):
        for row in by_depth[level]:
            parent_id = existing[row.parent_code].id if row.parent_code is not None else None
            area = existing.get(row.code)
            if area is None:
                area = Area(
                    code=row.code,
                    name=row.name,
                    level=row.level,
                    parent_id=parent_id,
                    total_households=row.total_households,
                )
                session.add(area)
                existing[row.code] = area
                created += 1
                continue
            wanted = {
                "name": row.name,
                "level": row.level,
                "parent_id": parent_id,
                # An empty cell means "not known here", not "erase what is stored".
                "total_households": row.total_households
                if row.total_households is not None
                else area.total_households,
            }
            if all(getattr(area, field) == value for field, value in wanted.items()):
                unchanged += 1
                continue
            for field, value in wanted.items():
                setattr(area, field, value)
            updated += 1
        # Children of the next level need their parents' ids.
        await session.flush()
    return ImportResult(created, updated, unchanged, {"rows": len(rows)}, kind="areas")
