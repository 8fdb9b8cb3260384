"""The answer vocabulary shared with the bundled household form (XLSForm field names and codes).

These names are the contract with the form, not policy: a rule file may only refer to the
fields and choice codes listed here, so a typo in a rule file ("pipe" for "piped") is caught
when the file is loaded instead of silently making every household deprived.
"""

from __future__ import annotations

from typing import Final

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
