"""A whole commune imported as a data collection tool exports it: the lists, the Word report
and /summary must give every support group the same count, and that count must be the one
found by reading the answers themselves.

The answers are random but follow the form (the importer checks every one of them), and
about a third of the members asked "cần hỗ trợ gì" skip it, as the form's hint allows.
"""

from __future__ import annotations

import io
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document as WordDocument
from openpyxl import load_workbook
from sqlalchemy import insert, select

from bot.interview.results import classify_interviews
from exports.export_run import ExportRequest, ExportSettings, Format, run_export
from exports.stats import build_report
from exports.summary import render_summary
from storage.imports.responses import import_responses
from storage.models import Area, Household, HouseholdCategory
from storage.text import fold
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.helpers import table
from tests.helpers import seed_areas
from tests.imports.responses_files import SUPPORT_CODES, HouseholdData, odk_export

YEAR = 2026
HOUSEHOLDS = 240
VILLAGES = ("87-MH-A1", "87-MH-A2")
CATEGORIES = ("poor", "near_poor", "escaped")
# The support groups and their lists, as the plan names them.
LISTS = {
    "no_job": "Không có việc làm",
    "unwilling": "Không muốn đi làm",
    "unstable_or_expand": "Việc làm không ổn định",
    "no_capacity": "Không có khả năng lao động",
}
DOCX_GROUP = {
    "no_job": "Nhóm lao động không có việc làm",
    "unwilling": "Nhóm lao động không muốn đi làm",
    "unstable_or_expand": "Nhóm lao động đã có việc làm nhưng việc làm không ổn định",
}
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


def random_commune(today: date) -> Commune:
    rng = random.Random(9)
    households: list[HouseholdData] = []
    villages: dict[str, str] = {}
    categories: dict[str, str] = {}
    for number in range(1, HOUSEHOLDS + 1):
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
        households.append(HouseholdData(code, answers, members))
        villages[code] = VILLAGES[number % len(VILLAGES)]
        categories[code] = category
    return Commune(households, villages, categories)


def group_of(member: dict[str, Any]) -> str | None:
    """The plan's support group read straight from the answers (not our classifier)."""
    if member.get("labour_capacity") == "no":
        return "no_capacity"
    status = member.get("employment_status")
    if status in ("no_job", "looking"):
        return "no_job"
    if status == "unwilling":
        return "unwilling"
    if status == "employed" and (member["job_stable"] == "no" or member["wants_expand"] == "yes"):
        return "unstable_or_expand"
    return None


def expected_counts(commune: Commune) -> Counter[tuple[str, str]]:
    """(group, category) -> members."""
    counts: Counter[tuple[str, str]] = Counter()
    for household in commune.households:
        for member in household.members:
            group = group_of(member)
            if group is not None:
                counts[(group, commune.categories[household.code])] += 1
    return counts


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

    async def derive(uow: UnitOfWork, interview_ids: list[int]) -> None:
        await classify_interviews(uow, interview_ids, rules_spec=None, tz=ZoneInfo("UTC"))

    path = odk_export(folder / "odk.xlsx", commune.households)
    await import_responses(database.sessions, path, year=YEAR, today=today, after_write=derive)


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


def counts_in(text: str) -> list[int]:
    """The "N người" figures of a sentence, in order ("1.281" and "04" included)."""
    return [int(n.replace(".", "")) for n in re.findall(r"(\d[\d.]*) người", text)]


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("odk", "xlsx", "docx")}
    for folder in made.values():
        folder.mkdir()
    return made


async def test_lists_report_and_summary_agree_on_every_group(
    database: Database, folders: dict[str, Path]
) -> None:
    today = datetime.now(UTC).date()
    commune = random_commune(today)
    await load(database, commune, folders["odk"], today)
    expected = expected_counts(commune)

    def total(group: str) -> int:
        return sum(expected[(group, category)] for category in CATEGORIES)

    def by_category(group: str) -> list[int]:
        return [expected[(group, category)] for category in CATEGORIES]

    # The dataset has what the test is about: every group in every category, and members
    # with no job who skipped the support question.
    assert all(expected[(g, c)] for g in LISTS for c in CATEGORIES)
    skipped = [
        m
        for h in commune.households
        for m in h.members
        if group_of(m) == "no_job" and "support_needs" not in m
    ]
    assert len(skipped) >= 10

    # The lists: one row per member of the group.
    book = load_workbook(io.BytesIO(await export(database, Format.XLSX, folders["xlsx"])))
    for group, title in LISTS.items():
        assert len(table(book, title)) == total(group), group
    members = table(book, "Thành viên")
    assert sum(len(h.members) for h in commune.households) == len(members)
    assert [m["Họ tên"] for m in members if m["Kết quả phân nhóm (mã)"] == "incomplete"] == []

    # The Word report: the group lines, and the sentences per category before them.
    word = WordDocument(io.BytesIO(await export(database, Format.DOCX, folders["docx"])))
    paragraphs = [p.text for p in word.paragraphs]
    for group, opening in DOCX_GROUP.items():
        [line] = [p for p in paragraphs if opening in p]
        assert counts_in(line) == [total(group)], group
    [seeking] = [p for p in paragraphs if p.startswith("- Qua thống kê")]
    assert counts_in(seeking) == by_category("no_job")
    [unable] = [p for p in paragraphs if p.startswith("- Đối với")]
    assert counts_in(unable) == by_category("no_capacity")

    # /summary: the same figures per category, in its numbers and in its text.
    async with UnitOfWork(database.sessions) as uow:
        area = await uow.areas.by_code("87-MH")
        assert area is not None
        report = await build_report(uow, area, YEAR)
    for index, category in enumerate(HouseholdCategory):
        counts = report.counts(category)
        assert counts.seeking == by_category("no_job")[index], category
        assert counts.unable == by_category("no_capacity")[index], category
        assert counts.status("unwilling") == by_category("unwilling")[index], category
    text = render_summary(report).split("\n")
    support = text[text.index("Người cần hỗ trợ:") :]
    assert counts_in(support[1]) + counts_in(support[2]) == by_category("no_job")
