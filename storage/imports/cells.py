"""Reading typed values out of a row while recording, not raising, what is wrong."""

from __future__ import annotations

from storage.imports import values
from storage.imports.errors import ErrorList
from storage.imports.tabular import Cell, Sheet, SourceRow


class RowReader:
    def __init__(self, table: Sheet, errors: ErrorList) -> None:
        self.table = table
        self.errors = errors

    def error(self, row: SourceRow | int, key: str, message_key: str, **params: object) -> None:
        number = row if isinstance(row, int) else row.number
        self.errors.add(number, self.table.header(key), message_key, **params)

    def cell(self, row: SourceRow, key: str) -> Cell:
        return row.cells.get(key)

    def text(self, row: SourceRow, key: str, *, required: bool, max_length: int) -> str | None:
        cell = row.cells.get(key)
        value = cell if type(cell) is str else values.text(cell)
        if value is None:
            if required:
                self.error(row, key, "imports.required")
            return None
        if len(value) > max_length:
            self.error(row, key, "imports.too_long", max=max_length, length=len(value))
            return None
        return value
