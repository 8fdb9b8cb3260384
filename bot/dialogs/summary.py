"""/summary [area] [year] [theo ấp]: an area's statistics in the district report's layout.

Who sees what: an admin sees any area; everyone else sees the areas assigned to them and
everything below (a supervisor their area, commune staff their commune, a collaborator
their own villages: the numbers of the households they interviewed, nothing wider). A
request outside that scope is refused, said so, and audited; every summary shown is audited.

Arguments are forgiving: in any order, the area by code or by name with or without
accents ("my hoa", "Ấp 1"), a four-digit year, and "chi tiết" / "theo ấp" for one line per
child area. Without an area, the user's own area (a button per area if they have several);
without a year, the latest review year on the roster.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.admin import AdminError
from bot.context import DialogContext, Later
from bot.decisions import summary as core
from bot.decisions.summary import CALLBACK, VILLAGES, Request, find_areas, parse_args
from bot.messages import Choice, Choices, Deferred, Document, Outgoing, Text
from exports.chart import employment_chart
from exports.stats import AreaNode, AreaTree, build_report, village_breakdown
from exports.summary import SummaryReport, render_summary, render_village_lines
from storage.models import Area, Household, Role
from storage.uow import UnitOfWork


def default_year(session: Session, current: int) -> int:
    """The latest review year on the roster (the report of "cuối năm 2023" is written in
    early 2024), else the current year."""
    latest = session.scalar(
        select(func.max(Household.review_year)).where(Household.review_year <= current)
    )
    return int(latest) if latest is not None else current


def _viewer(ctx: DialogContext) -> core.Viewer:
    assert ctx.user is not None
    areas = tuple(core.AreaRef(area.id, area.code, area.name) for area in ctx.user.areas)
    return core.Viewer(ctx.user.role is Role.ADMIN, areas, ctx.locale)


def summary(ctx: DialogContext) -> list[Outgoing]:
    """/summary [area] [year] [chi tiết]."""
    request = parse_args(ctx.incoming.args)
    tree = AreaTree.load(ctx.uow.session)
    year = request.year or default_year(ctx.uow.session, ctx.now.astimezone(ctx.settings.tz).year)
    return _run(ctx, tree, core.asked(request, year, tree, _viewer(ctx)))


def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    """The area buttons and the per-village button; the data is re-checked, never trusted."""
    if data.partition(":")[0] != CALLBACK:
        return None
    button = core.parse_button(data)
    if button is None:
        return list(core.stale(ctx.locale).replies)
    tree = AreaTree.load(ctx.uow.session)
    return _run(ctx, tree, core.pressed(button, tree, _viewer(ctx)))


def _run(ctx: DialogContext, tree: AreaTree, decision: core.Decision) -> list[Outgoing]:
    """The turn's replies; the report itself is read after the commit (Deferred)."""
    match decision:
        case core.Reply(replies=replies, refused=refused):
            if refused is not None:
                ctx.uow.audit.record(
                    "scope.refused",
                    actor=ctx.user,
                    entity="area",
                    entity_id=refused,
                    command="summary",
                )
            return list(replies)
        case core.Show(node_id=node_id, year=year, villages=villages):
            node = tree.nodes[node_id]
            return [Deferred(lambda later: _show(later, tree, node, year, villages=villages))]
        case core.ShowVillages(node_id=node_id, year=year):
            node = tree.nodes[node_id]
            return [Deferred(lambda later: _show_villages(later, tree, node, year))]
    raise AssertionError(decision)


async def _area(ctx: Later, node: AreaNode) -> Area:
    area = await ctx.uow.session.get(Area, node.id)
    assert area is not None
    return area


# The report reads every member of the area: it is built after the message's transaction,
# in one of its own (Deferred), so the collaborators' answers never wait for it.


async def _show(
    ctx: Later, tree: AreaTree, node: AreaNode, year: int, *, villages: bool
) -> list[Outgoing]:
    area = await _area(ctx, node)
    report = await build_report(ctx.uow, area, year)
    breakdown = await village_breakdown(ctx.uow, area, year) if villages else []
    text = render_summary(report, ctx.locale, villages=breakdown)
    _audit(ctx, node, year, villages)
    replies: list[Outgoing] = []
    if tree.children.get(node.id) and not villages:
        button = Choice(ctx.t("summary.villages_button"), f"{CALLBACK}:{node.id}:{year}:{VILLAGES}")
        replies.append(Choices(text, (button,)))
    else:
        replies.append(Text(text))
    if any(report.counts(category).aged_15_plus for category in report.categories):
        replies.append(
            Document(
                f"viec-lam-{node.code}-{year}.png",
                employment_chart(report, ctx.locale),
                ctx.t("summary.chart.caption", area=node.name, year=year),
                again=f"/summary {node.code} {year}",
                inline=True,
            )
        )
    return replies


async def _show_villages(ctx: Later, tree: AreaTree, node: AreaNode, year: int) -> list[Outgoing]:
    if not tree.children.get(node.id):
        return [Text(ctx.t("summary.no_children", area=node.name))]
    breakdown = await village_breakdown(ctx.uow, await _area(ctx, node), year)
    _audit(ctx, node, year, True)
    lines = [
        ctx.t("summary.title", area=node.name, year=year),
        ctx.t("summary.villages.title"),
        *render_village_lines(breakdown, ctx.locale),
    ]
    return [Text("\n".join(lines))]


def _audit(ctx: Later, node: AreaNode, year: int, villages: bool) -> None:
    ctx.uow.audit.record(
        "summary.viewed",
        actor=ctx.user,
        entity="area",
        entity_id=node.code,
        year=year,
        villages=villages,
    )


async def summary_cli(
    sessions: async_sessionmaker[AsyncSession],
    area_code: str,
    year: int | None,
    villages: bool,
    locale: str,
    *,
    current_year: int,
) -> str:
    """`rasoat summary --area X [--year Y] [--villages]`: the same text as /summary (the
    CLI is run by whoever holds the database, so there is no scope); audited."""
    async with UnitOfWork(sessions) as uow:
        tree = await uow.session.run_sync(AreaTree.load)
        nodes = sorted(tree.nodes.values(), key=lambda node: node.code)
        matches = find_areas(nodes, area_code)
        chosen_year = year
        if chosen_year is None:
            chosen_year = await uow.session.run_sync(default_year, current_year)
        if not nodes:
            raise AdminError("cli.summary.no_areas")
        if not matches:
            # A real code of this database makes the example one can just run.
            example = next((node for node in nodes if node.parent_id is None), nodes[0]).code
            raise AdminError("cli.summary.unknown_area", query=area_code, example=example)
        if len(matches) > 1:
            raise AdminError(
                "cli.summary.ambiguous_area",
                query=area_code,
                count=len(matches),
                candidates=", ".join(f"{node.name} ({node.code})" for node in matches),
                example=matches[0].code,
            )
        area = await uow.session.get(Area, matches[0].id)
        assert area is not None
        report = await build_report(uow, area, chosen_year)
        breakdown: list[SummaryReport] = (
            await village_breakdown(uow, area, chosen_year) if villages else []
        )
        uow.audit.record(
            "summary.viewed",
            entity="area",
            entity_id=area.code,
            year=chosen_year,
            villages=villages,
            via="cli",
        )
        await uow.commit()
    return render_summary(report, locale, villages=breakdown)


__all__ = ["Request", "find_areas", "on_choice", "parse_args", "summary", "summary_cli"]
