from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from classification import (
    ReferenceRule,
    ReviewDates,
    RuleSet,
    YearsMonths,
    age_at,
    retirement_point,
)
from classification.age import is_above_retirement_age

from .conftest import REF


@pytest.mark.parametrize(
    ("birth", "on", "expected"),
    [
        (date(2011, 11, 30), date(2026, 11, 30), YearsMonths(15, 0)),  # 15th birthday
        (date(2011, 12, 1), date(2026, 11, 30), YearsMonths(14, 11)),  # one day short
        (date(2000, 1, 31), date(2000, 2, 29), YearsMonths(0, 0)),
        (date(2000, 1, 31), date(2000, 3, 1), YearsMonths(0, 1)),
        (date(2008, 2, 29), date(2026, 2, 28), YearsMonths(17, 11)),  # leap-day birthday
        (date(2008, 2, 29), date(2026, 3, 1), YearsMonths(18, 0)),
        (date(2026, 11, 30), date(2026, 11, 30), YearsMonths(0, 0)),
    ],
)
def test_age_at(birth: date, on: date, expected: YearsMonths) -> None:
    assert age_at(birth, on) == expected


def test_age_at_rejects_reference_before_birth() -> None:
    with pytest.raises(ValueError, match="before birth"):
        age_at(date(2020, 1, 2), date(2020, 1, 1))


def test_check_case_man_born_january_1965(rules: RuleSet) -> None:
    point = retirement_point(date(1965, 1, 15), rules.retirement.schedule("male"))
    assert (point.age, point.year, point.month) == (YearsMonths(61, 6), 2026, 7)
    schedule = rules.retirement.schedule("male")
    # Working age runs to the end of the month of reaching retirement age.
    assert not is_above_retirement_age(date(1965, 1, 15), date(2026, 7, 31), schedule)
    assert is_above_retirement_age(date(1965, 1, 15), date(2026, 8, 1), schedule)


@pytest.mark.parametrize(
    ("sex", "birth", "age", "reached"),
    [
        # Decree 135/2020 Annex I rows.
        ("male", date(1961, 1, 1), YearsMonths(60, 3), (2021, 4)),
        ("male", date(1961, 9, 1), YearsMonths(60, 3), (2021, 12)),
        ("male", date(1961, 10, 1), YearsMonths(60, 6), (2022, 4)),
        ("male", date(1966, 1, 1), YearsMonths(61, 9), (2027, 10)),
        ("male", date(1966, 4, 1), YearsMonths(62, 0), (2028, 4)),
        ("male", date(1980, 5, 1), YearsMonths(62, 0), (2042, 5)),  # after the table
        ("male", date(1960, 12, 1), YearsMonths(60, 0), (2020, 12)),  # before the reform
        ("female", date(1966, 1, 1), YearsMonths(55, 4), (2021, 5)),
        ("female", date(1966, 8, 1), YearsMonths(55, 4), (2021, 12)),
        ("female", date(1966, 9, 1), YearsMonths(55, 8), (2022, 5)),
        ("female", date(1969, 9, 1), YearsMonths(57, 0), (2026, 9)),
        ("female", date(1975, 1, 1), YearsMonths(59, 8), (2034, 9)),
        ("female", date(1975, 5, 1), YearsMonths(60, 0), (2035, 5)),
    ],
)
def test_retirement_point_by_sex_and_birth_month(
    rules: RuleSet, sex: str, birth: date, age: YearsMonths, reached: tuple[int, int]
) -> None:
    point = retirement_point(birth, rules.retirement.schedule(sex))
    assert point.age == age
    assert (point.year, point.month) == reached


@pytest.mark.parametrize(
    ("year", "male", "female"),
    [
        (2023, (60, 9), (56, 0)),
        (2024, (61, 0), (56, 4)),
        (2025, (61, 3), (56, 8)),
        (2026, (61, 6), (57, 0)),
        (2027, (61, 9), (57, 4)),
        (2028, (62, 0), (57, 8)),
    ],
)
def test_retirement_table_matches_domain_note(
    rules: RuleSet, year: int, male: tuple[int, int], female: tuple[int, int]
) -> None:
    row = next(r for r in rules.retirement.years if r.year == year)
    assert (row.male, row.female) == (male, female)


def test_reference_date_is_explicit(rules: RuleSet) -> None:
    schedule = rules.retirement.schedule("female")
    birth = date(1969, 9, 1)  # reaches 57y0m in 09/2026
    assert not is_above_retirement_age(birth, date(2026, 9, 30), schedule)
    assert is_above_retirement_age(birth, REF, schedule)


# -- the review's reference date -------------------------------------------------------------

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(
    ("setting", "interview_day", "expected"),
    [
        ("year-end", date(2024, 3, 5), date(2023, 12, 31)),  # a 2023 review entered in 2024
        ("year-end", date(2023, 6, 1), date(2023, 12, 31)),
        ("interview", date(2024, 3, 5), date(2024, 3, 5)),
        ("10-01", date(2024, 3, 5), date(2023, 10, 1)),
        (" Year-End ", date(2023, 6, 1), date(2023, 12, 31)),
    ],
)
def test_reference_date_of_a_review_year(setting: str, interview_day: date, expected: date) -> None:
    assert ReferenceRule.parse(setting).on(2023, interview_day) == expected


@pytest.mark.parametrize("setting", ["", "today", "31-12", "02-29", "13-01", "12-32", "1231"])
def test_reference_rule_refuses_what_is_not_a_day_of_every_year(setting: str) -> None:
    with pytest.raises(ValueError, match="MM-DD"):
        ReferenceRule.parse(setting)


@pytest.mark.parametrize("setting", ["year-end", "interview", "10-01"])
def test_reference_rule_reads_back_as_written(setting: str) -> None:
    assert str(ReferenceRule.parse(setting)) == setting


def test_the_interview_rule_needs_the_interview_day() -> None:
    with pytest.raises(ValueError, match="interview's day"):
        ReferenceRule.parse("interview").on(2023)


def test_the_day_is_the_communes_not_the_servers() -> None:
    # 23:30 on 31 December in UTC is already 1 January (06:30) in Vietnam.
    moment = datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
    dates = ReviewDates(ReferenceRule.parse("interview"), VIETNAM)
    assert dates.local_day(moment) == date(2024, 1, 1)
    assert dates.reference(2024, moment) == date(2024, 1, 1)
    # Born on 1 January 2009: 15 in Vietnam at that moment, though the server's date says 14.
    assert age_at(date(2009, 1, 1), dates.reference(2024, moment)).years == 15
    assert ReviewDates(ReferenceRule(), VIETNAM).reference(2023, moment) == date(2023, 12, 31)


def test_a_naive_moment_has_no_day() -> None:
    with pytest.raises(ValueError, match="naive"):
        ReviewDates(ReferenceRule(), VIETNAM).local_day(datetime(2024, 1, 1))
