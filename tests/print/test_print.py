"""The exports as an office prints them: converted to PDF by LibreOffice, then read back
page by page with poppler (`make print-check`; needs soffice, pdfinfo and pdftotext).

Reading the xlsx back with openpyxl shows what the file asks for; only a renderer shows
what a printer gets: the page size, where the pages break, what is on each of them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string

from exports.export_run import Format
from tests.conftest import Database
from tests.exports.random_commune import export, load, random_commune

A4 = (595, 842)  # points, portrait
# Enough for lists of several pages, few enough to convert in seconds.
HOUSEHOLDS = 120
MM = 72 / 25.4
TOOLS = ("soffice", "pdfinfo", "pdftotext")
LISTS = ("Không có việc làm", "Không muốn đi làm", "Việc làm không ổn định")
LISTS += ("Không có khả năng lao động",)
# A list row as pdftotext -raw gives it: code, village, head, category on one line.
LIST_ROW = re.compile(r"^H\d{4} Ấp \d .+ hộ (nghèo|cận nghèo|mới thoát nghèo) ")


@dataclass(frozen=True)
class Files:
    xlsx: bytes
    docx: bytes


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"the print check needs {', '.join(missing)}"
    made = {name: tmp_path / name for name in ("odk", "xlsx", "docx", "pdf", "profile")}
    for folder in made.values():
        folder.mkdir()
    return made


@pytest.fixture
async def files(database: Database, folders: dict[str, Path]) -> Files:
    today = datetime.now(UTC).date()
    await load(database, random_commune(today, HOUSEHOLDS), folders["odk"], today)
    xlsx = await export(database, Format.XLSX, folders["xlsx"])
    docx = await export(database, Format.DOCX, folders["docx"])
    return Files(xlsx, docx)


def to_pdf(source: Path, folders: dict[str, Path]) -> Path:
    # A profile of its own, so a LibreOffice already running elsewhere is not disturbed.
    profile = f"-env:UserInstallation={folders['profile'].as_uri()}"
    subprocess.run(
        [
            "soffice",
            profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folders["pdf"]),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folders["pdf"] / f"{source.stem}.pdf"


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))  # type: ignore[union-attr]
    info = _run("pdfinfo", "-f", "1", "-l", str(pages), str(pdf))
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info, re.M)
    return [(float(w), float(h)) for w, h in sizes]


def page_text(pdf: Path, page: int, *mode: str) -> str:
    return _run("pdftotext", *mode, "-f", str(page), "-l", str(page), str(pdf), "-")


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def is_a4(size: tuple[float, float]) -> bool:
    return tuple(sorted(round(x) for x in size)) == A4


def test_the_workbook_prints_on_a4_with_whole_rows_under_their_headers(
    files: Files, folders: dict[str, Path]
) -> None:
    source = folders["xlsx"] / "lists.xlsx"
    source.write_bytes(files.xlsx)
    book = load_workbook(source)
    pdf = to_pdf(source, folders)
    sizes = page_sizes(pdf)
    assert sizes and all(is_a4(size) for size in sizes)

    # Each page says which sheet it is (its page header, which pdftotext -raw gives first)
    # and which page (its footer, given next); the pages of a sheet follow each other.
    by_sheet: dict[str, list[int]] = {name: [] for name in book.sheetnames}
    for page in range(1, len(sizes) + 1):
        lines = [line for line in page_text(pdf, page, "-raw").splitlines() if line.strip()]
        assert lines[0].strip() in by_sheet, (page, lines[0])
        by_sheet[lines[0].strip()].append(page)
        assert f"Trang {page}/{len(sizes)}" in lines[1], page
    for name, pages in by_sheet.items():
        assert pages, f"{name} printed no page"
        assert pages == list(range(pages[0], pages[-1] + 1)), name

    for name, pages in by_sheet.items():
        sheet = book[name]
        header_row = int(sheet.print_title_rows.split(":")[0].lstrip("$"))
        last_column = column_index_from_string(
            re.search(r":\$([A-Z]+)\$", sheet.print_area).group(1)  # type: ignore[arg-type, union-attr]
        )
        headers = [
            str(cell.value) for cell in sheet[header_row][:last_column] if cell.value is not None
        ]
        wanted = {word for header in headers for word in re.findall(r"\w+", header)}
        for page in pages:
            # Every page repeats the whole header row: no column went to another page.
            # (Word by word: at the scale of a wide sheet, pdftotext mixes neighbouring
            # cells' lines, so a wrapped header is not found in one piece.)
            words = set(re.findall(r"\w+", page_text(pdf, page)))
            assert wanted - words == set(), (name, page)
        wide = sum(sheet.column_dimensions[c.column_letter].width for c in sheet[header_row])
        if name in LISTS or wide > 120:
            assert all(sizes[p - 1][0] > sizes[p - 1][1] for p in pages), f"{name} not landscape"

    for name in LISTS:
        rows = book[name].max_row - 4  # two preamble lines, a blank one, the header row
        assert rows > 0
        printed = [
            line
            for page in by_sheet[name]
            for line in page_text(pdf, page, "-raw").splitlines()
            if LIST_ROW.match(line)
        ]
        # Every row of the list printed once, its cells together on one line of one page.
        assert len(printed) == rows, name
    assert len(by_sheet["Không có việc làm"]) > 1, "the test needs a list of several pages"


def test_the_report_prints_on_a4_within_the_administrative_margins(
    files: Files, folders: dict[str, Path]
) -> None:
    source = folders["docx"] / "report.docx"
    source.write_bytes(files.docx)
    pdf = to_pdf(source, folders)
    sizes = page_sizes(pdf)
    assert sizes and all(tuple(round(x) for x in size) == A4 for size in sizes)
    text = _run("pdftotext", str(pdf), "-")
    assert "II. NỘI DUNG THỰC HIỆN" in text
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">',
        _run("pdftotext", "-bbox", str(pdf), "-"),
    )
    boxes = [tuple(float(v) for v in box) for box in words]
    assert boxes
    width, height = sizes[0]
    # Decree 30/2020: left 30-35 mm, right 15-20 mm, top and bottom 20-25 mm.
    assert min(b[0] for b in boxes) >= 30 * MM - 1
    assert max(b[2] for b in boxes) <= width - 15 * MM + 1
    assert min(b[1] for b in boxes) >= 20 * MM - 1
    assert max(b[3] for b in boxes) <= height - 20 * MM + 1
