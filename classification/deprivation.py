"""Deprivation indicators: one evaluator per condition kind, parameters from the rule file.

Each indicator is deprived, not deprived, or unknown. Unknown means the answers given do
not decide it; the result then lists the missing answers that could change it (per member
where relevant). Known answers are used as far as they go: one member without a health-
insurance card makes D4 deprived even if another member's card is not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction

from classification import answers as read
from classification import logic
from classification.answers import Answers
from classification.conditions import (
    AdultEducation,
    AnswerNotIn,
    AnyMemberAgeBetweenWith,
    AreaPerPersonBelow,
    ChildSchooling,
    CountOfStructures,
    DependantShareAbove,
    NoMemberWith,
    NoneOfSelected,
    WorkingAgeWithoutStableJob,
)
from classification.logic import Tri
from classification.member import MemberFacts, member_facts
from classification.reasons import ParamValue, Reason
from classification.ruleset import Indicator, RuleSet


class IndicatorState(StrEnum):
    DEPRIVED = "deprived"
    NOT_DEPRIVED = "not_deprived"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class MissingAnswer:
    """An answer still needed: a household field, or a field of the member at ``member``."""

    field: str
    member: int | None = None  # 0-based position in the member list
    member_name: str | None = None


@dataclass(frozen=True)
class IndicatorResult:
    indicator: str
    key: str
    state: IndicatorState
    reasons: tuple[Reason, ...] = ()
    missing: tuple[MissingAnswer, ...] = ()


@dataclass(frozen=True)
class HouseholdData:
    """The answers of one household with member facts derived once."""

    answers: Answers
    members: tuple[Answers, ...]
    facts: tuple[MemberFacts, ...]
    rules: RuleSet

    @classmethod
    def build(
        cls, answers: Answers, members: Sequence[Answers], on: date, rules: RuleSet
    ) -> HouseholdData:
        facts = tuple(member_facts(m, on, rules, i) for i, m in enumerate(members))
        return cls(answers, tuple(members), facts, rules)


def evaluate_indicators(
    household: Answers, members: Sequence[Answers], reference_date: date, rules: RuleSet
) -> tuple[IndicatorResult, ...]:
    """Every indicator of ``rules`` for one household, in rule-file order."""
    data = HouseholdData.build(household, members, reference_date, rules)
    return tuple(evaluate_indicator(indicator, data) for indicator in rules.indicators)


def evaluate_indicator(indicator: Indicator, data: HouseholdData) -> IndicatorResult:
    condition = indicator.condition
    match condition:
        case WorkingAgeWithoutStableJob():
            return _any_member(indicator, data, _job_check(condition))
        case DependantShareAbove():
            return _dependant_share(indicator, data, condition)
        case AnyMemberAgeBetweenWith():
            return _any_member(
                indicator,
                data,
                lambda answers, facts: (
                    logic.all_of(
                        facts.in_age_range(condition.age_min, condition.age_below),
                        _value_in(answers, condition.field, condition.deprived_values),
                    ),
                    "member",
                ),
                age_min=condition.age_min,
                age_below=condition.age_below,
            )
        case AdultEducation():
            return _any_member(indicator, data, _education_check(condition))
        case ChildSchooling():
            return _any_member(
                indicator,
                data,
                _schooling_check(condition),
                age_min=condition.age_min,
                age_below=condition.age_below,
            )
        case CountOfStructures():
            return _count_of_structures(indicator, data, condition)
        case AreaPerPersonBelow():
            return _area_per_person(indicator, data, condition)
        case AnswerNotIn():
            value = read.choice(data.answers, condition.field)
            if value is None:
                return _unknown(indicator, [MissingAnswer(condition.field)])
            return _decided(indicator, value not in condition.accepted)
        case NoneOfSelected():
            selected = read.choices(data.answers, condition.field)
            if selected is None:
                return _unknown(indicator, [MissingAnswer(condition.field)])
            return _decided(indicator, not any(code in condition.accepted for code in selected))
        case NoMemberWith():
            return _no_member_with(indicator, data, condition)
    raise TypeError(f"no evaluator for condition {condition!r}")  # pragma: no cover


# --- shared shapes -------------------------------------------------------------------------

MemberCheck = Callable[[Answers, MemberFacts], tuple[Tri, str]]


def _any_member(
    indicator: Indicator, data: HouseholdData, check: MemberCheck, **none_params: ParamValue | None
) -> IndicatorResult:
    """Deprived if some member is; not deprived if every member is known not to be."""
    if not data.members:
        return _unknown(indicator, [MissingAnswer("members")])
    deprived: list[Reason] = []
    missing: list[MissingAnswer] = []
    for position, (answers, facts) in enumerate(zip(data.members, data.facts, strict=True)):
        verdict, text_key = check(answers, facts)
        if verdict.value is True:
            deprived.append(Reason.of(indicator.id, text_key, name=facts.name, age=facts.age_years))
        elif verdict.value is None:
            missing.extend(MissingAnswer(f, position, facts.name) for f in verdict.missing)
    if deprived:
        return _result(indicator, IndicatorState.DEPRIVED, deprived)
    if missing:
        return _unknown(indicator, missing)
    return _result(
        indicator, IndicatorState.NOT_DEPRIVED, [Reason.of(indicator.id, "none", **none_params)]
    )


def _decided(indicator: Indicator, deprived: bool, **params: ParamValue | None) -> IndicatorResult:
    key = "deprived" if deprived else "not_deprived"
    state = IndicatorState.DEPRIVED if deprived else IndicatorState.NOT_DEPRIVED
    return _result(indicator, state, [Reason.of(indicator.id, key, **params)])


def _unknown(indicator: Indicator, missing: Sequence[MissingAnswer]) -> IndicatorResult:
    return IndicatorResult(
        indicator.id, indicator.key, IndicatorState.UNKNOWN, (), tuple(dict.fromkeys(missing))
    )


def _result(
    indicator: Indicator, state: IndicatorState, reasons: Sequence[Reason]
) -> IndicatorResult:
    return IndicatorResult(indicator.id, indicator.key, state, tuple(reasons))


def _choice_tri(answers: Answers, field: str, test: Callable[[str], bool]) -> Tri:
    value = read.choice(answers, field)
    return logic.unknown(field) if value is None else logic.of(test(value))


def _value_in(answers: Answers, field: str, values: Sequence[str]) -> Tri:
    return _choice_tri(answers, field, lambda value: value in values)


# --- member conditions ---------------------------------------------------------------------


def _job_check(condition: WorkingAgeWithoutStableJob) -> MemberCheck:
    def check(answers: Answers, facts: MemberFacts) -> tuple[Tri, str]:
        parts = [facts.in_age_range(condition.age_min, None)]
        if condition.upper_bound == "retirement_age":
            parts.append(logic.negate(facts.above_retirement_tri()))
        parts.append(_value_in(answers, "labour_capacity", ("yes",)))
        parts.append(_lacks_stable_job(answers, condition))
        return logic.all_of(*parts), "member"

    return check


def _lacks_stable_job(answers: Answers, condition: WorkingAgeWithoutStableJob) -> Tri:
    status = read.choice(answers, "employment_status")
    if status is None:
        return logic.unknown("employment_status")
    if status in condition.deprived_statuses:
        return logic.TRUE
    if status == "employed" and condition.unstable_job_counts:
        return _value_in(answers, "job_stable", ("no",))
    return logic.FALSE


def _education_check(condition: AdultEducation) -> MemberCheck:
    def check(answers: Answers, facts: MemberFacts) -> tuple[Tri, str]:
        if facts.age is None:
            return facts.age_tri(), "member"
        years = facts.age.years
        band = next((b for b in condition.bands if b.age_min <= years < b.age_below), None)
        if band is None:
            return logic.FALSE, "member"
        enough = [_value_in(answers, "education_level", band.education_levels)]
        if band.in_school_counts:
            enough.insert(0, _value_in(answers, "in_school", ("yes",)))
        if band.vocational_levels:
            enough.append(_value_in(answers, "vocational_level", band.vocational_levels))
        if band.onjob_training_counts:
            enough.append(_value_in(answers, "onjob_training", ("yes",)))
        return logic.negate(logic.any_of(*enough)), "member"

    return check


def _schooling_check(condition: ChildSchooling) -> MemberCheck:
    def check(answers: Answers, facts: MemberFacts) -> tuple[Tri, str]:
        in_range = facts.in_age_range(condition.age_min, condition.age_below)
        if in_range.value is False:
            return logic.FALSE, "not_in_school"
        in_school = read.choice(answers, "in_school")
        if in_school is None:
            return logic.all_of(in_range, logic.unknown("in_school")), "not_in_school"
        if in_school == "no":
            return in_range, "not_in_school"
        if not condition.check_level:
            return logic.FALSE, "wrong_level"
        level = read.choice(answers, "school_level")
        if level is None:
            return logic.all_of(in_range, logic.unknown("school_level")), "wrong_level"
        if facts.age is None:
            return in_range, "wrong_level"
        years = facts.age.years
        accepted = next(
            (b.levels for b in condition.expected_levels if b.age_min <= years < b.age_below), ()
        )
        return logic.of(level not in accepted), "wrong_level"

    return check


def _dependant_share(
    indicator: Indicator, data: HouseholdData, condition: DependantShareAbove
) -> IndicatorResult:
    if not data.members:
        return _unknown(indicator, [MissingAnswer("members")])
    dependants = 0
    undecided = 0
    missing: list[MissingAnswer] = []
    for position, (answers, facts) in enumerate(zip(data.members, data.facts, strict=True)):
        verdict = _is_dependant(answers, facts, condition)
        if verdict.value is True:
            dependants += 1
        elif verdict.value is None:
            undecided += 1
            missing.extend(MissingAnswer(f, position, facts.name) for f in verdict.missing)
    members = len(data.members)
    limit = Fraction(str(condition.max_share))
    params: dict[str, ParamValue | None] = {
        "dependants": dependants,
        "members": members,
        "share": round(100 * dependants / members, 1),
        "max": round(100 * condition.max_share, 1),
    }
    if Fraction(dependants, members) > limit:
        return _decided(indicator, True, **params)
    if Fraction(dependants + undecided, members) <= limit:
        return _decided(indicator, False, **params)
    return _unknown(indicator, missing)


def _is_dependant(answers: Answers, facts: MemberFacts, condition: DependantShareAbove) -> Tri:
    child = facts.in_age_range(0, condition.child_age_below)
    if condition.elderly_from == "retirement_age":
        elderly = facts.above_retirement_tri()
    else:
        elderly = facts.in_age_range(condition.elderly_from, None)
    grounds = [elderly, _value_in(answers, "employment_status", condition.dependant_statuses)]
    if condition.no_capacity_is_dependant:
        grounds.append(_value_in(answers, "labour_capacity", ("no",)))
    adult = logic.any_of(*grounds)
    if condition.pension_excludes:
        adult = logic.all_of(
            logic.negate(_value_in(answers, "pension_or_allowance", ("yes",))), adult
        )
    return logic.any_of(child, adult)


def _no_member_with(
    indicator: Indicator, data: HouseholdData, condition: NoMemberWith
) -> IndicatorResult:
    if not data.members:
        return _unknown(indicator, [MissingAnswer("members")])
    missing: list[MissingAnswer] = []
    for position, (answers, facts) in enumerate(zip(data.members, data.facts, strict=True)):
        has = logic.all_of(
            facts.in_age_range(condition.age_min, None) if condition.age_min else logic.TRUE,
            _value_in(answers, condition.field, (condition.value,)),
        )
        if has.value is True:
            return _decided(indicator, False)
        if has.value is None:
            missing.extend(MissingAnswer(f, position, facts.name) for f in has.missing)
    if missing:
        return _unknown(indicator, missing)
    return _decided(indicator, True)


# --- household conditions ------------------------------------------------------------------


def _count_of_structures(
    indicator: Indicator, data: HouseholdData, condition: CountOfStructures
) -> IndicatorResult:
    values = {field: read.choice(data.answers, field) for field in condition.fields}
    count = sum(1 for value in values.values() if value == condition.value)
    unanswered = [field for field, value in values.items() if value is None]
    params: dict[str, ParamValue | None] = {
        "count": count,
        "of": len(condition.fields),
        "min": condition.min_count,
    }
    if count >= condition.min_count:
        return _decided(indicator, True, **params)
    if count + len(unanswered) < condition.min_count:
        return _decided(indicator, False, **params)
    return _unknown(indicator, [MissingAnswer(field) for field in unanswered])


def _area_per_person(
    indicator: Indicator, data: HouseholdData, condition: AreaPerPersonBelow
) -> IndicatorResult:
    area = read.number(data.answers, condition.field)
    missing = [MissingAnswer(condition.field)] if area is None else []
    if not data.members:
        missing.append(MissingAnswer("members"))
    if area is None or missing:
        return _unknown(indicator, missing)
    members = len(data.members)
    # Exact arithmetic so that 24 m² for 3 people is exactly 8, not 7.999...
    below = Fraction(str(area)) < Fraction(str(condition.min_per_person)) * members
    return _decided(
        indicator,
        below,
        per_person=round(area / members, 2),
        min=condition.min_per_person,
        area=area,
        members=members,
    )
