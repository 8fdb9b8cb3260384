"""Writing sheets to an .xlsx file with xlsxwriter in constant-memory mode.

In that mode each row is flushed to a temporary file as soon as the next row starts, so a
workbook of a million cells costs the memory of one row per sheet. Rows of different sheets
may interleave (each sheet streams to its own file), which is what lets an export read
every household once and write its row on every sheet it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter

from exports.export_columns import LABEL_LANG, MACHINE_KINDS, Cell, Column, Kind, for_reading
from exports.export_sheets import Sheet
from locales.catalog import translate

# Shared by the export and the benchmark's raw baseline, so both pay the same per-cell cost.
WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    # A cell typed "=..." by a user must stay text: no formula injection, and no URL or
    # number guessing (codes like "0123" keep their leading zero).
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_date_format": "dd/mm/yyyy",
    # Rows taller than a line read from their top. Set on the default cell format, as no
    # cell then needs a format of its own for it.
    "default_format_properties": {"font_name": "Calibri", "font_size": 11, "valign": "top"},
}
MAX_COLUMN_WIDTH = 60
PAPER_A4 = 9
# Column-width units (characters of the default font) across an A4 page in portrait at
# 100% with the margins below; a wider table is printed in landscape.
PORTRAIT_WIDTH = 95
# Inches, as xlsxwriter takes them: about 13 mm at the sides, 18 mm top and bottom.
MARGINS = {"left": 0.5, "right": 0.5, "top": 0.7, "bottom": 0.75}
# Points per line of wrapped text. Rows are given their height when written: LibreOffice
# keeps a row at one line unless told, and cuts the wrapped text off.
LINE_HEIGHT = 15
# Characters per column-width unit in a wrapped cell, kept below 1 so that a word pushed
# to the next line by wrapping still fits in the estimated height.
FILL = 0.85


class XlsxWriter:
    """A workbook being written: declare the sheets up front, then append rows in order."""

    def __init__(
        self, path: Path, sheets: Sequence[Sheet], *, title: str = "", footer: str = ""
    ) -> None:
        """``footer``: who the pages belong to (area and year), printed on every page."""
        self.path = path
        self.footer = footer
        self.workbook = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
        if title:
            self.workbook.set_properties({"title": title, "author": "rasoat"})
        self._date = self.workbook.add_format(
            {"num_format": WORKBOOK_OPTIONS["default_date_format"], "valign": "top"}
        )
        self._header = self.workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        )
        self._preamble = self.workbook.add_format({"text_wrap": True, "valign": "top"})
        self._preamble_title = self.workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top"}
        )
        # Long answers wrap inside their column instead of running under the next one.
        self._wrap = self.workbook.add_format({"text_wrap": True, "valign": "top"})
        self._sheets: dict[str, Any] = {}
        self._next_row: dict[str, int] = {}
        self._header_row: dict[str, int] = {}
        self._widths: dict[str, int] = {}
        # Where each of a sheet's columns goes in the workbook: readable ones first.
        self._positions: dict[str, tuple[int, ...]] = {}
        # Per sheet column (workbook order): characters a line holds if the column wraps.
        self._fits: dict[str, tuple[float, ...]] = {}
        self._printed: dict[str, int] = {}
        self._row_lines: dict[str, int] = {}
        for sheet in sheets:
            self._add(sheet)

    def _add(self, sheet: Sheet) -> None:
        worksheet = self.workbook.add_worksheet(sheet.title)
        # A sheet is printed and filed: what people read comes first and is what prints;
        # the codes and 0/1 columns for analysis follow it (and the CSV files keep each
        # code next to its label).
        order = for_reading(sheet.columns)
        columns = [sheet.columns[i] for i in order]
        positions = [0] * len(order)
        for position, col in enumerate(order):
            positions[col] = position
        printed = [c for c in columns if c.kind not in MACHINE_KINDS] or columns
        printed_width = sum(_width(column) for column in printed)
        for col, column in enumerate(columns):
            wraps = column.kind is Kind.TEXT and not sheet.data
            worksheet.set_column(col, col, _width(column), self._wrap if wraps else None)
        # Rows of the sheet's usual height need no height of their own, which xlsxwriter
        # would keep in memory for every row.
        worksheet.set_default_row(LINE_HEIGHT * sheet.row_lines)
        row = 0
        for index, line in enumerate(sheet.preamble):
            style = self._preamble_title if index == 0 else self._preamble
            worksheet.set_row(row, LINE_HEIGHT * _lines(line, printed_width * FILL))
            if len(printed) > 1:
                worksheet.merge_range(row, 0, row, len(printed) - 1, line, style)
            else:
                worksheet.write_string(row, 0, line, style)
            row += 1
        if sheet.preamble:
            row += 1
        for col, column in enumerate(columns):
            worksheet.write_string(row, col, column.header, self._header)
        # Bold headers are a little wider than the answers under them. Only the printed
        # columns set the height: the long "question: choice" headers of the narrow 0/1
        # columns would make it ten lines high.
        heading = max(_lines(c.header, _width(c) * FILL * 0.9) for c in printed)
        worksheet.set_row(row, LINE_HEIGHT * heading)
        worksheet.freeze_panes(row + 1, 0)
        self._print_setup(worksheet, row, printed_width)
        self._sheets[sheet.key] = worksheet
        self._header_row[sheet.key] = row
        self._next_row[sheet.key] = row + 1
        self._widths[sheet.key] = len(sheet.columns)
        self._positions[sheet.key] = tuple(positions)
        self._printed[sheet.key] = len(printed)
        self._row_lines[sheet.key] = sheet.row_lines
        fits = tuple(
            _width(c) * FILL if c.kind is Kind.TEXT and not sheet.data else math.inf
            for c in columns
        )
        self._fits[sheet.key] = fits

    def _print_setup(self, worksheet: Any, header_row: int, width: int) -> None:
        worksheet.set_paper(PAPER_A4)
        if width > PORTRAIT_WIDTH:
            worksheet.set_landscape()
        # One page wide, as many tall as needed, the header row on top of each page.
        worksheet.fit_to_pages(1, 0)
        worksheet.repeat_rows(header_row)
        # Printed, a table without its grid is hard to follow along a row.
        worksheet.hide_gridlines(0)
        worksheet.set_margins(**MARGINS)
        page = translate("exports.print.page", LABEL_LANG, page="&P", pages="&N")
        left = self.footer.replace("&", "&&")
        worksheet.set_footer(f"&L{left}&R{page}" if left else f"&R{page}")
        # Which list a loose printed page belongs to: the sheet's name on top of it.
        worksheet.set_header("&C&A")

    def write(self, key: str, row: Sequence[Cell]) -> None:
        # Typed calls instead of write_row: the cell types are known, and xlsxwriter's
        # generic dispatch costs a third of the write time; empty cells are not written.
        index = self._next_row[key]
        worksheet = self._sheets[key]
        fits = self._fits[key]
        lines = 1
        cells: Sequence[Any] = row  # typed by the checks below, without a call per cell
        for col, value in zip(self._positions[key], cells, strict=True):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                if len(value) > fits[col]:
                    lines = max(lines, _lines(value, fits[col]))
                worksheet.write_string(index, col, value)
            elif kind is int or kind is float:
                worksheet.write_number(index, col, value)
            elif isinstance(value, date):
                worksheet.write_datetime(index, col, value, self._date)
            else:
                worksheet.write(index, col, value)
        if lines > self._row_lines[key]:
            worksheet.set_row(index, LINE_HEIGHT * lines)
        self._next_row[key] = index + 1

    def rows_written(self, key: str) -> int:
        return self._next_row[key] - self._header_row[key] - 1

    def close(self) -> None:
        for key, worksheet in self._sheets.items():
            first = self._header_row[key]
            last = max(first, self._next_row[key] - 1)
            if self._widths[key]:
                worksheet.autofilter(first, 0, last, self._widths[key] - 1)
                worksheet.print_area(0, 0, last, self._printed[key] - 1)
        self.workbook.close()


def _width(column: Column) -> int:
    return min(column.width, MAX_COLUMN_WIDTH)


def _lines(text: str, fit: float) -> int:
    """Lines ``text`` takes wrapped in a cell holding ``fit`` characters a line."""
    if math.isinf(fit):
        return 1
    return sum(max(1, math.ceil(len(part) / max(fit, 1.0))) for part in text.split("\n"))
