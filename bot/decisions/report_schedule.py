"""Which periodic reports fall due, and to whom (section III.9: reports go up every
quarter, six months and year). Pure: the schedule is a small TOML file the staff keep
(``RASOAT_REPORT_SCHEDULE``); the users and "now" are given.

A period's report falls due at ``send_at`` (local time) on the first day after it. The
sweep is stateless: each run offers, per recipient and span, the latest report already due,
under a dedupe key, and the outbox keeps one message per key. So a report that fell due
while the bot was down is sent when it comes back, and never twice; when the bot was down
across several periods of a span, only the latest is sent (the earlier ones are stale).

The file::

    send_at = "07:00"
    [[recipients]]
    area = "87-MH"                        # the area reported on (and everything below)
    spans = ["quarter", "half", "year"]
    roles = ["commune_staff"]             # every active user of the role in that area
    users = [12]                          # and/or users by id

    [[recipients]]                        # on a cron expression instead (local time):
    area = "87-MH"
    spans = ["quarter"]
    roles = ["supervisor"]
    cron = "0 7 * * 1"                    # every Monday 07:00: the quarter so far

An entry with ``cron`` is sent at each time the expression names (cronsim, the cron dialect
of healthchecks.io), reporting on the period of each span that holds the day before (the
last whole day): on Monday 5 October, the fourth quarter so far; on 1 January, the whole of
the year before. Each firing is its own report (its key carries the firing's time); a
firing missed while the bot was down is sent when it comes back, the latest only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from cronsim import CronSim, CronSimError

from bot.decisions.reports import Period, PeriodError, Span, containing

ROLES = ("collaborator", "supervisor", "commune_staff", "admin")


@dataclass(frozen=True, slots=True)
class Recipients:
    area: str
    spans: tuple[Span, ...]
    roles: tuple[str, ...] = ()
    users: tuple[int, ...] = ()
    # A cron expression (local time) in place of "the first day after each period".
    cron: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    send_at: time
    recipients: tuple[Recipients, ...]


@dataclass(frozen=True, slots=True)
class UserRef:
    id: int
    role: str
    area_codes: frozenset[str]
    active: bool = True


@dataclass(frozen=True, slots=True)
class DueReport:
    user_id: int
    area_code: str
    period: Period
    dedupe_key: str
    not_before: datetime


def _fail(detail: str) -> PeriodError:
    return PeriodError("reports.schedule.invalid", detail=detail)


def parse_schedule(text: str) -> Schedule:
    """The schedule file; anything wrong is a :class:`PeriodError` naming what."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(str(exc)) from exc
    hour, _, minute = str(data.get("send_at", "07:00")).partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise _fail(f"send_at = {data.get('send_at')!r}")
    entries = data.get("recipients", [])
    if not isinstance(entries, list):
        raise _fail("recipients")
    recipients = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("area"), str):
            raise _fail(f"recipients #{number}: area")
        try:
            spans = tuple(Span(s) for s in entry.get("spans", [s.value for s in Span]))
        except (ValueError, TypeError) as exc:
            raise _fail(f"recipients #{number}: spans {entry.get('spans')!r}") from exc
        roles = tuple(str(r) for r in entry.get("roles", []))
        if any(role not in ROLES for role in roles):
            raise _fail(f"recipients #{number}: roles {list(roles)!r}")
        users = entry.get("users", [])
        if not all(isinstance(u, int) and not isinstance(u, bool) for u in users):
            raise _fail(f"recipients #{number}: users")
        if not roles and not users:
            raise _fail(f"recipients #{number}: no roles and no users")
        cron = entry.get("cron")
        if cron is not None and not _valid_cron(cron):
            raise _fail(f"recipients #{number}: cron {cron!r}")
        recipients.append(Recipients(entry["area"], spans, roles, tuple(users), cron))
    return Schedule(time(int(hour), int(minute)), tuple(recipients))


def _valid_cron(expression: object) -> bool:
    if not isinstance(expression, str):
        return False
    try:
        CronSim(expression, datetime(2026, 1, 1))
    except CronSimError:
        return False
    return True


def last_firing(expression: str, now: datetime, tz: tzinfo) -> datetime:
    """The latest time at or before ``now`` that ``expression`` names, in local time."""
    # cronsim walks backwards from strictly before its start, and in whole minutes.
    start = now.astimezone(tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return next(CronSim(expression, start, reverse=True))


def due_at(period: Period, send_at: time, tz: tzinfo) -> datetime:
    return datetime.combine(period.end, send_at, tzinfo=tz)


def latest_due(span: Span, send_at: time, now: datetime, tz: tzinfo) -> Period:
    """The latest period of ``span`` whose report is due at ``now``."""
    ended = containing(span, now.astimezone(tz).date()).previous()
    return ended if now >= due_at(ended, send_at, tz) else ended.previous()


def due_reports(
    schedule: Schedule, users: Iterable[UserRef], now: datetime, tz: tzinfo
) -> list[DueReport]:
    """Every report due at ``now``, one per user, area and period, each under its key."""
    people = [user for user in users if user.active]
    found: dict[str, DueReport] = {}
    for entry in schedule.recipients:
        chosen = sorted(
            user.id
            for user in people
            if user.id in entry.users
            or (user.role in entry.roles and entry.area in user.area_codes)
        )
        fired = last_firing(entry.cron, now, tz) if entry.cron else None
        for span in entry.spans:
            if fired is None:
                period = latest_due(span, schedule.send_at, now, tz)
                when, suffix = due_at(period, schedule.send_at, tz), ""
            else:
                period = containing(span, fired.date() - timedelta(days=1))
                when, suffix = fired, f"@{fired:%Y%m%dT%H%M}"
            for user_id in chosen:
                key = f"report:{entry.area}:{period.code}:{user_id}{suffix}"
                found.setdefault(key, DueReport(user_id, entry.area, period, key, when))
    return sorted(found.values(), key=lambda d: (d.not_before, d.user_id, d.dedupe_key))
