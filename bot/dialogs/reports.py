"""/baocao quy|6thang|nam [kỳ] [area code] and ``rasoat report --period P``: the periodic
report (section III.9 of the plan) as text, a workbook and a Word file.

The period is parsed in the turn (a bad one is answered at once, in Vietnamese); the
report reads every support contact of the area, so it runs after the turn's commit, in a
transaction of its own (``Deferred``), like /summary and /export.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import AdminError
from bot.context import DialogContext, Later
from bot.decisions import reports as core
from bot.decisions.meetings import OutboxMessage
from bot.decisions.report_schedule import Schedule, UserRef, due_reports, parse_schedule
from bot.decisions.reports import Period, PeriodError
from bot.dialogs.summary import default_year
from bot.messages import Deferred, Document, Outgoing, Text
from bot.push import encode
from bot.settings import Settings
from classification import rules_for
from classification.followup import followup_data, support_groups
from exports.periodic import write_docx, write_xlsx
from locales.catalog import translate
from storage.models import Area, Role, User
from storage.rows import Person
from storage.uow import UnitOfWork, Work


@dataclass(frozen=True, slots=True)
class Produced:
    text: str
    files: tuple[Path, ...]


def baocao(ctx: DialogContext) -> list[Outgoing]:
    assert ctx.user is not None
    today = ctx.now.astimezone(ctx.settings.tz).date()
    period_text, area_code = core.split_args(ctx.incoming.args)
    try:
        period = core.parse_chat(period_text, today)
    except PeriodError as error:
        return [Text(error.text(ctx.locale))]
    area = _area(ctx, area_code)
    if area is None:
        if area_code:
            ctx.uow.audit.record(
                "scope.refused",
                actor=ctx.user,
                entity="area",
                entity_id=area_code,
                command="baocao",
            )
            return [Text(ctx.t("reports.area_refused", area=area_code))]
        return [Text(ctx.t("reports.no_area"))]
    area_id = area.id

    async def run(later: Later) -> list[Outgoing]:
        chosen = await later.uow.session.get(Area, area_id)
        assert chosen is not None
        with tempfile.TemporaryDirectory(prefix="rasoat-report-") as folder:
            produced = await produce(
                later.uow, chosen, period, later.settings, later.locale, Path(folder)
            )
            later.uow.audit.record(
                "report.periodic",
                actor=later.user,
                entity="area",
                entity_id=chosen.code,
                period=period.code,
            )
            again = f"/baocao {period.command} {chosen.code}"
            caption = later.t(
                "reports.caption", period=period.label(later.locale), area=chosen.name
            )
            return [
                Text(produced.text),
                *(Document(p.name, p.read_bytes(), caption, again) for p in produced.files),
            ]

    return [Deferred(run)]


def _area(ctx: DialogContext, code: str | None) -> Area | None:
    """The asked area if the user may see it, else their first area (None if neither)."""
    user = ctx.user
    assert user is not None
    if code is None:
        first = min((a.code for a in user.areas), default=None)
        return None if first is None else ctx.uow.areas.by_code(first)
    area = ctx.uow.areas.by_code(code)
    if area is None or not _may_see(ctx, user, area):
        return None
    return area


def _may_see(ctx: DialogContext, user: Person, area: Area) -> bool:
    if user.role is Role.ADMIN:
        return True
    return area.id in ctx.uow.areas.subtree_ids([a.id for a in user.areas])


def compute(
    work: Work, area: Area, period: Period, settings: Settings, locale: str
) -> core.PeriodicReport:
    """The report of ``area`` and everything below it for ``period``, over the lists of
    the latest review year on the roster up to the period's."""
    year = default_year(work.session, period.year)
    rules = rules_for(year, settings.rules)
    groups = support_groups(rules)
    lang = "vi" if locale == "vi" else "en"
    labels = {
        g.id: str(g.label.vi if lang == "vi" else g.label.en)
        for g in rules.labour_groups
        if g.id in groups
    }
    start_at, end_at = period.bounds(settings.tz)
    facts = work.reports.facts(
        area.id, year, groups, start=period.start, end=period.end, start_at=start_at, end_at=end_at
    )
    return core.build(facts, period, followup_data(), labels, locale)


async def produce(
    uow: UnitOfWork, area: Area, period: Period, settings: Settings, locale: str, folder: Path
) -> Produced:
    """The report's text, and the workbook and the Word file written into ``folder``."""
    report = await uow.run(lambda work: compute(work, area, period, settings, locale))
    text = core.render(report, locale)
    tables = core.tables(report, locale)
    title = text.split("\n", 1)[0]
    stem = core.file_stem(report)
    footer = f"{area.name} — {period.label(locale)}"
    xlsx = write_xlsx(folder / f"{stem}.xlsx", title, tables, footer=footer)
    docx = write_docx(folder / f"{stem}.docx", title, core.paragraphs(report, locale), tables)
    return Produced(text, (xlsx, docx))


# -- scheduled reports ------------------------------------------------------------------------


def enqueue(work: Work, messages: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    """Scheduled reports into the durable outbox, in the sweep's transaction; the dedupe
    key (area, period, user) makes a report that fell due while the bot was down go once
    when it is back. Those newly written."""
    written = []
    for m in messages:
        if not isinstance(m.message, Text):
            raise TypeError(f"a scheduled report is text, not {type(m.message).__name__}")
        message = encode(m.message)
        if work.outbox.enqueue(m.user_id, message, m.dedupe_key, m.not_before, m.not_before):
            written.append(m)
    return written


def load_schedule(settings: Settings) -> Schedule | None:
    """The staff's schedule file, if one is set (None: no scheduled reports)."""
    path = settings.report_schedule
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PeriodError("reports.schedule.invalid", detail=f"{path}: {exc}") from exc
    return parse_schedule(text)


def send_due_reports(
    work: Work, settings: Settings, now: datetime, schedule: Schedule | None
) -> list[OutboxMessage]:
    """The sweep: every report due at ``now`` as a message to the outbox, in this
    transaction. The text goes by itself; the files come with /baocao (the hint says how),
    as an outbox message carries no file."""
    if schedule is None:
        return []
    by_id = {u.id: u for u in work.session.scalars(select(User))}
    users = [
        UserRef(u.id, u.role.value, frozenset(a.code for a in u.areas), u.active)
        for u in by_id.values()
    ]
    messages = []
    dues = due_reports(schedule, users, now, settings.tz)
    # A report stays due until its next period: each minute's sweep would otherwise work
    # it out again only for the outbox to ignore it.
    queued = work.outbox.known(due.dedupe_key for due in dues)
    for due in dues:
        if due.dedupe_key in queued:
            continue
        area = work.areas.by_code(due.area_code)
        if area is None:
            continue
        locale = by_id[due.user_id].locale
        report = compute(work, area, due.period, settings, locale)
        hint = translate(
            "reports.scheduled_hint", locale, command=f"/baocao {due.period.command} {area.code}"
        )
        text = f"{core.render(report, locale)}\n\n{hint}"
        messages.append(OutboxMessage(due.user_id, Text(text), due.dedupe_key, due.not_before))
    return enqueue(work, messages)


async def report_to_files(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    period_code: str,
    area_code: str | None,
    output: Path,
) -> Produced:
    """`rasoat report --period 2026-Q3 [--area CODE] [--output DIR]`: the text, and the two
    files moved into ``output`` (the command line is run by whoever holds the database, so
    there is no scope; the top area by default). Audited."""
    try:
        period = core.parse_code(period_code)
    except PeriodError as error:
        raise AdminError(error.key, **error.params) from error
    async with UnitOfWork(sessions) as uow:
        if area_code is None:
            roots = await uow.session.scalars(
                select(Area).where(Area.parent_id.is_(None)).order_by(Area.code)
            )
            area = roots.first()
            if area is None:
                raise AdminError("cli.summary.no_areas")
        else:
            found = await uow.areas.by_code(area_code)
            if found is None:
                raise AdminError("reports.cli.unknown_area", area=area_code)
            area = found
        with tempfile.TemporaryDirectory(prefix="rasoat-report-") as folder:
            produced = await produce(uow, area, period, settings, settings.locale, Path(folder))
            moved = _move(output, produced.files)
        uow.audit.record(
            "report.periodic", entity="area", entity_id=area.code, period=period.code, via="cli"
        )
        await uow.commit()
    return Produced(produced.text, moved)


def _move(output: Path, files: tuple[Path, ...]) -> tuple[Path, ...]:
    output.mkdir(parents=True, exist_ok=True)
    return tuple(Path(shutil.move(p, output / p.name)) for p in files)
