"""Facts derived once per member: age at the reference date, sex and retirement position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from classification import answers as read
from classification import logic
from classification.age import RetirementPoint, YearsMonths, age_at, is_past, retirement_point
from classification.answers import Answers
from classification.logic import Tri
from classification.reasons import Reason
from classification.ruleset import RuleSet


@dataclass(frozen=True)
class MemberFacts:
    name: str  # the recorded name, or "#n" by position so reasons can still point at the member
    birth: date | None
    age: YearsMonths | None
    from_birth_year: bool
    sex: str | None
    retirement: RetirementPoint | None
    above_retirement: bool | None
    conflict: Reason | None = None
    conflict_fields: tuple[str, ...] = ()

    @property
    def age_years(self) -> int | None:
        return None if self.age is None else self.age.years

    def age_tri(self) -> Tri:
        """Unknown-age marker carrying the field to ask for."""
        return logic.unknown(*(self.conflict_fields or ("birth_date",)))

    def in_age_range(self, age_min: int, age_below: int | None) -> Tri:
        if self.age is None:
            return self.age_tri()
        return logic.of(
            self.age.years >= age_min and (age_below is None or self.age.years < age_below)
        )

    def above_retirement_tri(self) -> Tri:
        if self.above_retirement is not None:
            return logic.of(self.above_retirement)
        if self.age is None:
            return self.age_tri()
        return logic.unknown("sex")


def member_facts(answers: Answers, on: date, rules: RuleSet, position: int = 0) -> MemberFacts:
    """Derive the age facts of one member at reference date ``on`` (``position`` is 0-based)."""
    name = read.text(answers, "name") or f"#{position + 1}"
    sex = read.choice(answers, "sex")
    exact = read.birth_date(answers)
    year = read.birth_year(answers)

    if exact is not None and year is not None and exact.year != year:
        conflict = Reason.of("conflict", "birth_date_year", birth=_dmy(exact), year=str(year))
        return _unknown_age(name, sex, conflict, ("birth_date", "birth_year"))

    from_birth_year = exact is None and year is not None
    birth = exact
    if birth is None and year is not None:
        birth = date(year, rules.age.birth_year_only_month, rules.age.birth_year_only_day)
    if birth is None:
        return _unknown_age(name, sex, None, ())
    if birth > on:
        field = "birth_year" if from_birth_year else "birth_date"
        conflict = Reason.of(
            "conflict", "birth_after_reference", birth=_dmy(birth), reference=_dmy(on)
        )
        return _unknown_age(name, sex, conflict, (field,))

    point = None
    above = None
    if sex in ("male", "female"):
        point = retirement_point(birth, rules.retirement.schedule(sex))
        above = is_past(point, on)
    return MemberFacts(
        name=name,
        birth=birth,
        age=age_at(birth, on),
        from_birth_year=from_birth_year,
        sex=sex,
        retirement=point,
        above_retirement=above,
    )


def _unknown_age(
    name: str, sex: str | None, conflict: Reason | None, fields: tuple[str, ...]
) -> MemberFacts:
    return MemberFacts(
        name=name,
        birth=None,
        age=None,
        from_birth_year=False,
        sex=sex,
        retirement=None,
        above_retirement=None,
        conflict=conflict,
        conflict_fields=fields,
    )


def _dmy(value: date) -> str:
    return value.strftime("%d/%m/%Y")
