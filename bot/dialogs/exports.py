"""/export and /report: the area's lists as a workbook or CSV, section II as a Word file.

``/export [area code] [year] [csv|xlsx] [sheet]``, arguments in any order:
``/export`` (the user's areas, this year, .xlsx), ``/export 87-MH-A1 2025``,
``/export csv`` (a zip of one CSV per sheet), ``/export csv thanh-vien`` (one CSV).
``/report [area code] [year]`` sends the .docx.

The export runs after the message's own transaction, in one of its own (see
``bot.messages.Deferred``), so a long read never blocks other chats' answers; its audit entry
commits with it. Progress is sent while it runs through ``ctx.progress`` when the channel
offers one (an edited "Đang xuất… 40%" message on Telegram).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.context import Context, DialogContext, Later
from bot.messages import Deferred, Document, Kind, Outgoing, Text
from exports.export_run import (
    ExportOutcome,
    ExportRequest,
    ExportSettings,
    Format,
    run_export,
    sheet_names,
)
from exports.export_scope import ExportRefused
from exports.packaging import TELEGRAM_LIMIT
from forms.parsing import ascii_int
from storage.models import User

# Tests lower it to exercise the split without writing 50 MB.
UPLOAD_LIMIT = TELEGRAM_LIMIT
# Progress is shown in steps, so a chat sees a handful of edits rather than dozens.
PROGRESS_STEP = 20
FORMAT_WORDS = {"xlsx": Format.XLSX, "excel": Format.XLSX, "csv": Format.CSV}
FIRST_YEAR, LAST_YEAR = 2000, 2100

ProgressSink = Callable[[str], Awaitable[None]]


def export(ctx: DialogContext) -> list[Outgoing]:
    return _deferred(parse_request(ctx, Format.XLSX))


def report(ctx: DialogContext) -> list[Outgoing]:
    request = parse_request(ctx, Format.DOCX)
    return _deferred(ExportRequest(Format.DOCX, request.area_code, request.year))


def _deferred(request: ExportRequest) -> list[Outgoing]:
    # A large export reads for minutes: it runs after the message's commit, so it never
    # holds the write transaction the collaborators' answers are waiting for.
    async def run(ctx: Later) -> list[Outgoing]:
        return await _run(ctx, request)

    return [Deferred(run)]


def parse_request(ctx: Context, default: Format) -> ExportRequest:
    """Arguments in any order: a format word, a year, a sheet name (CSV), an area code."""
    fmt, year, area, sheet = default, None, None, None
    tokens = ctx.incoming.args.split()
    words = [token.lower() for token in tokens]
    for token, word in zip(tokens, words, strict=True):
        if word in FORMAT_WORDS and default is not Format.DOCX:
            fmt = FORMAT_WORDS[word]
        elif (number := ascii_int(word)) is not None and FIRST_YEAR <= number <= LAST_YEAR:
            year = number
        elif area is None and not _is_sheet(ctx, word, year):
            area = token
        else:
            sheet = word
    return ExportRequest(fmt, area, year, sheet if fmt is Format.CSV else None)


def _is_sheet(ctx: Context, word: str, year: int | None) -> bool:
    review_year = year or ctx.now.astimezone(ctx.settings.tz).year
    return word in sheet_names(review_year, ctx.settings.rules)


async def _run(ctx: Later, request: ExportRequest) -> list[Outgoing]:
    # After the turn the person is read again, as an object of this transaction.
    assert isinstance(ctx.user, User)
    settings = ExportSettings(tz=ctx.settings.tz, rules=ctx.settings.rules, limit=UPLOAD_LIMIT)
    with tempfile.TemporaryDirectory(prefix="rasoat-export-") as folder:
        try:
            outcome = await run_export(
                ctx.uow,
                ctx.user,
                request,
                settings,
                now=ctx.now,
                folder=Path(folder),
                progress=_progress(ctx),
            )
        except ExportRefused as refused:
            return [Text(ctx.t(refused.key, **refused.params))]
        # Read before the folder goes: Document carries bytes (see README, "Exports").
        return _replies(ctx, request, outcome)


def _again(ctx: Later, request: ExportRequest) -> str:
    """The command that sends the file again, as the user gave it (a menu button gives none)."""
    name = "report" if request.format is Format.DOCX else "export"
    incoming = ctx.incoming
    if incoming.kind is Kind.COMMAND and incoming.command == name:
        return f"/{name} {incoming.args}".strip()
    return f"/{name}"


def _replies(ctx: Later, request: ExportRequest, outcome: ExportOutcome) -> list[Outgoing]:
    scope = outcome.scope
    year = scope.selection.year
    if outcome.households == 0:
        return [Text(ctx.t("exports.empty", area=scope.name, year=year))]
    again = _again(ctx, request)
    if request.format is Format.DOCX:
        caption = ctx.t("exports.report_caption", area=scope.name, year=year)
        return [Document(f.filename, f.read(), caption, again) for f in outcome.files]
    if len(outcome.files) == 1:
        caption = ctx.t(
            "exports.caption",
            area=scope.name,
            year=year,
            households=outcome.households,
            members=outcome.members,
        )
        [file] = outcome.files
        return [Document(file.filename, file.read(), caption, again)]
    parts = len(outcome.files)
    return [
        Document(
            f.filename,
            f.read(),
            ctx.t("exports.caption_part", area=scope.name, year=year, part=n, parts=parts),
            again,
        )
        for n, f in enumerate(outcome.files, start=1)
    ]


def _progress(ctx: Later) -> Callable[[float], Awaitable[None]] | None:
    # Set by channels that can show a message before the handler's replies.
    sink: ProgressSink | None = ctx.progress
    if sink is None:
        return None
    shown = -1

    async def report(fraction: float) -> None:
        nonlocal shown
        step = int(fraction * 100) // PROGRESS_STEP * PROGRESS_STEP
        # It ends at 100%, the file built and about to be sent: a status left at 80% would
        # look stuck whenever the file is slow to come, or lost (the channel then says so).
        if step > shown:
            shown = step
            await sink(ctx.t("exports.progress", percent=step))

    return report
