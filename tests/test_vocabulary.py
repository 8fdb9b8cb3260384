"""The workbook is the one source of field names and choice codes: the copies the code keeps
(classification/vocabulary.py, the categories of the database) are checked against it at
every start, and a workbook edited out of step with them is refused with the file to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

import forms.xlsform
from bot.database import check_vocabulary
from bot.runtime import open_runtime
from bot.settings import Settings
from classification.vocabulary import VocabularyError
from exports.summary import SEEKING, STATUSES
from forms import BUNDLED_FORM, load_bundled_form, load_form

ROOT = Path(__file__).resolve().parent.parent
FORM_FILE = "forms/household.xlsx"


def edited_form(tmp_path: Path, edit: Callable[[openpyxl.Workbook], None]) -> Path:
    """A copy of the bundled workbook with ``edit`` applied, as someone would in Excel."""
    book = openpyxl.load_workbook(BUNDLED_FORM)
    edit(book)
    path = tmp_path / "household.xlsx"
    book.save(path)
    return path


def _row_of(sheet: Worksheet, first: str, second: str) -> int:
    """The row whose first two cells are ``first`` and ``second`` (1-based)."""
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == first and row[1].value == second:
            return row[0].row
    raise AssertionError(f"no row {first!r} {second!r} in {sheet.title}")


def drop_choice(list_name: str, code: str) -> Callable[[openpyxl.Workbook], None]:
    def edit(book: openpyxl.Workbook) -> None:
        sheet = book["choices"]
        sheet.delete_rows(_row_of(sheet, list_name, code))

    return edit


def add_choice(list_name: str, code: str, label: str) -> Callable[[openpyxl.Workbook], None]:
    def edit(book: openpyxl.Workbook) -> None:
        sheet = book["choices"]
        at = _row_of(sheet, list_name, "other")
        sheet.insert_rows(at)
        sheet.cell(at, 1, list_name)
        sheet.cell(at, 2, code)
        sheet.cell(at, 3, label)
        sheet.cell(at, 4, label)

    return edit


def rename_field(old: str, new: str) -> Callable[[openpyxl.Workbook], None]:
    def edit(book: openpyxl.Workbook) -> None:
        sheet = book["survey"]
        for row in sheet.iter_rows(min_row=2):
            if row[1].value == old:
                row[1].value = new
                return
        raise AssertionError(old)

    return edit


def retype_field(name: str, kind: str) -> Callable[[openpyxl.Workbook], None]:
    def edit(book: openpyxl.Workbook) -> None:
        sheet = book["survey"]
        for row in sheet.iter_rows(min_row=2):
            if row[1].value == name:
                row[0].value = kind
                return
        raise AssertionError(name)

    return edit


def problems_of(path: Path) -> list[str]:
    with pytest.raises(VocabularyError) as raised:
        check_vocabulary(load_form(path), FORM_FILE)
    return raised.value.problems


def test_the_bundled_form_matches_the_vocabulary() -> None:
    check_vocabulary(load_bundled_form())


def test_an_unedited_copy_matches(tmp_path: Path) -> None:
    check_vocabulary(load_form(edited_form(tmp_path, lambda book: None)), FORM_FILE)


def test_a_code_missing_from_the_workbook_names_the_field_the_code_and_the_file(
    tmp_path: Path,
) -> None:
    path = edited_form(tmp_path, drop_choice("water_source", "drilled_well"))
    assert problems_of(path) == [
        "classification/vocabulary.py: field 'water_source' code 'drilled_well' is not a "
        "choice of forms/household.xlsx"
    ]


def test_a_code_added_to_the_workbook_is_named_too(tmp_path: Path) -> None:
    path = edited_form(tmp_path, add_choice("latrine", "composting", "Nhà tiêu ủ phân"))
    assert problems_of(path) == [
        "forms/household.xlsx: field 'latrine' choice 'composting' is missing from "
        "classification/vocabulary.py"
    ]


def test_a_renamed_field_names_the_field_and_the_file(tmp_path: Path) -> None:
    path = edited_form(tmp_path, rename_field("water_source", "drinking_water"))
    assert problems_of(path) == [
        "classification/vocabulary.py: field 'water_source' is not a question of "
        "forms/household.xlsx"
    ]


def test_a_multiple_choice_turned_single_is_refused(tmp_path: Path) -> None:
    path = edited_form(tmp_path, retype_field("info_devices", "select_one info_devices"))
    assert problems_of(path) == [
        "forms/household.xlsx: field 'info_devices' is select_one, "
        "classification/vocabulary.py expects select_multiple"
    ]


def test_a_category_the_database_does_not_know_is_refused(tmp_path: Path) -> None:
    path = edited_form(tmp_path, drop_choice("category", "escaped"))
    assert problems_of(path) == [
        "classification/vocabulary.py: field 'category' code 'escaped' is not a choice of "
        "forms/household.xlsx",
        "storage/models.py: HouseholdCategory 'escaped' is not a choice of 'category' in "
        "forms/household.xlsx",
    ]


async def test_the_runtime_refuses_to_open_on_such_a_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    path = edited_form(tmp_path, drop_choice("water_source", "drilled_well"))
    monkeypatch.setattr(forms.xlsform, "BUNDLED_FORM", path)
    with pytest.raises(VocabularyError, match="field 'water_source' code 'drilled_well'"):
        await open_runtime(settings)


def cli_db_upgrade(workbook: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """`rasoat db upgrade` in a fresh process, as at a real start, its bundled form pointed
    at ``workbook``, its database and cache folder in ``folder``."""
    program = (
        "import sys, pathlib, forms.xlsform\n"
        f"forms.xlsform.BUNDLED_FORM = pathlib.Path({str(workbook)!r})\n"
        "from bot.cli import main\n"
        "sys.exit(main(['db', 'upgrade']))\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "RASOAT_", "WEBHOOK_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{folder / 'rasoat.db'}"
    env["RASOAT_CACHE_DIR"] = str(folder / "cache")
    return subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_the_cli_says_what_to_fix_in_one_line_and_exits_2(tmp_path: Path) -> None:
    path = edited_form(tmp_path, rename_field("water_source", "drinking_water"))
    result = cli_db_upgrade(path, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "classification/vocabulary.py: field 'water_source' is not a question of "
        "forms/household.xlsx"
    ]
    assert not (tmp_path / "rasoat.db").exists()  # refused before the database was touched


def test_the_reports_statuses_are_the_forms() -> None:
    form = load_bundled_form()
    list_name = form.fields["employment_status"].list_name
    assert list_name is not None
    assert tuple(choice.name for choice in form.choices[list_name]) == STATUSES
    assert set(SEEKING) < set(STATUSES)
