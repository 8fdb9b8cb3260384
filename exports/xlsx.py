"""Writing sheets to an .xlsx file with xlsxwriter in constant-memory mode.

In that mode each row is flushed to a temporary file as soon as the next row starts, so a
workbook of a million cells costs the memory of one row per sheet. Rows of different sheets
may interleave (each sheet streams to its own file), which is what lets an export read
every household once and write its row on every sheet it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter

from exports.export_columns import Cell
from exports.export_sheets import Sheet

# Shared by the export and the benchmark's raw baseline, so both pay the same per-cell cost.
WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    # A cell typed "=..." by a user must stay text: no formula injection, and no URL or
    # number guessing (codes like "0123" keep their leading zero).
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_date_format": "dd/mm/yyyy",
}
MAX_COLUMN_WIDTH = 60


class XlsxWriter:
    """A workbook being written: declare the sheets up front, then append rows in order."""

    def __init__(self, path: Path, sheets: Sequence[Sheet], *, title: str = "") -> None:
        self.path = path
        self.workbook = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
        if title:
            self.workbook.set_properties({"title": title, "author": "rasoat"})
        self._bold = self.workbook.add_format({"bold": True})
        self._date = self.workbook.add_format(
            {"num_format": WORKBOOK_OPTIONS["default_date_format"]}
        )
        self._header = self.workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        )
        self._sheets: dict[str, Any] = {}
        self._next_row: dict[str, int] = {}
        self._header_row: dict[str, int] = {}
        self._widths: dict[str, int] = {}
        for sheet in sheets:
            self._add(sheet)

    def _add(self, sheet: Sheet) -> None:
        worksheet = self.workbook.add_worksheet(sheet.title)
        row = 0
        for index, line in enumerate(sheet.preamble):
            worksheet.write_string(row, 0, line, self._bold if index == 0 else None)
            row += 1
        if sheet.preamble:
            row += 1
        for col, column in enumerate(sheet.columns):
            worksheet.set_column(col, col, min(column.width, MAX_COLUMN_WIDTH))
            worksheet.write_string(row, col, column.header, self._header)
        worksheet.freeze_panes(row + 1, 0)
        self._sheets[sheet.key] = worksheet
        self._header_row[sheet.key] = row
        self._next_row[sheet.key] = row + 1
        self._widths[sheet.key] = len(sheet.columns)

    def write(self, key: str, row: Sequence[Cell]) -> None:
        # Typed calls instead of write_row: the cell types are known, and xlsxwriter's
        # generic dispatch costs a third of the write time; empty cells are not written.
        index = self._next_row[key]
        worksheet = self._sheets[key]
        for col, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                worksheet.write_string(index, col, value)
            elif kind is int or kind is float:
                worksheet.write_number(index, col, value)
            elif isinstance(value, date):
                worksheet.write_datetime(index, col, value, self._date)
            else:
                worksheet.write(index, col, value)
        self._next_row[key] = index + 1

    def rows_written(self, key: str) -> int:
        return self._next_row[key] - self._header_row[key] - 1

    def close(self) -> None:
        for key, worksheet in self._sheets.items():
            first = self._header_row[key]
            last = max(first, self._next_row[key] - 1)
            if self._widths[key]:
                worksheet.autofilter(first, 0, last, self._widths[key] - 1)
        self.workbook.close()
