"""The periodic report (section III.9 of the plan) as files: a workbook with one sheet per
table and a Word document in the administrative layout (A4, Times New Roman 13, the
plan's margins), both from plain tables the pure core lays out
(:func:`bot.decisions.reports.tables`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm

from exports.docx_report import administrative_document
from exports.export_columns import Column, Kind
from exports.export_sheets import Sheet, sheet_title
from exports.report_tables import Table
from exports.xlsx import XlsxWriter


def write_xlsx(path: Path, title: str, tables: Sequence[Table], *, footer: str = "") -> Path:
    sheets = [
        Sheet(
            table.key,
            sheet_title(table.title),
            tuple(
                Column(header, Kind.TEXT if i == 0 else Kind.NUMBER, 40 if i == 0 else 14)
                for i, header in enumerate(table.headers)
            ),
            preamble=(title, table.title),
        )
        for table in tables
    ]
    writer = XlsxWriter(path, sheets, title=title, footer=footer)
    for table in tables:
        for row in table.rows:
            writer.write(table.key, row)
    writer.close()
    return path


def write_docx(path: Path, title: str, paragraphs: Sequence[str], tables: Sequence[Table]) -> Path:
    document = administrative_document(Document(), title=title)
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    heading.add_run(title).bold = True
    for text in paragraphs:
        paragraph = document.add_paragraph(text)
        paragraph.paragraph_format.first_line_indent = Cm(1)
    for table in tables:
        document.add_paragraph().add_run(table.title).bold = True
        grid = document.add_table(rows=1, cols=len(table.headers))
        grid.style = "Table Grid"
        for cell, header in zip(grid.rows[0].cells, table.headers, strict=True):
            cell.paragraphs[0].add_run(header).bold = True
        for row in table.rows:
            cells = grid.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = str(value)
    document.save(str(path))
    return path
