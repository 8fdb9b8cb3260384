"""Importing the household roster of a review year: one row per member, as commune lists are.

Rows are checked without the database first, then the file's households are compared
with what is stored in a handful of batched queries, and the differences are written
with bulk statements, so a 50,000-row list takes seconds rather than minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from classification.age import DEFAULT_REFERENCE
from storage.imports import values
from storage.imports.cells import RowReader
from storage.imports.errors import ErrorList, ImportResult
from storage.imports.progress import progress_bar
from storage.imports.tabular import Column, Sheet, SourceRow, read_table
from storage.imports.values import cached_fold
from storage.imports.writing import audit_import, chunks, lock_for_import
from storage.models import Area, Household, HouseholdCategory, Member
from storage.uow import UnitOfWork

ROSTER_COLUMNS = (
    Column("household_code", "Mã hộ", "household_code", ("mã hộ gia đình",)),
    Column("village_code", "Mã ấp", "village_code", ("mã thôn", "mã địa bàn", "area_code")),
    Column("head_name", "Chủ hộ", "head_name", ("họ tên chủ hộ", "tên chủ hộ")),
    Column("category", "Phân loại", "category", ("loại hộ", "phân loại hộ")),
    Column("member_name", "Họ tên thành viên", "member_name", ("họ và tên", "họ tên")),
    Column("sex", "Giới tính", "sex", ("gender",), required=False),
    Column("birth", "Ngày sinh", "birth", ("năm sinh", "ngày tháng năm sinh", "birth_date")),
    Column("relation", "Quan hệ với chủ hộ", "relation", ("quan hệ",), required=False),
)

# Core tables rather than ORM bulk inserts: the ORM groups rows by which values are None,
# so a roster where only some births have a day would go in a few rows per statement.
HOUSEHOLDS: Table = Household.__table__  # type: ignore[assignment]
MEMBERS: Table = Member.__table__  # type: ignore[assignment]

MEMBER_FIELDS = ("position", "full_name", "sex", "birth_date", "birth_year", "relation")


@dataclass
class MemberRow:
    row: int
    full_name: str
    sex: str | None
    birth_date: date | None
    birth_year: int | None
    relation: str | None
    key: tuple[str, int | None] = field(init=False)

    def __post_init__(self) -> None:
        self.key = member_key(self.full_name, self.birth_year)


@dataclass
class HouseholdRows:
    code: str
    row: int
    village_code: str
    head_name: str
    category: HouseholdCategory
    # As typed ("hộ nghèo"), to quote back in an error rather than the stored code.
    category_text: str
    members: list[MemberRow] = field(default_factory=list)


def member_key(full_name: str, birth_year: int | None) -> tuple[str, int | None]:
    """How a member of the file is recognised among the stored ones.

    The birth year rather than the full date, so that a list giving only "1985" still
    matches a member whose exact date was recorded later (and vice versa).
    """
    return (cached_fold(full_name), birth_year)


async def import_roster(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    year: int,
    actor_id: int | None = None,
    progress: bool = False,
    reference_date: date | None = None,
) -> ImportResult:
    """Create or update the households of ``year``, all or nothing; see __init__.py.

    Birth dates are checked at ``reference_date``, the review's reference date (by default
    the default rule's for ``year``), as the form checks them when the roster prefills it.
    """
    path = Path(path)
    table = read_table(path, ROSTER_COLUMNS)
    errors = ErrorList()
    reader = RowReader(table, errors)
    parsed = _parse(table, reader, reference_date or DEFAULT_REFERENCE.on(year), progress)
    households = parsed.households
    async with UnitOfWork(sessions) as uow:
        await lock_for_import(uow.session)
        village_ids = await _village_ids(uow.session, parsed.villages, reader)
        errors.raise_if_any()
        result = await _write(uow.session, households, village_ids, year, progress)
        await audit_import(uow, "roster.imported", path, actor_id, result, **result.details)
        await uow.commit()
    return result


@dataclass
class ParsedRoster:
    households: dict[str, HouseholdRows] = field(default_factory=dict)
    # Village codes to look up, with the row to blame: the first row of each household,
    # even one whose other cells are wrong, so that every error is reported in one go.
    villages: dict[str, tuple[int, str]] = field(default_factory=dict)


def _parse(table: Sheet, reader: RowReader, today: date, progress: bool) -> ParsedRoster:
    parsed = ParsedRoster()
    with progress_bar(len(table.rows), "imports.progress.checking", progress) as bar:
        for row in table.rows:
            bar.update()
            household = _household_of(row, reader, parsed)
            member = _member(row, reader, today)
            if household is not None and member is not None:
                _add_member(household, member, reader)
    return parsed


def _household_of(row: SourceRow, reader: RowReader, parsed: ParsedRoster) -> HouseholdRows | None:
    households = parsed.households
    code = reader.text(row, "household_code", required=True, max_length=values.CODE_LENGTH)
    village = reader.text(row, "village_code", required=True, max_length=values.CODE_LENGTH)
    if village is not None:
        parsed.villages.setdefault(code or f"\0{row.number}", (row.number, village))
    head = reader.text(row, "head_name", required=True, max_length=values.NAME_LENGTH)
    category: HouseholdCategory | None = None
    if (raw := reader.text(row, "category", required=True, max_length=200)) is not None:
        category = values.category(raw)
        if category is None:
            reader.error(row, "category", "imports.invalid_category", value=raw)
    if code is None:
        return None
    known = households.get(code)
    if known is None:
        if village is None or head is None or category is None:
            return None
        known = HouseholdRows(code, row.number, village, head, category, raw or category.value)
        households[code] = known
        return known
    # Every member row repeats the household's columns; a disagreement is almost always
    # a copy-paste slip that would otherwise silently pick one of the values.
    disagreements = {
        "village_code": village is not None and village != known.village_code,
        "head_name": head is not None and cached_fold(head) != cached_fold(known.head_name),
        "category": category is not None and category != known.category,
    }
    for key, differs in disagreements.items():
        if differs:
            reader.error(
                row,
                key,
                "imports.household_disagrees",
                code=code,
                first_row=known.row,
                expected=_shown(key, known),
            )
    return known


def _shown(key: str, household: HouseholdRows) -> str:
    if key == "village_code":
        return household.village_code
    if key == "head_name":
        return household.head_name
    return household.category_text


def _member(row: SourceRow, reader: RowReader, today: date) -> MemberRow | None:
    name = reader.text(row, "member_name", required=True, max_length=values.NAME_LENGTH)
    valid = name is not None
    sex: str | None = None
    if (raw_sex := reader.text(row, "sex", required=False, max_length=200)) is not None:
        sex = values.sex(raw_sex)
        if sex is None:
            reader.error(row, "sex", "imports.invalid_sex", value=raw_sex)
            valid = False
    relation: str | None = None
    if (raw_relation := reader.text(row, "relation", required=False, max_length=200)) is not None:
        relation = values.relation(raw_relation)
        if relation is None:
            reader.error(row, "relation", "imports.invalid_relation", value=raw_relation)
            valid = False
    birth = _birth(row, reader, today)
    if birth is None:
        valid = False
    if not valid or name is None or birth is None:
        return None
    return MemberRow(row.number, name, sex, birth.birth_date, birth.year, relation)


def _birth(row: SourceRow, reader: RowReader, today: date) -> values.Birth | None:
    raw = reader.cell(row, "birth")
    if raw is None:
        reader.error(row, "birth", "imports.required")
        return None
    birth = values.birth(raw)
    if birth is None:
        reader.error(row, "birth", "imports.invalid_birth", value=values.text(raw))
        return None
    if problem := values.birth_problem(birth, today):
        reader.error(row, "birth", problem, value=values.text(raw), max_age=values.MAX_AGE)
        return None
    return birth


def _add_member(household: HouseholdRows, member: MemberRow, reader: RowReader) -> None:
    for other in household.members:
        if other.key == member.key:
            reader.error(
                member.row,
                "member_name",
                "imports.duplicate_member",
                name=member.full_name,
                code=household.code,
                first_row=other.row,
            )
            return
        if member.relation == "head" and other.relation == "head":
            reader.error(
                member.row,
                "relation",
                "imports.second_head",
                code=household.code,
                first_row=other.row,
            )
            return
    household.members.append(member)


async def _village_ids(
    session: AsyncSession, mentions: dict[str, tuple[int, str]], reader: RowReader
) -> dict[str, int]:
    """Ids of the villages named in the file; unknown or non-village codes are errors."""
    codes = sorted({code for _, code in mentions.values()})
    found: dict[str, int] = {}
    with_children: set[str] = set()
    for batch in chunks(codes):
        rows = await session.execute(select(Area.code, Area.id).where(Area.code.in_(batch)))
        found.update({code: area_id for code, area_id in rows})
        child = select(Area.parent_id).where(Area.parent_id.is_not(None))
        parents = await session.scalars(
            select(Area.code).where(Area.code.in_(batch), Area.id.in_(child))
        )
        with_children.update(parents)
    # Once per household: its other rows are held to agree with the first anyway.
    for row, code in mentions.values():
        if code not in found:
            reader.error(row, "village_code", "imports.unknown_village", code=code)
        elif code in with_children:
            # Households hang off the lowest level; a commune code here would hide them
            # from the village's collaborators.
            reader.error(row, "village_code", "imports.not_a_village", code=code)
    return found


@dataclass
class _Changes:
    new_households: list[dict[str, Any]] = field(default_factory=list)
    household_updates: list[dict[str, Any]] = field(default_factory=list)
    # Members of new households wait for their household's id.
    new_members_by_code: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    new_members: list[dict[str, Any]] = field(default_factory=list)
    member_updates: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def bump(self, key: str, by: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + by


async def _write(
    session: AsyncSession,
    households: dict[str, HouseholdRows],
    village_ids: dict[str, int],
    year: int,
    progress: bool,
) -> ImportResult:
    stored = await _stored_households(session, list(households), year)
    stored_members = await _stored_members(session, [row["id"] for row in stored.values()])
    changes = _Changes()
    for household in households.values():
        _diff(household, village_ids[household.village_code], year, stored, stored_members, changes)

    total = (
        len(changes.new_households)
        + len(changes.household_updates)
        + sum(len(members) for members in changes.new_members_by_code.values())
        + len(changes.new_members)
        + len(changes.member_updates)
    )
    with progress_bar(total, "imports.progress.writing", progress) as bar:
        for batch in chunks(changes.household_updates):
            await session.execute(update(Household), list(batch))
            bar.update(len(batch))
        for batch in chunks(changes.new_households):
            inserted = await session.execute(
                insert(HOUSEHOLDS).returning(HOUSEHOLDS.c.id, HOUSEHOLDS.c.code), list(batch)
            )
            for household_id, code in inserted:
                for member in changes.new_members_by_code.pop(code, []):
                    member["household_id"] = household_id
                    changes.new_members.append(member)
            bar.update(len(batch))
        for batch in chunks(changes.new_members):
            await session.execute(insert(MEMBERS), list(batch))
            bar.update(len(batch))
        for batch in chunks(changes.member_updates):
            await session.execute(update(Member), list(batch))
            bar.update(len(batch))

    in_year = await session.scalar(
        select(func.count(Household.id)).where(Household.review_year == year)
    )
    counts = changes.counts
    details = {
        "year": year,
        "rows": sum(len(household.members) for household in households.values()),
        "members_created": counts.get("members_created", 0),
        "members_updated": counts.get("members_updated", 0),
        "members_unchanged": counts.get("members_unchanged", 0),
        "members_kept": counts.get("members_kept", 0),
        "households_kept": int(in_year or 0) - len(households),
    }
    return ImportResult(
        counts.get("created", 0),
        counts.get("updated", 0),
        counts.get("unchanged", 0),
        details,
        kind="roster",
    )


async def _stored_households(
    session: AsyncSession, codes: list[str], year: int
) -> dict[str, dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    columns = (Household.id, Household.code, Household.area_id, Household.head_name)
    for batch in chunks(codes):
        query = select(*columns, Household.category).where(
            Household.review_year == year, Household.code.in_(batch)
        )
        for row in (await session.execute(query)).mappings():
            stored[row["code"]] = dict(row)
    return stored


async def _stored_members(
    session: AsyncSession, household_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    members: dict[int, list[dict[str, Any]]] = {}
    columns = [getattr(Member, name) for name in ("id", "household_id", *MEMBER_FIELDS)]
    for batch in chunks(household_ids):
        query = (
            select(*columns)
            .where(Member.household_id.in_(batch))
            .order_by(Member.household_id, Member.position, Member.id)
        )
        for row in (await session.execute(query)).mappings():
            members.setdefault(row["household_id"], []).append(dict(row))
    return members


def _diff(
    household: HouseholdRows,
    area_id: int,
    year: int,
    stored: dict[str, dict[str, Any]],
    stored_members: dict[int, list[dict[str, Any]]],
    changes: _Changes,
) -> None:
    wanted = {
        "area_id": area_id,
        "head_name": household.head_name,
        "head_name_search": cached_fold(household.head_name),
        "category": household.category,
    }
    current = stored.get(household.code)
    if current is None:
        changes.new_households.append({"code": household.code, "review_year": year, **wanted})
        changes.new_members_by_code[household.code] = [
            _member_values(member, position)
            for position, member in enumerate(household.members, start=1)
        ]
        changes.bump("created")
        changes.bump("members_created", len(household.members))
        return

    household_changed = any(
        current[name] != wanted[name] for name in ("area_id", "head_name", "category")
    )
    if household_changed:
        changes.household_updates.append({"id": current["id"], **wanted})
    members_changed = _diff_members(household, current["id"], stored_members, changes)
    changes.bump("updated" if household_changed or members_changed else "unchanged")


def _diff_members(
    household: HouseholdRows,
    household_id: int,
    stored_members: dict[int, list[dict[str, Any]]],
    changes: _Changes,
) -> bool:
    existing: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for stored in stored_members.get(household_id, []):
        existing.setdefault(member_key(stored["full_name"], stored["birth_year"]), []).append(
            stored
        )
    changed = False
    position = 0
    for position, member in enumerate(household.members, start=1):
        matches = existing.get(member.key)
        if not matches:
            changes.new_members.append(
                {"household_id": household_id, **_member_values(member, position)}
            )
            changes.bump("members_created")
            changed = True
            continue
        current = matches.pop(0)
        wanted = _merged(current, _member_values(member, position))
        if all(current[name] == wanted[name] for name in MEMBER_FIELDS):
            changes.bump("members_unchanged")
        else:
            changes.member_updates.append({"id": current["id"], **wanted})
            changes.bump("members_updated")
            changed = True
    # Members missing from the file may have been added during the review; the file is
    # not proof they left, so they stay, after the listed ones and in their own order.
    kept = sorted(
        (unlisted for matches in existing.values() for unlisted in matches),
        key=lambda unlisted: (unlisted["position"], unlisted["id"]),
    )
    for offset, unlisted in enumerate(kept, start=position + 1):
        changes.bump("members_kept")
        if unlisted["position"] != offset:
            values_now = {name: unlisted[name] for name in MEMBER_FIELDS}
            changes.member_updates.append({"id": unlisted["id"], **values_now, "position": offset})
            changed = True
    return changed


def _member_values(member: MemberRow, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "full_name": member.full_name,
        "sex": member.sex,
        "birth_date": member.birth_date,
        "birth_year": member.birth_year,
        "relation": member.relation,
    }


def _merged(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The file's values, except that an empty cell keeps what is stored.

    A list without the sex column, or with only birth years, is not a reason to erase
    what was recorded during the review.
    """
    merged = dict(wanted)
    for name in ("sex", "relation", "birth_date"):
        if merged[name] is None:
            merged[name] = current[name]
    return merged
