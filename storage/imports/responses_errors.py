"""Errors of the responses import, which spans several sheets of one workbook.

The shared :class:`RowError` locates a problem by row and column only; an ODK/Kobo export
has a household sheet and a member sheet whose row numbers overlap, so these errors also
name the sheet, and a failure lists them sheet by sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from forms import Invalid
from locales.catalog import DEFAULT_LOCALE, translate
from storage.imports.errors import CollectedErrors, ImportFailed, RowError


@dataclass(frozen=True)
class SheetRowError(RowError):
    sheet: str | None = None
    # The engine's own reason (often the form's constraint message), rendered in the
    # reader's language; kept as the object because the form supplies both languages.
    reason: Invalid | None = field(default=None, compare=False, hash=False)

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        params = dict(self.params)
        if self.reason is not None:
            params["reason"] = self.reason.text(locale)
        message = translate(self.message_key, locale, **params)
        if self.sheet is None:
            return RowError(self.row, self.column, self.message_key, params).render(locale)
        where_params = {"sheet": self.sheet, "row": self.row, "column": self.column}
        if self.row is not None and self.column is not None:
            where = translate("imports.responses.at_sheet_row_column", locale, **where_params)
        elif self.row is not None:
            where = translate("imports.responses.at_sheet_row", locale, **where_params)
        elif self.column is not None:
            where = translate("imports.responses.at_sheet_column", locale, **where_params)
        else:
            where = translate("imports.responses.at_sheet", locale, **where_params)
        return f"{where}: {message}"


class ResponsesImportFailed(ImportFailed):
    """An :class:`ImportFailed` whose errors are grouped by sheet, in workbook order."""

    def __init__(self, errors: list[RowError], sheets: Sequence[str] = ()) -> None:
        super().__init__(errors)
        order = {name: index for index, name in enumerate(sheets, start=1)}

        def sheet_first(error: RowError) -> tuple[int, int]:
            sheet = getattr(error, "sheet", None)
            # File-level problems (no sheet) first, then each sheet by row; the sort is
            # stable, so a row's errors stay in column order.
            rank = 0 if sheet is None else order.get(sheet, len(order) + 1)
            return (rank, error.row if error.row is not None else 0)

        self.errors = sorted(self.errors, key=sheet_first)
        self.args = (self.render(limit=20),)


class SheetErrors(CollectedErrors):
    """Every problem of the workbook, located by sheet, row and column."""

    def __init__(self) -> None:
        super().__init__()
        self.sheets: list[str] = []

    def add(
        self,
        sheet: str | None,
        row: int | None,
        column: str | None,
        message_key: str,
        *,
        reason: Invalid | None = None,
        **params: object,
    ) -> None:
        self.items.append(SheetRowError(row, column, message_key, params, sheet, reason))

    def failure(self) -> ResponsesImportFailed:
        return ResponsesImportFailed(self.items, self.sheets)

    def absorb(self, failure: ImportFailed) -> None:
        self.items.extend(failure.errors)
