"""Household status (poor / near-poor / neither) from income and deprived indicators.

Decree 07/2021 Art. 3 (and Decree 351/2025): with per-capita income at or below the line for
the household's area, a household is poor with at least ``poor_min_deprived`` deprived
indicators and near-poor with fewer (zero included); above the line it is neither,
whatever its deprivations. Without income the status is ``unknown_income``: the classifier
does not estimate income. With income at or below the line but too many unknown indicators
to tell poor from near-poor, the status is ``incomplete`` with the missing answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from classification import answers as read
from classification.answers import Answers
from classification.deprivation import (
    HouseholdData,
    IndicatorResult,
    IndicatorState,
    MissingAnswer,
    evaluate_indicator,
)
from classification.labour import MemberResult, classify_member_facts
from classification.reasons import Reason
from classification.ruleset import RuleSet, RuleSetRef, SupportChannel


class HouseholdStatus(StrEnum):
    POOR = "poor"
    NEAR_POOR = "near_poor"
    NEITHER = "neither"
    UNKNOWN_INCOME = "unknown_income"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class SupportReferral:
    """Where a deprived indicator is referred: the offices and programmes of the rule set."""

    indicator: str
    channels: tuple[SupportChannel, ...]


@dataclass(frozen=True)
class HouseholdResult:
    status: HouseholdStatus
    rule_set: RuleSetRef
    indicators: tuple[IndicatorResult, ...]
    members: tuple[MemberResult, ...]
    reasons: tuple[Reason, ...]
    missing: tuple[MissingAnswer, ...]
    support: tuple[SupportReferral, ...]
    income_line: int | None
    income: float | None

    @property
    def deprived(self) -> tuple[str, ...]:
        return self._ids(IndicatorState.DEPRIVED)

    @property
    def unknown(self) -> tuple[str, ...]:
        return self._ids(IndicatorState.UNKNOWN)

    def _ids(self, state: IndicatorState) -> tuple[str, ...]:
        return tuple(r.indicator for r in self.indicators if r.state == state)


def classify_household(
    household: Answers, members: Sequence[Answers], reference_date: date, rules: RuleSet
) -> HouseholdResult:
    """Indicators, status, support referrals and member groups of one household."""
    data = HouseholdData.build(household, members, reference_date, rules)
    indicators = tuple(evaluate_indicator(indicator, data) for indicator in rules.indicators)
    member_results = tuple(
        classify_member_facts(answers, facts, rules)
        for answers, facts in zip(data.members, data.facts, strict=True)
    )
    support = tuple(
        SupportReferral(r.indicator, rules.indicators_by_id[r.indicator].support)
        for r in indicators
        if r.state == IndicatorState.DEPRIVED
    )
    status, reasons, missing, line, income = _status(household, indicators, rules)
    return HouseholdResult(
        status=status,
        rule_set=rules.ref,
        indicators=indicators,
        members=member_results,
        reasons=tuple(reasons),
        missing=tuple(missing),
        support=support,
        income_line=line,
        income=income,
    )


def _status(
    household: Answers, indicators: Sequence[IndicatorResult], rules: RuleSet
) -> tuple[HouseholdStatus, list[Reason], list[MissingAnswer], int | None, float | None]:
    deprived = sum(1 for r in indicators if r.state == IndicatorState.DEPRIVED)
    unknown = [r for r in indicators if r.state == IndicatorState.UNKNOWN]
    threshold = rules.poverty.poor_min_deprived
    count = Reason.of("deprivation", "count", count=deprived, unknown=len(unknown))

    area = read.choice(household, "area_type")
    line = rules.income_line(area) if area is not None else None
    income = read.number(household, "income_per_capita_month")
    if income is None:
        missing = [MissingAnswer("income_per_capita_month")]
        if area is None:
            missing.append(MissingAnswer("area_type"))
        return (
            HouseholdStatus.UNKNOWN_INCOME,
            [Reason.of("income", "unknown"), count],
            missing,
            line,
            None,
        )
    if line is None:
        return HouseholdStatus.INCOMPLETE, [count], [MissingAnswer("area_type")], None, income

    amount = round(income)
    if income > line:
        above = Reason.of("income", "above_line", income=amount, line=line)
        return HouseholdStatus.NEITHER, [above, count], [], line, income
    within = Reason.of("income", "within_line", income=amount, line=line)
    if deprived >= threshold:
        poor = Reason.of("deprivation", "poor", count=deprived, threshold=threshold)
        return HouseholdStatus.POOR, [within, poor], [], line, income
    if deprived + len(unknown) < threshold:
        near = Reason.of("deprivation", "near_poor", count=deprived, threshold=threshold)
        return HouseholdStatus.NEAR_POOR, [within, near], [], line, income
    undecided = Reason.of(
        "deprivation", "undetermined", count=deprived, unknown=len(unknown), threshold=threshold
    )
    missing = list(dict.fromkeys(m for r in unknown for m in r.missing))
    return HouseholdStatus.INCOMPLETE, [within, undecided], missing, line, income
