"""The queries behind /summary: counts of an area's subtree for a year, as a SummaryReport.

Two GROUP BY queries do the work whatever the size of the area: one over the roster
(households and interviewed households per category) and one over ``member_facts`` joined
to the completed interviews (members per category, age band, capacity and status). The
household's category, area and year and the interview's status are read at query time, so
a roster re-import or a cancelled interview is reflected at once.

Where the figures come from:

* households per category: the year's roster (``households``);
* members: the completed interviews of those households;
* all households of an area (the rate's denominator): ``area_year_stats`` of the year,
  else ``areas.total_households``; an area with neither is the sum of its children when
  every child has a figure (a partial sum would overstate the rate);
* last year's counts per category: ``area_year_stats`` of last year (same rule), else the
  households of last year's roster if the database holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from exports.summary import CATEGORIES, STATUSES, Counts, PreviousYear, SummaryReport
from storage.models import (
    Area,
    AreaYearStats,
    Household,
    HouseholdCategory,
    Interview,
    InterviewStatus,
    MemberFact,
)
from storage.repositories import AreaYearStatsRepository
from storage.rows import AreaRow
from storage.uow import UnitOfWork

ADULT_AGE = 15
# What a figure of AreaYearStats holds for each category.
STATS_FIELDS: Mapping[HouseholdCategory, str] = {
    HouseholdCategory.POOR: "poor_households",
    HouseholdCategory.NEAR_POOR: "near_poor_households",
    HouseholdCategory.ESCAPED: "escaped_households",
}


# An area of the tree is the row a chat turn reads of it: one definition.
AreaNode = AreaRow


class AreaTree:
    """The whole area tree in memory (a province has a few thousand areas at most)."""

    def __init__(self, nodes: Iterable[AreaNode]) -> None:
        self.nodes = {node.id: node for node in nodes}
        self.children: dict[int | None, list[int]] = {}
        for node in sorted(self.nodes.values(), key=lambda n: n.code):
            self.children.setdefault(node.parent_id, []).append(node.id)

    @classmethod
    def load(cls, session: Session) -> AreaTree:
        """Synchronous: read in a chat turn; ``await session.run_sync(AreaTree.load)``
        on the event loop."""
        rows = session.execute(
            select(Area.id, Area.code, Area.name, Area.level, Area.parent_id, Area.total_households)
        )
        return cls(AreaNode(*row) for row in rows)

    def subtree(self, root: int) -> list[int]:
        found: list[int] = []
        frontier = [root]
        seen: set[int] = set()
        while frontier:
            area_id = frontier.pop()
            if area_id in seen:
                continue
            seen.add(area_id)
            found.append(area_id)
            frontier.extend(self.children.get(area_id, []))
        return found

    def resolve(self, root: int, own: Callable[[int], int | None]) -> int | None:
        """``own(area)`` if known, else the sum over the children if every child is known."""
        value = own(root)
        if value is not None:
            return value
        children = self.children.get(root, [])
        if not children:
            return None
        total = 0
        for child in children:
            child_value = self.resolve(child, own)
            if child_value is None:
                return None
            total += child_value
        return total


@dataclass(slots=True)
class _Tally:
    households: int = 0
    interviewed: int = 0
    members: int = 0
    aged_15_plus: int = 0
    able: int = 0
    unable: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def freeze(self) -> Counts:
        return Counts(
            households=self.households,
            interviewed=self.interviewed,
            members=self.members,
            aged_15_plus=self.aged_15_plus,
            able=self.able,
            unable=self.unable,
            statuses=dict(self.statuses),
        )


Key = tuple[int | None, HouseholdCategory]


async def build_report(uow: UnitOfWork, area: Area, year: int) -> SummaryReport:
    """The counts of ``area`` and everything below it, for review year ``year``."""
    session = uow.session
    tree = await session.run_sync(AreaTree.load)
    area_ids = tree.subtree(area.id)
    scope = None if len(area_ids) == len(tree.nodes) else area_ids
    tallies = await _tallies(session, scope, year, by_area=False)
    stats = await _stats(session, (year, year - 1))
    categories = {category: tallies[(None, category)].freeze() for category in CATEGORIES}
    return SummaryReport(
        area_code=area.code,
        area_name=area.name,
        area_level=area.level,
        year=year,
        total_households=_total_households(tree, stats, area.id, year),
        categories=categories,
        previous=await _previous(session, tree, stats, area.id, scope, year - 1),
    )


async def village_breakdown(uow: UnitOfWork, area: Area, year: int) -> list[SummaryReport]:
    """One report per child area of ``area`` (villages of a commune, communes of a
    district...), each counting its own subtree; empty for an area without children.
    Without last year's comparison, to stay one line per child."""
    session = uow.session
    tree = await session.run_sync(AreaTree.load)
    children = tree.children.get(area.id, [])
    if not children:
        return []
    owner: dict[int, int] = {}
    for child in children:
        owner.update(dict.fromkeys(tree.subtree(child), child))
    scope = None if len(owner) + 1 >= len(tree.nodes) else [area.id, *owner]
    tallies = await _tallies(session, scope, year, by_area=True)
    per_child: dict[int, dict[HouseholdCategory, Counts]] = {
        child: {category: Counts() for category in CATEGORIES} for child in children
    }
    for (area_id, category), tally in tallies.items():
        target = owner.get(area_id) if area_id is not None else None
        if target is not None:
            per_child[target][category] = per_child[target][category] + tally.freeze()
    stats = await _stats(session, (year,))
    reports = []
    for child in children:
        node = tree.nodes[child]
        reports.append(
            SummaryReport(
                area_code=node.code,
                area_name=node.name,
                area_level=node.level,
                year=year,
                total_households=_total_households(tree, stats, child, year),
                categories=per_child[child],
            )
        )
    return reports


# -- queries -----------------------------------------------------------------------------


def _in_scope(scope: list[int] | None) -> ColumnElement[bool]:
    return Household.area_id.in_(scope) if scope is not None else true()


async def _tallies(
    session: AsyncSession, scope: list[int] | None, year: int, *, by_area: bool
) -> dict[Key, _Tally]:
    tallies: dict[Key, _Tally] = {}

    def tally(area_id: int | None, category: HouseholdCategory) -> _Tally:
        return tallies.setdefault((area_id if by_area else None, category), _Tally())

    for category in CATEGORIES:
        tally(None, category)
    # Grouping by area only for the breakdown: the area report then needs fewer groups.
    areas: list[Any] = [Household.area_id] if by_area else []
    completed = and_(
        Interview.household_id == Household.id, Interview.status == InterviewStatus.COMPLETED
    )
    # At most one completed interview per household (the chat reopens it, the importer
    # replaces its own), so counting interview rows counts households.
    households = (
        select(Household.category, func.count(Household.id), func.count(Interview.id), *areas)
        .select_from(Household)
        .outerjoin(Interview, completed)
        .where(Household.review_year == year, _in_scope(scope))
        .group_by(Household.category, *areas)
    )
    for category, count, interviewed, *area_id in await session.execute(households):
        target = tally(area_id[0] if by_area else None, HouseholdCategory(category))
        target.households += count
        target.interviewed += interviewed

    # One row per category (and area): the counts are FILTERed aggregates rather than
    # more GROUP BY keys, because SQLite groups by sorting and sorting a million rows costs
    # more than the joins (measured in bench/summary.py: 1.2 s against 1.9 s).
    capacity = MemberFact.labour_capacity
    # Capacity is only asked from 15 on; an answer to it marks an adult even when the
    # birth date (and so the age) is unknown.
    adult = or_(MemberFact.age >= ADULT_AGE, capacity.is_not(None))
    counted = [
        func.count(),
        func.count().filter(adult),
        func.count().filter(capacity == "yes"),
        func.count().filter(capacity == "no"),
        *(func.count().filter(MemberFact.employment_status == name) for name in STATUSES),
    ]
    members = (
        select(Household.category, *counted, *areas)
        .select_from(Household)
        .join(Interview, completed)
        .join(MemberFact, MemberFact.interview_id == Interview.id)
        .where(Household.review_year == year, _in_scope(scope))
        .group_by(Household.category, *areas)
    )
    width = len(counted)
    for row in await session.execute(members):
        cells: tuple[Any, ...] = tuple(row)
        values: tuple[int, ...] = cells[1 : width + 1]
        owner: int | None = cells[width + 1] if by_area else None
        target = tally(owner, HouseholdCategory(cells[0]))
        target.members += values[0]
        target.aged_15_plus += values[1]
        target.able += values[2]
        target.unable += values[3]
        for name, count in zip(STATUSES, values[4:], strict=True):
            target.statuses[name] += count
    return tallies


async def _stats(
    session: AsyncSession, years: Iterable[int]
) -> dict[tuple[int, int], AreaYearStats]:
    rows = await session.run_sync(lambda sync: AreaYearStatsRepository(sync).for_years(years))
    return {(row.area_id, row.year): row for row in rows}


def _total_households(
    tree: AreaTree, stats: Mapping[tuple[int, int], AreaYearStats], root: int, year: int
) -> int | None:
    def own(area_id: int) -> int | None:
        row = stats.get((area_id, year))
        if row is not None:
            return row.total_households
        return tree.nodes[area_id].total_households

    return tree.resolve(root, own)


async def _previous(
    session: AsyncSession,
    tree: AreaTree,
    stats: Mapping[tuple[int, int], AreaYearStats],
    root: int,
    scope: list[int] | None,
    year: int,
) -> PreviousYear | None:
    def stored(column: str) -> Callable[[int], int | None]:
        def own(area_id: int) -> int | None:
            row = stats.get((area_id, year))
            return getattr(row, column) if row is not None else None

        return own

    counts: dict[HouseholdCategory, int] = {}
    for category, column in STATS_FIELDS.items():
        value = tree.resolve(root, stored(column))
        if value is not None:
            counts[category] = value
    if len(counts) < len(STATS_FIELDS):
        roster = await _roster_counts(session, scope, year)
        if roster:
            for category in CATEGORIES:
                counts.setdefault(category, roster.get(category, 0))
    if not counts:
        return None
    return PreviousYear(year, _total_households(tree, stats, root, year), counts)


async def _roster_counts(
    session: AsyncSession, scope: list[int] | None, year: int
) -> dict[HouseholdCategory, int]:
    query = (
        select(Household.category, func.count(Household.id))
        .where(Household.review_year == year, _in_scope(scope))
        .group_by(Household.category)
    )
    return {HouseholdCategory(category): count for category, count in await session.execute(query)}


__all__ = ["AreaNode", "AreaTree", "build_report", "village_breakdown"]
