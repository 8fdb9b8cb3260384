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

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import AdminError
from bot.context import DialogContext
from bot.messages import Choice, Choices, Deferred, Document, Notice, Outgoing, Text
from exports.chart import employment_chart
from exports.stats import AreaNode, AreaTree, build_report, village_breakdown
from exports.summary import SummaryReport, render_summary, render_village_lines
from forms.parsing import ascii_int
from storage.models import Area, Household, Role
from storage.text import fold
from storage.uow import UnitOfWork

CALLBACK = "sm"
FULL = "s"
VILLAGES = "v"
MAX_BUTTONS = 8
YEAR = re.compile(r"^(19|20|21)[0-9][0-9]$")
# Folded phrases asking for the per-village lines.
DETAIL_WORDS = ("chi tiet", "chitiet", "theo ap", "theoap", "theo xa", "villages", "detail")


@dataclass(frozen=True, slots=True)
class Request:
    query: str
    year: int | None
    villages: bool


def parse_args(args: str) -> Request:
    """ "Ấp 1 2024 theo ấp" -> Request("Ấp 1", 2024, True); order does not matter."""
    words = args.split()
    villages = False
    folded = [fold(word) for word in words]
    kept: list[str] = []
    index = 0
    while index < len(words):
        pair = " ".join(folded[index : index + 2])
        if pair in DETAIL_WORDS:
            villages, index = True, index + 2
            continue
        if folded[index] in DETAIL_WORDS:
            villages, index = True, index + 1
            continue
        kept.append(words[index])
        index += 1
    year = None
    for word in reversed(kept):
        if YEAR.match(word):
            year = int(word)
            kept.remove(word)
            break
    return Request(" ".join(kept), year, villages)


def find_areas(nodes: Sequence[AreaNode], query: str) -> list[AreaNode]:
    """The areas ``query`` names: an exact code; else, comparing accent-free names, the
    exact name, then names holding it as whole words ("my hoa" for "Xã Mỹ Hòa", "ap" for
    "Ấp 1" but not for "Tháp Mười"), then as word starts ("thap m")."""
    wanted = fold(query)
    if not wanted:
        return []
    by_code = [node for node in nodes if node.code.lower() == query.strip().lower()]
    if by_code:
        return by_code
    padded = f" {wanted} "
    prefix = re.compile(r"(^|\s)" + re.escape(wanted))
    names = [(node, fold(node.name)) for node in nodes]
    for matches in (
        lambda name: name == wanted,
        lambda name: padded in f" {name} ",
        lambda name: prefix.search(name) is not None,
    ):
        found = [node for node, name in names if matches(name)]
        if found:
            return sorted(found, key=lambda node: node.code)
    return []


async def scope(ctx: DialogContext, tree: AreaTree) -> set[int] | None:
    """The area ids the user may see; None means all (admin)."""
    assert ctx.user is not None
    if ctx.user.role is Role.ADMIN:
        return None
    found: set[int] = set()
    for area in ctx.user.areas:
        found.update(tree.subtree(area.id))
    return found


async def default_year(uow: UnitOfWork, current: int) -> int:
    """The latest review year on the roster (the report of "cuối năm 2023" is written in
    early 2024), else the current year."""
    latest = await uow.session.scalar(
        select(func.max(Household.review_year)).where(Household.review_year <= current)
    )
    return int(latest) if latest is not None else current


async def summary(ctx: DialogContext) -> list[Outgoing]:
    """/summary [area] [year] [chi tiết]."""
    assert ctx.user is not None
    request = parse_args(ctx.incoming.args)
    tree = await AreaTree.load(ctx.uow.session)
    allowed = await scope(ctx, tree)
    year = request.year or await default_year(ctx.uow, ctx.now.astimezone(ctx.settings.tz).year)
    if request.query:
        matches = find_areas(list(tree.nodes.values()), request.query)
        if not matches:
            example = ctx.user.areas[0].code if ctx.user.areas else "87-MH"
            return [
                Text(ctx.t("summary.unknown_area", query=request.query, example=example, year=year))
            ]
        visible = [node for node in matches if allowed is None or node.id in allowed]
        if not visible:
            return _refuse(ctx, matches[0])
    else:
        visible = _own_areas(ctx, tree)
        if not visible:
            return [Text(ctx.t("summary.no_area"))]
    if len(visible) > 1:
        mode = VILLAGES if request.villages else FULL
        buttons = tuple(
            Choice(f"{node.name} ({node.code})", f"{CALLBACK}:{node.id}:{year}:{mode}")
            for node in visible[:MAX_BUTTONS]
        )
        return [Choices(ctx.t("summary.pick_area", year=year), buttons)]
    node, villages = visible[0], request.villages
    return [Deferred(lambda later: _show(later, tree, node, year, villages=villages))]


async def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    """The area buttons and the per-village button; the data is re-checked, never trusted."""
    assert ctx.user is not None
    verb, _, rest = data.partition(":")
    if verb != CALLBACK:
        return None
    parts = rest.split(":")
    area_id = ascii_int(parts[0]) if len(parts) == 3 else None
    if area_id is None or not YEAR.fullmatch(parts[1]):
        return [Notice(ctx.t("fallback.stale_button"))]
    tree = await AreaTree.load(ctx.uow.session)
    node = tree.nodes.get(area_id)
    if node is None:
        return [Notice(ctx.t("fallback.stale_button"))]
    allowed = await scope(ctx, tree)
    if allowed is not None and node.id not in allowed:
        return _refuse(ctx, node)
    year = int(parts[1])
    if parts[2] == VILLAGES:
        return [Deferred(lambda later: _show_villages(later, tree, node, year))]
    return [Deferred(lambda later: _show(later, tree, node, year, villages=False))]


def _own_areas(ctx: DialogContext, tree: AreaTree) -> list[AreaNode]:
    assert ctx.user is not None
    if ctx.user.areas:
        return [tree.nodes[area.id] for area in ctx.user.areas if area.id in tree.nodes]
    if ctx.user.role is Role.ADMIN:
        return [tree.nodes[area_id] for area_id in tree.children.get(None, [])]
    return []


def _refuse(ctx: DialogContext, node: AreaNode) -> list[Outgoing]:
    assert ctx.user is not None
    ctx.uow.audit.record(
        "scope.refused", actor=ctx.user, entity="area", entity_id=node.code, command="summary"
    )
    own = ", ".join(f"{area.name} ({area.code})" for area in ctx.user.areas) or "—"
    return [Text(ctx.t("summary.refused", area=f"{node.name} ({node.code})", areas=own))]


async def _area(ctx: DialogContext, node: AreaNode) -> Area:
    area = await ctx.uow.session.get(Area, node.id)
    assert area is not None
    return area


# The report reads every member of the area: it is built after the message's transaction,
# in one of its own (Deferred), so the collaborators' answers never wait for it.


async def _show(
    ctx: DialogContext, tree: AreaTree, node: AreaNode, year: int, *, villages: bool
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


async def _show_villages(
    ctx: DialogContext, tree: AreaTree, node: AreaNode, year: int
) -> list[Outgoing]:
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


def _audit(ctx: DialogContext, node: AreaNode, year: int, villages: bool) -> None:
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
        tree = await AreaTree.load(uow.session)
        nodes = sorted(tree.nodes.values(), key=lambda node: node.code)
        matches = find_areas(nodes, area_code)
        chosen_year = year or await default_year(uow, current_year)
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


__all__ = ["find_areas", "on_choice", "parse_args", "summary", "summary_cli"]
