from __future__ import annotations

from typing import Any

import pytest

from classification import (
    HouseholdStatus,
    MemberOutcome,
    MissingAnswer,
    RuleSet,
    classify_household,
    render_household_result,
)

from .conftest import REF, adult, child, family, household

# Three deprivations: D7 (2 structures), D9 (water), D10 (latrine).
POOR_HOUSE = {
    "house_wall": "not_durable",
    "house_roof": "not_durable",
    "water_source": "surface_water",
    "latrine": "bucket",
}


@pytest.mark.parametrize(
    ("answers", "status"),
    [
        ({**POOR_HOUSE}, HouseholdStatus.POOR),
        ({**POOR_HOUSE, "latrine": "septic"}, HouseholdStatus.NEAR_POOR),
        ({}, HouseholdStatus.NEAR_POOR),  # zero deprivations is still near-poor
        ({**POOR_HOUSE, "income_per_capita_month": 1_500_000}, HouseholdStatus.POOR),  # on the line
        ({**POOR_HOUSE, "income_per_capita_month": 1_500_001}, HouseholdStatus.NEITHER),
        (
            {**POOR_HOUSE, "area_type": "urban", "income_per_capita_month": 2_000_000},
            HouseholdStatus.POOR,
        ),
        (
            {**POOR_HOUSE, "area_type": "urban", "income_per_capita_month": 2_000_001},
            HouseholdStatus.NEITHER,
        ),
        ({**POOR_HOUSE, "income_per_capita_month": None}, HouseholdStatus.UNKNOWN_INCOME),
        ({"income_per_capita_month": None}, HouseholdStatus.UNKNOWN_INCOME),
        ({**POOR_HOUSE, "area_type": None}, HouseholdStatus.INCOMPLETE),
    ],
)
def test_status(rules: RuleSet, answers: dict[str, Any], status: HouseholdStatus) -> None:
    result = classify_household(household(**answers), family(), REF, rules)
    assert result.status == status
    assert result.rule_set == rules.ref


def test_income_line_differs_by_version(rules: RuleSet, rules_2027: RuleSet) -> None:
    answers = household(**POOR_HOUSE, income_per_capita_month=2_000_000)
    assert classify_household(answers, family(), REF, rules).status == HouseholdStatus.NEITHER
    assert classify_household(answers, family(), REF, rules_2027).status == HouseholdStatus.POOR


def test_unknown_income_is_not_guessed(rules: RuleSet) -> None:
    result = classify_household(
        household(**POOR_HOUSE, income_per_capita_month=None), family(), REF, rules
    )
    assert result.missing == (MissingAnswer("income_per_capita_month"),)
    assert result.deprived == ("D7", "D9", "D10")  # indicators are still reported
    assert render_household_result(result, rules).splitlines()[0] == (
        "Chưa xác định được (chưa có thu nhập) — chưa có thu nhập bình quân đầu người nên chưa "
        "phân loại; thiếu hụt 3 chỉ số, 0 chỉ số chưa xác định; "
        "còn thiếu: thu nhập bình quân đầu người/tháng"
    )


def test_undecided_between_poor_and_near_poor(rules: RuleSet) -> None:
    answers = household(**{**POOR_HOUSE, "latrine": None})
    result = classify_household(answers, family(), REF, rules)
    assert result.status == HouseholdStatus.INCOMPLETE
    assert result.deprived == ("D7", "D9")
    assert result.unknown == ("D10",)
    assert result.missing == (MissingAnswer("latrine"),)


def test_two_deprived_and_one_unknown_is_not_enough_only_if_unknowns_cannot_reach(
    rules: RuleSet,
) -> None:
    answers = household(**{**POOR_HOUSE, "latrine": "septic", "floor_area_m2": None})
    result = classify_household(answers, family(), REF, rules)
    assert result.status == HouseholdStatus.INCOMPLETE  # D8 could be the third
    answers = household(**{**POOR_HOUSE, "latrine": "septic", "water_source": "piped"})
    answers["floor_area_m2"] = None
    result = classify_household(answers, family(), REF, rules)
    assert result.status == HouseholdStatus.NEAR_POOR  # 1 deprived + 1 unknown < 3


def test_support_referrals_follow_the_rule_file(rules: RuleSet) -> None:
    members = [adult(employment_status="looking", support_needs=[]), child(malnourished="yes")]
    result = classify_household(household(**POOR_HOUSE), members, REF, rules)
    referrals = {r.indicator: r.channels for r in result.support}
    assert set(referrals) == {"D1", "D3", "D7", "D9", "D10"}
    assert referrals["D3"][0].office.vi == "Phòng Y tế; Trung tâm Y tế"
    assert referrals["D3"][0].programme.vi.startswith("Tiểu dự án 2, Dự án 3")
    assert referrals["D3"][0].confirmed
    assert [c.source for c in referrals["D1"]] == ["seed III.1", "seed III.2"]
    text = render_household_result(result, rules)
    assert "hỗ trợ: Phòng Y tế; Trung tâm Y tế (Tiểu dự án 2, Dự án 3" in text


def test_member_groups_come_with_the_household(rules: RuleSet) -> None:
    members = [adult(employment_status="unwilling"), child()]
    result = classify_household(household(), members, REF, rules)
    assert [m.outcome for m in result.members] == [
        MemberOutcome.GROUPED,
        MemberOutcome.BELOW_WORKING_AGE,
    ]
    assert result.members[0].group == "unwilling"


def test_render_in_english(rules: RuleSet) -> None:
    result = classify_household(household(**POOR_HOUSE), family(), REF, rules)
    text = render_household_result(result, rules, "en")
    assert text.splitlines()[0] == (
        "Poor household — income 1,000,000 VND per person per month, within the 1,500,000 VND "
        "line; 3 deprived indicators (3 or more)"
    )
    assert len(text.splitlines()) == 1 + 12 + 3


def test_decimal_answers_from_the_engine_are_numbers() -> None:
    from decimal import Decimal

    from classification.answers import number

    assert number({"floor_area_m2": Decimal("36.5")}, "floor_area_m2") == 36.5
