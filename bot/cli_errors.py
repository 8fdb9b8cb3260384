"""What `rasoat` says when a command is refused: the message for each known error, and the
exit status (2: the request was wrong; 1: a file had errors)."""

from __future__ import annotations

import sys

from bot.admin import AdminError
from bot.cli import EXIT_USAGE
from bot.decisions.reports import PeriodError
from bot.settings import SettingsError, load_settings
from classification import RuleFileError
from classification.vocabulary import VocabularyError
from exports.export_scope import ExportRefused
from locales.catalog import translate
from storage.imports import ImportFailed


def explain(error: Exception) -> int | None:
    """Prints ``error`` for the person at the terminal and returns the exit status; None
    for an error that is not a refusal (a bug, an outage): its traceback is what helps."""
    if isinstance(error, AdminError):
        print(error.render(_locale()), file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, ImportFailed):
        print(translate("cli.import_failed", _locale(), count=len(error.errors)), file=sys.stderr)
        for row_error in error.errors:
            print("  " + row_error.render(_locale()), file=sys.stderr)
        return 1
    if isinstance(error, ExportRefused):
        print(translate(error.key, _locale(), **error.params), file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, PeriodError):
        print(error.text(_locale()), file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, RuleFileError | VocabularyError):
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    return None


def _locale() -> str:
    try:
        return load_settings().locale
    except SettingsError:
        return "vi"
