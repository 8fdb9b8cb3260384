"""A review as the files a district hands over: its areas, its roster, an ODK/Kobo export of
the bundled form's interviews and its area figures, written from :class:`Population`
counts. Loaded with the real `rasoat` commands, the data goes through the same checks,
ages and classification as in production: real birth dates, ages counted by the form at
the review's reference date, answers the form accepts."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.cli import build_parser, dispatch
from bot.settings import Settings
from storage.models import HouseholdCategory
from tests.imports.responses_files import HouseholdData, kobo_export
from tests.imports.test_responses import ADULT, HOUSE
from tests.summary.population import Population

CATEGORY_LABELS = {HouseholdCategory.POOR: "hộ nghèo", HouseholdCategory.NEAR_POOR: "cận nghèo"}
CODE_PREFIXES = {HouseholdCategory.POOR: "N", HouseholdCategory.NEAR_POOR: "CN"}
ROSTER_RELATIONS = {
    "head": "chủ hộ",
    "spouse": "vợ chồng",
    "child": "con",
    "parent": "cha mẹ",
    "other": "khác",
}
ROSTER_HEADER = (
    "mã hộ",
    "mã ấp",
    "chủ hộ",
    "phân loại",
    "họ tên thành viên",
    "giới tính",
    "ngày sinh",
    "quan hệ với chủ hộ",
)


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: str
    parent: str | None = None


@dataclass(frozen=True)
class ReviewFiles:
    areas: Path
    roster: Path
    responses: Path
    stats: Path


def born(review_year: int, age: int, number: int) -> date:
    """A birth date (spread over the year by ``number``) that makes ``age`` at the end of
    ``review_year``."""
    return date(review_year - age, 1 + number % 12, 1 + number % 28)


def child(review_year: int, number: int) -> dict[str, Any]:
    """Aged 1 to 14 at the end of the review year: 15 or more at today's date for the
    oldest, so they are children only at the review's reference date."""
    age = 1 + number % 14
    member: dict[str, Any] = {
        "sex": "female",
        "birth_date": born(review_year, age, number),
        "health_insurance": "yes",
        "malnourished": "no",
    }
    if age >= 3:
        level = "preschool" if age <= 5 else "primary" if age <= 10 else "lower_secondary"
        member |= {"in_school": "yes", "school_level": level}
    if age >= 6:
        member["uses_internet"] = "yes"
    return member


def unable(review_year: int, number: int) -> dict[str, Any]:
    return {
        "sex": "male",
        "birth_date": born(review_year, 67, number),
        "labour_capacity": "no",
        "incapacity_reason": "old_age",
        **ADULT,
        "uses_internet": "no",
    }


def able(review_year: int, number: int, status: str) -> dict[str, Any]:
    member: dict[str, Any] = {
        "sex": "male",
        "birth_date": born(review_year, 34, number),
        "labour_capacity": "yes",
        "employment_status": status,
        **ADULT,
    }
    if status == "employed":
        # A stable job and no wish to expand: no support question follows.
        member |= {"job_stable": "yes", "wants_expand": "no"}
    return member


def people(population: Population, review_year: int) -> list[dict[str, Any]]:
    """The category's members, adults first so that each household's head is one."""
    adults = [unable(review_year, n) for n in range(population.unable)]
    for status, count in population.statuses.items():
        adults += [able(review_year, n, status) for n in range(count)]
    return adults + [child(review_year, n) for n in range(population.children)]


@dataclass(frozen=True)
class ReviewHousehold:
    """An interviewed household: its village, category and members' answers (engine
    values, with name, sex, birth_date and relation, which the roster lists too)."""

    village: str
    category: HouseholdCategory
    members: list[dict[str, Any]]


def member(name: str, relation: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    return {**answers, "name": name, "birth_known": "full_date", "relation": relation}


def households(
    categories: Mapping[HouseholdCategory, Population], villages: Sequence[str], review_year: int
) -> list[ReviewHousehold]:
    """The categories' interviewed households, members spread over the households in turn
    and the households over the villages in turn."""
    result = []
    number = 0
    for category, population in categories.items():
        members: list[list[dict[str, Any]]] = [[] for _ in range(population.households)]
        for index, person in enumerate(people(population, review_year)):
            number += 1
            relation = "head" if index < population.households else "other"
            members[index % population.households].append(
                member(f"Người {number}", relation, person)
            )
        for index, household in enumerate(members):
            result.append(ReviewHousehold(villages[index % len(villages)], category, household))
    return result


def write_review(
    folder: Path,
    areas: Sequence[Area],
    interviewed: Sequence[ReviewHousehold],
    stats: Sequence[tuple[str, int, int, int | None, int | None]] = (),
) -> ReviewFiles:
    """The four files; ``stats`` rows are (area code, year, all households, poor, near-poor)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = ReviewFiles(
        folder / "dia-ban.csv",
        folder / "danh-sach-ho.csv",
        folder / "phieu-kobo.xlsx",
        folder / "so-lieu.csv",
    )
    _write_csv(
        files.areas,
        ("Mã", "Tên", "Cấp", "Mã cấp trên"),
        [(a.code, a.name, a.level, a.parent or "") for a in areas],
    )
    roster: list[tuple[str, ...]] = []
    exported: list[HouseholdData] = []
    for number, household in enumerate(interviewed):
        code = household_code(household, number)
        members = household.members
        for person in members:
            roster.append(
                (
                    code,
                    household.village,
                    members[0]["name"],
                    CATEGORY_LABELS[household.category],
                    person["name"],
                    "nam" if person["sex"] == "male" else "nữ",
                    person["birth_date"].strftime("%d/%m/%Y"),
                    ROSTER_RELATIONS[person["relation"]],
                )
            )
        answers = {**HOUSE, "category": household.category.value, "member_count": len(members)}
        exported.append(HouseholdData(code, answers, members))
    _write_csv(files.roster, ROSTER_HEADER, roster)
    kobo_export(files.responses, exported)
    _write_csv(
        files.stats,
        ("Mã địa bàn", "Năm", "Tổng số hộ", "Số hộ nghèo", "Số hộ cận nghèo"),
        [(code, year, total, poor or "", near or "") for code, year, total, poor, near in stats],
    )
    return files


def household_code(household: ReviewHousehold, number: int) -> str:
    """The code of the ``number``-th household (0-based) of the files."""
    return f"{CODE_PREFIXES[household.category]}-{number:05d}"


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


async def rasoat(settings: Settings, *argv: str, now: datetime | None = None) -> None:
    """One `rasoat` command, parsed and run by the CLI's own code in this process (the
    test's event loop), with the clock at ``now``; fails the test unless it succeeds."""
    args: argparse.Namespace = build_parser().parse_args(list(argv))
    assert await dispatch(settings, args, now) == 0, argv


async def load_review(
    settings: Settings, files: ReviewFiles, review_year: int, now: datetime | None = None
) -> None:
    """`rasoat areas import`, `roster import`, `responses import` and `stats import`."""
    await rasoat(settings, "areas", "import", str(files.areas), now=now)
    year = str(review_year)
    await rasoat(settings, "roster", "import", str(files.roster), "--year", year, now=now)
    await rasoat(settings, "responses", "import", str(files.responses), "--year", year, now=now)
    await rasoat(settings, "stats", "import", str(files.stats), now=now)
