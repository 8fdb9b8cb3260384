"""The bundled household form: it loads, converts to XForm, and can be walked to the end."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pyxform.xls2xform import convert

from bot.database import check_vocabulary
from forms.answers import set_answer
from forms.engine import apply_calculations, next_step, question_at, validate
from forms.model import Done, FieldType, Form, Invalid, Question
from forms.parsing import parse_answer
from forms.xlsform import BUNDLED_FORM, load_bundled_form
from tests.forms.conftest import TODAY


@pytest.fixture(scope="module")
def form() -> Form:
    return load_bundled_form()


def test_settings(form: Form) -> None:
    assert form.form_id == "rasoat_household"
    assert form.default_language == "vi"


def test_converts_to_xform_with_pyxform() -> None:
    result = convert(str(BUNDLED_FORM))
    assert "<h:html" in result.xform and "rasoat_household" in result.xform


# The codes the roster check and its wording use. The codes the rules and the exports use
# are the contract of classification/vocabulary.py, checked against the workbook at every
# start (tests/test_vocabulary.py): no second copy of them here.
ROSTER_CODES = {
    "sex": ["male", "female"],
    "birth_known": ["full_date", "year_only"],
    "relation": ["head", "spouse", "child", "parent", "grandchild", "sibling", "other"],
}
MEMBER_FIELDS = {
    "name": FieldType.TEXT,
    "sex": FieldType.SELECT_ONE,
    "birth_date": FieldType.DATE,
    "birth_year": FieldType.INTEGER,
    "relation": FieldType.SELECT_ONE,
    "age": FieldType.CALCULATE,
    "training_trade": FieldType.TEXT,
    "support_needs": FieldType.SELECT_MULTIPLE,
    "production_support_kinds": FieldType.SELECT_MULTIPLE,
}


def test_names_and_choice_codes_are_the_agreed_ones(form: Form) -> None:
    check_vocabulary(form)
    for name, codes in ROSTER_CODES.items():
        field = form.fields[name]
        assert field.list_name is not None, name
        assert [choice.name for choice in form.choices[field.list_name]] == codes, name
    assert form.fields["floor_area_m2"].type is FieldType.DECIMAL
    assert form.fields["income_per_capita_month"].type is FieldType.INTEGER
    assert form.fields["info_devices"].type is FieldType.SELECT_MULTIPLE
    for name, kind in MEMBER_FIELDS.items():
        assert form.fields[name].type is kind, name
        assert form.fields[name].repeats == ("members",), name
    labels = [c.label.vi for c in form.choices[form.fields["employment_status"].list_name or ""]]
    assert labels == [
        "Có việc làm",
        "Không có việc làm",
        "Đang tìm việc làm",
        "Không có khả năng lao động",
        "Đang đi học",
        "Không muốn đi làm",
        "Nội trợ",
    ]
    for field in form.fields.values():
        if field.answerable:
            assert field.label.vi and field.label.en, field.name


HOUSEHOLD_INPUT = {
    # The chat answers it from the household picked; the bare engine asks it.
    "household_code": "H001",
    "category": "hộ nghèo",
    "area_type": "nong thon",
    "house_wall": "1",
    "house_column": "không bền chắc",
    "house_roof": "2",
    "floor_area_m2": "42,5",
    "water_source": "giếng khoan",
    "latrine": "tu hoai",
    "info_devices": "1, 4",
    "waste_disposal": "1",
    "income_per_capita_month": "1,2 triệu",
    "housing_difficulty": "có",
    "member_count": "5",
}
MEMBER_INPUT: list[dict[str, str]] = [
    {  # head, employed but unstable, wants training and production support
        "name": "Nguyễn Văn An",
        "sex": "nam",
        "birth_known": "1",
        "birth_date": "12/3/1975",
        "relation": "chủ hộ",
        "labour_capacity": "có",
        "employment_status": "có việc làm",
        "job_stable": "không",
        "wants_expand": "có",
        "support_needs": "1,5",
        "training_trade": "Sửa chữa máy nông nghiệp",
        "production_support_kinds": "1 4",
        "health_insurance": "có",
        "education_level": "2",
        "vocational_level": "chưa qua đào tạo",
        "uses_internet": "có",
        "pension_or_allowance": "không",
    },
    {  # mother, year of birth only, unable to work
        "name": "Trần Thị Bình",
        "sex": "nữ",
        "birth_known": "chỉ biết năm sinh",
        "birth_year": "1948",
        "relation": "mẹ",
        "labour_capacity": "không",
        "incapacity_reason": "tuổi già",
        "health_insurance": "có",
        "education_level": "1",
        "vocational_level": "1",
        "uses_internet": "không",
        "pension_or_allowance": "có",
    },
    {  # 20-year-old student
        "name": "Nguyễn Thị Chi",
        "sex": "nữ",
        "birth_known": "1",
        "birth_date": "2005-05-20",
        "relation": "con",
        "labour_capacity": "có",
        "employment_status": "đang đi học",
        "health_insurance": "có",
        "in_school": "có",
        "school_level": "cao đẳng, đại học",
        "education_level": "tốt nghiệp trung học phổ thông",
        "vocational_level": "1",
        "onjob_training": "không",
        "uses_internet": "có",
        "pension_or_allowance": "không",
    },
    {  # child in primary school
        "name": "Nguyễn Văn Dũng",
        "sex": "nam",
        "birth_known": "1",
        "birth_date": "1/9/2016",
        "relation": "con",
        "health_insurance": "có",
        "in_school": "có",
        "school_level": "tiểu học",
        "uses_internet": "không",
        "malnourished": "có",
    },
    {  # 25-year-old son looking for work, wants a referral
        "name": "Nguyễn Văn Em",
        "sex": "nam",
        "birth_known": "2",
        "birth_year": "2000",
        "relation": "con",
        "labour_capacity": "có",
        "employment_status": "đang tìm việc làm",
        "support_needs": "giới thiệu việc làm",
        "health_insurance": "không",
        "in_school": "không",
        "education_level": "3",
        "vocational_level": "sơ cấp",
        "onjob_training": "có",
        "uses_internet": "có",
        "pension_or_allowance": "không",
    },
]


def walk(form: Form) -> tuple[dict[str, Any], list[tuple[str | int, ...]]]:
    """Answers every step the way a chat user would type it, until Done."""
    answers: dict[str, Any] = {}
    asked: list[tuple[str | int, ...]] = []
    for _ in range(500):
        step = next_step(form, answers, today=TODAY)
        if isinstance(step, Done):
            assert step.notes and step.notes[-1].vi.startswith("Cảm ơn")
            return answers, asked
        assert step.error is None, (step.path, step.error)
        assert step.path not in asked, f"asked twice: {step.path}"
        asked.append(step.path)
        name = str(step.path[-1])
        if len(step.path) == 1:
            raw = HOUSEHOLD_INPUT[name]
        else:
            raw = MEMBER_INPUT[int(step.path[1])][name]
        parsed = parse_answer(step, raw)
        assert not isinstance(parsed, Invalid), (step.path, raw, parsed)
        problem = validate(form, answers, step.path, parsed.value, today=TODAY)
        assert problem is None, (step.path, raw, problem)
        answers = set_answer(answers, step.path, parsed.value)
    raise AssertionError("the walk did not finish")


def test_complete_walk_reaches_every_question(form: Form) -> None:
    answers, asked = walk(form)
    asked_names = {str(path[-1]) for path in asked}
    answerable = {name for name, field in form.fields.items() if field.answerable}
    assert asked_names == answerable
    result = apply_calculations(form, answers, today=TODAY)
    assert [member["age"] for member in result["members"]] == [50, 77, 20, 9, 25]
    assert result["income_per_capita_month"] == 1_200_000
    assert result["info_devices"] == ["tv", "smartphone"]
    head = result["members"][0]
    assert head["support_needs"] == ["vocational_training", "production_support"]
    assert head["production_support_kinds"] == ["livestock", "technique"]
    assert result["members"][1]["birth_year"] == 1948
    assert "employment_status" not in result["members"][1]  # unable is implied by capacity
    # Each member's questions are asked only as their age and answers make them relevant.
    child = {str(path[-1]) for path in asked if path[:2] == ("members", 3)}
    assert "labour_capacity" not in child and "malnourished" in child


def start(member: dict[str, Any]) -> dict[str, Any]:
    return {"category": "poor", "area_type": "rural", "member_count": 2, "members": [member, {}]}


def test_status_unable_is_not_offered_to_someone_able_to_work(form: Form) -> None:
    member = {"name": "An", "sex": "male", "birth_known": "year_only", "birth_year": 1990}
    member.update({"relation": "head", "labour_capacity": "yes"})
    answers = start(member)
    path = ("members", 0, "employment_status")
    question = question_at(form, answers, path, today=TODAY)
    assert "unable" not in [choice.name for choice in question.choices]
    assert len(question.choices) == 6
    problem = validate(form, answers, path, "unable", today=TODAY)
    assert problem is not None


def test_form_constraints_prevent_contradictions(form: Form) -> None:
    head = {"name": "An", "sex": "male", "birth_known": "year_only", "birth_year": 1990}
    head.update({"relation": "head", "labour_capacity": "yes", "employment_status": "studying"})
    answers = start(head)
    second_head = validate(form, answers, ("members", 1, "relation"), "head", today=TODAY)
    assert second_head is not None and second_head.text("vi") == "Mỗi hộ chỉ có một chủ hộ."
    assert validate(form, answers, ("members", 1, "relation"), "spouse", today=TODAY) is None
    not_in_school = validate(form, answers, ("members", 0, "in_school"), "no", today=TODAY)
    assert not_in_school is not None and "đang đi học" in not_in_school.text("vi")
    devices = validate(form, answers, ("info_devices",), ["tv", "none"], today=TODAY)
    assert devices is not None and devices.message is not None
    future = validate(form, answers, ("members", 1, "birth_date"), date(2030, 1, 1), today=TODAY)
    assert future is not None
    too_small = validate(form, answers, ("floor_area_m2",), 0, today=TODAY)
    assert too_small is not None and "1.000 m²" in too_small.text("vi")


def test_labels_name_the_member(form: Form) -> None:
    answers = {
        "category": "poor",
        "member_count": 1,
        "members": [{"name": "Trần Thị Bình"}],
    }
    for key, value in HOUSEHOLD_INPUT.items():
        answers.setdefault(key, value)
    answers.update(
        {
            "area_type": "rural",
            "house_wall": "durable",
            "house_column": "durable",
            "house_roof": "durable",
            "floor_area_m2": 40,
            "water_source": "piped",
            "latrine": "septic",
            "info_devices": ["tv"],
            "waste_disposal": "collected",
            "income_per_capita_month": None,
            "housing_difficulty": "no",
        }
    )
    step = next_step(form, answers, today=TODAY)
    assert isinstance(step, Question)
    assert step.path == ("members", 0, "sex")
    assert step.label.vi == "Giới tính của Trần Thị Bình?"
    prefill = {"members": [{"sex": "female"}]}
    prefilled = next_step(form, answers, today=TODAY, prefill=prefill)
    assert isinstance(prefilled, Question) and prefilled.default == "female"
