"""One export from request to files: scope check, streaming, size limit, audit entry.

Used by the chat (``/export``, ``/report``) and the command line (``rasoat export``).
Everything is written to a temporary folder and read back as bytes only at the end, when
each file is known to be under the upload limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from classification import RuleSet, rules_for
from exports.csv_export import CsvWriter, zip_files
from exports.export_columns import Cell
from exports.export_scope import ExportRefused, Scope, resolve_scope
from exports.export_sheets import SUMMARY, Layout, Row, Sheet
from exports.export_summary import (
    SummaryTally,
    district_report,
    summary_sheet,
    summary_sheet_rows,
)
from exports.packaging import TELEGRAM_LIMIT, part_names, render_within, safe_name
from exports.rows import BATCH_SIZE, household_ids, records
from exports.xlsx import XlsxWriter
from forms import current_form
from storage.models import User
from storage.uow import UnitOfWork

Progress = Callable[[float], Awaitable[None]]


class Format(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"
    DOCX = "docx"


@dataclass(frozen=True)
class ExportRequest:
    format: Format = Format.XLSX
    area_code: str | None = None
    year: int | None = None
    # CSV only: one sheet (its key or file stem) instead of a zip of all of them.
    sheet: str | None = None


@dataclass(frozen=True)
class ExportFile:
    """A finished file, in the folder the caller gave (and deletes when done)."""

    filename: str
    path: Path

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def read(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class ExportOutcome:
    scope: Scope
    files: list[ExportFile] = field(default_factory=list)
    households: int = 0
    members: int = 0


class SheetWriter(Protocol):
    def write(self, key: str, row: Sequence[Cell]) -> None: ...

    def rows_written(self, key: str) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ExportSettings:
    tz: tzinfo
    rules: str | None = None
    limit: int = TELEGRAM_LIMIT
    batch_size: int = BATCH_SIZE


async def run_export(
    uow: UnitOfWork,
    user: User | None,
    request: ExportRequest,
    settings: ExportSettings,
    *,
    now: datetime,
    folder: Path,
    progress: Progress | None = None,
    actor_label: str | None = None,
) -> ExportOutcome:
    """Build the files of ``request`` as ``user`` (None: the command line) may see them,
    in ``folder`` (files stay on disk: a 50 MB part is never held in memory here).

    Raises :class:`ExportRefused` for a request outside the user's scope, after recording
    the refusal in the audit log (the caller's transaction commits it).
    """
    year = request.year or now.astimezone(settings.tz).year
    try:
        scope = await resolve_scope(uow, user, request.area_code, year)
        if request.sheet and request.format is Format.CSV:
            _check_sheet(request.sheet, _layout(settings, year))
    except ExportRefused as refused:
        uow.audit.record(
            "export.refused",
            actor=user,
            entity="area",
            entity_id=request.area_code,
            format=request.format.value,
            year=year,
            reason=refused.key,
            **_by(actor_label),
        )
        raise
    ids = await household_ids(uow.session, scope.selection)
    job = _Job(uow, scope, ids, request, settings, progress)
    outcome = await job.run(folder)
    uow.audit.record(
        f"export.{request.format.value}",
        actor=user,
        entity="area",
        entity_id=scope.code,
        year=year,
        households=outcome.households,
        members=outcome.members,
        files=[f.filename for f in outcome.files],
        bytes=sum(f.size for f in outcome.files),
        collaborator_only=scope.selection.collaborator_id is not None,
        **({"sheet": request.sheet} if request.sheet else {}),
        **_by(actor_label),
    )
    return outcome


def _by(actor_label: str | None) -> dict[str, str]:
    return {"by": actor_label} if actor_label else {}


def _layout(settings: ExportSettings, year: int) -> Layout:
    return Layout(current_form(), rules_for(year, settings.rules), settings.tz)


def sheet_names(year: int, rules: str | None = None) -> set[str]:
    """The words that name a sheet in ``/export csv <sheet>``: keys and file stems."""
    layout = Layout(current_form(), rules_for(year, rules), UTC)
    sheets = [*layout.sheets, summary_sheet()]
    return {sheet.key for sheet in sheets} | {sheet.slug for sheet in sheets}


def _check_sheet(wanted: str, layout: Layout) -> Sheet:
    for sheet in [*layout.sheets, summary_sheet()]:
        if wanted.lower() in (sheet.key, sheet.slug):
            return sheet
    names = ", ".join(s.slug for s in [*layout.sheets, summary_sheet()])
    raise ExportRefused("exports.unknown_sheet", sheet=wanted, sheets=names)


class _Job:
    def __init__(
        self,
        uow: UnitOfWork,
        scope: Scope,
        ids: list[int],
        request: ExportRequest,
        settings: ExportSettings,
        progress: Progress | None,
    ) -> None:
        self.uow = uow
        self.scope = scope
        self.ids = ids
        self.request = request
        self.settings = settings
        self.progress = progress
        self.layout = _layout(settings, scope.selection.year)
        self.rules: RuleSet = self.layout.rules
        self.folder = self.output = Path()
        self.households = 0
        self.members = 0
        self._counts: dict[Path, tuple[int, int]] = {}
        # Households written so far over all passes, for the progress figure.
        self._done = 0
        self._planned = max(1, len(ids))

    @property
    def stem(self) -> str:
        return f"rasoat-{safe_name(self.scope.code)}-{self.scope.selection.year}"

    async def run(self, folder: Path) -> ExportOutcome:
        self.output = folder
        self.folder = folder / "work"
        self.folder.mkdir()
        outcome = ExportOutcome(self.scope)
        if self.request.format is Format.DOCX:
            path = await self._docx()
            outcome.files = [self._final(path, f"{self.stem}-muc-II.docx")]
        else:
            parts = await render_within(self.ids, self._render, self.settings.limit)
            # A split renders the households again, part by part: count the parts kept.
            self.households = sum(self._counts[part.path][0] for part in parts)
            self.members = sum(self._counts[part.path][1] for part in parts)
            suffix = parts[0].path.suffix
            names = part_names(self.stem + self._sheet_suffix(), suffix, len(parts))
            outcome.files = [
                self._final(part.path, name) for name, part in zip(names, parts, strict=True)
            ]
        outcome.households, outcome.members = self.households, self.members
        await self._report(1.0)
        return outcome

    def _final(self, path: Path, filename: str) -> ExportFile:
        """Move a finished file out of the work folder under its final name."""
        return ExportFile(filename, path.rename(self.output / filename))

    def _sheet_suffix(self) -> str:
        if self.request.format is Format.CSV and self.request.sheet:
            return "-" + _check_sheet(self.request.sheet, self.layout).slug
        return ""

    async def _report(self, fraction: float) -> None:
        if self.progress is not None:
            await self.progress(min(1.0, fraction))

    async def _stream(self, ids: Sequence[int], writer: SheetWriter | None) -> SummaryTally:
        """Read ``ids`` once, writing every row to ``writer``; returns the tally."""
        tally = SummaryTally()
        self.households = self.members = 0
        async for batch in records(
            self.uow.session, ids, self.scope.selection, batch_size=self.settings.batch_size
        ):
            for record in batch:
                tally.add(record)
                self.households += 1
                self.members += len(record.member_indices())
                if writer is not None:
                    for key, row in self.layout.rows(record):
                        writer.write(key, row)
            self._done += len(batch)
            # A split re-reads the households, so the planned total grows with it.
            self._planned = max(self._planned, self._done)
            await self._report(self._done / self._planned * 0.98)
        return tally

    async def _summary_rows(self, tally: SummaryTally) -> list[Row]:
        report = await district_report(self.uow, self.scope, tally)
        return summary_sheet_rows(report, tally, self.rules)

    async def _render(self, ids: Sequence[int], tag: str) -> Path:
        if self._done:
            # A second pass (a split) re-reads everything: say so in the progress figure.
            self._planned = self._done + len(ids)
        if self.request.format is Format.XLSX:
            path = await self._xlsx(ids, tag)
        else:
            path = await self._csv(ids, tag)
        self._counts[path] = (self.households, self.members)
        return path

    async def _xlsx(self, ids: Sequence[int], tag: str) -> Path:
        path = self.folder / f"export{tag}.xlsx"
        sheets = [*self.layout.sheets, summary_sheet()]
        title = f"{self.scope.name} {self.scope.selection.year}"
        writer = XlsxWriter(path, sheets, title=title, footer=title)
        try:
            tally = await self._stream(ids, writer)
            for row in await self._summary_rows(tally):
                writer.write(SUMMARY, row)
        finally:
            writer.close()
        return path

    async def _csv(self, ids: Sequence[int], tag: str) -> Path:
        folder = self.folder / f"csv{tag}"
        folder.mkdir()
        sheets = [*self.layout.sheets, summary_sheet()]
        if self.request.sheet:
            sheets = [_check_sheet(self.request.sheet, self.layout)]
        writer = CsvWriter(folder, sheets)
        keys = {sheet.key for sheet in sheets}
        try:
            tally = await self._stream(ids, _Only(writer, keys))
            if SUMMARY in keys:
                for row in await self._summary_rows(tally):
                    writer.write(SUMMARY, row)
        finally:
            writer.close()
        files = [writer.paths[sheet.key] for sheet in sheets]
        if len(files) == 1 and files[0].stat().st_size <= self.settings.limit:
            return files[0]
        return zip_files(self.folder / f"export{tag}.zip", files)

    async def _docx(self) -> Path:
        # Imported here: python-docx and lxml are only needed for this format.
        from exports.docx_report import section_two, write_docx

        tally = await self._stream(self.ids, None)
        report = await district_report(self.uow, self.scope, tally)
        paragraphs = section_two(report, tally, self.rules)
        title = f"{self.scope.name} {self.scope.selection.year}"
        return write_docx(self.folder / "report.docx", paragraphs, title=title)


class _Only:
    """A writer that drops the rows of sheets not asked for (``/export csv members``)."""

    def __init__(self, writer: CsvWriter, keys: set[str]) -> None:
        self.writer = writer
        self.keys = keys

    def write(self, key: str, row: Sequence[Cell]) -> None:
        if key in self.keys:
            self.writer.write(key, row)

    def rows_written(self, key: str) -> int:
        return self.writer.rows_written(key)

    def close(self) -> None:
        self.writer.close()
