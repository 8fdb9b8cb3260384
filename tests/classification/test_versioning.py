"""Changing a rule file changes the version, and only what the file changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classification import (
    RuleSet,
    classify_household,
    classify_member,
    evaluate_indicators,
    load_rule_set_from_path,
)
from classification.ruleset import RULES_DIR

from .conftest import REF, adult, child, household


def variant(tmp_path: Path, old: str, new: str) -> RuleSet:
    text = (RULES_DIR / "2022-2025.toml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / f"variant-{abs(hash(new))}.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_rule_set_from_path(path)


@pytest.fixture(scope="module")
def area_10(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return variant(tmp_path_factory.mktemp("v"), "min_per_person = 8", "min_per_person = 10")


def test_corrected_threshold_is_a_different_version(rules: RuleSet, area_10: RuleSet) -> None:
    assert area_10.ref.id == rules.ref.id
    assert area_10.ref.sha256 != rules.ref.sha256
    assert area_10.ref != rules.ref


def test_same_content_same_version(tmp_path: Path, rules: RuleSet) -> None:
    copy = tmp_path / "copy.toml"
    copy.write_bytes((RULES_DIR / "2022-2025.toml").read_bytes())
    assert load_rule_set_from_path(copy).ref == rules.ref


households = st.fixed_dictionaries(
    {
        "floor_area_m2": st.integers(min_value=5, max_value=60),
        "house_wall": st.sampled_from(["durable", "not_durable"]),
        "latrine": st.sampled_from(["septic", "bucket", "none"]),
        "income_per_capita_month": st.sampled_from([900_000, 1_500_000, 1_800_000, None]),
    }
)
member_lists = st.lists(
    st.one_of(
        st.builds(
            lambda y, hi: adult(birth_date=date(y, 5, 5), health_insurance=hi),
            st.integers(1940, 2008),
            st.sampled_from(["yes", "no"]),
        ),
        st.builds(lambda y: child(birth_date=date(y, 2, 2)), st.integers(2012, 2024)),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hh=households, members=member_lists)
def test_area_change_only_touches_d8(
    rules: RuleSet, area_10: RuleSet, hh: dict[str, Any], members: list[dict[str, Any]]
) -> None:
    before = evaluate_indicators(household(**hh), members, REF, rules)
    after = evaluate_indicators(household(**hh), members, REF, area_10)
    changed = {b.indicator for b, a in zip(before, after, strict=True) if b != a}
    assert changed <= {"D8"}
    for member in members:
        old = classify_member(member, REF, rules)
        new = classify_member(member, REF, area_10)
        assert (old.outcome, old.group, old.reasons) == (new.outcome, new.group, new.reasons)


def test_area_change_flips_exactly_the_affected_household(rules: RuleSet, area_10: RuleSet) -> None:
    members = [adult(), adult(name="Lan"), child()]
    hh = household(floor_area_m2=27)  # 9 m² per person
    before = {r.indicator: r.state for r in evaluate_indicators(hh, members, REF, rules)}
    after = {r.indicator: r.state for r in evaluate_indicators(hh, members, REF, area_10)}
    assert {k for k in before if before[k] != after[k]} == {"D8"}


def test_health_insurance_age_change(tmp_path: Path, rules: RuleSet) -> None:
    older = variant(
        tmp_path,
        'age_min = 6, field = "health_insurance"',
        'age_min = 7, field = "health_insurance"',
    )
    six = child(
        birth_date=date(2020, 6, 1), health_insurance="no", in_school="yes", school_level="primary"
    )
    members = [adult(), six]
    before = {
        r.indicator: r.state.value for r in evaluate_indicators(household(), members, REF, rules)
    }
    after = {
        r.indicator: r.state.value for r in evaluate_indicators(household(), members, REF, older)
    }
    assert before.pop("D4") == "deprived"
    assert after.pop("D4") == "not_deprived"
    assert before == after


def test_threshold_change_moves_status(tmp_path: Path, rules: RuleSet) -> None:
    strict = variant(tmp_path, "poor_min_deprived = 3", "poor_min_deprived = 4")
    hh = household(
        house_wall="not_durable",
        house_roof="not_durable",
        water_source="other",
        latrine="none",
        floor_area_m2=10,
    )
    members = [adult(), child()]
    assert classify_household(hh, members, REF, rules).status == "poor"
    assert classify_household(hh, members, REF, strict).status == "poor"  # 4 deprived
    hh["latrine"] = "septic"
    assert classify_household(hh, members, REF, rules).status == "poor"
    assert classify_household(hh, members, REF, strict).status == "near_poor"


def test_relabelled_group_changes_text_only(tmp_path: Path, rules: RuleSet) -> None:
    from classification import render_member_result

    renamed = variant(
        tmp_path,
        'short = { vi = "Lao động không muốn đi làm"',
        'short = { vi = "Lao động chưa muốn đi làm"',
    )
    member = adult(employment_status="unwilling")
    old = classify_member(member, REF, rules)
    new = classify_member(member, REF, renamed)
    assert (old.group, old.reasons) == (new.group, new.reasons)
    assert "chưa muốn đi làm" in render_member_result(new, renamed)
