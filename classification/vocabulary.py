"""The answer vocabulary shared with the bundled household form (XLSForm field names and codes).

These names are the contract with the form, not policy: a rule file may only refer to the
fields and choice codes listed here, so a typo in a rule file ("pipe" for "piped") is caught
when the file is loaded instead of silently making every household deprived.

The workbook stays the one source: :func:`mismatches` compares this contract with a loaded
form, and the runtime refuses to start on any difference (classification cannot import
``forms``, a core of the same level, so the caller describes the form as :class:`FormField`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

SOURCE: Final = "classification/vocabulary.py"

YES: Final = "yes"
NO: Final = "no"
YES_NO: Final = (YES, NO)

# Household answers (one dict per household).
HOUSEHOLD_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "category": ("poor", "near_poor", "escaped"),
    "area_type": ("rural", "urban"),
    "house_wall": ("durable", "not_durable"),
    "house_column": ("durable", "not_durable"),
    "house_roof": ("durable", "not_durable"),
    "water_source": (
        "piped",
        "drilled_well",
        "protected_dug_well",
        "protected_spring",
        "rainwater",
        "bottled",
        "unprotected_well",
        "unprotected_spring",
        "surface_water",
        "other",
    ),
    "latrine": (
        "septic",
        "semi_septic",
        "pour_flush",
        "double_vault",
        "ventilated_pit",
        "unimproved_pit",
        "bucket",
        "none",
        "other",
    ),
    "info_devices": ("tv", "radio", "computer", "smartphone", "phone", "none"),
    "waste_disposal": ("collected", "self_treated", "none"),
    "housing_difficulty": YES_NO,
}
HOUSEHOLD_NUMBERS: Final = ("floor_area_m2", "income_per_capita_month")
HOUSEHOLD_MULTI: Final = frozenset({"info_devices"})

# Member answers (one dict per household member).
MEMBER_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "sex": ("male", "female"),
    "labour_capacity": YES_NO,
    "incapacity_reason": ("sickness", "disability", "accident", "old_age"),
    "employment_status": (
        "employed",
        "no_job",
        "looking",
        "unable",
        "studying",
        "unwilling",
        "homemaker",
    ),
    "job_stable": YES_NO,
    "wants_expand": YES_NO,
    "support_needs": (
        "vocational_training",
        "job_referral",
        "overseas_work",
        "loan",
        "production_support",
    ),
    "production_support_kinds": ("livestock", "crops", "equipment", "technique"),
    "health_insurance": YES_NO,
    "in_school": YES_NO,
    "school_level": (
        "preschool",
        "primary",
        "lower_secondary",
        "upper_secondary",
        "vocational",
        "college_university",
    ),
    "education_level": ("none", "primary", "lower_secondary", "upper_secondary"),
    "vocational_level": ("none", "so_cap", "trung_cap", "cao_dang", "university"),
    "onjob_training": YES_NO,
    "uses_internet": YES_NO,
    "malnourished": YES_NO,
    "pension_or_allowance": YES_NO,
}
MEMBER_MULTI: Final = frozenset({"support_needs", "production_support_kinds"})
MEMBER_TEXT: Final = ("name", "relation", "training_trade")
MEMBER_BIRTH: Final = ("birth_date", "birth_year")

ALL_CHOICES: Final[dict[str, tuple[str, ...]]] = {**HOUSEHOLD_CHOICES, **MEMBER_CHOICES}
ALL_FIELDS: Final = frozenset(
    [*ALL_CHOICES, *HOUSEHOLD_NUMBERS, *MEMBER_TEXT, *MEMBER_BIRTH],
)

MEMBERS: Final = "members"
"""The form's repeat that holds one entry per household member."""

NUMBER_TYPES: Final = frozenset({"integer", "decimal"})


@dataclass(frozen=True, slots=True)
class FormField:
    """What the contract needs to know of one form field."""

    type: str  # the XLSForm type without its list: "select_one", "integer", ...
    codes: tuple[str, ...] = ()  # the choice codes of a select question, in form order
    repeats: tuple[str, ...] = ()  # the enclosing repeats, outermost first


def mismatches(form: Mapping[str, FormField], form_file: str) -> list[str]:
    """Every difference between this contract and ``form`` (fields by name), one line each,
    naming the field, the code and the file to fix; empty when they agree."""
    problems: list[str] = []
    expected: list[tuple[str, tuple[str, ...], bool]] = [
        *((name, codes, False) for name, codes in HOUSEHOLD_CHOICES.items()),
        *((name, (), False) for name in HOUSEHOLD_NUMBERS),
        *((name, codes, True) for name, codes in MEMBER_CHOICES.items()),
        *((name, (), True) for name in (*MEMBER_TEXT, *MEMBER_BIRTH)),
    ]
    for name, codes, in_members in expected:
        field = form.get(name)
        if field is None:
            problems.append(f"{SOURCE}: field {name!r} is not a question of {form_file}")
            continue
        if in_members != (field.repeats == (MEMBERS,)):
            where = f"inside the {MEMBERS!r} repeat" if in_members else "outside any repeat"
            problems.append(f"{form_file}: field {name!r} should be {where}, as {SOURCE} says")
        problems += _type_mismatches(name, codes, field, form_file)
        problems += [
            f"{SOURCE}: field {name!r} code {code!r} is not a choice of {form_file}"
            for code in codes
            if field.codes and code not in field.codes
        ]
        problems += [
            f"{form_file}: field {name!r} choice {code!r} is missing from {SOURCE}"
            for code in field.codes
            if codes and code not in codes
        ]
    return problems


def _type_mismatches(
    name: str, codes: tuple[str, ...], field: FormField, form_file: str
) -> list[str]:
    if codes:
        multiple = name in HOUSEHOLD_MULTI or name in MEMBER_MULTI
        wanted = "select_multiple" if multiple else "select_one"
        if field.type != wanted:
            return [f"{form_file}: field {name!r} is {field.type}, {SOURCE} expects {wanted}"]
    elif name in HOUSEHOLD_NUMBERS and field.type not in NUMBER_TYPES:
        return [f"{form_file}: field {name!r} is {field.type}, {SOURCE} expects a number"]
    return []


class VocabularyError(ValueError):
    """The form and this contract disagree; the message lists every difference."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
