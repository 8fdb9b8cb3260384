"""Parameter models of the indicator condition kinds a rule file may use.

Each kind names one evaluator in :mod:`classification.deprivation`; every number, age and
code list is a parameter read from the rule file, so a province corrects a threshold by
editing the file. ``TEXT_KEYS`` are the reason texts the evaluator needs from the indicator.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from classification.vocabulary import (
    HOUSEHOLD_CHOICES,
    HOUSEHOLD_MULTI,
    HOUSEHOLD_NUMBERS,
    MEMBER_CHOICES,
)


class Frozen(BaseModel):
    """Base of every rule-file model: immutable, and unknown keys are errors (typo guard)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def check_codes(field: str, codes: tuple[str, ...], table: dict[str, tuple[str, ...]]) -> None:
    if field not in table:
        raise ValueError(f"unknown answer field {field!r}; known: {', '.join(sorted(table))}")
    unknown = [code for code in codes if code not in table[field]]
    if unknown:
        raise ValueError(
            f"unknown code(s) {unknown} for {field!r}; allowed: {', '.join(table[field])}"
        )


def check_age_range(age_min: int, age_below: int | None) -> None:
    if age_below is not None and age_below <= age_min:
        raise ValueError(f"age_below ({age_below}) must be greater than age_min ({age_min})")


class WorkingAgeWithoutStableJob(Frozen):
    """D1: a working-age member able to work has no regular, stable job."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("member", "none")
    kind: Literal["working_age_member_without_stable_job"]
    age_min: NonNegativeInt
    upper_bound: Literal["retirement_age", "none"]
    deprived_statuses: tuple[str, ...]
    unstable_job_counts: bool

    @model_validator(mode="after")
    def _codes(self) -> WorkingAgeWithoutStableJob:
        check_codes("employment_status", self.deprived_statuses, MEMBER_CHOICES)
        return self


class DependantShareAbove(Frozen):
    """D2: dependants are more than ``max_share`` of the members.

    A member is a dependant if younger than ``child_age_below``, or, unless receiving a
    pension or monthly allowance (when ``pension_excludes``), if elderly, unable to work
    (when ``no_capacity_is_dependant``) or in one of ``dependant_statuses``.
    """

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("deprived", "not_deprived")
    kind: Literal["dependant_share_above"]
    max_share: float = Field(ge=0, lt=1)
    child_age_below: NonNegativeInt
    elderly_from: Literal["retirement_age"] | NonNegativeInt
    pension_excludes: bool
    no_capacity_is_dependant: bool
    dependant_statuses: tuple[str, ...]

    @model_validator(mode="after")
    def _codes(self) -> DependantShareAbove:
        check_codes("employment_status", self.dependant_statuses, MEMBER_CHOICES)
        return self


class AnyMemberAgeBetweenWith(Frozen):
    """D3, D4: some member aged [age_min, age_below) gave one of ``deprived_values``."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("member", "none")
    kind: Literal["any_member_age_between_with"]
    age_min: NonNegativeInt = 0
    age_below: PositiveInt | None = None
    field: str
    deprived_values: tuple[str, ...]

    @model_validator(mode="after")
    def _codes(self) -> AnyMemberAgeBetweenWith:
        check_codes(self.field, self.deprived_values, MEMBER_CHOICES)
        check_age_range(self.age_min, self.age_below)
        return self


class EducationBand(Frozen):
    """What counts as enough schooling for members aged [age_min, age_below)."""

    age_min: NonNegativeInt
    age_below: PositiveInt
    in_school_counts: bool
    education_levels: tuple[str, ...]
    vocational_levels: tuple[str, ...] = ()
    onjob_training_counts: bool = False

    @model_validator(mode="after")
    def _codes(self) -> EducationBand:
        check_codes("education_level", self.education_levels, MEMBER_CHOICES)
        check_codes("vocational_level", self.vocational_levels, MEMBER_CHOICES)
        check_age_range(self.age_min, self.age_below)
        return self


class AdultEducation(Frozen):
    """D5: some member in one of the bands lacks the schooling the band expects."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("member", "none")
    kind: Literal["adult_education"]
    bands: tuple[EducationBand, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> AdultEducation:
        ordered = sorted(self.bands, key=lambda band: band.age_min)
        for previous, band in pairwise(ordered):
            if band.age_min < previous.age_below:
                raise ValueError("education bands overlap")
        return self


class LevelBand(Frozen):
    """School levels accepted as 'the level for their age' for ages [age_min, age_below)."""

    age_min: NonNegativeInt
    age_below: PositiveInt
    levels: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes(self) -> LevelBand:
        check_codes("school_level", self.levels, MEMBER_CHOICES)
        check_age_range(self.age_min, self.age_below)
        return self


class ChildSchooling(Frozen):
    """D6: some child aged [age_min, age_below) is not in school at the level for their age."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("not_in_school", "wrong_level", "none")
    kind: Literal["child_schooling"]
    age_min: NonNegativeInt
    age_below: PositiveInt
    check_level: bool
    expected_levels: tuple[LevelBand, ...] = ()

    @model_validator(mode="after")
    def _coverage(self) -> ChildSchooling:
        check_age_range(self.age_min, self.age_below)
        if self.check_level:
            for age in range(self.age_min, self.age_below):
                if not any(b.age_min <= age < b.age_below for b in self.expected_levels):
                    raise ValueError(f"expected_levels has no band for age {age}")
        return self


class CountOfStructures(Frozen):
    """D7: at least ``min_count`` of ``fields`` have the answer ``value``."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("deprived", "not_deprived")
    kind: Literal["count_of_structures"]
    fields: tuple[str, ...] = Field(min_length=1)
    value: str
    min_count: PositiveInt

    @model_validator(mode="after")
    def _codes(self) -> CountOfStructures:
        for field in self.fields:
            check_codes(field, (self.value,), HOUSEHOLD_CHOICES)
        if self.min_count > len(self.fields):
            raise ValueError("min_count is larger than the number of fields")
        return self


class AreaPerPersonBelow(Frozen):
    """D8: the household's floor area divided by its members is below ``min_per_person``."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("deprived", "not_deprived")
    kind: Literal["area_per_person_below"]
    field: str
    min_per_person: float = Field(gt=0)

    @model_validator(mode="after")
    def _field(self) -> AreaPerPersonBelow:
        if self.field not in HOUSEHOLD_NUMBERS:
            raise ValueError(f"{self.field!r} is not a numeric household field")
        return self


class AnswerNotIn(Frozen):
    """D9, D10, waste: the household's answer to ``field`` is not one of ``accepted``."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("deprived", "not_deprived")
    kind: Literal["answer_not_in"]
    field: str
    accepted: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes(self) -> AnswerNotIn:
        check_codes(self.field, self.accepted, HOUSEHOLD_CHOICES)
        if self.field in HOUSEHOLD_MULTI:
            raise ValueError(f"{self.field!r} is a multiple choice; use none_of_selected")
        return self


class NoMemberWith(Frozen):
    """D11 / digital services: no member aged ``age_min``+ answered ``value`` to ``field``."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("deprived", "not_deprived")
    kind: Literal["no_member_with"]
    field: str
    value: str
    age_min: NonNegativeInt = 0

    @model_validator(mode="after")
    def _codes(self) -> NoMemberWith:
        check_codes(self.field, (self.value,), MEMBER_CHOICES)
        return self


class NoneOfSelected(Frozen):
    """D12: the household's multiple-choice answer contains none of ``accepted``."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("deprived", "not_deprived")
    kind: Literal["none_of_selected"]
    field: str
    accepted: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes(self) -> NoneOfSelected:
        check_codes(self.field, self.accepted, HOUSEHOLD_CHOICES)
        if self.field not in HOUSEHOLD_MULTI:
            raise ValueError(f"{self.field!r} is not a multiple choice; use answer_not_in")
        return self


Condition = Annotated[
    WorkingAgeWithoutStableJob
    | DependantShareAbove
    | AnyMemberAgeBetweenWith
    | AdultEducation
    | ChildSchooling
    | CountOfStructures
    | AreaPerPersonBelow
    | AnswerNotIn
    | NoMemberWith
    | NoneOfSelected,
    Field(discriminator="kind"),
]
