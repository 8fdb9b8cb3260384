"""Classification results as stored rows: which rule set, which inputs, what came out."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from bot.interview.outcome import classify, household_answers
from classification import (
    HouseholdResult,
    MemberResult,
    ReviewDates,
    RuleSet,
    rules_for,
)
from forms import current_form
from forms.codec import assemble, flatten
from storage.models import Classification, Interview
from storage.rows import InterviewRow
from storage.uow import UnitOfWork

HOUSEHOLD = None


_AS_IS = frozenset({str, int, float, bool, type(None)})


def to_json(value: Any) -> Any:
    """Plain JSON for results: dataclasses, enums, tuples and dates included."""
    if type(value) in _AS_IS:
        return value  # most of a result: one test, not seven
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def member_row(
    interview: Interview | InterviewRow,
    index: int,
    member: Mapping[str, Any],
    result: MemberResult,
    reference_date: date,
) -> Classification:
    return Classification(
        interview_id=interview.id,
        household_id=interview.household_id,
        member_index=index,
        member_name=str(member.get("name") or "")[:200] or None,
        outcome=result.outcome.value,
        group=result.group,
        deprived=[],
        rule_set=result.rule_set.id,
        rule_hash=result.rule_set.sha256,
        reference_date=reference_date,
        inputs=flatten(member),
        details=to_json(
            {
                "needs": result.needs,
                "reasons": result.reasons,
                "missing": result.missing,
                "conflicts": result.conflicts,
                "age": result.age,
                "above_retirement_age": result.above_retirement_age,
            }
        ),
        current=True,
    )


def household_rows(
    interview: Interview | InterviewRow,
    answers: Mapping[str, Any],
    result: HouseholdResult,
    reference_date: date,
) -> list[Classification]:
    """One row for the household and one per member, all from one consistent result."""
    household, members = household_answers(answers)
    rows = [
        Classification(
            interview_id=interview.id,
            household_id=interview.household_id,
            member_index=HOUSEHOLD,
            outcome=result.status.value,
            group=None,
            deprived=list(result.deprived),
            rule_set=result.rule_set.id,
            rule_hash=result.rule_set.sha256,
            reference_date=reference_date,
            inputs=flatten(household),
            details=to_json(
                {
                    "unknown": result.unknown,
                    "reasons": result.reasons,
                    "missing": result.missing,
                    "income": result.income,
                    "income_line": result.income_line,
                    "support": result.support,
                    "indicators": result.indicators,
                }
            ),
            current=True,
        )
    ]
    rows += [
        member_row(interview, index, member, member_result, reference_date)
        for index, (member, member_result) in enumerate(zip(members, result.members, strict=True))
    ]
    return rows


def reference_of(interview: Interview, dates: ReviewDates) -> date:
    """The reference date a completed interview is classified, and its ages counted, at."""
    moment = interview.completed_at or interview.updated_at
    return dates.reference(interview.household.review_year, moment)


async def recompute_rows(
    uow: UnitOfWork, interview: Interview, rules: RuleSet, dates: ReviewDates
) -> list[Classification]:
    """Fresh result rows for a completed interview, at its review's reference date."""
    rows = await uow.interviews.answers(interview)
    return results_of(interview, rows, rules, reference_of(interview, dates))


def results_of(
    interview: Interview, rows: Iterable[tuple[str, Any]], rules: RuleSet, reference: date
) -> list[Classification]:
    """Fresh result rows for a completed interview from its stored answer rows."""
    return results_for(interview, assemble(current_form(), rows), rules, reference)


def results_for(
    interview: Interview, answers: Mapping[str, Any], rules: RuleSet, reference: date
) -> list[Classification]:
    """Fresh result rows for a completed interview from its nested answers."""
    return household_rows(interview, answers, classify(answers, reference, rules), reference)


async def classify_interviews(
    uow: UnitOfWork, interview_ids: list[int], *, rules_spec: str | None, dates: ReviewDates
) -> None:
    """Store current results for completed interviews written outside the chat (imports)."""
    for interview_id in interview_ids:
        interview = await uow.interviews.get(interview_id)
        if interview is None:
            continue
        household = await uow.households.get(interview.household_id)
        assert household is not None
        rules = rules_for(household.review_year, rules_spec)
        await uow.classifications.replace(
            interview, await recompute_rows(uow, interview, rules, dates)
        )
