"""Shared fixtures: the bundled rule sets and a baseline household deprived on nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from classification import RuleSet, load_rule_set

REF = date(2026, 11, 30)


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rule_set("2022-2025")


@pytest.fixture(scope="session")
def rules_2027() -> RuleSet:
    return load_rule_set("2027-2030")


def adult(**answers: Any) -> dict[str, Any]:
    """A complete, non-deprived adult (36 years old at REF) with a stable job."""
    base: dict[str, Any] = {
        "name": "Nam",
        "sex": "male",
        "birth_date": date(1990, 3, 4),
        "relation": "head",
        "labour_capacity": "yes",
        "employment_status": "employed",
        "job_stable": "yes",
        "wants_expand": "no",
        "support_needs": [],
        "health_insurance": "yes",
        "in_school": "no",
        "education_level": "upper_secondary",
        "vocational_level": "none",
        "onjob_training": "no",
        "uses_internet": "yes",
        "pension_or_allowance": "no",
    }
    base.update(answers)
    return base


def child(**answers: Any) -> dict[str, Any]:
    """A complete, non-deprived child (11 years old at REF) in lower secondary school."""
    base: dict[str, Any] = {
        "name": "Bé",
        "sex": "female",
        "birth_date": date(2015, 3, 1),
        "relation": "child",
        "health_insurance": "yes",
        "in_school": "yes",
        "school_level": "lower_secondary",
        "malnourished": "no",
        "uses_internet": "no",
    }
    base.update(answers)
    return base


def household(**answers: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "category": "poor",
        "area_type": "rural",
        "house_wall": "durable",
        "house_column": "durable",
        "house_roof": "durable",
        "floor_area_m2": 60,
        "water_source": "piped",
        "latrine": "septic",
        "info_devices": ["tv", "smartphone"],
        "waste_disposal": "collected",
        "income_per_capita_month": 1_000_000,
        "housing_difficulty": "no",
    }
    base.update(answers)
    return base


def family() -> list[dict[str, Any]]:
    return [adult(), adult(name="Lan", sex="female", birth_date=date(1992, 6, 1)), child()]
