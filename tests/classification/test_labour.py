from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from classification import (
    MemberOutcome,
    Reason,
    RuleSet,
    classify_member,
    load_rule_set,
    render_member_result,
)
from classification.ruleset import load_rule_set_from_path

from .conftest import REF, adult


def member(**answers: Any) -> dict[str, Any]:
    """Only the labour answers, so each case states exactly what it relies on."""
    base: dict[str, Any] = {"name": "Lan", "sex": "female", "birth_date": date(1990, 3, 4)}
    base.update(answers)
    return base


GROUP_CASES = [
    ("no_job", {"labour_capacity": "yes", "employment_status": "no_job", "support_needs": []}),
    (
        "no_job",
        {
            "labour_capacity": "yes",
            "employment_status": "looking",
            "support_needs": ["job_referral", "overseas_work"],
        },
    ),
    ("unwilling", {"labour_capacity": "yes", "employment_status": "unwilling"}),
    (
        "unstable_or_expand",
        {"labour_capacity": "yes", "employment_status": "employed", "job_stable": "no"},
    ),
    (
        "unstable_or_expand",
        {
            "labour_capacity": "yes",
            "employment_status": "employed",
            "job_stable": "yes",
            "wants_expand": "yes",
            "support_needs": ["loan", "production_support"],
            "production_support_kinds": ["livestock"],
        },
    ),
    ("no_capacity", {"labour_capacity": "no", "employment_status": "unable"}),
    ("no_capacity", {"labour_capacity": "no", "incapacity_reason": "disability"}),
    (
        "not_target",
        {
            "labour_capacity": "yes",
            "employment_status": "employed",
            "job_stable": "yes",
            "wants_expand": "no",
        },
    ),
    ("not_target", {"labour_capacity": "yes", "employment_status": "studying"}),
    ("not_target", {"labour_capacity": "yes", "employment_status": "homemaker"}),
]


@pytest.mark.parametrize(("group", "answers"), GROUP_CASES)
def test_each_group(rules: RuleSet, group: str, answers: dict[str, Any]) -> None:
    result = classify_member(member(**answers), REF, rules)
    assert result.outcome == MemberOutcome.GROUPED
    assert result.group == group
    assert result.rule_set == rules.ref
    assert result.missing == ()
    assert result.conflicts == ()


def test_render_matches_the_product_example(rules: RuleSet) -> None:
    answers = member(
        labour_capacity="yes",
        employment_status="looking",
        support_needs=["vocational_training"],
        training_trade="may",
    )
    result = classify_member(answers, REF, rules)
    assert result.reasons == (
        Reason.of("capacity", "yes"),
        Reason.of("status", "looking"),
        Reason.of("wants", "vocational_training", trade="may"),
    )
    assert render_member_result(result, rules, "vi") == (
        "→ Nhóm: Lao động không có việc làm, cần học nghề — vì: còn khả năng lao động; "
        "đang tìm việc làm; muốn học nghề may"
    )
    assert render_member_result(result, rules, "en") == (
        "→ Group: Worker without a job, needs vocational training — because: able to work; "
        "looking for work; wants vocational training (may)"
    )


def test_reasons_of_unstable_job_and_production_kinds(rules: RuleSet) -> None:
    answers = member(
        labour_capacity="yes",
        employment_status="employed",
        job_stable="yes",
        wants_expand="yes",
        support_needs=["production_support"],
        production_support_kinds=["livestock", "crops"],
    )
    result = classify_member(answers, REF, rules)
    assert [r.key for r in result.reasons] == [
        "capacity.yes",
        "status.employed",
        "job_stable.yes",
        "wants_expand.yes",
        "wants.production_support",
        "production_kind.livestock",
        "production_kind.crops",
    ]
    text = render_member_result(result, rules)
    assert "cần hỗ trợ chăn nuôi" in text
    assert "{" not in text


@pytest.mark.parametrize(
    ("birth", "outcome"),
    [
        (date(2011, 12, 1), MemberOutcome.BELOW_WORKING_AGE),  # 14 years 11 months
        (date(2011, 11, 30), MemberOutcome.GROUPED),  # exactly 15
        (date(2012, 1, 1), MemberOutcome.BELOW_WORKING_AGE),
    ],
)
def test_working_age_boundary(rules: RuleSet, birth: date, outcome: MemberOutcome) -> None:
    answers = member(birth_date=birth, labour_capacity="yes", employment_status="studying")
    assert classify_member(answers, REF, rules).outcome == outcome


def test_below_working_age_ignores_labour_answers(rules: RuleSet) -> None:
    result = classify_member(member(birth_date=date(2015, 1, 1)), REF, rules)
    assert result.outcome == MemberOutcome.BELOW_WORKING_AGE
    assert result.group is None
    assert render_member_result(result, rules).startswith("→ Chưa đến tuổi lao động")
    assert "11 tuổi, chưa đủ 15 tuổi" in render_member_result(result, rules)


def test_birth_year_convention_is_first_of_july(rules: RuleSet) -> None:
    # Born "2011": taken as 01/07/2011, so 15 at 30/11/2026 but 14 at 30/06/2026.
    answers = member(birth_date=None, birth_year=2011, labour_capacity="yes")
    answers["employment_status"] = "studying"
    assert classify_member(answers, REF, rules).outcome == MemberOutcome.GROUPED
    early = classify_member(answers, date(2026, 6, 30), rules)
    assert early.outcome == MemberOutcome.BELOW_WORKING_AGE
    assert early.reasons[0] == Reason.of("age", "from_birth_year", year="2011", assumed="01/07")
    assert "quy ước sinh ngày 01/07" in render_member_result(early, rules)


RETIRED = {"labour_capacity": "yes", "employment_status": "employed", "job_stable": "no"}


@pytest.mark.parametrize(
    ("sex", "birth", "on", "above"),
    [
        ("male", date(1965, 1, 10), date(2026, 7, 31), False),
        ("male", date(1965, 1, 10), date(2026, 8, 1), True),
        ("female", date(1969, 9, 20), date(2026, 9, 30), False),
        ("female", date(1969, 9, 20), date(2026, 10, 1), True),
        ("female", date(1965, 1, 10), date(2026, 8, 1), True),  # same birth, other sex
    ],
)
def test_retirement_is_noted_by_default(
    rules: RuleSet, sex: str, birth: date, on: date, above: bool
) -> None:
    result = classify_member(member(sex=sex, birth_date=birth, **RETIRED), on, rules)
    assert rules.age.retirement_upper_bound == "note"
    assert result.outcome == MemberOutcome.GROUPED
    assert result.above_retirement_age is above
    assert any(r.key == "age.above_retirement" for r in result.reasons) is above


def test_retirement_reason_text(rules: RuleSet) -> None:
    answers = member(sex="male", birth_date=date(1965, 1, 10), **RETIRED)
    text = render_member_result(classify_member(answers, date(2026, 8, 1), rules), rules)
    assert "đã quá tuổi nghỉ hưu (61 tuổi 6 tháng, đủ tuổi vào tháng 07/2026)" in text


@pytest.fixture(scope="module")
def excluding_rules(tmp_path_factory: pytest.TempPathFactory, rules: RuleSet) -> RuleSet:
    from classification.ruleset import RULES_DIR

    text = (RULES_DIR / "2022-2025.toml").read_text(encoding="utf-8")
    text = text.replace('retirement_upper_bound = "note"', 'retirement_upper_bound = "exclude"')
    path = tmp_path_factory.mktemp("rules") / "exclude.toml"
    path.write_text(text, encoding="utf-8")
    return load_rule_set_from_path(path)


def test_retirement_switch_exclude(excluding_rules: RuleSet) -> None:
    answers = member(sex="male", birth_date=date(1965, 1, 10), **RETIRED)
    before = classify_member(answers, date(2026, 7, 31), excluding_rules)
    after = classify_member(answers, date(2026, 8, 1), excluding_rules)
    assert before.outcome == MemberOutcome.GROUPED
    assert after.outcome == MemberOutcome.ABOVE_WORKING_AGE
    assert after.group is None
    assert render_member_result(after, excluding_rules).startswith("→ Quá tuổi lao động")
    no_sex = classify_member({**answers, "sex": None}, date(2026, 8, 1), excluding_rules)
    assert (no_sex.outcome, no_sex.missing) == (MemberOutcome.INCOMPLETE, ("sex",))


@pytest.mark.parametrize("status", ["no_job", "looking"])
@pytest.mark.parametrize("version", ["2022-2025", "2027-2030"])
def test_skipped_support_wish_still_puts_a_jobless_member_in_his_group(
    status: str, version: str
) -> None:
    # The form says to skip "cần hỗ trợ gì" when no support is needed: a skipped answer
    # is "no support wished", and the member stays on the no-job list.
    rules = load_rule_set(version)
    result = classify_member(member(labour_capacity="yes", employment_status=status), REF, rules)
    assert (result.outcome, result.group, result.needs) == (MemberOutcome.GROUPED, "no_job", ())
    assert result.missing == ()


def test_a_group_may_still_require_an_answer_in_a_province_copy(
    tmp_path: Path, rules: RuleSet
) -> None:
    from classification.ruleset import RULES_DIR

    text = (RULES_DIR / "2022-2025.toml").read_text(encoding="utf-8")
    marker = '[[labour_groups]]\nid = "no_job"\n'
    assert marker in text
    text = text.replace(marker, marker + 'required_fields = ["support_needs"]\n', 1)
    path = tmp_path / "province.toml"
    path.write_text(text, encoding="utf-8")
    strict = load_rule_set_from_path(path)
    answers = member(labour_capacity="yes", employment_status="no_job")
    result = classify_member(answers, REF, strict)
    assert (result.outcome, result.missing) == (MemberOutcome.INCOMPLETE, ("support_needs",))
    answered = classify_member({**answers, "support_needs": []}, REF, strict)
    assert (answered.outcome, answered.group) == (MemberOutcome.GROUPED, "no_job")


MISSING_CASES = [
    ({"birth_date": None}, ("birth_date",)),
    ({}, ("labour_capacity",)),
    ({"employment_status": "looking"}, ("labour_capacity",)),
    ({"labour_capacity": "yes"}, ("employment_status",)),
    ({"labour_capacity": "yes", "employment_status": "employed"}, ("job_stable",)),
    (
        {"labour_capacity": "yes", "employment_status": "employed", "job_stable": "yes"},
        ("wants_expand",),
    ),
    ({"labour_capacity": "maybe"}, ("labour_capacity",)),  # unknown code counts as missing
    ({"labour_capacity": "yes", "employment_status": "   "}, ("employment_status",)),
]


@pytest.mark.parametrize(("answers", "missing"), MISSING_CASES)
def test_missing_answers_are_never_guessed(
    rules: RuleSet, answers: dict[str, Any], missing: tuple[str, ...]
) -> None:
    result = classify_member(member(**answers), REF, rules)
    assert result.outcome == MemberOutcome.INCOMPLETE
    assert result.group is None
    assert result.missing == missing
    assert render_member_result(result, rules).startswith("→ Chưa đủ thông tin — còn thiếu: ")


def test_incomplete_text_lists_fields_and_known_reasons(rules: RuleSet) -> None:
    result = classify_member(
        member(labour_capacity="yes", employment_status="employed"), REF, rules
    )
    assert render_member_result(result, rules) == (
        "→ Chưa đủ thông tin — còn thiếu: việc làm có ổn định không "
        "(đã biết: còn khả năng lao động; có việc làm)"
    )


CONTRADICTIONS = [
    (
        {"labour_capacity": "no", "employment_status": "employed"},
        ("labour_capacity", "employment_status"),
    ),
    (
        {"labour_capacity": "no", "employment_status": "looking"},
        ("labour_capacity", "employment_status"),
    ),
    (
        {"labour_capacity": "yes", "employment_status": "unable"},
        ("labour_capacity", "employment_status"),
    ),
    ({"birth_year": 1991, "labour_capacity": "yes"}, ("birth_date", "birth_year")),
    ({"birth_date": date(2027, 1, 1)}, ("birth_date",)),
    ({"birth_date": None, "birth_year": 2030}, ("birth_year",)),
]


@pytest.mark.parametrize(("answers", "conflicts"), CONTRADICTIONS)
def test_contradictions(
    rules: RuleSet, answers: dict[str, Any], conflicts: tuple[str, ...]
) -> None:
    result = classify_member(member(**answers), REF, rules)
    assert result.outcome == MemberOutcome.CONTRADICTION
    assert result.conflicts == conflicts
    assert result.group is None
    text = render_member_result(result, rules)
    assert text.startswith("→ Thông tin mâu thuẫn, cần hỏi lại: ")
    assert "{" not in text


def test_capacity_status_contradiction_text(rules: RuleSet) -> None:
    answers = member(labour_capacity="no", employment_status="employed")
    assert render_member_result(classify_member(answers, REF, rules), rules) == (
        "→ Thông tin mâu thuẫn, cần hỏi lại: khả năng lao động, tình trạng việc làm — "
        "không còn khả năng lao động; có việc làm; "
        "khả năng lao động không khớp với tình trạng việc làm"
    )


def test_answers_off_the_branch_are_ignored(rules: RuleSet) -> None:
    answers = adult(employment_status="studying", job_stable="no", wants_expand="yes")
    assert classify_member(answers, REF, rules).group == "not_target"


def test_render_refuses_another_rule_set(rules: RuleSet, rules_2027: RuleSet) -> None:
    result = classify_member(adult(), REF, rules)
    with pytest.raises(ValueError, match="rule set"):
        render_member_result(result, rules_2027)


def test_odk_space_separated_multiple_choice(rules: RuleSet) -> None:
    answers = member(
        labour_capacity="yes", employment_status="no_job", support_needs="loan job_referral"
    )
    result = classify_member(answers, REF, rules)
    assert result.needs == ("loan", "job_referral")


@pytest.mark.parametrize(
    ("stable", "expand", "vi", "en"),
    [
        (
            "no",
            None,
            "→ Nhóm: Lao động có việc làm không ổn định — vì: ",
            "→ Group: Worker with an unstable job — because: ",
        ),
        (
            "yes",
            "yes",
            "→ Nhóm: Lao động có việc làm ổn định, cần mở rộng sản xuất, kinh doanh, "
            "dịch vụ — vì: ",
            "→ Group: Worker with a stable job, wanting to expand production, business or "
            "services — because: ",
        ),
    ],
)
def test_a_group_of_alternatives_names_the_one_that_applied(
    rules: RuleSet, stable: str, expand: str | None, vi: str, en: str
) -> None:
    answers = member(labour_capacity="yes", employment_status="employed", job_stable=stable)
    if expand is not None:
        answers["wants_expand"] = expand
    result = classify_member(answers, REF, rules)
    assert result.group == "unstable_or_expand"
    assert render_member_result(result, rules, "vi").startswith(vi)
    assert render_member_result(result, rules, "en").startswith(en)
