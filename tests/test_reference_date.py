"""One reference date per review: a review's interviews entered late, or at midnight, are
counted at the review's date in the commune's time zone, the same in the import, the
stored results, the export and /summary. The clock is the CLI's, injected."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.conversation import Conversation
from bot.settings import Settings
from storage.models import Answer, Classification, HouseholdCategory
from storage.uow import UnitOfWork
from tests.conftest import Database, database_settings
from tests.helpers import seed_areas
from tests.imports.test_responses import ADULT
from tests.interview_driver import at_member, seed_household
from tests.summary.review_files import (
    Area,
    ReviewHousehold,
    able,
    load_review,
    member,
    rasoat,
    write_review,
)
from tests.test_interview_dialog import Clock, collaborator, start

AREAS = [Area("87-MH", "Xã Mỹ Hòa", "xã"), Area("87-MH-A1", "Ấp 1", "ấp", "87-MH")]
# 31/12/2023 is the 2023 review's reference date; the file is imported in March 2024.
IMPORTED_IN_2024 = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)
LAN_BORN = date(2008, 12, 31)  # 15 on the reference day itself
MAI_BORN = date(2009, 2, 1)  # 14 on the reference day, 15 on the day of the import


def studying(born: date) -> dict[str, Any]:
    """A 15-year-old pupil: the labour questions are asked from 15."""
    return {
        "sex": "female",
        "birth_date": born,
        "labour_capacity": "yes",
        "employment_status": "studying",
        **ADULT,
        "in_school": "yes",
        "school_level": "upper_secondary",
        "malnourished": "no",
    }


def child(born: date) -> dict[str, Any]:
    """A 14-year-old: no labour questions, no education level."""
    return {
        "sex": "female",
        "birth_date": born,
        "health_insurance": "yes",
        "in_school": "yes",
        "school_level": "lower_secondary",
        "uses_internet": "yes",
        "malnourished": "no",
    }


def review(folder: Path, year: int, lan: dict[str, Any], mai: dict[str, Any]) -> Any:
    household = ReviewHousehold(
        "87-MH-A1",
        HouseholdCategory.POOR,
        [
            member("Trần Công Hải", "head", able(year, 0, "employed")),
            member("Trần Thị Lan", "child", lan),
            member("Trần Thị Mai", "child", mai),
        ],
    )
    return write_review(folder, AREAS, [household], [("87-MH", year, 1000, None, None)])


async def stored_ages(database: Database) -> list[Any]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Answer).where(Answer.path.like("members/%/age")).order_by(Answer.path)
        )
        return [row.value for row in rows]


async def member_results(database: Database) -> list[tuple[int | None, date, int]]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Classification)
            .where(Classification.member_index.is_not(None), Classification.current)
            .order_by(Classification.member_index)
        )
        return [(r.member_index, r.reference_date, r.details["age"]["years"]) for r in rows]


async def test_a_review_imported_the_next_year_counts_ages_at_its_reference_date(
    database: Database, settings: Settings, tmp_path: Path, capsys: Any
) -> None:
    files = review(tmp_path, 2023, studying(LAN_BORN), child(MAI_BORN))
    # Mai, 15 by March 2024, has no labour answers: at the import's date the form would
    # ask them and refuse the file.
    await load_review(settings, files, 2023, now=IMPORTED_IN_2024)

    assert await stored_ages(database) == [34, 15, 14]
    reference = date(2023, 12, 31)
    assert await member_results(database) == [
        (0, reference, 34),
        (1, reference, 15),
        (2, reference, 14),
    ]

    out = tmp_path / "out"
    await rasoat(
        settings,
        *("export", "--area", "87-MH", "--year", "2023", "--format", "csv"),
        *("--sheet", "thanh-vien", "--output", str(out)),
        now=IMPORTED_IN_2024,
    )
    [exported] = out.glob("*.csv")
    with exported.open(encoding="utf-8-sig", newline="") as handle:
        ages = {row["Họ tên"]: row["Tuổi"] for row in csv.DictReader(handle)}
    assert ages == {"Trần Công Hải": "34", "Trần Thị Lan": "15", "Trần Thị Mai": "14"}

    capsys.readouterr()
    await rasoat(settings, "summary", "--area", "87-MH", "--year", "2023", now=IMPORTED_IN_2024)
    summary = capsys.readouterr().out
    # Hải and Lan are 15 or over; Mai is not.
    assert "với 03 nhân khẩu (trong đó, có 02 người nghèo từ 15 tuổi trở lên" in summary


async def test_the_day_is_the_communes_not_the_servers(database: Database, tmp_path: Path) -> None:
    # 23:30 on 31 December 2023 on a server in UTC is 06:30 on 1 January 2024 in Vietnam:
    # the review year is 2024 and, counted at the interview's day, Lan (born 1 January
    # 2009) is 15 there, so her labour answers are asked and accepted.
    settings = database_settings(database, RASOAT_REFERENCE_DATE="interview")
    midnight = datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
    files = review(tmp_path, 2024, studying(date(2009, 1, 1)), child(date(2010, 6, 1)))
    await rasoat(settings, "areas", "import", str(files.areas), now=midnight)
    await rasoat(settings, "roster", "import", str(files.roster), now=midnight)
    await rasoat(settings, "responses", "import", str(files.responses), now=midnight)

    assert await stored_ages(database) == [34, 15, 13]
    assert {reference for _, reference, _ in await member_results(database)} == {date(2024, 1, 1)}
    async with UnitOfWork(database.sessions) as uow:
        household = await uow.households.by_code("N-00000", 2024)
        assert household is not None


async def test_the_chat_counts_ages_at_the_reviews_reference_date(
    database: Database, settings: Settings
) -> None:
    # Nam (born 3 February 2008) is 14 on the day of the interview, 10 January 2023, and
    # 15 on 31/12/2023: the chat asks him the labour questions and stores 15.
    await seed_areas(database.sessions)
    await seed_household(database.sessions, 2023)
    clock = Clock()
    clock.now = datetime(2023, 1, 10, 3, 0, tzinfo=UTC)
    conversation = Conversation(database.sessions, settings, clock=clock)
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    # The confirmed roster answered Nam's name, sex, birth date and relation: his first
    # question is the labour one, as the bot's own message says.
    await collab.answer_until(at_member(2, "labour_capacity"))
    assert "Nguyễn Văn Nam còn khả năng lao động không?" in collab.transcript[-1]
    await collab.answer_one()
    # Under 16: also asked about malnutrition, which the script (for an adult Nam) lacks.
    await collab.answer_until(at_member(2, "malnourished"))
    await collab.give(await collab.question(), "no")
    await collab.finish()

    # Lan and Bảy have a birth year only: the form counts whole years, the results count
    # from 1 July of that year.
    assert await stored_ages(database) == [49, 45, 15, 8, 73]
    reference = date(2023, 12, 31)
    assert await member_results(database) == [
        (0, reference, 49),
        (1, reference, 45),
        (2, reference, 15),
        (3, reference, 8),
        (4, reference, 73),
    ]
