from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from classification import (
    RuleFileError,
    RuleSet,
    UnknownVersionError,
    available_versions,
    load_rule_set,
    load_rule_set_from_path,
    versions_applying_to,
)
from classification.ruleset import RULES_DIR
from forms import load_bundled_form

SOURCE = RULES_DIR / "2022-2025.toml"


def edited(tmp_path: Path, edit: Callable[[str], str], name: str = "edited.toml") -> Path:
    text = SOURCE.read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text, "the edit did not apply"
    path = tmp_path / name
    path.write_text(changed, encoding="utf-8")
    return path


def test_available_versions() -> None:
    assert available_versions() == ("2022-2025", "2027-2030")
    assert versions_applying_to(2026) == ("2022-2025",)
    assert versions_applying_to(2027) == ("2027-2030",)
    with pytest.raises(UnknownVersionError, match="available: 2022-2025, 2027-2030"):
        load_rule_set("2016-2020")


def test_version_is_id_plus_content_hash(rules: RuleSet) -> None:
    assert rules.ref.id == "2022-2025"
    assert re.fullmatch(r"[0-9a-f]{64}", rules.ref.sha256)
    assert str(rules.ref) == f"2022-2025@{rules.ref.sha256[:12]}"
    assert load_rule_set("2022-2025") is rules  # loaded once


def test_confirmed_marks_follow_the_domain_note(rules: RuleSet, rules_2027: RuleSet) -> None:
    assert [i.id for i in rules.indicators] == [f"D{n}" for n in range(1, 13)]
    assert rules.income_lines.confirmed and rules.poverty.confirmed
    assert (rules.income_lines.rural, rules.income_lines.urban) == (1_500_000, 2_000_000)
    assert (rules_2027.income_lines.rural, rules_2027.income_lines.urban) == (2_200_000, 2_800_000)
    assert rules.retirement.confirmed
    assert not rules.age.retirement_upper_bound_confirmed
    # No indicator condition is confirmed by legal text; names are (for 2022-2025).
    assert not any(i.confirmed for i in rules.indicators)
    assert all(i.name_confirmed for i in rules.indicators)
    unconfirmed = {i.id for i in rules.indicators if i.status == "unconfirmed"}
    assert unconfirmed == {"D1", "D2", "D4", "D11", "D12"}
    keys_2027 = [i.key for i in rules_2027.indicators]
    assert "info_devices" not in keys_2027
    assert {"digital_services", "domestic_waste"} <= set(keys_2027)
    drafts = {i.key for i in rules_2027.indicators if i.status == "draft"}
    assert drafts == {"digital_services", "domestic_waste"}
    # The district offices of the 2024 plan are not confirmed for 2027-2030.
    assert not any(c.confirmed for i in rules_2027.indicators for c in i.support)


def test_seed_offices(rules: RuleSet) -> None:
    offices = {i.id: [c.office.vi for c in i.support if c.confirmed] for i in rules.indicators}
    assert offices["D3"] == ["Phòng Y tế; Trung tâm Y tế"]
    assert offices["D5"] == offices["D6"] == ["Phòng Giáo dục và Đào tạo"]
    assert offices["D11"] == offices["D12"] == ["Phòng Văn hóa và Thông tin"]
    assert "Phòng Lao động - Thương binh và Xã hội" in offices["D1"]


def test_every_group_and_status_has_labels(rules: RuleSet) -> None:
    assert [g.id for g in rules.labour_groups] == [
        "no_job",
        "unwilling",
        "unstable_or_expand",
        "no_capacity",
        "not_target",
    ]
    assert [s.label.vi for s in rules.employment_statuses] == [
        "có việc làm",
        "không có việc làm",
        "đang tìm việc làm",
        "không có khả năng lao động",
        "đang đi học",
        "không muốn đi làm",
        "nội trợ",
    ]
    for group in rules.labour_groups:
        assert group.label.vi and group.label.en and group.support.vi and group.support.en


BAD_EDITS = [
    ("poor_min_deprived = 3", "poor_min_deprived = 0", "poverty.poor_min_deprived"),
    ("rural = 1_500_000", 'rural = "cheap"', "income_lines.rural"),
    (
        '"piped", "drilled_well"',
        '"pipe", "drilled_well"',
        "unknown code(s) ['pipe'] for 'water_source'",
    ),
    ("min_per_person = 8", "min_per_person = 8, minimum = 9", "Extra inputs are not permitted"),
    ('group = "unwilling"', 'group = "lazy"', "unknown group 'lazy'"),
    ('"capacity.yes" = ', '"capacity.maybe" = ', "reason_texts missing: ['capacity.yes']"),
    ("max_share = 0.5", "max_share = 1.5", "max_share"),
    ('kind = "count_of_structures"', 'kind = "count_of_things"', "count_of_things"),
    ("{ year = 2022, male = [60, 6]", "{ year = 2023, male = [60, 6]", "consecutive"),
    ("female = [57, 0] }", "female = [55, 0] }", "must not decrease"),
    ("texts.wrong_level = ", "texts.other_level = ", "texts missing for ['wrong_level']"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_EDITS)
def test_invalid_rule_files_give_clear_errors(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = edited(tmp_path, lambda text: text.replace(old, new, 1))
    with pytest.raises(RuleFileError) as error:
        load_rule_set_from_path(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_broken_toml_and_reserved_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("version = ", encoding="utf-8")
    with pytest.raises(RuleFileError, match="not valid UTF-8 TOML"):
        load_rule_set_from_path(broken)
    path = edited(
        tmp_path, lambda t: t.replace("schema_version = 1", 'schema_version = 1\nsha256 = "x"')
    )
    with pytest.raises(RuleFileError, match="computed by the loader"):
        load_rule_set_from_path(path)
    with pytest.raises(RuleFileError, match="cannot read"):
        load_rule_set_from_path(tmp_path / "absent.toml")


def test_bundled_files_are_self_consistent() -> None:
    for version in available_versions():
        rule_set = load_rule_set(version)
        assert rule_set.version == version
        for indicator in rule_set.indicators:
            for key in indicator.condition.TEXT_KEYS:
                assert rule_set.reason_text(f"{indicator.id}.{key}") is not None


AGE_FROM = re.compile(r"^\$\{age\}\s*>=\s*(\d+)$")


@pytest.mark.parametrize("version", available_versions())
def test_no_member_is_waited_for_on_a_question_the_form_does_not_ask_them(version: str) -> None:
    """ "No member with…" counts the members from its ``age_min``: one younger than the form
    asks the question (its ``relevant``) has no answer, and would leave the indicator
    unknown in every household with a small child."""
    form = load_bundled_form()
    for indicator in load_rule_set(version).indicators:
        condition = indicator.condition
        if condition.kind != "no_member_with":
            continue
        for relevant in form.fields[condition.field].relevant:
            if found := AGE_FROM.match(relevant.strip()):
                assert condition.age_min >= int(found[1]), (indicator.id, relevant)
