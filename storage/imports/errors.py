"""What an import reports back: every problem of the file, or a summary of what changed.

Messages are catalog keys plus parameters rather than text, so the CLI and the bot can
show them in the user's language; Vietnamese is the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from locales.catalog import DEFAULT_LOCALE, translate


@dataclass(frozen=True)
class RowError:
    """One problem, located the way the user sees the sheet (header row = row 1)."""

    row: int | None
    column: str | None
    message_key: str
    params: dict[str, object] = field(default_factory=dict, hash=False)

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        message = translate(self.message_key, locale, **self.params)
        if self.row is not None and self.column is not None:
            where = translate("imports.at_row_column", locale, row=self.row, column=self.column)
        elif self.row is not None:
            where = translate("imports.at_row", locale, row=self.row)
        elif self.column is not None:
            where = translate("imports.at_column", locale, column=self.column)
        else:
            return message[:1].upper() + message[1:]
        return f"{where}: {message}"

    def sort_key(self) -> int:
        # By row only: the sort is stable, so a row's errors keep the order they were
        # found in, which follows the columns. File-level problems (no row) come first.
        return self.row if self.row is not None else 0


class ImportFailed(Exception):
    """The file was rejected and nothing was written; ``errors`` holds every problem found."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=RowError.sort_key)
        super().__init__(self.render(limit=20))

    def render(self, locale: str = DEFAULT_LOCALE, *, limit: int | None = 50) -> str:
        """A header line and one line per error; long lists are cut so a terminal stays usable."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [translate("imports.failed", locale, count=len(self.errors))]
        lines.extend(f"- {error.render(locale)}" for error in shown)
        if len(shown) < len(self.errors):
            lines.append(
                translate("imports.more_errors", locale, count=len(self.errors) - len(shown))
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportResult:
    """Counts of the main records (areas, or households) plus kind-specific ``details``."""

    created: int
    updated: int
    unchanged: int
    details: dict[str, int] = field(default_factory=dict, hash=False)
    kind: str = "generic"

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        params: dict[str, object] = {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            **self.details,
        }
        lines = [translate(f"imports.summary.{self.kind}", locale, **params)]
        # Only worth a line when it happened; otherwise it is noise in every summary.
        for detail in ("members_kept", "households_kept"):
            if self.details.get(detail):
                lines.append(translate(f"imports.summary.{detail}", locale, **params))
        return "\n".join(lines)


class CollectedErrors:
    """Errors gathered while a file is checked, so all of them are reported at once."""

    def __init__(self) -> None:
        self.items: list[RowError] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def failure(self) -> ImportFailed:
        return ImportFailed(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise self.failure()


class ErrorList(CollectedErrors):
    """The errors of a one-sheet file, located by row and column."""

    def add(self, row: int | None, column: str | None, message_key: str, **params: object) -> None:
        self.items.append(RowError(row, column, message_key, params))
