"""Member labour / support group (district plan section II.2).

Decision order, with every group id, status mapping and label taken from the rule file:

1. Birth answers that contradict each other or the reference date -> ``contradiction``.
   No birth date or year -> ``incomplete``. Younger than the working-age minimum (15) ->
   ``below_working_age``, outside the labour groups.
2. Above the statutory retirement age (by sex and month of birth): with the rule-file switch
   ``retirement_upper_bound = "exclude"`` -> ``above_working_age``; with ``"note"`` (default,
   as the plan counts every member aged 15+) the member is grouped as usual and the result
   carries an ``age.above_retirement`` reason.
3. ``labour_capacity`` and ``employment_status`` must agree (each status names the capacity
   it requires, e.g. "unable" requires capacity "no"); otherwise ``contradiction`` listing
   both fields. Capacity "no" -> the no-capacity group (the status may be left out).
4. Capacity "yes": the status's group; for "employed" (``by_job``) an unstable job, or a
   stable job with a wish to expand, -> the unstable/expand group, else not a target.
5. A group may require detail answers (``required_fields``, none in the bundled rule
   files: a skipped support wish means none is wished); if they are missing the result is
   ``incomplete``.

Missing answers are never guessed: the result is ``incomplete`` and lists exactly the
answers still needed on the member's branch. Answers not on that branch are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from classification import answers as read
from classification.age import YearsMonths
from classification.answers import Answers
from classification.member import MemberFacts, member_facts
from classification.reasons import Reason
from classification.ruleset import RuleSet, RuleSetRef
from classification.vocabulary import MEMBER_MULTI


class MemberOutcome(StrEnum):
    GROUPED = "grouped"
    BELOW_WORKING_AGE = "below_working_age"
    ABOVE_WORKING_AGE = "above_working_age"
    INCOMPLETE = "incomplete"
    CONTRADICTION = "contradiction"


@dataclass(frozen=True)
class MemberResult:
    outcome: MemberOutcome
    rule_set: RuleSetRef
    group: str | None = None  # set exactly when outcome is GROUPED
    needs: tuple[str, ...] = ()  # recorded support needs, in answer order
    reasons: tuple[Reason, ...] = ()
    missing: tuple[str, ...] = ()  # answer fields still needed (INCOMPLETE)
    conflicts: tuple[str, ...] = ()  # answer fields that contradict each other (CONTRADICTION)
    age: YearsMonths | None = None
    above_retirement_age: bool | None = None


def classify_member(answers: Answers, reference_date: date, rules: RuleSet) -> MemberResult:
    """The labour / support group of one member at ``reference_date`` under ``rules``."""
    facts = member_facts(answers, reference_date, rules)
    return _classify(answers, facts, rules)


def classify_member_facts(answers: Answers, facts: MemberFacts, rules: RuleSet) -> MemberResult:
    """As :func:`classify_member`, reusing facts the caller already derived."""
    return _classify(answers, facts, rules)


class _Builder:
    """Accumulates reasons so every outcome carries what was known when it was decided."""

    def __init__(self, facts: MemberFacts, rules: RuleSet) -> None:
        self.facts = facts
        self.rules = rules
        self.reasons: list[Reason] = []

    def result(
        self,
        outcome: MemberOutcome,
        *,
        group: str | None = None,
        needs: tuple[str, ...] = (),
        missing: tuple[str, ...] = (),
        conflicts: tuple[str, ...] = (),
    ) -> MemberResult:
        return MemberResult(
            outcome=outcome,
            rule_set=self.rules.ref,
            group=group,
            needs=needs,
            reasons=tuple(self.reasons),
            missing=missing,
            conflicts=conflicts,
            age=self.facts.age,
            above_retirement_age=self.facts.above_retirement,
        )

    def incomplete(self, *missing: str) -> MemberResult:
        return self.result(MemberOutcome.INCOMPLETE, missing=missing)


def _classify(answers: Answers, facts: MemberFacts, rules: RuleSet) -> MemberResult:
    out = _Builder(facts, rules)
    if facts.conflict is not None:
        out.reasons.append(facts.conflict)
        return out.result(MemberOutcome.CONTRADICTION, conflicts=facts.conflict_fields)
    if facts.age is None or facts.birth is None:
        return out.incomplete("birth_date")
    if facts.from_birth_year:
        out.reasons.append(
            Reason.of(
                "age",
                "from_birth_year",
                year=str(facts.birth.year),
                assumed=facts.birth.strftime("%d/%m"),
            )
        )
    if facts.age.years < rules.age.working_age_min:
        out.reasons.append(
            Reason.of(
                "age", "below_working_age", age=facts.age.years, min=rules.age.working_age_min
            )
        )
        return out.result(MemberOutcome.BELOW_WORKING_AGE)

    if facts.above_retirement and facts.retirement is not None:
        point = facts.retirement
        out.reasons.append(
            Reason.of(
                "age",
                "above_retirement",
                ret_years=point.age.years,
                ret_months=point.age.months,
                ret_month=f"{point.month:02d}",
                ret_year=str(point.year),
            )
        )
    if rules.age.retirement_upper_bound == "exclude":
        if facts.above_retirement is None:
            return out.incomplete("sex")
        if facts.above_retirement:
            return out.result(MemberOutcome.ABOVE_WORKING_AGE)

    group_id = _group_by_answers(answers, out)
    if isinstance(group_id, MemberResult):
        return group_id

    group = rules.groups_by_id[group_id]
    missing = [field for field in group.required_fields if _absent(answers, field)]
    needs = read.choices(answers, "support_needs") or ()
    _add_need_reasons(answers, needs, out)
    if missing:
        return out.incomplete(*missing)
    return out.result(MemberOutcome.GROUPED, group=group_id, needs=needs)


def _group_by_answers(answers: Answers, out: _Builder) -> str | MemberResult:
    """The group id the capacity / status / job answers lead to, or an early result."""
    rules = out.rules
    capacity = read.choice(answers, "labour_capacity")
    status_id = read.choice(answers, "employment_status")
    if capacity is None:
        return out.incomplete("labour_capacity")
    out.reasons.append(Reason.of("capacity", capacity))
    status = rules.statuses_by_id[status_id] if status_id is not None else None
    if status is not None:
        out.reasons.append(Reason.of("status", status.id))
        if status.requires_capacity != capacity:
            out.reasons.append(Reason.of("conflict", "capacity_status"))
            return out.result(
                MemberOutcome.CONTRADICTION, conflicts=("labour_capacity", "employment_status")
            )

    if capacity == "no":
        incapacity = read.choice(answers, "incapacity_reason")
        if incapacity is not None:
            out.reasons.append(Reason.of("incapacity", incapacity))
        return rules.grouping.no_capacity_group
    if status is None:
        return out.incomplete("employment_status")
    if status.group != "by_job":
        return status.group

    stable = read.choice(answers, "job_stable")
    if stable is None:
        return out.incomplete("job_stable")
    out.reasons.append(Reason.of("job_stable", stable))
    if stable == "no":
        return rules.grouping.unstable_group
    expand = read.choice(answers, "wants_expand")
    if expand is None:
        return out.incomplete("wants_expand")
    out.reasons.append(Reason.of("wants_expand", expand))
    return rules.grouping.expand_group if expand == "yes" else rules.grouping.stable_group


def _add_need_reasons(answers: Answers, needs: tuple[str, ...], out: _Builder) -> None:
    trade = read.text(answers, "training_trade")
    kinds = read.choices(answers, "production_support_kinds") or ()
    for need in needs:
        # The form asks the trade only with vocational training, and the kinds only with
        # production support, so each detail belongs to that one need.
        detail = trade if need == "vocational_training" else None
        out.reasons.append(Reason.of("wants", need, trade=detail))
        if need == "production_support":
            out.reasons.extend(Reason.of("production_kind", kind) for kind in kinds)


def _absent(answers: Answers, field: str) -> bool:
    if field in MEMBER_MULTI:
        return read.choices(answers, field) is None
    value = answers.get(field)
    return value is None or (isinstance(value, str) and not value.strip())
