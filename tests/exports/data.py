"""Interviewed households for the export tests and benchmark, inserted in bulk.

A few answer templates are classified once with the real classifier; each household is a
copy of one template under its own code, interview, answer rows and classification rows,
exactly as the chat stores them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.interview.results import classify, household_rows
from classification import rules_for
from forms import apply_calculations, current_form
from forms.codec import flatten
from storage.models import (
    Answer,
    Area,
    Classification,
    Household,
    HouseholdCategory,
    Interview,
    InterviewStatus,
)
from storage.stats_facts import write_member_facts
from storage.text import fold

REFERENCE = date(2026, 11, 20)
COMPLETED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def _member(name: str, sex: str, birth: date | int, relation: str, **answers: Any) -> dict:
    member: dict[str, Any] = {"name": name, "sex": sex, "relation": relation}
    if isinstance(birth, int):
        member |= {"birth_known": "year_only", "birth_year": birth}
    else:
        member |= {"birth_known": "full_date", "birth_date": birth}
    return member | answers


HOUSEHOLD_BASE: dict[str, Any] = {
    "area_type": "rural",
    "house_wall": "not_durable",
    "house_column": "durable",
    "house_roof": "not_durable",
    "floor_area_m2": 36,
    "water_source": "drilled_well",
    "latrine": "septic",
    "info_devices": ["tv", "smartphone"],
    "waste_disposal": "collected",
    "income_per_capita_month": 1_200_000,
    "housing_difficulty": "yes",
}
ADULT = {
    "health_insurance": "yes",
    "education_level": "upper_secondary",
    "vocational_level": "none",
    "uses_internet": "yes",
    "pension_or_allowance": "no",
}

TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    (
        "poor",
        HOUSEHOLD_BASE
        | {
            "members": [
                _member(
                    "Nguyễn Văn Hùng",
                    "male",
                    date(1974, 6, 11),
                    "head",
                    **ADULT,
                    labour_capacity="yes",
                    employment_status="looking",
                    support_needs=["vocational_training", "job_referral"],
                    training_trade="may công nghiệp",
                ),
                _member(
                    "Trần Thị Lan",
                    "female",
                    1978,
                    "spouse",
                    **(ADULT | {"health_insurance": "no", "education_level": "primary"}),
                    labour_capacity="yes",
                    employment_status="employed",
                    job_stable="no",
                    wants_expand="yes",
                    support_needs=["loan", "production_support"],
                    production_support_kinds=["livestock"],
                ),
                _member(
                    "Nguyễn Thị Mai",
                    "female",
                    date(2015, 9, 20),
                    "child",
                    health_insurance="yes",
                    in_school="yes",
                    school_level="primary",
                    uses_internet="no",
                    malnourished="no",
                ),
                _member(
                    "Lê Thị Bảy",
                    "female",
                    1950,
                    "parent",
                    **(ADULT | {"education_level": "none"}),
                    labour_capacity="no",
                    incapacity_reason="old_age",
                ),
            ]
        },
    ),
    (
        "near_poor",
        HOUSEHOLD_BASE
        | {
            "house_wall": "durable",
            "house_roof": "durable",
            "floor_area_m2": 60,
            "income_per_capita_month": 1_400_000,
            "info_devices": ["phone"],
            "housing_difficulty": "no",
            "members": [
                _member(
                    "Phạm Văn Tư",
                    "male",
                    date(1985, 1, 2),
                    "head",
                    **ADULT,
                    labour_capacity="yes",
                    employment_status="unwilling",
                ),
                _member(
                    "Võ Thị Hoa",
                    "female",
                    date(1988, 3, 4),
                    "spouse",
                    **ADULT,
                    labour_capacity="yes",
                    employment_status="no_job",
                    support_needs=["overseas_work"],
                ),
                _member(
                    "Phạm Thị Nga",
                    "female",
                    date(1990, 5, 6),
                    "sibling",
                    **ADULT,
                    labour_capacity="yes",
                    employment_status="homemaker",
                ),
            ],
        },
    ),
]


@dataclass(frozen=True)
class Template:
    category: HouseholdCategory
    answers: dict[str, Any]
    flat: dict[str, Any]
    results: list[dict[str, Any]]

    @property
    def head(self) -> str:
        return str(self.answers["members"][0]["name"])

    @property
    def members(self) -> int:
        return len(self.answers["members"])


@cache
def templates(year: int) -> list[Template]:
    form = current_form()
    rules = rules_for(year)
    built = []
    for category, raw in TEMPLATES:
        answers = dict(raw) | {"category": category, "member_count": len(raw["members"])}
        answers = apply_calculations(form, answers, today=REFERENCE)
        result = classify(answers, REFERENCE, rules)
        rows = household_rows(Interview(id=0, household_id=0), answers, result, REFERENCE)
        results = [
            {
                "member_index": row.member_index,
                "member_name": row.member_name,
                "outcome": row.outcome,
                "group": row.group,
                "deprived": row.deprived,
                "rule_set": row.rule_set,
                "rule_hash": row.rule_hash,
                "reference_date": row.reference_date,
                "inputs": row.inputs,
                "details": row.details,
                "current": True,
                "computed_at": COMPLETED_AT,
            }
            for row in rows
        ]
        built.append(Template(HouseholdCategory(category), answers, flatten(answers), results))
    return built


@dataclass(frozen=True)
class Planned:
    """One household to insert: where, which template, and whether it was interviewed."""

    code: str
    village: str
    template: int = 0
    status: InterviewStatus | None = InterviewStatus.COMPLETED
    collaborator_id: int | None = None


async def insert_households(
    sessions: async_sessionmaker[AsyncSession],
    year: int,
    planned: Sequence[Planned],
    *,
    chunk: int = 2000,
) -> None:
    built = templates(year)
    async with sessions() as session:
        villages = {a.code: a.id for a in (await session.scalars(select(Area))).all()}
        for start in range(0, len(planned), chunk):
            await _insert_chunk(session, year, planned[start : start + chunk], built, villages)
            await session.commit()


async def _insert_chunk(
    session: AsyncSession,
    year: int,
    planned: Sequence[Planned],
    built: list[Template],
    villages: dict[str, int],
) -> None:
    household_rows_ = []
    for plan in planned:
        template = built[plan.template]
        household_rows_.append(
            {
                "code": plan.code,
                "review_year": year,
                "area_id": villages[plan.village],
                "head_name": template.head,
                "head_name_search": fold(template.head),
                "category": template.category.value,
                "created_at": COMPLETED_AT,
            }
        )
    await session.execute(insert(Household), household_rows_)
    codes = [plan.code for plan in planned]
    ids = dict(
        (
            await session.execute(
                select(Household.code, Household.id).where(
                    Household.code.in_(codes), Household.review_year == year
                )
            )
        ).all()
    )
    interviews: list[dict[str, Any]] = [
        {
            "household_id": ids[plan.code],
            "collaborator_id": plan.collaborator_id,
            "form_id": "rasoat_household",
            "form_version": "test",
            "status": plan.status.value,
            "step": 1,
            "prefill": {},
            "source": "chat",
            "started_at": COMPLETED_AT,
            "updated_at": COMPLETED_AT,
            "completed_at": COMPLETED_AT if plan.status is InterviewStatus.COMPLETED else None,
        }
        for plan in planned
        if plan.status is not None
    ]
    if not interviews:
        return
    await session.execute(insert(Interview), interviews)
    interview_ids = dict(
        (
            await session.execute(
                select(Interview.household_id, Interview.id).where(
                    Interview.household_id.in_(list(ids.values()))
                )
            )
        ).all()
    )
    answers: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    facts: list[tuple[int, dict[str, Any]]] = []
    for plan in planned:
        if plan.status is not InterviewStatus.COMPLETED:
            continue
        template = built[plan.template]
        household_id = ids[plan.code]
        interview_id = interview_ids[household_id]
        facts.append((interview_id, template.flat))
        answers += [
            {
                "interview_id": interview_id,
                "path": path,
                "value": value,
                "answered_at": COMPLETED_AT,
            }
            for path, value in template.flat.items()
        ]
        results += [
            row | {"interview_id": interview_id, "household_id": household_id}
            for row in template.results
        ]
    for start in range(0, len(answers), 5000):
        await session.execute(insert(Answer), answers[start : start + 5000])
    if results:
        await session.execute(insert(Classification), results)
    await write_member_facts(session, facts)


def plan_commune(villages: Sequence[str], per_village: int) -> list[Planned]:
    """``per_village`` interviewed households per village, alternating the templates."""
    counter = itertools.count(1)
    return [
        Planned(f"HH-{village[-2:]}-{next(counter):06d}", village, template=n % len(TEMPLATES))
        for village in villages
        for n in range(per_village)
    ]
