"""Age arithmetic: completed age at a reference date, and the statutory retirement point.

Conventions (also recorded in the rule files, ``[age]`` table):

* Age is in completed years and months at a reference date given by the caller; pure code
  never reads the clock. A birthday on the 29th-31st that does not exist in a month counts
  as reached on the first day of the next month (so 29 Feb reaches 28 Feb + 1 day).
* When only the birth year is known the person is taken as born on the month and day the
  rule file names (1 July by default, the middle of the year), so the error is at most six
  months either way; results then carry a reason saying the age is from the birth year.
* Retirement follows Decree 135/2020 Annex I, which works by month of birth: the retirement
  age is the one in force in the calendar year in which the person reaches it. A person is
  of working age up to the end of the month in which they reach that age (Decree 135/2020
  Art. 4: retirement takes effect at the end of the last day of that month).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo


@dataclass(frozen=True, order=True)
class YearsMonths:
    """A duration in whole years and months, ordered by its length."""

    years: int
    months: int = 0

    def __post_init__(self) -> None:
        if self.years < 0 or not 0 <= self.months < 12:
            raise ValueError(f"invalid age {self.years}y{self.months}m")

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    @classmethod
    def from_months(cls, total: int) -> YearsMonths:
        return cls(total // 12, total % 12)

    def __str__(self) -> str:
        return f"{self.years}y{self.months}m"


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """The (year, month) that is ``months`` after (year, month)."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def age_at(birth: date, on: date) -> YearsMonths:
    """Completed years and months between ``birth`` and ``on``."""
    if on < birth:
        raise ValueError(f"reference date {on} is before birth date {birth}")
    months = (on.year - birth.year) * 12 + (on.month - birth.month)
    if on.day < birth.day:
        months -= 1
    return YearsMonths.from_months(months)


@dataclass(frozen=True)
class SexSchedule:
    """Retirement ages for one sex: by calendar year of reaching them, plus the earlier rule.

    ``rows`` are consecutive calendar years with non-decreasing ages; after the last row the
    last age applies (the end of the phased increase).
    """

    before_table: YearsMonths
    rows: Sequence[tuple[int, YearsMonths]]


@dataclass(frozen=True)
class RetirementPoint:
    """The age at which a person retires and the calendar month in which they reach it."""

    age: YearsMonths
    year: int
    month: int


def retirement_point(birth: date, schedule: SexSchedule) -> RetirementPoint:
    """When a person born on ``birth`` reaches retirement age under ``schedule``."""

    def reached(age: YearsMonths) -> tuple[int, int]:
        return add_months(birth.year, birth.month, age.total_months)

    first_year = schedule.rows[0][0]
    year, month = reached(schedule.before_table)
    if year < first_year:
        return RetirementPoint(schedule.before_table, year, month)
    # Ages rise by a few months a year, so the first table year in which the person
    # reaches that year's age is the one that applies to them (Annex I reads the same way).
    for table_year, age in schedule.rows:
        year, month = reached(age)
        if year <= table_year:
            return RetirementPoint(age, year, month)
    last_age = schedule.rows[-1][1]
    year, month = reached(last_age)
    return RetirementPoint(last_age, year, month)


def is_past(point: RetirementPoint, on: date) -> bool:
    """True from the first day of the month after the one in which retirement age is reached."""
    return (on.year, on.month) > (point.year, point.month)


def is_above_retirement_age(birth: date, on: date, schedule: SexSchedule) -> bool:
    return is_past(retirement_point(birth, schedule), on)


# -- the review's reference date -------------------------------------------------------------

YEAR_END = "year-end"
INTERVIEW_DAY = "interview"


@dataclass(frozen=True)
class ReferenceRule:
    """Which day of a review year ages are counted at (``RASOAT_REFERENCE_DATE``).

    ``year-end`` (31/12 of the review year), ``interview`` (the day the interview was done,
    in the commune's time zone) or a fixed ``MM-DD`` of the review year. One rule for the
    whole program, so the chat, the imports, the classification and the exports agree on
    every member's age however late a review's interviews are entered.
    """

    # None: the interview's own day.
    month_day: tuple[int, int] | None = (12, 31)

    @classmethod
    def parse(cls, text: str) -> ReferenceRule:
        value = text.strip().lower()
        if value == YEAR_END:
            return cls((12, 31))
        if value == INTERVIEW_DAY:
            return cls(None)
        month, sep, day = value.partition("-")
        if sep and month.isdigit() and day.isdigit():
            # 29 February is refused: the reference day must exist in every review year.
            try:
                date(2023, int(month), int(day))
            except ValueError:
                pass
            else:
                return cls((int(month), int(day)))
        raise ValueError(f"use {YEAR_END}, {INTERVIEW_DAY} or a day of the year as MM-DD")

    def on(self, review_year: int, interview_day: date | None = None) -> date:
        """The reference date of an interview of ``review_year`` done on ``interview_day``."""
        if self.month_day is not None:
            return date(review_year, *self.month_day)
        if interview_day is None:
            raise ValueError("the interview rule needs the interview's day")
        return interview_day

    def __str__(self) -> str:
        if self.month_day is None:
            return INTERVIEW_DAY
        if self.month_day == (12, 31):
            return YEAR_END
        return f"{self.month_day[0]:02d}-{self.month_day[1]:02d}"


DEFAULT_REFERENCE = ReferenceRule()


@dataclass(frozen=True)
class ReviewDates:
    """The rule and the commune's time zone: what turns a moment into a reference date.

    Moments are aware datetimes supplied by the caller (this module never reads the clock);
    their day is taken in ``tz``, never in the server's zone.
    """

    rule: ReferenceRule
    tz: tzinfo

    def local_day(self, moment: datetime) -> date:
        if moment.tzinfo is None:
            raise ValueError("a naive datetime has no day in the commune's time zone")
        return moment.astimezone(self.tz).date()

    def reference(self, review_year: int, moment: datetime) -> date:
        """The reference date of ``review_year`` for an interview done (or entered) at
        ``moment``."""
        return self.rule.on(review_year, self.local_day(moment))
