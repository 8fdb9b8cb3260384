"""Importing questionnaires filled outside the chat (on paper, in ODK Collect or KoboCollect).

The file is an XLSX export of the bundled form as ODK Central/Briefcase or KoboToolbox
write it (see ``storage/imports/responses_sheets.py`` for the accepted shape). Like the
other importers it is all-or-nothing and idempotent:

* every submission is checked through the form engine exactly as chat answers are, and
  every problem of the file is reported at once (sheet, Excel row, column); nothing is
  written then;
* otherwise each household gets one completed interview (source ``import:<file name>``)
  with the answer rows the chat would have stored, in one transaction with one audit
  entry; importing the same file again reports every household as unchanged.

A household already interviewed another way (a chat interview, finished or not, or an
import of another file) is an error unless the answers are identical: the import must
never overwrite a collaborator's work. Re-importing a corrected file under the same name
replaces what that file stored before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from classification.age import DEFAULT_REFERENCE
from forms import HOUSEHOLD_CODE, Field, Form, load_bundled_form
from forms.codec import key_path
from storage.imports import values
from storage.imports.errors import ImportResult
from storage.imports.progress import progress_bar
from storage.imports.responses_answers import (
    RecordRow,
    Submission,
    check_submission,
    dependencies,
    flag,
)
from storage.imports.responses_errors import SheetErrors
from storage.imports.responses_sheets import (
    MEMBER_PARENT_KEYS,
    ColumnRole,
    RawSheet,
    Role,
    column_has_data,
    member_sheet,
    read_workbook,
    resolve_columns,
)
from storage.imports.writing import audit_import, chunks, lock_for_import
from storage.models import Answer, Household, Interview, InterviewStatus, utcnow
from storage.stats_facts import refresh_member_facts_for
from storage.uow import UnitOfWork

INTERVIEWS: Table = Interview.__table__  # type: ignore[assignment]
ANSWERS: Table = Answer.__table__  # type: ignore[assignment]
SOURCE_PREFIX = "import:"
SOURCE_LENGTH = 200


AfterWrite = Callable[[UnitOfWork, list[int]], Awaitable[None]]


async def import_responses(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    year: int,
    actor_id: int | None = None,
    progress: bool = False,
    reference_date: date | None = None,
    now: datetime | None = None,
    after_write: AfterWrite | None = None,
) -> ImportResult:
    """Store the file's households as completed interviews of ``year``; see the module doc.

    ``reference_date`` is the review's reference date (the form's today(): ages, "not in
    the future"), by default the default rule's for ``year``; never the server's date, so
    a review's interviews entered late are checked at the ages the review counts. ``now``
    (by default the clock's) is when the interviews are recorded as done: give the moment
    the reference date was taken from, so results recomputed later find the same date.
    ``after_write`` is called inside the import's transaction with the interviews written,
    so results derived from the answers commit (or roll back) together with them.
    """
    path = Path(path)
    today = reference_date or DEFAULT_REFERENCE.on(year)
    now = now or utcnow()
    form = load_bundled_form()
    errors = SheetErrors()
    submissions = _read(path, form, errors)
    depends_on = dependencies(form)
    checked: list[tuple[Submission, dict[str, Any] | None]] = []
    with progress_bar(len(submissions), "imports.progress.checking", progress) as bar:
        for submission in submissions:
            checked.append(
                (submission, check_submission(form, submission, today, depends_on, errors))
            )
            bar.update()

    source = (SOURCE_PREFIX + path.name)[:SOURCE_LENGTH]
    async with UnitOfWork(sessions) as uow:
        await lock_for_import(uow.session)
        plan = await _plan(uow.session, form, checked, year, source, errors)
        errors.raise_if_any()
        answers, touched = await _write(uow.session, form, plan, source, progress, now)
        await refresh_member_facts_for(uow, touched)
        if after_write is not None and touched:
            # Derived data (classifications, statistics) lands in the same transaction.
            await after_write(uow, touched)
        result = ImportResult(
            len(plan.create),
            len(plan.replace),
            plan.unchanged,
            {"year": year, "members": plan.members, "answers": answers},
            kind="responses",
        )
        await audit_import(
            uow,
            "responses.imported",
            path,
            actor_id,
            result,
            year=year,
            form_id=form.form_id,
            form_version=form.version,
            members=plan.members,
            answers=answers,
        )
        await uow.commit()
    return result


# -- reading the workbook ----------------------------------------------------------------


def _read(path: Path, form: Form, errors: SheetErrors) -> list[Submission]:
    sheets = read_workbook(path, errors)
    errors.raise_if_any()
    if not sheets:
        errors.add(None, None, None, "imports.empty_file")
        errors.raise_if_any()
    errors.sheets = [sheet.title for sheet in sheets]
    households = sheets[0]
    repeats = [name for name, repeat in form.repeats.items() if not repeat.repeats]
    resolve_columns(households, form, _scope(form, ()), household=True)
    members: dict[str, RawSheet] = {}
    for repeat in repeats:
        sheet = member_sheet(sheets, repeat, single=len(repeats) == 1)
        if sheet is None:
            errors.add(None, None, None, "imports.responses.no_member_sheet", repeat=repeat)
            continue
        resolve_columns(sheet, form, _scope(form, (repeat,)), household=False)
        members[repeat] = sheet
    for sheet in [households, *members.values()]:
        _check_columns(sheet, errors)
    if not households.positions(Role.CODE):
        errors.add(
            households.title,
            households.header_row,
            None,
            "imports.responses.missing_code_column",
        )
    links = {repeat: _link(households, sheet, errors) for repeat, sheet in members.items()}
    unlinked = None in links.values() or len(members) < len(repeats)
    if errors.items and (not households.positions(Role.CODE) or unlinked):
        # Without the household code or the link to members, row checks would only
        # repeat the same problem on every row.
        errors.raise_if_any()
    return _submissions(households, members, links, errors, HOUSEHOLD_CODE in form.fields)


def _scope(form: Form, repeats: tuple[str, ...]) -> dict[str, Field]:
    return {name: item for name, item in form.fields.items() if item.repeats == repeats}


def _check_columns(sheet: RawSheet, errors: SheetErrors) -> None:
    seen: dict[tuple[str | None, str | None], str] = {}
    for column in sheet.columns:
        if column.role is Role.UNKNOWN and column_has_data(sheet, column.position):
            # A misspelt field name would otherwise lose that question's answers silently.
            errors.add(
                sheet.title,
                sheet.header_row,
                column.header or _letter(column.position),
                "imports.responses.unknown_column",
            )
        if column.role in (Role.FIELD, Role.SPLIT, Role.CODE):
            key = (column.role.value + ":" + (column.name or ""), column.code)
            if key in seen:
                errors.add(
                    sheet.title,
                    sheet.header_row,
                    column.header,
                    "imports.duplicate_column",
                    label=column.name or column.header,
                )
            seen[key] = column.header


def _letter(position: int) -> str:
    return get_column_letter(position + 1)


@dataclass(frozen=True)
class _Link:
    """Which household column a member sheet's parent column points at."""

    household_position: int
    member_position: int
    member_header: str


def _link(households: RawSheet, sheet: RawSheet, errors: SheetErrors) -> _Link | None:
    for key, parent in MEMBER_PARENT_KEYS.items():
        own = households.link((key,))
        theirs = sheet.link((parent,))
        if own is not None and theirs is not None:
            return _Link(own.position, theirs.position, theirs.header)
    # Hand-made files may name the household on each member row instead.
    own_code = households.positions(Role.CODE)
    their_code = sheet.positions(Role.CODE)
    if own_code and their_code:
        return _Link(own_code[0].position, their_code[0].position, their_code[0].header)
    errors.add(sheet.title, sheet.header_row, None, "imports.responses.missing_link_column")
    return None


def _record(
    sheet: RawSheet,
    number: int,
    cells: Sequence[Any],
    errors: SheetErrors,
    code: ColumnRole | None = None,
) -> RecordRow:
    """One row's answers by field; ``code`` is the household-code column when the form
    asks that question too."""

    def at(position: int) -> Any:
        return cells[position] if position < len(cells) else None

    row_cells: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if code is not None:
        row_cells[HOUSEHOLD_CODE] = at(code.position)
        headers[HOUSEHOLD_CODE] = code.header
    for column in sheet.positions(Role.FIELD):
        assert column.name is not None
        row_cells.setdefault(column.name, at(column.position))
        headers.setdefault(column.name, column.header)
    # Kobo's split select_multiple columns (one 0/1 column per choice) stand in for the
    # space-separated column only when that one is absent.
    picked: dict[str, list[str]] = {}
    for column in sheet.positions(Role.SPLIT):
        assert column.name is not None and column.code is not None
        if column.name in headers and column.name not in picked:
            continue
        chosen = flag(at(column.position))
        if chosen is None:
            errors.add(
                sheet.title,
                number,
                column.header,
                "imports.responses.invalid_flag",
                value=values.text(at(column.position)),
            )
            continue
        codes = picked.setdefault(column.name, [])
        headers.setdefault(column.name, column.name)
        if chosen:
            codes.append(column.code)
    for name, codes in picked.items():
        row_cells[name] = " ".join(codes) or None
    return RecordRow(sheet.title, number, row_cells, headers)


def _submissions(
    households: RawSheet,
    members: dict[str, RawSheet],
    links: dict[str, _Link | None],
    errors: SheetErrors,
    code_is_answer: bool,
) -> list[Submission]:
    """The file's submissions; ``code_is_answer`` when the form asks the household code,
    whose column then is both the household's key and that question's answer."""
    code_column = households.positions(Role.CODE)[0]
    by_code: dict[str, int] = {}
    submissions: list[Submission] = []
    # Per repeat: the household sheet's link value -> the submission it names.
    keyed: dict[str, dict[str, Submission]] = {repeat: {} for repeat in members}
    first_row: dict[tuple[str, str], int] = {}
    # Members of a household row already reported as a duplicate: not orphans as well.
    ignored: set[tuple[str, str]] = set()
    for row in households.rows:
        code = values.text(row.at(code_column.position))
        record = _record(
            households, row.number, row.cells, errors, code_column if code_is_answer else None
        )
        submission = Submission(
            code,
            record,
            {repeat: [] for repeat in members},
            code_column.header,
            {repeat: sheet.title for repeat, sheet in members.items()},
        )
        if code is None:
            if not code_is_answer:  # else the form's own check reports it
                errors.add(households.title, row.number, code_column.header, "imports.required")
        elif code in by_code:
            errors.add(
                households.title,
                row.number,
                code_column.header,
                "imports.responses.duplicate_household",
                code=code,
                first_row=by_code[code],
            )
            for repeat, link in links.items():
                key = values.text(row.at(link.household_position)) if link else None
                if key is not None:
                    ignored.add((repeat, key))
            continue
        else:
            by_code[code] = row.number
        submissions.append(submission)
        for repeat, link in links.items():
            if link is None:
                continue
            key = values.text(row.at(link.household_position))
            if key is None:
                continue
            if (repeat, key) in first_row:
                errors.add(
                    households.title,
                    row.number,
                    households.headers[link.household_position],
                    "imports.responses.duplicate_key",
                    key=key,
                    first_row=first_row[(repeat, key)],
                )
                continue
            first_row[(repeat, key)] = row.number
            keyed[repeat][key] = submission

    for repeat, sheet in members.items():
        link = links[repeat]
        if link is None:
            continue
        for row in sheet.rows:
            parent = values.text(row.at(link.member_position))
            owner = keyed[repeat].get(parent) if parent is not None else None
            if owner is None and (repeat, parent) in ignored:
                continue
            if parent is None:
                errors.add(sheet.title, row.number, link.member_header, "imports.required")
            elif owner is None:
                errors.add(
                    sheet.title,
                    row.number,
                    link.member_header,
                    "imports.responses.orphan_row",
                    key=parent,
                    household_sheet=households.title,
                )
            else:
                owner.members[repeat].append(_record(sheet, row.number, row.cells, errors))
    return submissions


# -- comparing with what is stored -------------------------------------------------------


@dataclass
class _Stored:
    id: int
    source: str
    status: InterviewStatus
    rows: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    # (household id, answer rows) to store as a new interview.
    create: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # (interview id, answer rows) replacing what the same file stored before.
    replace: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0
    members: int = 0


async def _plan(
    session: AsyncSession,
    form: Form,
    checked: list[tuple[Submission, dict[str, Any] | None]],
    year: int,
    source: str,
    errors: SheetErrors,
) -> _Plan:
    codes = [submission.code for submission, _ in checked if submission.code is not None]
    household_ids = await _household_ids(session, codes, year)
    plan = _Plan()
    if codes and not household_ids:
        # Not one household is known: the roster of that year is missing (or the year is
        # wrong). Said once, with the fix, rather than once per household.
        on_roster = await session.scalar(
            select(func.count(Household.id)).where(Household.review_year == year)
        )
        errors.add(
            None,
            None,
            None,
            "imports.responses.no_roster" if not on_roster else "imports.responses.none_on_roster",
            year=year,
            households=len(set(codes)),
            roster=on_roster or 0,
        )
        return plan
    interviews = await _interviews(session, list(household_ids.values()))
    for submission, rows in checked:
        row = submission.household
        column = submission.code_column
        household_id = household_ids.get(submission.code or "")
        if submission.code is not None and household_id is None:
            errors.add(
                row.sheet,
                row.number,
                column,
                "imports.responses.unknown_household",
                code=submission.code,
                year=year,
            )
            continue
        if rows is None or household_id is None:
            continue
        plan.members += sum(len(items) for items in submission.members.values())
        wanted = _comparable(form, rows)
        open_interview, completed = interviews.get(household_id, (None, None))
        if open_interview is not None:
            if _comparable(form, open_interview.rows) == wanted:
                plan.unchanged += 1
            else:
                errors.add(
                    row.sheet,
                    row.number,
                    column,
                    "imports.responses.open_interview",
                    code=submission.code,
                )
        elif completed is None:
            plan.create.append((household_id, rows))
        elif _comparable(form, completed.rows) == wanted:
            plan.unchanged += 1
        elif completed.source == source:
            plan.replace.append((completed.id, rows))
        elif completed.source.startswith(SOURCE_PREFIX):
            errors.add(
                row.sheet,
                row.number,
                column,
                "imports.responses.imported_from_other_file",
                code=submission.code,
                file=completed.source.removeprefix(SOURCE_PREFIX),
            )
        else:
            errors.add(
                row.sheet,
                row.number,
                column,
                "imports.responses.interviewed_in_chat",
                code=submission.code,
            )
    return plan


def _comparable(form: Form, rows: dict[str, Any]) -> dict[str, Any]:
    """The answers a person gave; calculations are left out because they depend on the
    day they were computed (an age changes on a birthday, the answers do not)."""
    kept: dict[str, Any] = {}
    for key, value in rows.items():
        item = form.fields.get(str(key_path(key)[-1]))
        if item is not None and item.answerable:
            kept[key] = value
    return kept


async def _household_ids(session: AsyncSession, codes: list[str], year: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunks(sorted(set(codes))):
        query = select(Household.code, Household.id).where(
            Household.review_year == year, Household.code.in_(batch)
        )
        found.update({code: household_id for code, household_id in await session.execute(query)})
    return found


async def _interviews(
    session: AsyncSession, household_ids: list[int]
) -> dict[int, tuple[_Stored | None, _Stored | None]]:
    """Per household: its open interview and its latest completed one, with their answers."""
    latest: dict[int, tuple[_Stored | None, _Stored | None]] = {}
    for batch in chunks(household_ids):
        query = (
            select(Interview.id, Interview.household_id, Interview.source, Interview.status)
            .where(Interview.household_id.in_(batch), Interview.status != InterviewStatus.CANCELLED)
            .order_by(Interview.id)
        )
        for interview_id, household_id, source, status in await session.execute(query):
            opened, completed = latest.get(household_id, (None, None))
            stored = _Stored(interview_id, source, status)
            if status is InterviewStatus.IN_PROGRESS:
                opened = stored
            else:
                completed = stored
            latest[household_id] = (opened, completed)
    by_id = {stored.id: stored for pair in latest.values() for stored in pair if stored is not None}
    for ids in chunks(list(by_id)):
        answers = select(Answer.interview_id, Answer.path, Answer.value).where(
            Answer.interview_id.in_(ids)
        )
        for interview_id, path, value in await session.execute(answers):
            by_id[interview_id].rows[path] = value
    return latest


# -- writing -----------------------------------------------------------------------------


async def _write(
    session: AsyncSession, form: Form, plan: _Plan, source: str, progress: bool, now: datetime
) -> tuple[int, list[int]]:
    """Writes the plan; returns how many answer rows were stored, and the interviews written."""
    touched: list[int] = []
    answer_rows: list[dict[str, Any]] = []
    total = len(plan.create) + len(plan.replace)
    with progress_bar(total, "imports.progress.writing", progress) as bar:
        for batch in chunks(plan.create):
            rows_by_household = dict(batch)
            inserted = await session.execute(
                insert(INTERVIEWS).returning(INTERVIEWS.c.id, INTERVIEWS.c.household_id),
                [
                    _interview_values(form, household_id, rows, source, now)
                    for household_id, rows in batch
                ],
            )
            for interview_id, household_id in inserted:
                touched.append(interview_id)
                answer_rows += _answer_values(interview_id, rows_by_household[household_id], now)
            bar.update(len(batch))
        for batch in chunks(plan.replace):
            ids = [interview_id for interview_id, _ in batch]
            touched += ids
            await session.execute(delete(Answer).where(Answer.interview_id.in_(ids)))
            await session.execute(
                update(Interview),
                [
                    {
                        "id": interview_id,
                        "form_id": form.form_id,
                        "form_version": form.version,
                        "step": _steps(form, rows),
                        "updated_at": now,
                        "completed_at": now,
                        # The chat's evaluated questionnaire was of the replaced answers.
                        "plan_state": None,
                    }
                    for interview_id, rows in batch
                ],
            )
            for interview_id, rows in batch:
                answer_rows += _answer_values(interview_id, rows, now)
            bar.update(len(batch))
    for answer_batch in chunks(answer_rows):
        await session.execute(insert(ANSWERS), list(answer_batch))
    return len(answer_rows), touched


def _interview_values(
    form: Form, household_id: int, rows: dict[str, Any], source: str, now: datetime
) -> dict[str, Any]:
    return {
        "household_id": household_id,
        "collaborator_id": None,
        "form_id": form.form_id,
        "form_version": form.version,
        "status": InterviewStatus.COMPLETED,
        "step": _steps(form, rows),
        "prefill": {},
        "source": source,
        "started_at": now,
        "updated_at": now,
        "completed_at": now,
    }


def _steps(form: Form, rows: dict[str, Any]) -> int:
    # The chat bumps the step once per accepted answer.
    return len(_comparable(form, rows))


def _answer_values(interview_id: int, rows: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "interview_id": interview_id,
            "path": path,
            "value": value,
            "answered_by": None,
            "answered_at": now,
        }
        for path, value in rows.items()
    ]
