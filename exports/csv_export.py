"""Writing sheets as CSV files: UTF-8 with a byte-order mark, comma-separated.

Excel guesses a CSV's encoding from its first bytes; without the BOM it reads UTF-8 as the
Windows code page and every Vietnamese accent is garbled. One file per sheet (the sheets
have different columns); the preamble lines of a workbook sheet are left out so each file
is a bare table that any tool reads.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from exports.export_columns import Cell
from exports.export_sheets import Sheet

ENCODING = "utf-8-sig"
# A text cell starting with one of these is read by Excel and LibreOffice as a formula
# (OWASP "CSV injection"): a name or a typed answer such as =HYPERLINK(...) would become a
# live link or command on the commune's computer.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Cell) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        # ISO dates are the one form Excel reads the same under every regional setting.
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        # The apostrophe makes the spreadsheet show the text as typed. Only text is touched:
        # numbers (a negative amount) are written as numbers and stay numbers.
        return "'" + value
    return value


class CsvWriter:
    """One CSV file per sheet in ``folder``; rows of different sheets may interleave."""

    def __init__(self, folder: Path, sheets: Sequence[Sheet]) -> None:
        self.folder = folder
        self.paths: dict[str, Path] = {}
        self._files: dict[str, IO[str]] = {}
        self._writers: dict[str, Any] = {}
        self._counts: dict[str, int] = {}
        for sheet in sheets:
            self._add(sheet)

    def _add(self, sheet: Sheet) -> None:
        path = self.folder / f"{sheet.slug}.csv"
        handle = path.open("w", encoding=ENCODING, newline="")
        writer = csv.writer(handle)
        writer.writerow([column.header for column in sheet.columns])
        self.paths[sheet.key] = path
        self._files[sheet.key] = handle
        self._writers[sheet.key] = writer
        self._counts[sheet.key] = 0

    def write(self, key: str, row: Sequence[Cell]) -> None:
        self._writers[key].writerow([csv_cell(value) for value in row])
        self._counts[key] += 1

    def rows_written(self, key: str) -> int:
        return self._counts[key]

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


def zip_files(target: Path, files: Sequence[Path]) -> Path:
    """A deflate zip of ``files`` by their base names; CSV text shrinks about tenfold."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in files:
            archive.write(path, arcname=path.name)
    return target
