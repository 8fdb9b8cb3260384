"""The summary part of the exports, on top of :mod:`exports.summary`.

The district figures come from ``exports.stats.build_report`` (the ``/summary`` statistics)
when that module is installed and the export covers one whole area. Otherwise, and always
for a collaborator (whose export holds only their own households, so area-wide figures would
show more than they may see), the same :class:`SummaryReport` is tallied from the very rows
the export streams. The tally also gives what the district report lacks: members per
support group and households per deprived indicator.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from classification import RuleSet
from exports.export_columns import Column, Kind, header
from exports.export_scope import Scope
from exports.export_sheets import SUMMARY, Row, Sheet
from exports.rows import HouseholdRecord
from exports.stats import build_report
from exports.summary import STATUSES, Counts, SummaryReport, summary_rows
from storage.models import HouseholdCategory
from storage.uow import UnitOfWork

UNABLE = "unable"
ADULT_AGE = 15


class SummaryTally:
    """Counts gathered while the export streams, one household at a time."""

    def __init__(self) -> None:
        self.households: Counter[str] = Counter()
        self.interviewed: Counter[str] = Counter()
        self.members: Counter[str] = Counter()
        self.adults: Counter[str] = Counter()
        self.able: Counter[str] = Counter()
        self.unable: Counter[str] = Counter()
        self.statuses: dict[str, Counter[str]] = {}
        self.groups: Counter[tuple[str, str]] = Counter()
        self.deprived: Counter[str] = Counter()
        self.housing_difficulty: Counter[str] = Counter()

    def add(self, record: HouseholdRecord) -> None:
        category = record.category
        self.households[category] += 1
        if record.status != "completed":
            return
        self.interviewed[category] += 1
        if record.answers.get("housing_difficulty") == "yes":
            self.housing_difficulty[category] += 1
        if record.result is not None:
            self.deprived.update(record.result.deprived)
        statuses = self.statuses.setdefault(category, Counter())
        for index in record.member_indices():
            self.members[category] += 1
            answers = record.members.get(index, {})
            result = record.member_results.get(index)
            age = _age(answers, result.details if result else None)
            capacity = answers.get("labour_capacity")
            status = UNABLE if capacity == "no" else answers.get("employment_status")
            if age is not None and age >= ADULT_AGE:
                self.adults[category] += 1
            if capacity == "yes":
                self.able[category] += 1
            elif capacity == "no":
                self.unable[category] += 1
            if isinstance(status, str) and (age is None or age >= ADULT_AGE):
                statuses[status] += 1
            if result is not None and result.outcome == "grouped" and result.group:
                self.groups[(category, result.group)] += 1

    def counts(self, category: str) -> Counts:
        statuses = self.statuses.get(category, Counter())
        return Counts(
            households=self.households[category],
            interviewed=self.interviewed[category],
            members=self.members[category],
            aged_15_plus=self.adults[category],
            able=self.able[category],
            unable=self.unable[category],
            statuses={name: statuses[name] for name in STATUSES},
        )

    def report(self, scope: Scope, total_households: int | None = None) -> SummaryReport:
        level = scope.area.level if scope.area is not None else ""
        return SummaryReport(
            area_code=scope.code,
            area_name=scope.name,
            area_level=level,
            year=scope.selection.year,
            total_households=total_households,
            categories={c: self.counts(c.value) for c in HouseholdCategory},
        )

    def group_total(self, group: str) -> int:
        return sum(count for (_, g), count in self.groups.items() if g == group)


def _age(answers: dict[str, Any], details: dict[str, Any] | None) -> int | None:
    age = details.get("age") if details else None
    if isinstance(age, dict) and isinstance(age.get("years"), int):
        return int(age["years"])
    value = answers.get("age")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


async def district_report(uow: UnitOfWork, scope: Scope, tally: SummaryTally) -> SummaryReport:
    if scope.area is not None and scope.selection.collaborator_id is None:
        return await build_report(uow, scope.area, scope.selection.year)
    total = scope.area.total_households if scope.area is not None else None
    return tally.report(scope, total)


# -- the summary sheet -------------------------------------------------------------------


def summary_sheet() -> Sheet:
    return Sheet(
        SUMMARY,
        header("exports.sheet.summary"),
        (
            Column(header("exports.col.summary_category"), Kind.TEXT, 20),
            Column(header("exports.col.summary_item"), Kind.TEXT, 60),
            Column(header("exports.col.summary_count"), Kind.NUMBER, 12),
            Column(header("exports.col.summary_percent"), Kind.NUMBER, 10),
            Column(header("exports.col.summary_of"), Kind.TEXT, 36),
        ),
    )


def summary_sheet_rows(report: SummaryReport, tally: SummaryTally, rules: RuleSet) -> list[Row]:
    rows: list[Row] = []
    for line in summary_rows(report, "vi"):
        category = header(f"exports.category.{line.category.value}") if line.category else None
        rows.append(
            [
                category,
                "    " * line.level + line.label,
                line.count,
                _percent(line.percent),
                line.of or None,
            ]
        )
    rows.append([None, header("exports.summary.groups"), None, None, None])
    for group in rules.labour_groups:
        for category in HouseholdCategory:
            count = tally.groups[(category.value, group.id)]
            if count:
                label = header(f"exports.category.{category.value}")
                rows.append([label, "    " + group.short.vi, count, None, None])
    rows.append([None, header("exports.summary.deprivations"), None, None, None])
    for indicator in rules.indicators:
        label = f"    {indicator.id} {indicator.name.vi}"
        rows.append([None, label, tally.deprived[indicator.id], None, None])
    return rows


def _percent(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
