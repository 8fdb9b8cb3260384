from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from classification import IndicatorState, MissingAnswer, RuleSet, evaluate_indicators
from classification.render import render_indicator_result

from .conftest import REF, adult, child, family, household

D = IndicatorState.DEPRIVED
N = IndicatorState.NOT_DEPRIVED
U = IndicatorState.UNKNOWN


def states(
    rules: RuleSet, hh: dict[str, Any], members: list[dict[str, Any]]
) -> dict[str, IndicatorState]:
    return {r.indicator: r.state for r in evaluate_indicators(hh, members, REF, rules)}


def test_baseline_household_is_deprived_on_nothing(rules: RuleSet, rules_2027: RuleSet) -> None:
    for rule_set in (rules, rules_2027):
        assert set(states(rule_set, household(), family()).values()) == {N}


def with_member(index: int, **answers: Any) -> list[dict[str, Any]]:
    members = family()
    members[index] = {**members[index], **answers}
    return members


def plus(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*family(), *extra]


# (indicator, household overrides, members, expected state)
CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], IndicatorState]] = [
    # D1 employment: working-age member able to work without a stable job.
    ("D1", {}, with_member(0, employment_status="looking"), D),
    ("D1", {}, with_member(0, employment_status="no_job"), D),
    ("D1", {}, with_member(0, employment_status="unwilling"), D),
    ("D1", {}, with_member(0, job_stable="no"), D),
    ("D1", {}, with_member(0, employment_status="studying"), N),
    ("D1", {}, with_member(0, employment_status="homemaker"), N),
    ("D1", {}, with_member(0, labour_capacity="no", employment_status="unable"), N),
    # Above retirement age (man born 01/1960) is not of working age for D1.
    ("D1", {}, with_member(0, birth_date=date(1960, 1, 1), employment_status="no_job"), N),
    ("D1", {}, with_member(0, employment_status=None), U),
    ("D1", {}, with_member(0, employment_status=None, labour_capacity="no"), N),
    # D2 dependants: more than half of members.
    ("D2", {}, [adult(), child(), child(name="Em")], D),  # 2 of 3
    ("D2", {}, [adult(), child()], N),  # exactly 50 %
    ("D2", {}, [adult(), adult(employment_status="studying"), child()], D),
    ("D2", {}, [adult(), adult(labour_capacity="no", employment_status="unable"), child()], D),
    (
        "D2",
        {},
        [
            adult(),
            adult(labour_capacity="no", employment_status="unable", pension_or_allowance="yes"),
            child(),
        ],
        N,
    ),
    ("D2", {}, [adult(), adult(birth_date=date(1950, 1, 1)), child()], D),  # elderly
    ("D2", {}, [adult(), adult(birth_date=None), child()], U),
    ("D2", {}, [adult(), child(), child(birth_date=None)], U),
    ("D2", {}, [child(), child(), adult(birth_date=None)], D),  # 2 of 3 known already
    # D3 nutrition: a child under 16 malnourished.
    ("D3", {}, with_member(2, malnourished="yes"), D),
    ("D3", {}, with_member(2, malnourished=None), U),
    ("D3", {}, plus(child(name="Lớn", birth_date=date(2010, 11, 30), malnourished="yes")), N),  # 16
    ("D3", {}, plus(child(name="Lớn", birth_date=date(2010, 12, 1), malnourished="yes")), D),  # 15
    # D4 health insurance: a member aged 6+ without a card.
    ("D4", {}, with_member(1, health_insurance="no"), D),
    ("D4", {}, plus(child(name="Nhỏ", birth_date=date(2020, 12, 1), health_insurance="no")), N),
    ("D4", {}, plus(child(name="Nhỏ", birth_date=date(2020, 11, 30), health_insurance="no")), D),
    ("D4", {}, with_member(1, health_insurance=None), U),
    ("D4", {}, [adult(health_insurance="no"), adult(health_insurance=None)], D),  # known suffices
    # D5 adult education, 16-30.
    ("D5", {}, plus(adult(name="Tú", birth_date=date(2009, 1, 1), education_level="primary")), D),
    (
        "D5",
        {},
        plus(adult(name="Tú", birth_date=date(2009, 1, 1), education_level="lower_secondary")),
        N,
    ),
    (
        "D5",
        {},
        plus(
            adult(
                name="Tú", birth_date=date(2009, 1, 1), education_level="primary", in_school="yes"
            )
        ),
        N,
    ),
    (
        "D5",
        {},
        plus(adult(name="Tú", birth_date=date(2000, 1, 1), education_level="lower_secondary")),
        D,
    ),
    (
        "D5",
        {},
        plus(
            adult(
                name="Tú",
                birth_date=date(2000, 1, 1),
                education_level="lower_secondary",
                vocational_level="trung_cap",
            )
        ),
        N,
    ),
    (
        "D5",
        {},
        plus(
            adult(
                name="Tú",
                birth_date=date(2000, 1, 1),
                education_level="lower_secondary",
                onjob_training="yes",
            )
        ),
        N,
    ),
    (
        "D5",
        {},
        plus(adult(name="Tú", birth_date=date(1995, 11, 30), education_level="primary")),
        N,
    ),  # 31
    (
        "D5",
        {},
        plus(adult(name="Tú", birth_date=date(1995, 12, 1), education_level="primary")),
        D,
    ),  # 30
    (
        "D5",
        {},
        plus(
            adult(
                name="Tú",
                birth_date=date(2000, 1, 1),
                education_level="primary",
                vocational_level=None,
            )
        ),
        U,
    ),
    # D6 child schooling, 3 to under 16.
    ("D6", {}, with_member(2, in_school="no"), D),
    ("D6", {}, with_member(2, school_level="upper_secondary"), D),  # 11 years old
    ("D6", {}, with_member(2, school_level="primary"), N),  # 11: primary accepted too
    ("D6", {}, with_member(2, school_level=None), U),
    ("D6", {}, plus(child(name="Út", birth_date=date(2024, 1, 1), in_school="no")), N),  # age 2
    ("D6", {}, plus(child(name="Út", birth_date=date(2023, 11, 30), in_school="no")), D),  # age 3
    # D7 housing quality: at least 2 of 3 structures not durable.
    ("D7", {"house_wall": "not_durable"}, family(), N),
    ("D7", {"house_wall": "not_durable", "house_roof": "not_durable"}, family(), D),
    ("D7", {"house_wall": "not_durable", "house_roof": None}, family(), U),
    ("D7", {"house_wall": None}, family(), N),  # even if the wall is poor, only 1 of 3
    # D8 floor area: below 8 m² per person (24 m² for 3 is exactly 8).
    ("D8", {"floor_area_m2": 24}, family(), N),
    ("D8", {"floor_area_m2": 23.9}, family(), D),
    ("D8", {"floor_area_m2": None}, family(), U),
    ("D8", {"floor_area_m2": 10}, [], U),
    # D9 water, D10 latrine.
    ("D9", {"water_source": "surface_water"}, family(), D),
    ("D9", {"water_source": "rainwater"}, family(), N),
    ("D9", {"water_source": None}, family(), U),
    ("D10", {"latrine": "bucket"}, family(), D),
    ("D10", {"latrine": "none"}, family(), D),
    ("D10", {"latrine": "pour_flush"}, family(), N),
    ("D10", {"latrine": None}, family(), U),
    # D11 telecom: no member uses it.
    ("D11", {}, [adult(uses_internet="no"), child()], D),
    ("D11", {}, [adult(uses_internet=None), child()], U),
    ("D11", {}, [adult(uses_internet="yes"), child(uses_internet=None)], N),
    # A child under 6 is not asked (the form asks from 6): the others decide.
    (
        "D11",
        {},
        [adult(uses_internet="no"), child(birth_date=date(2021, 1, 1), uses_internet=None)],
        D,
    ),
    (
        "D11",
        {},
        [adult(uses_internet="no"), child(birth_date=date(2020, 1, 1), uses_internet=None)],
        U,
    ),
    # D12 devices.
    ("D12", {"info_devices": ["none"]}, family(), D),
    ("D12", {"info_devices": []}, family(), D),
    ("D12", {"info_devices": ["radio"]}, family(), N),
    ("D12", {"info_devices": None}, family(), U),
]


@pytest.mark.parametrize(("indicator", "hh", "members", "expected"), CASES)
def test_indicator_table(
    rules: RuleSet,
    indicator: str,
    hh: dict[str, Any],
    members: list[dict[str, Any]],
    expected: IndicatorState,
) -> None:
    result = states(rules, household(**hh), members)
    assert result[indicator] == expected


CASES_2027 = [
    ("D11", {"waste_disposal": "none"}, family(), D),
    ("D11", {"waste_disposal": "self_treated"}, family(), N),
    ("D11", {"waste_disposal": None}, family(), U),
    ("D12", {}, [adult(uses_internet="no"), child()], D),
    ("D12", {"info_devices": ["none"]}, family(), N),  # devices no longer an indicator
]


@pytest.mark.parametrize(("indicator", "hh", "members", "expected"), CASES_2027)
def test_indicator_table_2027(
    rules_2027: RuleSet,
    indicator: str,
    hh: dict[str, Any],
    members: list[dict[str, Any]],
    expected: IndicatorState,
) -> None:
    result = states(rules_2027, household(**hh), members)
    assert result[indicator] == expected


def test_unknown_lists_missing_answers_per_member(rules: RuleSet) -> None:
    # Bình has no card but no birth date either: whether they are 6+ decides it.
    members = [
        adult(name="An", health_insurance=None),
        adult(name="Bình", birth_date=None, health_insurance="no"),
        adult(name="Chi", birth_date=None),  # has a card: age does not matter
    ]
    d4 = next(
        r for r in evaluate_indicators(household(), members, REF, rules) if r.indicator == "D4"
    )
    assert d4.state == U
    assert d4.missing == (
        MissingAnswer("health_insurance", 0, "An"),
        MissingAnswer("birth_date", 1, "Bình"),
    )
    text = render_indicator_result(d4, rules)
    assert text == "D4. Bảo hiểm y tế: chưa xác định — còn thiếu: thẻ BHYT (An), ngày sinh (Bình)"


def test_unnamed_members_are_numbered(rules: RuleSet) -> None:
    members = [adult(name=None, health_insurance="no")]
    d4 = next(
        r for r in evaluate_indicators(household(), members, REF, rules) if r.indicator == "D4"
    )
    assert "#1 (36 tuổi)" in render_indicator_result(d4, rules)


def test_reason_texts_format_numbers(rules: RuleSet) -> None:
    results = evaluate_indicators(household(floor_area_m2=19.5), family(), REF, rules)
    d8 = next(r for r in results if r.indicator == "D8")
    assert render_indicator_result(d8, rules, "vi") == (
        "D8. Diện tích nhà ở bình quân đầu người: thiếu hụt — diện tích 6,5 m²/người, dưới 8 m²"
    )
    assert "6.5 m² per person" in render_indicator_result(d8, rules, "en")
    d2 = next(r for r in results if r.indicator == "D2")
    assert "1/3 thành viên là người phụ thuộc (33,3%, không quá 50%)" in render_indicator_result(
        d2, rules
    )
