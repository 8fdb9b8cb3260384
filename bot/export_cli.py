"""``rasoat export --area X --format xlsx|csv|docx``: the chat's exports, written to disk.

Whoever runs the command has the server and its database, so the command line sees every
area; the audit entry names the operating-system user instead of a chat user. No upload
limit applies to a file on disk.
"""

from __future__ import annotations

import getpass
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from exports.export_run import ExportFile, ExportRequest, ExportSettings, Format, run_export
from storage.uow import UnitOfWork

NO_LIMIT = sys.maxsize


async def export_to_files(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    area: str | None,
    fmt: str,
    year: int | None = None,
    sheet: str | None = None,
    output: Path = Path(),
    now: datetime | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[Path]:
    """Write the export's files into ``output``; returns their paths.

    Raises :class:`exports.export_scope.ExportRefused` for an unknown area or sheet.
    """
    request = ExportRequest(Format(fmt), area, year, sheet)
    export_settings = ExportSettings(tz=settings.tz, rules=settings.rules, limit=NO_LIMIT)

    async def report(fraction: float) -> None:
        if progress is not None:
            progress(fraction)

    with tempfile.TemporaryDirectory(prefix="rasoat-export-") as folder:
        async with UnitOfWork(sessions) as uow:
            try:
                outcome = await run_export(
                    uow,
                    None,
                    request,
                    export_settings,
                    now=now or datetime.now(UTC),
                    folder=Path(folder),
                    progress=report,
                    actor_label=f"cli:{_os_user()}",
                )
            finally:
                # The refusal's audit entry is worth keeping too.
                await uow.commit()
        return _move(output, outcome.files)


def _move(output: Path, files: list[ExportFile]) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.move(file.path, output / file.filename)) for file in files]


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
