"""Plausible completed interviews for the demo commune, so `/summary` and `/export` have
something to show before anyone has interviewed a household.

Answers are chosen at random (seeded, so every demo is the same) and each one is checked
by the engine exactly as a typed answer would be; the interviews are then stored the way
an import stores them, with their classifications and statistics.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from bot.interview.results import classify, household_rows
from bot.interview.session import decoded_prefill, roster_prefill, with_household_code
from classification import ReviewDates, rules_for
from forms import (
    Done,
    FieldType,
    Form,
    Question,
    apply_calculations,
    current_form,
    drop_irrelevant,
    next_step,
    set_answer,
    validate,
)
from forms.codec import flatten
from storage.models import Interview, InterviewStatus
from storage.stats_facts import refresh_member_facts
from storage.uow import UnitOfWork

ROSTER_FIELDS = {"category", "member_count", "name", "sex", "birth_known", "birth_date"}
ROSTER_FIELDS |= {"birth_year", "relation"}
NUMBERS: dict[str, tuple[int, int]] = {
    "floor_area_m2": (18, 90),
    "income_per_capita_month": (700_000, 2_400_000),
}
TRADES = ("may công nghiệp", "sửa xe máy", "điện dân dụng", "nấu ăn")
# Most people can work, are insured and go to school: put the common answer first, usually.
USUAL = {"labour_capacity": "yes", "health_insurance": "yes", "in_school": "yes"}


def _candidates(question: Question, rng: random.Random) -> list[Any]:
    """Values to try, most plausible first; the engine's checks pick the first valid one."""
    if question.name in ROSTER_FIELDS and question.default is not None:
        return [question.default]
    kind = question.type
    codes = [choice.name for choice in question.choices]
    if kind is FieldType.SELECT_ONE:
        rng.shuffle(codes)
        usual = USUAL.get(question.name)
        if usual in codes and rng.random() < 0.8:
            codes.remove(usual)
            codes.insert(0, usual)
        return codes
    if kind is FieldType.SELECT_MULTIPLE:
        picks = [[code] for code in codes if code != "none"]
        rng.shuffle(picks)
        return [*picks, []]
    if kind in (FieldType.INTEGER, FieldType.DECIMAL):
        low, high = NUMBERS.get(question.name, (1, 5))
        value = rng.randint(low, high)
        return [Decimal(value) if kind is FieldType.DECIMAL else value]
    if kind is FieldType.TEXT:
        return [rng.choice(TRADES)]
    if kind is FieldType.ACKNOWLEDGE:
        return ["OK"]
    return [None]


def answer_household(
    form: Form,
    prefill: dict[str, Any],
    today: date,
    seed: int,
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Plausible answers to every question; ``given`` are answers settled beforehand (the
    household code, as in the chat)."""
    rng = random.Random(seed)
    answers: dict[str, Any] = dict(given or {})
    while not isinstance(step := next_step(form, answers, today=today, prefill=prefill), Done):
        for value in [*_candidates(step, rng), None]:
            if validate(form, answers, step.path, value, today=today) is None:
                answers = set_answer(answers, step.path, value)
                break
        else:  # nothing valid: the form has a rule the respondent doesn't know
            raise RuntimeError(f"no valid demo answer for {step.path}")
    return drop_irrelevant(form, apply_calculations(form, answers, today=today), today=today)


async def interview_demo_households(
    uow: UnitOfWork, household_ids: list[int], dates: ReviewDates, now: datetime
) -> int:
    """Complete an interview for each household that has none yet, at ``now``; returns how
    many."""
    form = current_form()
    done = 0
    for household_id in household_ids:
        if await uow.interviews.latest_for_household(household_id) is not None:
            continue
        household = await uow.households.with_members(household_id)
        assert household is not None
        today = dates.reference(household.review_year, now)
        prefill = decoded_prefill(form, roster_prefill(household))
        given = with_household_code(form, {}, household)
        answers = answer_household(form, prefill, today, seed=household_id, given=given)
        interview = await uow.interviews.add(
            Interview(
                household_id=household.id,
                collaborator_id=None,
                form_id=form.form_id,
                form_version=form.version,
                status=InterviewStatus.COMPLETED,
                step=len(flatten(answers)),
                prefill={},
                source="demo",
                started_at=now,
                updated_at=now,
                completed_at=now,
            )
        )
        rows = flatten(answers)
        await uow.interviews.save_answers(interview, rows, None, now)
        result = classify(answers, today, rules_for(household.review_year))
        await uow.classifications.replace(
            interview, household_rows(interview, answers, result, today)
        )
        await uow.run(partial(refresh_member_facts, interview=interview, answers=rows))
        done += 1
    return done
