"""A whole commune of random but form-valid households, imported the way an ODK export is
(``rasoat responses import``), for the dataset and print checks.

About a third of the members asked "cần hỗ trợ gì" skip it, as the form's hint allows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from bot.interview.results import classify_interviews
from classification.age import DEFAULT_REFERENCE, ReviewDates
from exports.export_run import ExportRequest, ExportSettings, Format, run_export
from storage.imports.responses import import_responses
from storage.models import Area, Household
from storage.text import fold
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.helpers import seed_areas
from tests.imports.responses_files import SUPPORT_CODES, HouseholdData, odk_export

YEAR = 2026
HOUSEHOLDS = 240
VILLAGES = ("87-MH-A1", "87-MH-A2")
CATEGORIES = ("poor", "near_poor", "escaped")
STATUSES_ABLE = ("employed", "no_job", "looking", "studying", "unwilling", "homemaker")
SCHOOL_BY_AGE = ((6, "preschool"), (11, "primary"), (15, "lower_secondary"))
SCHOOL_BY_AGE += ((18, "upper_secondary"), (31, "college_university"))


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def random_member(rng: random.Random, index: int, today: date) -> dict[str, Any]:
    """One member's answers, following the form's relevance and constraints."""
    # No one within two years of 15: which questions are asked depends on the age, and the
    # age's reference date is not what this test is about.
    age = rng.choice([*range(0, 13), *range(18, 90)])
    birth = date(today.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
    age = age_on(birth, today)
    member: dict[str, Any] = {
        "name": f"Thành viên {index + 1}",
        "sex": rng.choice(["male", "female"]),
        "birth_known": "full_date",
        "birth_date": birth,
        "relation": "head" if index == 0 else rng.choice(["spouse", "child", "parent"]),
        "age": age,
        "health_insurance": rng.choice(["yes", "no"]),
    }
    status = None
    if age >= 15:
        capacity = "yes" if rng.random() < 0.8 else "no"
        member["labour_capacity"] = capacity
        if capacity == "no":
            member["incapacity_reason"] = rng.choice(["sickness", "disability", "old_age"])
        else:
            status = rng.choice(STATUSES_ABLE)
            member["employment_status"] = status
            if status == "employed":
                member["job_stable"] = rng.choice(["yes", "no"])
                member["wants_expand"] = rng.choice(["yes", "no"])
            asked = status in ("no_job", "looking", "unwilling", "homemaker") or (
                status == "employed"
                and (member["job_stable"] == "no" or member["wants_expand"] == "yes")
            )
            if asked and rng.random() < 0.65:
                needs = rng.sample(SUPPORT_CODES, rng.randint(1, 2))
                member["support_needs"] = needs
                if "vocational_training" in needs:
                    member["training_trade"] = "may công nghiệp"
                if "production_support" in needs:
                    member["production_support_kinds"] = ["livestock"]
            # Otherwise the question is skipped: no support wished.
        member["education_level"] = rng.choice(["primary", "lower_secondary"])
        member["vocational_level"] = "none"
        member["pension_or_allowance"] = rng.choice(["yes", "no"])
    if 3 <= age <= 30:
        in_school = "yes" if status == "studying" or (age < 15 and age >= 6) else "no"
        member["in_school"] = in_school
        if in_school == "yes":
            member["school_level"] = next(level for top, level in SCHOOL_BY_AGE if age < top)
    if 16 <= age <= 30:
        member["onjob_training"] = "no"
    if age >= 6:
        member["uses_internet"] = rng.choice(["yes", "no"])
    if age < 16:
        member["malnourished"] = "no"
    return member


@dataclass(frozen=True)
class Commune:
    households: list[HouseholdData]
    villages: dict[str, str]  # household code -> village code
    categories: dict[str, str]  # household code -> roster category


def random_commune(today: date, households: int = HOUSEHOLDS) -> Commune:
    rng = random.Random(9)
    made: list[HouseholdData] = []
    villages: dict[str, str] = {}
    categories: dict[str, str] = {}
    for number in range(1, households + 1):
        code = f"H{number:04d}"
        category = rng.choice(CATEGORIES)
        members = [random_member(rng, i, today) for i in range(rng.randint(1, 6))]
        answers: dict[str, object] = {
            "category": category,
            "area_type": "rural",
            "house_wall": rng.choice(["durable", "not_durable"]),
            "house_column": "durable",
            "house_roof": rng.choice(["durable", "not_durable"]),
            "floor_area_m2": rng.randint(15, 90),
            "water_source": rng.choice(["piped", "drilled_well", "surface_water"]),
            "latrine": rng.choice(["septic", "none"]),
            "info_devices": rng.choice([["tv"], ["smartphone"], ["none"]]),
            "waste_disposal": rng.choice(["collected", "none"]),
            "income_per_capita_month": rng.randint(500_000, 2_500_000),
            "housing_difficulty": rng.choice(["yes", "no"]),
            "member_count": len(members),
        }
        made.append(HouseholdData(code, answers, members))
        villages[code] = VILLAGES[number % len(VILLAGES)]
        categories[code] = category
    return Commune(made, villages, categories)


async def load(database: Database, commune: Commune, folder: Path, today: date) -> None:
    await seed_areas(database.sessions)
    async with database.sessions() as session:
        ids = {a.code: a.id for a in (await session.scalars(select(Area))).all()}
        await session.execute(
            insert(Household),
            [
                {
                    "code": h.code,
                    "review_year": YEAR,
                    "area_id": ids[commune.villages[h.code]],
                    "head_name": str(h.members[0]["name"]),
                    "head_name_search": fold(str(h.members[0]["name"])),
                    "category": commune.categories[h.code],
                    "created_at": datetime.now(UTC),
                }
                for h in commune.households
            ],
        )
        await session.commit()

    dates = ReviewDates(DEFAULT_REFERENCE, ZoneInfo("Asia/Ho_Chi_Minh"))

    async def derive(uow: UnitOfWork, interview_ids: list[int]) -> None:
        await classify_interviews(uow, interview_ids, rules_spec=None, dates=dates)

    path = odk_export(folder / "odk.xlsx", commune.households)
    await import_responses(
        database.sessions, path, year=YEAR, reference_date=today, after_write=derive
    )


async def export(database: Database, fmt: Format, folder: Path) -> bytes:
    async with UnitOfWork(database.sessions) as uow:
        outcome = await run_export(
            uow,
            None,
            ExportRequest(fmt, "87-MH", YEAR),
            ExportSettings(tz=UTC),
            now=datetime.now(UTC),
            folder=folder,
        )
        await uow.commit()
    [file] = outcome.files
    return file.read()
