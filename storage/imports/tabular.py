"""Reading a sheet (CSV or XLSX) into numbered rows keyed by recognised column.

Commune staff produce these files by hand in Excel, so the reader is forgiving where it
is safe (header spelling, accents, a title above the header, `,` or `;`) and strict where
guessing could silently corrupt names (the text encoding).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from storage.imports.errors import ErrorList, ImportFailed, RowError
from storage.text import fold, without_controls

Cell = str | int | float | date | None

# A title block ("DANH SÁCH HỘ NGHÈO NĂM 2024", "Xã Mỹ Hòa", ...) often sits above the
# header in commune lists; looking this far down finds the header without scanning data.
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class Column:
    """A column the importer understands: its Vietnamese label, English name and aliases."""

    key: str
    label: str
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True

    def accepted(self) -> set[str]:
        return {header_key(text) for text in (self.label, self.name, *self.aliases)}


@dataclass(frozen=True)
class SourceRow:
    number: int
    cells: dict[str, Cell]


@dataclass(frozen=True)
class Sheet:
    header_row: int
    # Header text as written in the file, so errors name the column the user sees.
    headers: dict[str, str]
    rows: list[SourceRow]

    def header(self, key: str) -> str:
        return self.headers.get(key, key)


def header_key(text: str) -> str:
    """ "Mã hộ (*)", "MA_HO", "mã  hộ" all become "ma ho"."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", fold(text)).split())


def read_table(path: Path, columns: Sequence[Column]) -> Sheet:
    """The file's data rows with the recognised columns; raises ImportFailed if unusable."""
    errors = ErrorList()
    raw_rows = _raw_rows(path, errors)
    errors.raise_if_any()
    return _match_header(raw_rows, columns)


def read_tables(path: Path, columns: Sequence[Column]) -> list[tuple[str, Sheet]]:
    """Every sheet of a workbook that has the required columns, by title (a CSV file is
    one sheet, titled by its name); the exported workbook's other sheets are skipped.
    Raises ImportFailed when no sheet has them, naming what the first sheet lacks."""
    if path.suffix.lower() != ".xlsx" or not path.is_file() or too_large(path):
        # The one-table reader says what is wrong with such a file.
        return [(path.name, read_table(path, columns))]
    errors = ErrorList()
    sheets = xlsx_sheets(path)
    if sheets is None:
        errors.add(None, None, "imports.unreadable_xlsx", file=path.name)
        errors.raise_if_any()
        return []
    found: list[tuple[str, Sheet]] = []
    first_failure: ImportFailed | None = None
    for title, raw in sheets:
        rows = [(number, [_clean_xlsx(value) for value in values]) for number, values in raw]
        try:
            found.append((title, _match_header(rows, columns)))
        except ImportFailed as failure:
            first_failure = first_failure or failure
    if not found:
        raise first_failure or ImportFailed([RowError(None, None, "imports.empty_file")])
    return found


# A district's whole roster is a few MB; past these, a file is a mistake (or an attack) and is
# refused before it is read, rather than after it has filled the memory.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Inside a workbook (a zip), what the parts take once unpacked.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024


def too_large(path: Path) -> bool:
    """Whether ``path`` is past the size limits, unpacked size of a workbook included."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return True
    if path.suffix.lower() != ".xlsx" or not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(item.file_size for item in archive.infolist()) > MAX_UNPACKED_BYTES
    except UNREADABLE_XLSX:
        return False  # damaged: the reader says so


def _raw_rows(path: Path, errors: ErrorList) -> list[tuple[int, list[Cell]]]:
    suffix = path.suffix.lower()
    if not path.is_file():
        errors.add(None, None, "imports.file_not_found", file=str(path))
        return []
    if too_large(path):
        errors.add(None, None, "imports.too_large", file=path.name, limit=MAX_FILE_BYTES // 2**20)
        return []
    if suffix == ".csv":
        return _csv_rows(path, errors)
    if suffix == ".xlsx":
        return _xlsx_rows(path, errors)
    if suffix == ".xls":
        errors.add(None, None, "imports.xls_not_supported", file=path.name)
    else:
        errors.add(None, None, "imports.unsupported_format", file=path.name)
    return []


def _csv_rows(path: Path, errors: ErrorList) -> list[tuple[int, list[Cell]]]:
    data = path.read_bytes()
    text = _decode(data, errors)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    rows: list[tuple[int, list[Cell]]] = []
    try:
        # Numbered by record, not by physical line: Excel shows a quoted multi-line cell
        # as one row, and that is the number the user will look for.
        for number, record in enumerate(reader, start=1):
            cells: list[Cell] = [_clean_text(value) for value in record]
            if any(cell is not None for cell in cells):
                rows.append((number, cells))
    except csv.Error as exc:
        errors.add(reader.line_num, None, "imports.csv_malformed", detail=str(exc))
    return rows


def _decode(data: bytes, errors: ErrorList) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" export; unambiguous thanks to the byte-order mark.
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # No fallback to cp1258/TCVN3: a wrong guess would store garbled names without
        # any error, which is worse than asking for a re-save as "CSV UTF-8".
        line = data[: exc.start].count(b"\n") + 1
        errors.add(line, None, "imports.not_utf8")
        return None


def _sniff_delimiter(text: str) -> str:
    """`;` where Excel uses a decimal comma (Vietnamese locale), `,` elsewhere; tab for
    "Unicode text". Decided on the first non-empty line, outside quotes."""
    for line in text.splitlines():
        if line.strip():
            unquoted = re.sub(r'"[^"]*"', "", line)
            counts = {sep: unquoted.count(sep) for sep in (",", ";", "\t")}
            best = max(counts, key=lambda sep: counts[sep])
            return best if counts[best] else ","
    return ","


# What reading a file that is not a sound workbook raises: not a zip, a damaged one (CRC,
# deflate), a missing or broken part, XML that does not parse (lxml's and the standard
# library's syntax errors are SyntaxErrors).
UNREADABLE_XLSX = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    OSError,
    ValueError,
    SyntaxError,
)


def xlsx_sheets(path: Path) -> list[tuple[str, list[tuple[int, list[object]]]]] | None:
    """Every sheet as (title, [(row number, values)]) for its rows with a value; None when
    the file can't be read as a workbook, whatever is wrong inside it."""
    # Imported here: openpyxl takes a while to load and only .xlsx files need it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (*UNREADABLE_XLSX, InvalidFileException):
        return None
    sheets: list[tuple[str, list[tuple[int, list[object]]]]] = []
    try:
        for worksheet in workbook.worksheets:
            # Some generators write a wrong size into the file; trusting it would cut off
            # rows or columns silently. (Read-only sheets have this; others need it not.)
            reset = getattr(worksheet, "reset_dimensions", None)
            if callable(reset):
                reset()
            rows: list[tuple[int, list[object]]] = [
                (number, list(values))
                for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
                if any(value is not None for value in values)
            ]
            sheets.append((worksheet.title, rows))
    except UNREADABLE_XLSX:
        return None
    finally:
        workbook.close()
    return sheets


def _xlsx_rows(path: Path, errors: ErrorList) -> list[tuple[int, list[Cell]]]:
    sheets = xlsx_sheets(path)
    if sheets is None:
        errors.add(None, None, "imports.unreadable_xlsx", file=path.name)
        return []
    if not sheets:
        return []
    rows = [(number, [_clean_xlsx(value) for value in values]) for number, values in sheets[0][1]]
    return [(number, cells) for number, cells in rows if any(cell is not None for cell in cells)]


def _clean_text(value: str) -> str | None:
    # NFC so that text typed on different systems compares and stores identically.
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    return without_controls(value).strip() or None


def _clean_xlsx(value: object) -> Cell:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | date):
        return value
    return _clean_text(str(value))


def _match_header(raw_rows: list[tuple[int, list[Cell]]], columns: Sequence[Column]) -> Sheet:
    if not raw_rows:
        raise ImportFailed([RowError(None, None, "imports.empty_file")])
    required = [column for column in columns if column.required]
    best: tuple[int, int, dict[str, int]] | None = None
    for index, (_, cells) in enumerate(raw_rows[:HEADER_SEARCH_ROWS]):
        positions = _positions(cells, columns)
        score = sum(1 for column in required if column.key in positions)
        if best is None or score > best[1]:
            best = (index, score, positions)
        if score == len(required):
            break
    assert best is not None
    index, _, positions = best
    header_number, header_cells = raw_rows[index]

    errors = ErrorList()
    for column in required:
        if column.key not in positions:
            errors.add(
                header_number, None, "imports.missing_column", label=column.label, name=column.name
            )
    _check_duplicate_headers(header_number, header_cells, columns, errors)
    errors.raise_if_any()

    headers = {key: str(header_cells[position]) for key, position in positions.items()}
    rows = [
        SourceRow(number, {key: _at(cells, position) for key, position in positions.items()})
        for number, cells in raw_rows[index + 1 :]
    ]
    return Sheet(header_number, headers, rows)


def _positions(cells: list[Cell], columns: Sequence[Column]) -> dict[str, int]:
    by_name = {accepted: column.key for column in columns for accepted in column.accepted()}
    positions: dict[str, int] = {}
    for position, cell in enumerate(cells):
        if isinstance(cell, str):
            key = by_name.get(header_key(cell))
            if key is not None and key not in positions:
                positions[key] = position
    return positions


def _check_duplicate_headers(
    header_number: int, cells: list[Cell], columns: Sequence[Column], errors: ErrorList
) -> None:
    # Two columns both read as "ngày sinh" would make one silently win.
    by_name = {accepted: column for column in columns for accepted in column.accepted()}
    seen: set[str] = set()
    for cell in cells:
        if not isinstance(cell, str):
            continue
        column = by_name.get(header_key(cell))
        if column is None:
            continue
        if column.key in seen:
            errors.add(header_number, cell, "imports.duplicate_column", label=column.label)
        seen.add(column.key)


def _at(cells: list[Cell], position: int) -> Cell:
    return cells[position] if position < len(cells) else None


__all__ = ["Cell", "Column", "Sheet", "SourceRow", "header_key", "read_table", "read_tables"]
