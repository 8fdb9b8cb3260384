"""Classification results are stored with their rule set, and `reclassify` recomputes them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from bot.interview.results import results_of
from bot.reclassify import reclassify
from bot.runtime import open_runtime
from bot.settings import load_settings
from classification import load_rule_set, rules_for
from locales.catalog import translate
from storage.async_repositories import AsyncClassificationRepository
from storage.models import Answer, Classification, Interview, Member, MemberFact
from storage.stats_facts import rebuild_member_facts
from tests.conftest import Database
from tests.helpers import seed_areas
from tests.interview_driver import Collaborator, seed_household
from tests.surfaces import TerminalSurface
from tests.test_interview_e2e import YEAR, open_household, register
from tests.test_settings_and_cli import rasoat

RULES_DIR = Path(__file__).resolve().parent.parent / "classification" / "rules"


async def interviewed_household(
    database: Database, tmp_path: Path, third_born: date | None = None
) -> list[str]:
    """The household interviewed through the chat; ``third_born``: its third member's
    birth date on the roster, when not the usual one."""
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    if third_born is not None:
        async with database.sessions() as session, session.begin():
            await session.execute(
                update(Member).where(Member.position == 2).values(birth_date=third_born)
            )
    runtime = await open_runtime(load_settings(**database.env()))
    try:
        surface = TerminalSurface(runtime, "hoa", tmp_path)
        await register(surface, database)
        collab = Collaborator(surface, database.sessions, "terminal", "hoa")
        await open_household(collab)
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        return await collab.finish()
    finally:
        await runtime.close()


async def current_rows(database: Database) -> list[Classification]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Classification)
            .where(Classification.current.is_(True))
            .order_by(Classification.member_index.is_(None), Classification.member_index)
        )
        return list(rows)


async def test_results_are_stored_shown_and_recomputed(database: Database, tmp_path: Path) -> None:
    final = "\n".join(await interviewed_household(database, tmp_path))
    # The household summary: status, each member's group, deprivations and who handles them.
    assert "\nHộ nghèo — thu nhập 1.200.000" in final
    assert "1. Nguyễn Văn Hùng: Nhóm: Lao động không có việc làm" in final
    assert "• D4. Bảo hiểm y tế" in final and "Bảo hiểm xã hội" in final
    assert "• D8." in final

    rows = await current_rows(database)
    version = rules_for(YEAR).ref
    assert [r.member_index for r in rows] == [0, 1, 2, 3, 4, None]
    assert {(r.rule_set, r.rule_hash) for r in rows} == {(version.id, version.sha256)}
    household = rows[-1]
    assert household.outcome == "poor"
    assert {"D1", "D2", "D4", "D7", "D8"} <= set(household.deprived)
    assert household.inputs["floor_area_m2"] == 36
    assert rows[0].group == "no_job" and rows[0].inputs["employment_status"] == "looking"
    assert rows[3].outcome == "below_working_age"
    assert rows[4].group == "no_capacity"

    # Same rules: nothing changes.
    report = await reclassify(
        database.sessions,
        version.id,
        area_code=None,
        dates=load_settings().review_dates,
        locale="vi",
    )
    assert (report.households, report.changed_households, report.changed_members) == (1, 0, 0)

    # A province raises the poverty threshold in its own copy of the rule file.
    edited = tmp_path / "province.toml"
    source = (RULES_DIR / f"{version.id}.toml").read_text(encoding="utf-8")
    edited.write_text(source.replace("poor_min_deprived = 3", "poor_min_deprived = 6"), "utf-8")
    report = await reclassify(
        database.sessions,
        str(edited),
        area_code="87-MH",
        dates=load_settings().review_dates,
        locale="vi",
    )
    assert (report.households, report.changed_households, report.changed_members) == (1, 1, 0)
    assert "HH-TEST · cả hộ: Hộ nghèo" in report.render("vi")
    rows_after = await current_rows(database)
    assert rows_after[-1].outcome == "near_poor"
    assert rows_after[-1].rule_hash != version.sha256
    async with database.sessions() as session:
        everything = (await session.scalars(select(Classification))).all()
    assert len(everything) > len(rows_after)  # earlier results are kept, not overwritten


async def test_reclassify_cli_reports_changes(database: Database, tmp_path: Path) -> None:
    await interviewed_household(database, tmp_path)
    result = rasoat("reclassify", "--rules", "2027-2030", "--area", "87-MH", env=database.env())
    assert result.returncode == 0, result.stderr
    assert "Đã tính lại 1 hộ theo bộ quy tắc 2027-2030@" in result.stdout
    assert load_rule_set("2027-2030").ref.id == "2027-2030"
    bad = rasoat("reclassify", "--rules", "1999", env=database.env())
    assert bad.returncode == 2 and "1999" in bad.stderr


async def ages(database: Database) -> tuple[list[int | None], list[int]]:
    """Each member's age as the statistics hold it (member_facts) and as the answers do."""
    async with database.sessions() as session:
        facts = await session.scalars(select(MemberFact.age).order_by(MemberFact.member_index))
        answers = await session.execute(select(Answer.path, Answer.value))
        stored = {path: value for path, value in answers}
    return list(facts), [stored[f"members/{index}/age"] for index in range(5)]


async def test_reclassify_counts_the_ages_again_when_the_reference_date_moved(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await interviewed_household(database, tmp_path)
    version = rules_for(YEAR).ref.id
    # Counted at the default reference date, 31/12: every birthday of the year has come.
    # (The roster: born 11/6/1974, in 1978, 3/2/2008, 20/9/2015, in 1950.)
    year_end = [YEAR - 1974, YEAR - 1978, YEAR - 2008, YEAR - 2015, YEAR - 1950]
    assert await ages(database) == (year_end, year_end)
    async with database.sessions() as session:
        assert await session.scalar(select(Interview.plan_state)) is not None

    # The commune counts ages on 1 January from now on: none of the known birthdays has
    # come by then; an age from a birth year alone counts years only (the form's rule).
    new_year = load_settings(RASOAT_REFERENCE_DATE="01-01").review_dates
    new_year_ages = [YEAR - 1975, YEAR - 1978, YEAR - 2009, YEAR - 2016, YEAR - 1950]

    # One transaction: a failure after the ages (storing the results) leaves them as they were.
    async def failing(*args: object) -> None:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patched:
        patched.setattr(AsyncClassificationRepository, "replace", failing)
        with pytest.raises(RuntimeError):
            await reclassify(
                database.sessions, version, area_code=None, dates=new_year, locale="vi"
            )
    assert await ages(database) == (year_end, year_end)

    report = await reclassify(
        database.sessions, version, area_code=None, dates=new_year, locale="vi"
    )
    assert await ages(database) == (new_year_ages, new_year_ages)
    assert report.ages == 3
    # The chat's saved questionnaire held the old ages: it is evaluated again when opened.
    async with database.sessions() as session:
        assert list(await session.scalars(select(Interview.plan_state))) == [None]
    assert translate("reclassify.ages", "vi", members=3) in report.render("vi")
    # The statistics rebuilt from the answers agree with what reclassify wrote.
    await rebuild_member_facts(database.sessions)
    assert await ages(database) == (new_year_ages, new_year_ages)
    # Counted again at the same date, nothing changes.
    again = await reclassify(
        database.sessions, version, area_code=None, dates=new_year, locale="vi"
    )
    assert again.ages == 0 and await ages(database) == (new_year_ages, new_year_ages)


# The roster's third member, born here on 3/2 sixteen years before the review, is 16 on 31/12
# and 15 on 1/1: the form asks from 16 about on-the-job training, below 16 whether the
# child is malnourished.
THIRD_BORN = date(YEAR - 16, 2, 3)


async def crossed_a_limit(database: Database, tmp_path: Path) -> tuple[str, Any]:
    """The household interviewed at 31/12, then reclassified at 1/1: the report."""
    await interviewed_household(database, tmp_path, THIRD_BORN)
    assert await stored_answer(database, "members/2/age") == 16
    assert await stored_answer(database, "members/2/onjob_training") == "no"
    assert await stored_answer(database, "members/2/malnourished") is None
    new_year = load_settings(RASOAT_REFERENCE_DATE="01-01").review_dates
    version = rules_for(YEAR).ref.id
    report = await reclassify(
        database.sessions, version, area_code=None, dates=new_year, locale="vi"
    )
    return version, report


async def stored_answer(database: Database, key: str) -> Any:
    async with database.sessions() as session:
        return await session.scalar(select(Answer.value).where(Answer.path == key))


async def test_reclassify_lists_the_questions_a_recounted_age_adds_or_drops(
    database: Database, tmp_path: Path
) -> None:
    _, report = await crossed_a_limit(database, tmp_path)
    assert await stored_answer(database, "members/2/age") == 15
    assert report.revisits == 1
    shown = report.render("vi").splitlines()
    assert translate("reclassify.revisits", "vi", households=1) in shown
    malnourished = "Nguyễn Văn Nam có bị suy dinh dưỡng (thấp còi hoặc nhẹ cân) không?"
    training = "Nguyễn Văn Nam có được đào tạo nghề tại nơi làm việc (có chứng nhận) không?"
    asked = translate("reclassify.ask", "vi", questions=malnourished)
    dropped = translate("reclassify.not_counted", "vi", questions=training)
    # The member's lines, as the other lines name a household and a member; the other
    # members' ages changed too (51, 10), but crossed no limit of the form: no line.
    assert report.lines == [
        f"  HH-TEST · Nguyễn Văn Nam: {asked}",
        f"  HH-TEST · Nguyễn Văn Nam: {dropped}",
    ]
    assert report.ages == 3 and (report.changed_households, report.changed_members) == (0, 0)
    # The answer is kept: reclassify changes no answer a person gave.
    assert await stored_answer(database, "members/2/onjob_training") == "no"


async def test_reclassify_classifies_a_member_whose_questions_changed_as_a_fresh_interview(
    database: Database, tmp_path: Path
) -> None:
    version, _ = await crossed_a_limit(database, tmp_path)
    # A fresh interview at 1/1 holds these answers: the recounted ages, and not the answer
    # to a question the form no longer asks (the chat deletes it).
    async with database.sessions() as session:
        interview = await session.scalar(
            select(Interview).options(selectinload(Interview.household))
        )
        rows = [
            (path, value)
            for path, value in await session.execute(select(Answer.path, Answer.value))
            if path != "members/2/onjob_training"
        ]
    assert interview is not None
    fresh = results_of(interview, rows, load_rule_set(version), date(YEAR, 1, 1))
    stored = await current_rows(database)
    assert sorted(map(compared, stored), key=str) == sorted(map(compared, fresh), key=str)
    # His group was already the one a fresh interview gives (the rules read no training
    # answer at 15); the answers it is recorded as read from were not.
    nam = next(row for row in stored if row.member_index == 2)
    assert "onjob_training" not in nam.inputs and nam.inputs["age"] == 15


def compared(row: Classification) -> tuple[Any, ...]:
    return (
        row.member_index,
        row.member_name,
        row.outcome,
        row.group,
        row.deprived,
        row.inputs,
        row.details,
        row.reference_date,
    )
