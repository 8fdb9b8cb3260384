"""One submission of an export checked through the form engine, as if typed in the chat.

Every cell goes through the engine's own checks (type, required, relevance, constraint,
the built-in sanity rules), so an imported household can hold nothing a collaborator
could not have entered. The result is what the chat layer would have stored: the
answers after ``apply_calculations`` and ``drop_irrelevant``, flattened to answer rows.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from forms import (
    AnswerValue,
    Choice,
    Done,
    Field,
    FieldType,
    Form,
    Invalid,
    Parsed,
    Path,
    Question,
    drop_irrelevant,
    get_answer,
    has_answer,
    next_step,
    parse_answer,
    set_answer,
    validate,
    visible_questions,
)
from forms.codec import flatten
from forms.xpath import REFERENCE
from storage.imports import values
from storage.imports.errors import RowError
from storage.imports.responses_errors import SheetErrors
from storage.imports.tabular import Cell

_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
# Kobo writes dates as "2024-03-01"; a date cell that went through pandas reads
# "2024-03-01 00:00:00".
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_SERIALS = range(10000, 2958466)
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@dataclass(frozen=True)
class RecordRow:
    """One row of the export: a household submission or one member of it."""

    sheet: str
    number: int
    cells: dict[str, Cell]
    """Field name -> cell, for the fields this row's sheet has a column for."""
    headers: Mapping[str, str]
    """Field name -> column header as written, to name the column in errors."""

    def column(self, name: str) -> str:
        return self.headers.get(name, name)


@dataclass(frozen=True)
class Submission:
    code: str | None
    household: RecordRow
    members: dict[str, list[RecordRow]]
    """Repeat name -> its rows, in file order (which is the member order)."""
    code_column: str = "household_code"
    sheets: dict[str, str] = dataclasses.field(default_factory=dict)
    """Repeat name -> title of its sheet."""


def dependencies(form: Form) -> dict[str, frozenset[str]]:
    """For each field, every field its relevance or requiredness may depend on.

    Used to hold back errors that only follow from a cell already reported as
    unreadable: if ``birth_date`` could not be read, "not relevant" errors on the labour
    questions (which depend on the age computed from it) would only be noise.
    """

    def direct(field: Field) -> set[str]:
        expressions = [*field.relevant, field.required or ""]
        if field.type is FieldType.CALCULATE:
            expressions.append(field.calculation or "")
        return {name for text in expressions for name in REFERENCE.findall(text)}

    found: dict[str, frozenset[str]] = {}
    for name in form.fields:
        seen: set[str] = set()
        pending = [name]
        while pending:
            current = form.fields.get(pending.pop())
            if current is None:
                continue
            for ref in direct(current) - seen:
                seen.add(ref)
                pending.append(ref)
        found[name] = frozenset(seen)
    return found


def check_submission(
    form: Form,
    submission: Submission,
    today: date,
    depends_on: Mapping[str, frozenset[str]],
    errors: SheetErrors,
) -> dict[str, Any] | None:
    """The answer rows (path key -> JSON value) to store, or None after adding errors."""
    checker = _Checker(form, submission, today, depends_on)
    rows = checker.run()
    errors.items.extend(sorted(checker.errors.items, key=checker.reading_order))
    return rows


class _Checker:
    def __init__(
        self,
        form: Form,
        submission: Submission,
        today: date,
        depends_on: Mapping[str, frozenset[str]],
    ) -> None:
        self.form = form
        self.submission = submission
        self.today = today
        self.depends_on = depends_on
        self.errors = SheetErrors()
        # Names of fields whose cell could not be read (anywhere in the submission).
        self.unreadable: set[str] = set()
        self.unreadable_paths: set[Path] = set()
        # Cell text of every non-empty cell, to quote it back in an error.
        self.shown: dict[Path, str] = {}
        self.sizes: dict[str, int] = {}

    def run(self) -> dict[str, Any] | None:
        base: dict[str, Any] = self._read(self.submission.household, ())
        for repeat, rows in self.submission.members.items():
            base[repeat] = [self._read(row, (repeat, index)) for index, row in enumerate(rows)]

        # Irrelevant answers are dropped the way the chat drops them after a change of
        # mind; here a dropped value means the file says something the form would never
        # have asked, which is an error rather than something to discard silently. The
        # result also has the calculations applied and repeats sized by their count.
        pruned = drop_irrelevant(self.form, base, today=self.today)
        self._check_repeat_sizes(pruned)
        for path, shown in self.shown.items():
            if path in self.unreadable_paths or not self._in_repeat(path):
                continue
            if not has_answer(pruned, path) and not self._follows_unreadable(path):
                self._error(path, "imports.responses.not_relevant", value=shown)

        visible = visible_questions(self.form, pruned, today=self.today)
        complete: dict[str, Any] = pruned
        for path in visible:
            # Present but empty, as when a collaborator skips an optional question.
            if not has_answer(complete, path) and path not in self.unreadable_paths:
                complete = set_answer(complete, path, None)

        if not self.errors and isinstance(next_step(self.form, complete, today=self.today), Done):
            # Already what the chat stores after each answer: calculated, and without
            # irrelevant answers (an empty answer changes neither).
            return flatten(complete)
        self._check_each(complete, visible)
        if not self.errors:
            # Defensive: the engine found a problem the per-question checks did not.
            step = next_step(self.form, complete, today=self.today)
            assert isinstance(step, Question)
            reason = step.error or Invalid("forms.required")
            self._error(step.path, "imports.responses.missing_answer", reason=reason)
        return None

    def reading_order(self, error: RowError) -> tuple[int, int, int]:
        """Household row first, then member rows, each left to right."""
        household = self.submission.household
        if getattr(error, "sheet", None) == household.sheet:
            rank, columns = 0, list(household.headers.values())
        else:
            rank = 1
            rows = [row for rows in self.submission.members.values() for row in rows[:1]]
            columns = [header for row in rows for header in row.headers.values()]
        position = columns.index(error.column) if error.column in columns else -1
        return (rank, error.row or 0, position)

    # -- reading cells -------------------------------------------------------------------

    def _read(self, row: RecordRow, prefix: Path) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, cell in row.cells.items():
            field = self.form.fields[name]
            if cell is None or not field.answerable:
                continue
            path: Path = (*prefix, name)
            self.shown[path] = values.text(cell) or ""
            value = cell_value(self.form, field, cell)
            if isinstance(value, Invalid):
                self.unreadable.add(name)
                self.unreadable_paths.add(path)
                self._error(
                    path, "imports.responses.invalid_answer", reason=value, value=self.shown[path]
                )
            else:
                data[name] = value
        return data

    def _check_repeat_sizes(self, settled: dict[str, Any]) -> None:
        household = self.submission.household
        for repeat, rows in self.submission.members.items():
            node = self.form.repeats[repeat]
            expected = len(settled.get(repeat) or [])
            self.sizes[repeat] = expected
            if expected == len(rows):
                continue
            refs = REFERENCE.findall(node.repeat_count or "")
            if set(refs) & self.unreadable:
                continue
            counts = [ref for ref in refs if ref in self.form.fields]
            if any(
                not self.form.fields[ref].repeats and not has_answer(settled, (ref,))
                for ref in counts
            ):
                # An empty count cell is reported as a missing answer; "the household
                # gives 0 members" would blame the file for what it does not say.
                continue
            column = household.column(refs[0]) if len(refs) == 1 else None
            self.errors.add(
                household.sheet,
                household.number,
                column,
                "imports.responses.repeat_size_mismatch",
                expected=expected,
                rows=len(rows),
                member_sheet=self.submission.sheets.get(repeat, repeat),
            )

    # -- checking answers ----------------------------------------------------------------

    def _check_each(self, complete: dict[str, Any], visible: list[Path]) -> None:
        """Each answer checked against the answers before it, in the order the chat asks.

        That is how the chat would have refused it: with two heads in a household, the
        second is the one in error. Answers are kept even when refused, so what follows
        is judged on what the file says.
        """
        before: dict[str, Any] = {}
        for path in visible:
            if path in self.unreadable_paths:
                continue
            value = get_answer(complete, path)
            problem = validate(self.form, before, path, value, today=self.today)
            before = set_answer(before, path, value)
            if problem is None:
                continue
            if value is None:
                if not self._follows_unreadable(path):
                    self._error(path, "imports.responses.missing_answer", reason=problem)
            else:
                self._error(
                    path,
                    "imports.responses.invalid_answer",
                    reason=problem,
                    value=self.shown.get(path, ""),
                )

    def _follows_unreadable(self, path: Path) -> bool:
        return bool(self.depends_on.get(str(path[-1]), frozenset()) & self.unreadable)

    def _in_repeat(self, path: Path) -> bool:
        """False for rows beyond the repeat count (reported once as a size mismatch)."""
        if len(path) < 3:
            return True
        return int(path[1]) < self.sizes.get(str(path[0]), 0)

    def _error(
        self, path: Path, message_key: str, *, reason: Invalid | None = None, **params: object
    ) -> None:
        if len(path) == 1:
            row = self.submission.household
        else:
            rows = self.submission.members.get(str(path[0]), [])
            index = int(path[1])
            if index >= len(rows):
                return  # a member the file does not have: reported as a size mismatch
            row = rows[index]
        name = str(path[-1])
        self.errors.add(
            row.sheet, row.number, row.column(name), message_key, reason=reason, **params
        )


# -- cells to engine values --------------------------------------------------------------


def cell_value(form: Form, field: Field, cell: Cell) -> AnswerValue | Invalid:
    """The engine value of a non-empty cell; codes first, then what parse_answer reads.

    Exports hold canonical values (codes, ISO dates, "42.5"), which are read exactly;
    anything else (a hand-typed "1.500.000" or "12/3/1985") goes through the same parser
    as a chat message, except for choices, where a bare number is never a position.
    """
    kind = field.type
    text = values.text(cell) or ""
    is_number = isinstance(cell, int | float) and not isinstance(cell, bool)
    if kind is FieldType.TEXT:
        return text
    if kind is FieldType.INTEGER:
        if is_number:
            assert isinstance(cell, int | float)
            if float(cell).is_integer():
                return int(cell)
            return Invalid("forms.not_an_integer", {"text": text})
        return int(text) if _INTEGER.fullmatch(text) else _parsed(form, field, text)
    if kind is FieldType.DECIMAL:
        if is_number:
            return Decimal(str(cell))
        return Decimal(text) if _DECIMAL.fullmatch(text) else _parsed(form, field, text)
    if kind is FieldType.DATE:
        return _date(form, field, cell, text)
    if kind is FieldType.SELECT_ONE:
        return _choice(form, field, text)
    if kind is FieldType.SELECT_MULTIPLE:
        return _choices(form, field, text)
    return _parsed(form, field, text)


def _question(form: Form, field: Field) -> Question:
    choices = form.choices.get(field.list_name or "", ())
    return Question((field.name,), field, field.label, field.hint, choices, required=False)


def _parsed(form: Form, field: Field, text: str) -> AnswerValue | Invalid:
    result = parse_answer(_question(form, field), text)
    return result.value if isinstance(result, Parsed) else result


def _date(form: Form, field: Field, cell: Cell, text: str) -> AnswerValue | Invalid:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, int | float):
        if float(cell).is_integer() and int(cell) in _EXCEL_SERIALS:
            # A date cell that lost its format shows Excel's serial day count.
            return _EXCEL_EPOCH + timedelta(days=int(cell))
        return Invalid("forms.not_a_date", {"text": text})
    match = _ISO_DATE.fullmatch(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return Invalid("forms.invalid_date", {"text": text})
    return _parsed(form, field, text)


def _choice(form: Form, field: Field, text: str) -> str | Invalid:
    index = choice_index(form, field.list_name or "")
    for option in index.options:
        if option.name == text:
            return option.name
    # Then the code in another case, or a label in either language (Kobo's "Labels"
    # export, files typed from paper forms).
    found = index.find(text)
    if found is not None:
        return found
    return Invalid("imports.responses.unknown_choice", {"value": text, "choices": index.listed})


def _choices(form: Form, field: Field, text: str) -> list[str] | Invalid:
    index = choice_index(form, field.list_name or "")
    codes = {option.name for option in index.options}
    words = text.split()
    if words and all(word in codes for word in words):
        picked = set(words)  # an export's codes, separated by spaces
    else:
        read = index.split(text)
        if isinstance(read, Invalid):
            return read
        picked = set(read)
    return [option.name for option in index.options if option.name in picked]


_SEPARATORS = " ,;\n\t"


@dataclass(frozen=True)
class ChoiceIndex:
    """One choice list's codes and labels (both languages), folded for matching."""

    options: tuple[Choice, ...]
    keys: Mapping[str, str]
    """Folded code or label -> the choice's code, for keys naming one choice only."""
    longest_first: tuple[str, ...]
    listed: str
    """The choices as an error message lists them: 'tv “Ti vi”, radio “Đài, radio”'."""

    def find(self, text: str) -> str | None:
        return self.keys.get(values.cached_fold(text))

    def split(self, text: str) -> list[str] | Invalid:
        """The codes of a cell of several labels or codes, however separated.

        Labels hold commas and spaces themselves ("Đài, radio"), so the cell cannot be
        cut at separators first: the longest known label at each place is taken.
        """
        folded, origin = _folded_with_origin(text)
        picked: list[str] = []
        position = 0
        while position < len(folded):
            if folded[position] in _SEPARATORS:
                position += 1
                continue
            for key in self.longest_first:
                end = position + len(key)
                if folded.startswith(key, position) and (
                    end == len(folded) or folded[end] in _SEPARATORS
                ):
                    picked.append(self.keys[key])
                    position = end
                    break
            else:
                # The unknown words as written, up to the next comma or semicolon.
                rest = text[origin[position] :]
                part = re.split(r"[,;]", rest, maxsplit=1)[0].strip() or rest.strip()
                return Invalid(
                    "imports.responses.unknown_choice_part",
                    {"part": part, "choices": self.listed},
                )
        return picked


def _folded_with_origin(text: str) -> tuple[str, list[int]]:
    """``text`` folded as the choice keys are, and where each character came from."""
    chars: list[str] = []
    origin: list[int] = []
    for position, char in enumerate(text):
        folded = " " if char.isspace() else values.cached_fold(char)
        for item in folded:
            if item == " " and (not chars or chars[-1] == " "):
                continue
            chars.append(item)
            origin.append(position)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return "".join(chars), origin


@lru_cache(maxsize=256)
def choice_index(form: Form, list_name: str) -> ChoiceIndex:
    options = tuple(form.choices.get(list_name, ()))
    named: dict[str, set[str]] = {}
    for option in options:
        for key in (option.name, option.label.vi, option.label.en):
            folded = values.cached_fold(key)
            if folded:
                named.setdefault(folded, set()).add(option.name)
    # A key that folds to two choices' labels is no key at all: never a guess.
    keys = {key: next(iter(codes)) for key, codes in named.items() if len(codes) == 1}
    listed = ", ".join(
        f"{option.name} “{option.label.vi}”" if option.label.vi else option.name
        for option in options
    )
    return ChoiceIndex(options, keys, tuple(sorted(keys, key=len, reverse=True)), listed)


def flag(cell: Cell) -> bool | None:
    """A split select_multiple cell (1/0, TRUE/FALSE); None when it is neither."""
    if cell is None:
        return False
    text = (values.text(cell) or "").strip().lower()
    return _FLAGS.get(text)
