"""Importing responsible officers from the export's group lists, filled in by hand.

The commune exports the lists (one sheet per support group, with "Người phụ trách" and
"Điện thoại người phụ trách" columns), writes an officer on each row, and imports the
workbook (or a sheet as CSV) back. All or nothing, like the other imports: every problem
of every sheet is reported with its sheet, row and column, and nothing is written then.
An officer is matched to a registered user of the person's village (or an area above it)
by name, accents and case aside; someone not using the bot is stored by name and phone.
Rows without an officer are left alone; a person whose officer is already the one written
is unchanged, and a different one replaces the current assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from classification import rules_for
from classification.followup import support_groups
from storage.followup import SupportPerson
from storage.imports import values
from storage.imports.cells import RowReader
from storage.imports.errors import ErrorList, ImportResult
from storage.imports.tabular import Column, Sheet, SourceRow, read_tables
from storage.imports.writing import audit_import, lock_for_import
from storage.models import Area, SupportAssignment, User
from storage.text import fold, phone_number
from storage.uow import UnitOfWork

FOLLOWUP_COLUMNS = (
    Column("household_code", "Mã hộ", "household_code", ("mã hộ gia đình",)),
    Column("member_no", "STT thành viên", "member_no", ("stt", "số thứ tự thành viên")),
    Column("officer", "Người phụ trách", "person_in_charge", ("officer",)),
    Column(
        "phone",
        "Điện thoại người phụ trách",
        "officer_phone",
        ("số điện thoại", "điện thoại", "sđt", "phone"),
        required=False,
    ),
)
NAME_LENGTH = 200


@dataclass(frozen=True)
class Planned:
    person: SupportPerson
    user_id: int | None
    name: str | None
    phone: str | None


class _SheetReader(RowReader):
    """A row reader whose errors name the sheet as well as the column."""

    def __init__(self, title: str, table: Sheet, errors: ErrorList, several: bool) -> None:
        super().__init__(table, errors)
        self.title = title
        self.several = several

    def error(self, row: SourceRow | int, key: str, message_key: str, **params: object) -> None:
        number = row if isinstance(row, int) else row.number
        column = self.table.header(key)
        where = f"{self.title} › {column}" if self.several else column
        self.errors.add(number, where, message_key, **params)


async def import_followup(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    year: int,
    rules: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> ImportResult:
    path = Path(path)
    now = now or datetime.now(UTC)
    tables = read_tables(path, FOLLOWUP_COLUMNS)
    groups = support_groups(rules_for(year, rules))
    errors = ErrorList()
    async with UnitOfWork(sessions) as uow:
        await lock_for_import(uow.session)
        areas = {area.id: area for area in await uow.areas.all()}
        planned = await _check(uow, tables, year, groups, areas, errors)
        errors.raise_if_any()
        created = updated = unchanged = 0
        for plan in planned:
            person = plan.person
            current = await uow.followup.current(person.household_id, person.member_index)
            if current is not None and _same(current, plan):
                unchanged += 1
                continue
            await uow.followup.assign(
                SupportAssignment(
                    review_year=year,
                    household_id=person.household_id,
                    member_index=person.member_index,
                    member_name=person.member_name,
                    group=person.group,
                    officer_user_id=plan.user_id,
                    officer_name=plan.name,
                    officer_phone=plan.phone,
                    assigned_by=actor_id,
                ),
                now,
            )
            if current is None:
                created += 1
            else:
                updated += 1
        result = ImportResult(created, updated, unchanged, kind="followup")
        await audit_import(uow, "followup.imported", path, actor_id, result)
        await uow.commit()
    return result


def _same(current: SupportAssignment, plan: Planned) -> bool:
    if plan.user_id is not None:
        return current.officer_user_id == plan.user_id
    return (
        current.officer_user_id is None
        and current.officer_name == plan.name
        and current.officer_phone == plan.phone
    )


async def _check(
    uow: UnitOfWork,
    tables: list[tuple[str, Sheet]],
    year: int,
    groups: tuple[str, ...],
    areas: dict[int, Area],
    errors: ErrorList,
) -> list[Planned]:
    planned: list[Planned] = []
    seen: dict[tuple[int, int], int] = {}
    officers_of: dict[int, list[User]] = {}
    for title, table in tables:
        reader = _SheetReader(title, table, errors, len(tables) > 1)
        for row in table.rows:
            officer = reader.text(row, "officer", required=False, max_length=NAME_LENGTH)
            if officer is None:
                continue
            code = reader.text(row, "household_code", required=True, max_length=values.CODE_LENGTH)
            raw_number = reader.cell(row, "member_no")
            number = values.count(raw_number) if raw_number is not None else None
            if raw_number is None:
                reader.error(row, "member_no", "imports.required")
            elif number is None or number < 1:
                reader.error(row, "member_no", "followup.import.bad_member_no", value=raw_number)
                number = None
            if code is None or number is None:
                continue
            household = await uow.households.by_code(code, year)
            if household is None:
                reader.error(
                    row, "household_code", "followup.import.unknown_household", code=code, year=year
                )
                continue
            person = await uow.followup.person(household.id, number - 1, groups)
            if person is None:
                reader.error(
                    row, "member_no", "followup.import.not_on_list", number=number, code=code
                )
                continue
            key = (household.id, number - 1)
            if key in seen:
                reader.error(row, "member_no", "followup.import.duplicate", first_row=seen[key])
                continue
            seen[key] = row.number
            if person.village_id not in officers_of:
                village = areas[person.village_id]
                chain = {area.id for area in await uow.areas.path(village)}
                officers_of[person.village_id] = await uow.followup.officers(chain)
            matches = [
                u for u in officers_of[person.village_id] if fold(u.display_name) == fold(officer)
            ]
            raw_phone = reader.text(row, "phone", required=False, max_length=40)
            phone = phone_number(raw_phone) if raw_phone is not None else None
            if raw_phone is not None and phone is None:
                reader.error(row, "phone", "followup.import.bad_phone", value=raw_phone)
                continue
            if len(matches) == 1:
                planned.append(Planned(person, matches[0].id, None, None))
            elif phone is not None:
                planned.append(Planned(person, None, " ".join(officer.split()), phone))
            elif matches:
                reader.error(
                    row,
                    "officer",
                    "followup.import.ambiguous_user",
                    name=officer,
                    count=len(matches),
                )
            else:
                reader.error(row, "phone", "followup.import.needs_phone", name=officer)
    return planned
