"""Reading an ODK/KoboToolbox XLSX export: its sheets, and what each column holds.

Exports name columns after the form's fields, prefixed by their groups
("members/labour/employment_status" in Kobo, "household-category" in ODK Central CSVs
turned into XLSX), add metadata columns, and link repeat rows to their submission with
``_index``/``_parent_index`` (Kobo) or ``KEY``/``PARENT_KEY`` (ODK Central, Briefcase).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path

from forms import HOUSEHOLD_CODE, Field, FieldType, Form
from storage.imports.responses_errors import SheetErrors
from storage.imports.roster import ROSTER_COLUMNS
from storage.imports.tabular import (
    MAX_FILE_BYTES,
    Cell,
    header_key,
    too_large,
    xlsx_sheets,
)
from storage.text import fold, without_controls

SEPARATORS = "/-.:"
# Excel limits sheet titles to 31 characters; Kobo cuts longer repeat names to fit.
TRUNCATED_TITLE = 28

# Columns every export adds besides the form's fields. Anything starting with "_" is
# Kobo's (_id, _uuid, _submission_time, _validation_status, _parent_table_name, ...).
METADATA = frozenset(
    name.lower()
    for name in (
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "audit_URL",
        "instanceID",
        "instanceName",
        "deprecatedID",
        "SubmissionDate",
        "SubmitterID",
        "SubmitterName",
        "AttachmentsPresent",
        "AttachmentsExpected",
        "Status",
        "ReviewState",
        "DeviceID",
        "Edits",
        "FormVersion",
        # A member row's own key ("uuid:…/members[2]"); the member order is the row order.
        "KEY",
        "PARENT_KEY",
    )
)
HOUSEHOLD_KEYS = ("_index", "key")
MEMBER_PARENT_KEYS = {"_index": "_parent_index", "key": "parent_key"}
CODE_HEADERS = next(c for c in ROSTER_COLUMNS if c.key == "household_code").accepted()


class Role(Enum):
    FIELD = "field"
    SPLIT = "split"
    CODE = "code"
    LINK = "link"
    IGNORED = "ignored"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ColumnRole:
    position: int
    header: str
    role: Role
    name: str | None = None
    """The form field (FIELD, SPLIT) or the link column's folded name (LINK)."""
    code: str | None = None
    """The choice a SPLIT column stands for."""


@dataclass(frozen=True)
class DataRow:
    number: int
    cells: list[Cell]

    def at(self, position: int) -> Cell:
        return self.cells[position] if position < len(self.cells) else None


@dataclass
class RawSheet:
    title: str
    header_row: int
    headers: list[str]
    rows: list[DataRow]
    columns: list[ColumnRole] = field(default_factory=list)

    def positions(self, role: Role) -> list[ColumnRole]:
        return [column for column in self.columns if column.role is role]

    def link(self, names: tuple[str, ...]) -> ColumnRole | None:
        for column in self.positions(Role.LINK):
            if column.name in names:
                return column
        return None


def read_workbook(path: Path, errors: SheetErrors) -> list[RawSheet]:
    """Every non-empty sheet with its header (the first non-empty row) and data rows."""
    if not path.is_file():
        errors.add(None, None, None, "imports.file_not_found", file=str(path))
        return []
    if path.suffix.lower() != ".xlsx":
        errors.add(None, None, None, "imports.responses.xlsx_only", file=path.name)
        return []
    if too_large(path):
        errors.add(
            None, None, None, "imports.too_large", file=path.name, limit=MAX_FILE_BYTES // 2**20
        )
        return []
    workbook = xlsx_sheets(path)
    if workbook is None:
        errors.add(None, None, None, "imports.unreadable_xlsx", file=path.name)
        return []
    sheets: list[RawSheet] = []
    for title, values in workbook:
        rows = [DataRow(number, [_clean(value) for value in cells]) for number, cells in values]
        rows = [row for row in rows if any(cell is not None for cell in row.cells)]
        if not rows:
            continue
        header, *data = rows
        headers = ["" if cell is None else str(cell).strip() for cell in header.cells]
        sheets.append(RawSheet(title, header.number, headers, data))
    return sheets


def _clean(value: object) -> Cell:
    if value is None:
        return None
    if isinstance(value, str):
        # NFC so that text typed on different systems compares and stores identically.
        text = without_controls(unicodedata.normalize("NFC", value)).strip()
        return text or None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | date):
        return value
    return str(value).strip() or None


def member_sheet(sheets: list[RawSheet], repeat: str, single: bool) -> RawSheet | None:
    """The sheet of a repeat: named like it (Kobo cuts names to 31 characters and ODK
    prefixes the form id), else the second sheet when the form has a single repeat."""
    wanted = header_key(repeat)
    for sheet in sheets[1:]:
        name = header_key(sheet.title)
        truncated = len(name) >= TRUNCATED_TITLE and wanted.startswith(name)
        if name == wanted or name.endswith(" " + wanted) or truncated:
            return sheet
    return sheets[1] if single and len(sheets) > 1 else None


def resolve_columns(
    sheet: RawSheet, form: Form, fields: Mapping[str, Field], *, household: bool
) -> None:
    """Gives each column of ``sheet`` its role; ``fields`` are those this sheet answers."""
    by_lower = {name.lower(): item for name, item in fields.items()}
    labels = _LabelHeaders.of(form, fields)
    sheet.columns = []
    for position, header in enumerate(sheet.headers):
        sheet.columns.append(_role(position, header, form, by_lower, labels, household=household))


@dataclass(frozen=True)
class _LabelHeaders:
    """Headers of Kobo's "Labels" export: a question's label (either language) instead of
    its name, and "<question label>/<choice label>" for a 0/1 column per choice."""

    fields: Mapping[str, str]
    """Folded label -> field name."""
    choices: Mapping[str, tuple[str, str]]
    """Folded "question/choice" -> (field name, choice code)."""

    @classmethod
    def of(cls, form: Form, fields: Mapping[str, Field]) -> _LabelHeaders:
        named: dict[str, set[str]] = {}
        split: dict[str, set[tuple[str, str]]] = {}
        for item in fields.values():
            own = {fold(text) for text in (item.label.vi, item.label.en, item.name) if text}
            for key in own:
                named.setdefault(key, set()).add(item.name)
            if item.type is not FieldType.SELECT_MULTIPLE or not item.list_name:
                continue
            for choice in form.choices[item.list_name]:
                for text in {choice.name, choice.label.vi, choice.label.en} - {""}:
                    for key in own:
                        split.setdefault(f"{key}/{fold(text)}", set()).add((item.name, choice.name))
        # Two questions with the same label: neither is recognised by it.
        return cls(
            {key: names.pop() for key, names in named.items() if len(names) == 1},
            {key: pairs.pop() for key, pairs in split.items() if len(pairs) == 1},
        )

    def match(self, header: str) -> tuple[str, str | None] | None:
        """(field, None) for a question's column, (field, code) for a choice's column."""
        folded = fold(header)
        # The header itself, then without each of its group labels ("Thông tin hộ/…").
        for start in (0, *(i + 1 for i, char in enumerate(folded) if char == "/")):
            candidate = folded[start:]
            if candidate in self.choices:
                return self.choices[candidate]
            if candidate in self.fields:
                return self.fields[candidate], None
        return None


def _role(
    position: int,
    header: str,
    form: Form,
    fields: Mapping[str, Field],
    labels: _LabelHeaders,
    *,
    household: bool,
) -> ColumnRole:
    if not header:
        return ColumnRole(position, header, Role.UNKNOWN)
    lowered = header.lower()
    links = HOUSEHOLD_KEYS if household else tuple(MEMBER_PARENT_KEYS.values())
    if lowered in links:
        return ColumnRole(position, header, Role.LINK, lowered)
    labelled = labels.match(header)
    if any(header_key(tail) in CODE_HEADERS for tail in _tails(header)) or labelled == (
        HOUSEHOLD_CODE,
        None,
    ):
        return ColumnRole(position, header, Role.CODE)
    split = _split_column(header, form, fields)
    if split is not None:
        return ColumnRole(position, header, Role.SPLIT, split[0], split[1])
    for tail in _tails(lowered):
        if tail in fields:
            return ColumnRole(position, header, Role.FIELD, fields[tail].name)
    if labelled is not None:
        name, code = labelled
        if code is not None:
            return ColumnRole(position, header, Role.SPLIT, name, code)
        return ColumnRole(position, header, Role.FIELD, name)
    tail = lowered.rsplit("/", 1)[-1]
    if (
        tail.startswith("_")
        or tail in METADATA
        or lowered.startswith(("meta/", "meta-", "meta.", "meta:"))
        or any(name in METADATA for name in _tails(lowered))
    ):
        return ColumnRole(position, header, Role.IGNORED)
    return ColumnRole(position, header, Role.UNKNOWN)


def _tails(header: str) -> Iterator[str]:
    """The header itself, then its last segment for each group separator."""
    yield header
    for separator in SEPARATORS:
        if separator in header:
            yield header.rsplit(separator, 1)[1]


def _split_column(header: str, form: Form, fields: Mapping[str, Field]) -> tuple[str, str] | None:
    """("support_needs", "loan") for a 0/1 column like "members/support_needs/loan"."""
    for separator in SEPARATORS:
        if separator not in header:
            continue
        head, code = header.rsplit(separator, 1)
        for tail in _tails(head.lower()):
            item = fields.get(tail)
            if item is None or item.type is not FieldType.SELECT_MULTIPLE or not item.list_name:
                continue
            if any(choice.name == code for choice in form.choices[item.list_name]):
                return item.name, code
    return None


def column_has_data(sheet: RawSheet, position: int) -> bool:
    return any(row.at(position) is not None for row in sheet.rows)
