"""The form's check at every start is remembered once passed, and made again in full when
the workbook or the code that judges it changed (bot.form_check)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.database
import bot.form_check
import forms.xlsform
from bot.database import check_vocabulary, open_database
from bot.form_check import check_form
from classification.vocabulary import VocabularyError
from forms import current_form
from tests.conftest import SQLITE_ONLY, Database, database_settings
from tests.test_vocabulary import cli_db_upgrade, drop_choice, edited_form, rename_field

MISSING_CODE = "field 'water_source' code 'drilled_well' is not a choice"


class Checks:
    """The real check, counted."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self) -> None:
        self.made += 1
        check_vocabulary(current_form())


@SQLITE_ONLY
async def test_a_command_after_a_passed_check_does_not_read_the_workbook_again(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []
    real = bot.database.check_vocabulary
    monkeypatch.setattr(bot.database, "check_vocabulary", lambda form: made.append(1) or real(form))
    settings = database_settings(database, RASOAT_CACHE_DIR=str(tmp_path / "cache"))
    for _ in range(3):
        opened = await open_database(settings)
        await opened.engine.dispose()
    assert made == [1]


def test_an_edited_workbook_is_checked_and_refused_at_every_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Checks()
    check_form(tmp_path, checks)
    check_form(tmp_path, checks)
    assert checks.made == 1

    monkeypatch.setattr(
        forms.xlsform,
        "BUNDLED_FORM",
        edited_form(tmp_path, drop_choice("water_source", "drilled_well")),
    )
    for _ in range(2):
        with pytest.raises(VocabularyError, match=MISSING_CODE):
            check_form(tmp_path, checks)
    assert checks.made == 3

    # Saved again by Excel without a change that matters: other bytes, checked, passed.
    monkeypatch.setattr(forms.xlsform, "BUNDLED_FORM", edited_form(tmp_path, lambda book: None))
    check_form(tmp_path, checks)
    check_form(tmp_path, checks)
    assert checks.made == 4


def test_a_change_in_the_code_that_judges_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "vocabulary.py"
    source.write_text("CHOICES = ('piped',)\n")
    monkeypatch.setattr(bot.form_check, "judged_sources", lambda: [source])
    checks = Checks()
    check_form(tmp_path, checks)
    check_form(tmp_path, checks)
    source.write_text("CHOICES = ('piped', 'bottled')\n")
    check_form(tmp_path, checks)
    assert checks.made == 2


def test_the_cli_refuses_an_edited_workbook_after_the_bundled_one_passed(tmp_path: Path) -> None:
    """Two fresh processes sharing their cache folder, as two commands at a real site."""
    edited = edited_form(tmp_path, rename_field("water_source", "drinking_water"))
    passed = cli_db_upgrade(forms.xlsform.BUNDLED_FORM, tmp_path)
    assert passed.returncode == 0, passed.stderr
    assert (tmp_path / "cache" / bot.form_check.REMEMBERED).is_file()
    refused = cli_db_upgrade(edited, tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "classification/vocabulary.py: field 'water_source' is not a question of "
        "forms/household.xlsx"
    ]
