"""An .xlsx export of 100,000 members, next to a raw xlsxwriter dump of the same rows.

Both sides run in a child process of their own, so each one's peak memory
(``ru_maxrss``) is its own:

- **export**: ``run_export`` exactly as ``/export`` runs it, on a database holding the
  households (reading, assembling, writing every sheet, summary included);
- **raw**: the same rows, already built in memory before the clock starts, written with
  xlsxwriter in constant-memory mode (same workbook options), sheet after sheet.

Targets: export time at most 1.5× the raw dump's, and peak memory under 200 MB.

Usage: ``python -m bench.export [--members N] [--db sqlite|postgresql]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TIME_RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 200.0
POSTGRES_URL = os.environ.get(
    "RASOAT_BENCH_POSTGRES_URL",
    os.environ.get("RASOAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
)
YEAR = 2026
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
VILLAGES = ("87-MH-A1", "87-MH-A2")


def _peak_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


# -- setup (parent) ----------------------------------------------------------------------


async def _prepare(url: str, schema: str | None, members: int) -> int:
    from sqlalchemy import text

    from storage.db import create_engine, session_factory, upgrade
    from tests.exports.data import TEMPLATES, insert_households, plan_commune
    from tests.helpers import seed_areas

    if schema:
        admin = create_engine(url)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = create_engine(url, schema=schema)
    await upgrade(engine)
    sessions = session_factory(engine)
    await seed_areas(sessions)
    per_household = sum(len(t[1]["members"]) for t in TEMPLATES) / len(TEMPLATES)
    per_village = math.ceil(members / per_household / len(VILLAGES))
    plan = plan_commune(VILLAGES, per_village)
    await insert_households(sessions, YEAR, plan, chunk=2000)
    await engine.dispose()
    return len(plan)


async def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import text

    from storage.db import create_engine

    admin = create_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


# -- the two measured sides (children) ---------------------------------------------------


async def _export(url: str, schema: str | None, out: Path) -> dict[str, Any]:
    from exports.export_run import ExportRequest, ExportSettings, Format, run_export
    from exports.packaging import TELEGRAM_LIMIT
    from storage.db import create_engine, session_factory
    from storage.uow import UnitOfWork

    engine = create_engine(url, schema=schema)
    sessions = session_factory(engine)
    settings = ExportSettings(tz=UTC, limit=max(TELEGRAM_LIMIT, 10**12))
    request = ExportRequest(Format.XLSX, "87-MH", YEAR)
    started = time.perf_counter()
    async with UnitOfWork(sessions) as uow:
        outcome = await run_export(uow, None, request, settings, now=NOW, folder=out.parent)
    seconds = time.perf_counter() - started
    await engine.dispose()
    return {"seconds": seconds, "members": outcome.members, "bytes": outcome.files[0].size}


async def _rows(url: str, schema: str | None) -> tuple[list[Any], dict[str, list[list[Any]]]]:
    """Every row the export writes, by sheet, built before the raw dump's clock starts."""
    from classification import rules_for
    from exports.export_scope import resolve_scope
    from exports.export_sheets import SUMMARY, Layout
    from exports.export_summary import (
        SummaryTally,
        district_report,
        summary_sheet,
        summary_sheet_rows,
    )
    from exports.rows import household_ids, records
    from forms import current_form
    from storage.db import create_engine, session_factory
    from storage.uow import UnitOfWork

    engine = create_engine(url, schema=schema)
    layout = Layout(current_form(), rules_for(YEAR), UTC)
    sheets = [*layout.sheets, summary_sheet()]
    rows: dict[str, list[list[Any]]] = {sheet.key: [] for sheet in sheets}
    async with UnitOfWork(session_factory(engine)) as uow:
        scope = await resolve_scope(uow, None, "87-MH", YEAR)
        ids = await household_ids(uow.session, scope.selection)
        tally = SummaryTally()
        async for batch in records(uow.session, ids, scope.selection):
            for record in batch:
                tally.add(record)
                for key, row in layout.rows(record):
                    rows[key].append(row)
        report = await district_report(uow, scope, tally)
        rows[SUMMARY] = [list(r) for r in summary_sheet_rows(report, tally, layout.rules)]
    await engine.dispose()
    return sheets, rows


def _raw(sheets: Sequence[Any], rows: dict[str, list[list[Any]]], out: Path) -> float:
    import xlsxwriter

    from exports.xlsx import WORKBOOK_OPTIONS

    started = time.perf_counter()
    workbook = xlsxwriter.Workbook(str(out), WORKBOOK_OPTIONS)
    for sheet in sheets:
        worksheet = workbook.add_worksheet(sheet.title)
        worksheet.write_row(0, 0, [column.header for column in sheet.columns])
        for index, row in enumerate(rows[sheet.key], start=1):
            worksheet.write_row(index, 0, row)
    workbook.close()
    return time.perf_counter() - started


def _child(side: str, url: str, schema: str | None, out: Path) -> None:
    if side == "export":
        result = asyncio.run(_export(url, schema, out))
    else:
        sheets, rows = asyncio.run(_rows(url, schema))
        members = len(rows["members"])
        result = {"seconds": _raw(sheets, rows, out), "members": members}
        result["bytes"] = out.stat().st_size
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def _measure(side: str, url: str, schema: str | None, folder: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.export", "--child", side, "--url", url]
    side_folder = folder / side
    side_folder.mkdir()
    command += ["--out", str(side_folder / f"{side}.xlsx")]
    if schema:
        command += ["--schema", schema]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- entry points ------------------------------------------------------------------------


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--child", choices=["export", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.url, args.schema, Path(args.out))
        return 0
    with tempfile.TemporaryDirectory(prefix="rasoat-bench-export-") as name:
        folder = Path(name)
        schema = None
        if args.db == "sqlite":
            url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        else:
            url, schema = POSTGRES_URL, f"bench_{uuid.uuid4().hex[:10]}"
        try:
            started = time.perf_counter()
            households = asyncio.run(_prepare(url, schema, args.members))
            print(
                f"setup: {households} households on {args.db} "
                f"in {time.perf_counter() - started:.1f} s"
            )
            export = _measure("export", url, schema, folder)
            raw = _measure("raw", url, schema, folder)
        finally:
            if schema:
                asyncio.run(_drop_schema(url, schema))
    return report(export, raw)


def report(export: dict[str, Any], raw: dict[str, Any]) -> int:
    ratio = export["seconds"] / raw["seconds"]
    time_ok = ratio <= TIME_RATIO_TARGET
    memory_ok = export["peak_mb"] < MEMORY_TARGET_MB
    print(
        f"export : {export['members']} members, {export['seconds']:.2f} s, "
        f"{export['bytes'] / 1e6:.1f} MB file, peak RSS {export['peak_mb']:.0f} MB"
    )
    print(
        f"raw    : {raw['members']} members, {raw['seconds']:.2f} s, "
        f"{raw['bytes'] / 1e6:.1f} MB file, peak RSS {raw['peak_mb']:.0f} MB (rows held in memory)"
    )
    print(f"time ratio {ratio:.2f} (target ≤ {TIME_RATIO_TARGET}): {'PASS' if time_ok else 'FAIL'}")
    print(
        f"export peak memory {export['peak_mb']:.0f} MB (target < {MEMORY_TARGET_MB:.0f} MB): "
        f"{'PASS' if memory_ok else 'FAIL'}"
    )
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(run())
