"""`rasoat areas|roster|followup|responses|stats`: files read into the database."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from bot.cli import this_year
from bot.database import Sessions
from bot.interview.results import classify_interviews
from bot.settings import Settings
from exports.stats_import import import_area_stats
from locales.catalog import translate
from storage.imports import import_areas, import_roster
from storage.imports.followup import import_followup
from storage.imports.responses import import_responses
from storage.stats_facts import rebuild_member_facts
from storage.uow import UnitOfWork


async def areas(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    result = await import_areas(sessions, Path(args.file), progress=sys.stderr.isatty())
    print(result.render(settings.locale))
    return 0


async def roster(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    year = args.year or this_year(settings, now)
    result = await import_roster(
        sessions,
        Path(args.file),
        year=year,
        progress=sys.stderr.isatty(),
        reference_date=settings.review_dates.reference(year, now),
    )
    print(result.render(settings.locale))
    return 0


async def followup(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    result = await import_followup(
        sessions,
        Path(args.file),
        year=args.year or this_year(settings, now),
        rules=settings.rules,
        now=now,
    )
    print(result.render(settings.locale))
    return 0


async def responses(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    year = args.year or this_year(settings, now)

    async def derive(uow: UnitOfWork, interview_ids: list[int]) -> None:
        await classify_interviews(
            uow, interview_ids, rules_spec=settings.rules, dates=settings.review_dates
        )

    result = await import_responses(
        sessions,
        Path(args.file),
        year=year,
        progress=sys.stderr.isatty(),
        reference_date=settings.review_dates.reference(year, now),
        now=now,
        after_write=derive,
    )
    print(result.render(settings.locale))
    return 0


async def stats(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    if args.stats_command == "import":
        stats_result = await import_area_stats(
            sessions, Path(args.file), progress=sys.stderr.isatty()
        )
        print(stats_result.render(settings.locale))
    else:
        members = await rebuild_member_facts(sessions)
        print(translate("cli.stats_rebuilt", settings.locale, members=members))
    return 0
