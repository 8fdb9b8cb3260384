"""`rasoat meetings add|list|cancel|import|remind`: policy dialogues from the command line.

The same decisions as the chat's /doithoai (bot.decisions.meetings) and the same writes
(bot.dialogs.meetings): a meeting added here is listed, reminded and changed like one
scheduled in chat. An imported file is checked whole first; a file with any error adds
nothing.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import AdminError
from bot.decisions import meetings as core
from bot.dialogs import meetings as shell
from bot.settings import Settings
from locales.catalog import translate
from storage.imports.cells import RowReader
from storage.imports.errors import ErrorList
from storage.imports.tabular import Column, read_table
from storage.models import Area, Meeting, MeetingStatus
from storage.uow import UnitOfWork, Work

MEETING_COLUMNS = (
    Column("when", "Ngày giờ", "when", ("thời gian", "ngày", "ngày giờ họp", "starts_at")),
    Column("place", "Địa điểm", "place", ("nơi tổ chức",)),
    Column("villages", "Mã ấp", "villages", ("ấp", "các ấp", "village_codes")),
    Column("categories", "Nhóm hộ", "categories", ("đối tượng", "phân loại")),
    Column("groups", "Nhóm hỗ trợ", "groups", ("support_groups",), required=False),
)


@dataclass(frozen=True, slots=True)
class MeetingSpec:
    starts_at: datetime
    place: str
    villages: tuple[str, ...]
    """Area codes."""
    categories: tuple[str, ...]
    groups: tuple[str, ...] = ()


def _check(
    spec_when: str,
    place: str,
    villages: tuple[str, ...],
    categories: tuple[str, ...],
    groups: tuple[str, ...],
    *,
    known_areas: dict[str, Area],
    group_ids: set[str],
    settings: Settings,
    now: datetime,
) -> tuple[MeetingSpec | None, list[tuple[str, str, dict[str, object]]]]:
    """The meeting, or the problems: (column key, message key, params)."""
    problems: list[tuple[str, str, dict[str, object]]] = []
    when = core.parse_when(spec_when, settings.tz, now)
    if when is None:
        problems.append(("when", "meetings.bad_when", {}))
    elif when <= now:
        problems.append(("when", "meetings.past_when", {}))
    if not place or len(place) > core.MAX_PLACE:
        problems.append(("place", "meetings.bad_place", {"limit": core.MAX_PLACE}))
    unknown = [code for code in villages if code not in known_areas]
    if not villages or unknown:
        problems.append(("villages", "meetings.cli.bad_villages", {"codes": ", ".join(unknown)}))
    parsed = core.parse_categories(categories)
    if not parsed:
        problems.append(("categories", "meetings.cli.bad_categories", {}))
    bad_groups = [g for g in groups if g not in group_ids]
    if bad_groups:
        problems.append(
            (
                "groups",
                "meetings.cli.bad_groups",
                {"groups": ", ".join(bad_groups), "choices": ", ".join(sorted(group_ids))},
            )
        )
    if problems or when is None or not parsed:
        return None, problems
    return MeetingSpec(when, " ".join(place.split()), villages, parsed, groups), []


def _create(
    uow: Work, spec: MeetingSpec, areas: dict[str, Area], year: int, now: datetime
) -> Meeting:
    villages = [areas[code] for code in spec.villages]
    # The meeting belongs to the area above its villages (the commune).
    parent = villages[0].parent_id
    meeting = uow.meetings.add(
        Meeting(
            area_id=parent if parent is not None else villages[0].id,
            review_year=year,
            starts_at=spec.starts_at,
            place=spec.place,
            categories=list(spec.categories),
            support_groups=list(spec.groups),
            status=MeetingStatus.SCHEDULED,
            reminders_done=[],
            created_at=now,
            updated_at=now,
        ),
        [v.id for v in villages],
    )
    shell.sync(uow, meeting)
    uow.audit.record("meeting.scheduled", entity="meeting", entity_id=str(meeting.id), source="cli")
    return meeting


async def _context(
    uow: UnitOfWork, settings: Settings, now: datetime
) -> tuple[dict[str, Area], set[str], int]:
    areas = {a.code: a for a in await uow.areas.all()}
    year = now.astimezone(settings.tz).year
    groups = {o.id for o in shell.group_options(year, settings, settings.locale)}
    return areas, groups, year


async def add_meeting(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    when: str,
    place: str,
    villages: str,
    categories: str,
    groups: str = "",
    now: datetime,
) -> str:
    async with UnitOfWork(sessions) as uow:
        areas, group_ids, year = await _context(uow, settings, now)
        spec, problems = _check(
            when,
            place,
            core.split_list(villages),
            core.split_list(categories),
            core.split_list(groups),
            known_areas=areas,
            group_ids=group_ids,
            settings=settings,
            now=now,
        )
        if spec is None:
            _, key, params = problems[0]
            raise AdminError(key, **params)
        meeting = await uow.run(lambda work: _create(work, spec, areas, year, now))
        count = len(await uow.meetings.invitations(meeting.id))
        await uow.commit()
    return _t(settings, "meetings.cli.added", id=meeting.id, count=count)


async def import_meetings(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, path: Path, *, now: datetime
) -> str:
    table = read_table(Path(path), MEETING_COLUMNS)
    errors = ErrorList()
    reader = RowReader(table, errors)
    async with UnitOfWork(sessions) as uow:
        areas, group_ids, year = await _context(uow, settings, now)
        specs: list[MeetingSpec] = []
        for row in table.rows:
            cell = reader.cell(row, "when")
            if isinstance(cell, datetime):
                # An Excel date-time cell: the commune's local time.
                when = cell.strftime("%d/%m/%Y %H:%M")
            elif isinstance(cell, date):
                when = cell.strftime("%d/%m/%Y")
            else:
                when = reader.text(row, "when", required=True, max_length=40) or ""
            texts = {
                key: reader.text(row, key, required=key != "groups", max_length=500) or ""
                for key in ("place", "villages", "categories", "groups")
            }
            spec, problems = _check(
                when,
                texts["place"],
                core.split_list(texts["villages"]),
                core.split_list(texts["categories"]),
                core.split_list(texts["groups"]),
                known_areas=areas,
                group_ids=group_ids,
                settings=settings,
                now=now,
            )
            for key, message, params in problems:
                reader.error(row, key, message, **params)
            if spec is not None:
                specs.append(spec)
        errors.raise_if_any()
        await uow.run(lambda work: [_create(work, spec, areas, year, now) for spec in specs])
        await uow.commit()
    return _t(settings, "meetings.cli.imported", count=len(specs))


async def list_meetings(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, now: datetime
) -> str:
    async with UnitOfWork(sessions) as uow:
        rows = []
        for meeting in await uow.meetings.in_areas(None):
            villages = await uow.meetings.villages(meeting.id)
            invitations = await uow.meetings.invitations(meeting.id)
            row = shell.meeting_row(meeting, villages)
            invited = sum(i.invited_at is not None for i in invitations)
            rows.append(
                _t(
                    settings,
                    "meetings.cli.line",
                    id=row.id,
                    when=core.show_when(row.starts_at, settings.tz),
                    place=row.place,
                    villages=", ".join(row.villages),
                    status=_t(settings, f"meetings.status.{row.status}"),
                    invited=invited,
                    total=len(invitations),
                )
            )
    return "\n".join(rows) or _t(settings, "meetings.cli.none")


async def cancel_meeting(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    meeting_id: int,
    *,
    now: datetime,
) -> str:
    async with UnitOfWork(sessions) as uow:
        meeting = await uow.meetings.get(meeting_id, for_update=True)
        if meeting is None or meeting.status not in (
            MeetingStatus.SCHEDULED,
            MeetingStatus.CHANGED,
        ):
            raise AdminError("meetings.cli.not_found", id=meeting_id)
        told = await uow.run(lambda work: shell.cancel_meeting(work, meeting, settings, now))
        uow.audit.record(
            "meeting.cancelled", entity="meeting", entity_id=str(meeting.id), source="cli"
        )
        await uow.commit()
    return _t(settings, "meetings.cancelled", id=meeting_id, count=len(told))


async def remind(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, now: datetime
) -> str:
    """The reminder sweep, once (what a running bot does periodically)."""
    async with UnitOfWork(sessions) as uow:
        # One transaction over the sync Work, as the running bot's writer will run it.
        sent = await uow.run(
            lambda work: shell.send_due_reminders(work, settings, now, settings.offsets)
        )
        await uow.commit()
    return _t(settings, "meetings.cli.reminded", count=len(sent))


def _t(settings: Settings, key: str, **params: object) -> str:
    return translate(key, settings.locale, **params)


async def command(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    args: argparse.Namespace,
    now: datetime,
) -> int:
    """`rasoat meetings …` (bot.cli)."""
    verb = args.meetings_command
    if verb == "add":
        text = await add_meeting(
            sessions,
            settings,
            when=args.when,
            place=args.place,
            villages=args.villages,
            categories=args.categories,
            groups=args.groups,
            now=now,
        )
    elif verb == "cancel":
        text = await cancel_meeting(sessions, settings, args.id, now=now)
    elif verb == "import":
        text = await import_meetings(sessions, settings, Path(args.file), now=now)
    elif verb == "remind":
        text = await remind(sessions, settings, now=now)
    else:
        text = await list_meetings(sessions, settings, now=now)
    print(text)
    return 0
