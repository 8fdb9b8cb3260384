"""`rasoat reclassify|summary|export|report`: the review's results."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from bot.admin import AdminError
from bot.cli import this_year
from bot.database import Sessions
from bot.dialogs.reports import report_to_files
from bot.dialogs.summary import summary_cli
from bot.export_cli import export_to_files
from bot.reclassify import reclassify as recompute
from bot.settings import Settings
from classification import available_versions


def _rule_version(version: str) -> str:
    if version.endswith(".toml") and Path(version).is_file():
        return version
    if version not in available_versions():
        raise AdminError("admin.bad_rules", rules=version, choices=", ".join(available_versions()))
    return version


async def reclassify(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    report = await recompute(
        sessions,
        _rule_version(args.rules),
        area_code=args.area,
        dates=settings.review_dates,
        locale=settings.locale,
        now=now,
    )
    print(report.render(settings.locale))
    return 0


async def summary(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    text = await summary_cli(
        sessions,
        args.area,
        args.year,
        args.villages,
        settings.locale,
        current_year=this_year(settings, now),
    )
    print(text)
    return 0


async def export(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    written = await export_to_files(
        sessions,
        settings,
        area=args.area,
        fmt=args.format,
        year=args.year,
        sheet=args.sheet,
        output=Path(args.output),
        now=now,
    )
    for path in written:
        print(path)
    return 0


async def report(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    produced = await report_to_files(
        sessions,
        settings,
        period_code=args.period,
        area_code=args.area,
        output=Path(args.output),
    )
    print(produced.text)
    for path in produced.files:
        print(path)
    return 0
