# ruff: noqa: E501  (the plan's lines are copied verbatim, one per line)
"""/summary reproduces the district plan's statistics (section II.1 a-b, II.2) character for
character, on a database holding exactly the plan's households and members, loaded from
files with the real `rasoat` import commands (areas, roster, Kobo responses, area figures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from exports.stats import build_report, village_breakdown
from exports.summary import render_summary
from storage.models import Area, HouseholdCategory
from storage.stats_facts import rebuild_member_facts
from storage.uow import UnitOfWork
from tests.conftest import BACKENDS, Database, database_settings, open_database, require_backend
from tests.summary.population import Population
from tests.summary.review_files import Area as AreaRow
from tests.summary.review_files import ReviewFiles, households, load_review, write_review

SEED_FILE = Path(__file__).with_name("plan-2024-thap-muoi.txt")

# Section II.1 a) and b) of the plan, as printed (the converter's stray "- " before the
# last three items of b) removed: they are "+ " items like their neighbours).
SEED_POOR = """\
a) Tổng số hộ nghèo: 382 hộ, tỷ lệ 1,09% (giảm 0,3%), với 1.281 nhân khẩu (trong đó, có 965 người nghèo từ 15 tuổi trở lên, chiếm 75,33%).
- Khả năng lao động:
+ Còn khả năng lao động 676 người, chiếm 52,77% tổng số nhân khẩu hộ nghèo.
+ Không còn khả năng lao động 289 người, chiếm 22,56% tổng số nhân khẩu hộ nghèo.
- Tình trạng việc làm:
+ Có việc làm 387 người, chiếm 40,1% tổng số người khả năng lao động.
+ Không có việc làm 51 người, chiếm 5,28% tổng số người khả năng lao động.
+ Đang tìm việc làm 155 người, chiếm 16,06% tổng số người khả năng lao động.
+ Không có khả năng lao động 289 người, chiếm 29,95% tổng số người khả năng lao động.
+ Đang đi học 75 người, chiếm 7,77% tổng số người khả năng lao động.
+ Không muốn đi làm 04 người, chiếm 0,41% tổng số người khả năng lao động.
+ Nội trợ 04 người, chiếm 0,41% tổng số người khả năng lao động."""

SEED_NEAR_POOR = """\
b) Tổng số hộ cận nghèo: 586 hộ, tỷ lệ 1,67% (giảm 0,45%), với 2.083 nhân khẩu (có 1.560 người cận nghèo từ 15 tuổi trở lên, chiếm 74,89%).
- Khả năng lao động:
+ Còn khả năng lao động 1.252 người, chiếm 60,11% tổng số nhân khẩu hộ cận nghèo.
+ Không còn khả năng lao động 308 người, chiếm 14,79% tổng số nhân khẩu hộ cận nghèo.
- Tình trạng việc làm:
+ Có việc làm 953 người, chiếm 61,09% tổng số người khả năng lao động.
+ Không có việc làm 29 người, chiếm 1,86% tổng số người khả năng lao động.
+ Đang tìm việc làm 128 người, chiếm 8,21% tổng số người khả năng lao động.
+ Không có khả năng lao động 308 người, chiếm 19,74% tổng số người khả năng lao động.
+ Đang đi học 131 người, chiếm 8,4% tổng số người khả năng lao động.
+ Không muốn đi làm 03 người, chiếm 0,19% tổng số người khả năng lao động.
+ Nội trợ 08 người, chiếm 0,51% tổng số người khả năng lao động."""

# Section II.2: the sentences with the 206/157 and 289/308 counts, up to where the plan
# goes on with what to do about them.
SEED_SEEKING = (
    "- Qua thống kê, trên địa bàn huyện còn 206 người còn khả năng lao động thuộc hộ nghèo "
    "không có việc làm, đang tìm việc làm và 157 người còn khả năng lao động thuộc hộ cận "
    "nghèo không có việc làm, đang tìm việc làm."
)
SEED_UNABLE = (
    "- Đối với 289 người thuộc hộ nghèo không có khả năng lao động và 308 người thuộc hộ cận "
    "nghèo không có khả năng lao động (hộ nghèo, hộ cận nghèo có người ốm đau, bệnh nặng, "
    "tai nạn, mất khả năng lao động)."
)

POOR = Population(
    households=382,
    children=1281 - 965,
    unable=289,
    statuses={
        "employed": 387,
        "no_job": 51,
        "looking": 155,
        "studying": 75,
        "unwilling": 4,
        "homemaker": 4,
    },
)
NEAR_POOR = Population(
    households=586,
    children=2083 - 1560,
    unable=308,
    statuses={
        "employed": 953,
        "no_job": 29,
        "looking": 128,
        "studying": 131,
        "unwilling": 3,
        "homemaker": 8,
    },
)
YEAR = 2023
# 382 / 35,100 = 1.088% -> 1,09%; 586 / 35,100 = 1.670% -> 1,67%.
TOTAL_HOUSEHOLDS = 35_100
# Last year: 488 / 35,000 = 1,39% (-> giảm 0,3%); 742 / 35,000 = 2,12% (-> giảm 0,45%).
LAST_YEAR = {"total_households": 35_000, "poor_households": 488, "near_poor_households": 742}


def seed_paragraphs() -> list[str]:
    """The plan's non-empty lines, with the converter's "- + " artefact undone."""
    lines = [line.strip() for line in SEED_FILE.read_text(encoding="utf-8").splitlines()]
    return [line.removeprefix("- ") if line.startswith("- + ") else line for line in lines if line]


def test_the_copied_lines_are_the_plans() -> None:
    paragraphs = seed_paragraphs()
    for block in (SEED_POOR, SEED_NEAR_POOR):
        lines = block.splitlines()
        start = paragraphs.index(lines[0])
        assert paragraphs[start : start + len(lines)] == lines
    assert any(p.startswith(SEED_SEEKING) for p in paragraphs)
    assert any(p.startswith(SEED_UNABLE.removesuffix(".")) for p in paragraphs)


AREA = "TM"
AREAS = [
    AreaRow("TM", "Huyện Tháp Mười", "huyện"),
    AreaRow("TM-01", "Xã Mỹ Hòa", "xã", "TM"),
    AreaRow("TM-02", "Xã Tân Kiều", "xã", "TM"),
]


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory: pytest.TempPathFactory) -> ReviewFiles:
    """The plan's review as files, written once for every test and backend."""
    last = LAST_YEAR
    return write_review(
        tmp_path_factory.mktemp("seed"),
        AREAS,
        households(
            {HouseholdCategory.POOR: POOR, HouseholdCategory.NEAR_POOR: NEAR_POOR},
            ["TM-01", "TM-02"],
            YEAR,
        ),
        [
            ("TM", YEAR, TOTAL_HOUSEHOLDS, None, None),
            (
                "TM",
                YEAR - 1,
                last["total_households"],
                last["poor_households"],
                last["near_poor_households"],
            ),
        ],
    )


@pytest.fixture(scope="module", params=BACKENDS)
def seed_backend(request: pytest.FixtureRequest) -> str:
    return require_backend(str(request.param))


# The seeded databases are loaded once per backend, so their tests share the fixture's loop.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(
    seed_backend: str, seed_files: ReviewFiles, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """A database per backend holding the plan's review, loaded once with the real commands
    (today, years after 2023) and shared by the tests below, which only read it or
    rebuild what must come out the same."""
    folder = tmp_path_factory.mktemp(seed_backend)
    async with open_database(seed_backend, folder) as database:
        # Counted at 31/12/2023 whatever the developer's .env says.
        settings = database_settings(database, RASOAT_REFERENCE_DATE="year-end")
        await load_review(settings, seed_files, YEAR)
        yield database


async def area_of(uow: UnitOfWork, code: str) -> Area:
    area = await uow.areas.by_code(code)
    assert area is not None
    return area


@in_module_loop
async def test_summary_reproduces_the_plan(seeded: Database) -> None:
    database, area = seeded, AREA

    async with UnitOfWork(database.sessions) as uow:
        report = await build_report(uow, await area_of(uow, area), YEAR)
    text = render_summary(report, "vi")
    lines = text.splitlines()

    for block in (SEED_POOR, SEED_NEAR_POOR):
        expected = block.splitlines()
        start = lines.index(expected[0])
        assert lines[start : start + len(expected)] == expected
    assert SEED_SEEKING in lines
    assert SEED_UNABLE in lines
    # Every household of the list was interviewed: no coverage note.
    assert not any(line.startswith("Đã phỏng vấn") for line in lines)
    assert lines[0] == "Kết quả rà soát hộ nghèo, hộ cận nghèo năm 2023: Huyện Tháp Mười"


@in_module_loop
async def test_rebuilding_the_projection_changes_nothing(seeded: Database) -> None:
    database, area = seeded, AREA
    async with UnitOfWork(database.sessions) as uow:
        before = await build_report(uow, await area_of(uow, area), YEAR)
    assert await rebuild_member_facts(database.sessions) == 1281 + 2083
    async with UnitOfWork(database.sessions) as uow:
        assert await build_report(uow, await area_of(uow, area), YEAR) == before


@in_module_loop
async def test_breakdown_adds_up_to_the_area(seeded: Database) -> None:
    database, area = seeded, AREA
    async with UnitOfWork(database.sessions) as uow:
        report = await build_report(uow, await area_of(uow, area), YEAR)
        communes = await village_breakdown(uow, await area_of(uow, area), YEAR)
    assert [c.area_code for c in communes] == ["TM-01", "TM-02"]
    for category in (HouseholdCategory.POOR, HouseholdCategory.NEAR_POOR):
        parts = communes[0].counts(category) + communes[1].counts(category)
        assert parts == report.counts(category)
    # The communes have no total of households: no rate rather than a wrong one.
    assert all(c.total_households is None for c in communes)
    text = render_summary(report, "vi", villages=communes)
    assert "• Xã Mỹ Hòa: hộ nghèo 191 (—)" in text
