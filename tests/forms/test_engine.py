"""Navigation, validation and helpers of the engine over small fixture forms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from forms.answers import get_answer, has_answer, remove_answer, set_answer
from forms.engine import (
    answered_questions,
    apply_calculations,
    drop_irrelevant,
    next_step,
    previous_question,
    question_at,
    validate,
    visible_questions,
)
from forms.model import Done, Form, Question, Text
from tests.forms.conftest import TODAY, YES_NO, MakeForm, c, q

CM_VI, CM_EN = "constraint_message::Vietnamese (vi)", "constraint_message::English (en)"
RM_VI, RM_EN = "required_message::Vietnamese (vi)", "required_message::English (en)"
HINT_VI = "hint::Vietnamese (vi)"


def ask(form: Form, answers: dict[str, object]) -> Question:
    step = next_step(form, answers, today=TODAY)
    assert isinstance(step, Question)
    return step


@pytest.fixture
def branching(make_form: MakeForm) -> Form:
    return make_form(
        [
            q("note", "welcome", "Xin chào ${who}", en="Hello ${who}"),
            q("text", "who", "Tên?", required="yes"),
            q("select_one yn", "has_job", "Có việc làm không?", required="yes"),
            q("text", "job", "Làm nghề gì, ${who}?", required="yes", relevant="${has_job} = 'yes'"),
            q("integer", "hours", "Số giờ?", relevant="${has_job} = 'yes'"),
            q("note", "bye", "Cảm ơn"),
        ],
        YES_NO,
    )


def test_walk_with_relevance_and_notes(branching: Form) -> None:
    first = ask(branching, {})
    assert first.path == ("who",)
    assert first.notes == (Text(vi="Xin chào ", en="Hello "),)
    second = ask(branching, {"who": "Lan"})
    assert second.path == ("has_job",) and second.notes == ()
    assert [ch.name for ch in second.choices] == ["yes", "no"]
    job = ask(branching, {"who": "Lan", "has_job": "yes"})
    assert job.path == ("job",)
    assert job.label == Text(vi="Làm nghề gì, Lan?", en="Làm nghề gì, Lan?")
    done = next_step(branching, {"who": "Lan", "has_job": "no"}, today=TODAY)
    assert done == Done(notes=(Text(vi="Cảm ơn", en="Cảm ơn"),))


def test_skipped_optional_question_counts_as_answered(branching: Form) -> None:
    answers = {"who": "Lan", "has_job": "yes", "job": "May"}
    assert ask(branching, answers).path == ("hours",)
    assert isinstance(next_step(branching, {**answers, "hours": None}, today=TODAY), Done)


def test_required_with_form_message(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("text", "a", "A", required="yes", **{RM_VI: "Phải nhập A", RM_EN: "A is needed"}),
            q("text", "b", "B", required="yes"),
            q("text", "c", "C", required="${a} = 'x'"),
        ]
    )
    problem = validate(form, {}, ("a",), None, today=TODAY)
    assert problem is not None and problem.text("vi") == "Phải nhập A"
    assert problem.text("en") == "A is needed"
    generic = validate(form, {}, ("b",), "", today=TODAY)
    assert generic is not None and generic.key == "forms.required"
    assert generic.text("vi") == "Câu hỏi này bắt buộc phải trả lời."
    assert validate(form, {"a": "x"}, ("c",), None, today=TODAY) is not None
    assert validate(form, {"a": "y"}, ("c",), None, today=TODAY) is None
    assert ask(form, {"a": "x", "b": "y"}).required
    assert not ask(form, {"a": "y", "b": "y"}).required


def test_constraint_with_message(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("integer", "adults", "Người lớn"),
            q(
                "integer",
                "workers",
                "Lao động",
                constraint=". <= ${adults}",
                **{CM_VI: "Không quá số người lớn", CM_EN: "At most the adults"},
            ),
        ]
    )
    problem = validate(form, {"adults": 2}, ("workers",), 3, today=TODAY)
    assert problem is not None and problem.key == "forms.constraint_failed"
    assert (problem.text("vi"), problem.text("en")) == (
        "Không quá số người lớn",
        "At most the adults",
    )
    assert validate(form, {"adults": 2}, ("workers",), 2, today=TODAY) is None


def test_changed_earlier_answer_reopens_later_question(make_form: MakeForm) -> None:
    form = make_form(
        [q("integer", "adults", "A"), q("integer", "workers", "W", constraint=". <= ${adults}")]
    )
    assert isinstance(next_step(form, {"adults": 3, "workers": 3}, today=TODAY), Done)
    reopened = ask(form, {"adults": 1, "workers": 3})
    assert reopened.path == ("workers",) and reopened.value == 3
    assert reopened.error is not None and reopened.error.key == "forms.constraint_failed"


def test_type_checks(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("integer", "n", "N"),
            q("date", "d", "D"),
            q("select_one yn", "s", "S"),
            q("select_multiple yn", "m", "M"),
        ],
        YES_NO,
    )
    for path, value in [
        (("n",), "3"),
        (("n",), 1.5),
        (("d",), "2020-01-01"),
        (("s",), ["yes"]),
        (("m",), "yes"),
    ]:
        problem = validate(form, {}, path, value, today=TODAY)
        assert problem is not None and problem.key == "forms.wrong_type", (path, value)
    wrong_code = validate(form, {}, ("s",), "maybe", today=TODAY)
    assert wrong_code is not None and wrong_code.key == "forms.choice_not_allowed"
    assert validate(form, {}, ("m",), ["yes", "no"], today=TODAY) is None


def test_choice_filter_uses_answers_and_extra_columns(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("select_one province", "province", "Tỉnh"),
            q("integer", "min_size", "Cỡ"),
            q(
                "select_one commune",
                "commune",
                "Xã",
                choice_filter="province = ${province} and size >= ${min_size}",
            ),
        ],
        [
            c("province", "dt", "Đồng Tháp"),
            c("province", "ag", "An Giang"),
            c("commune", "tm", "Tháp Mười", province="dt", size=5),
            c("commune", "mh", "Mỹ Hòa", province="dt", size=1),
            c("commune", "lx", "Long Xuyên", province="ag", size=9),
        ],
    )
    commune = ask(form, {"province": "dt", "min_size": 2})
    assert [ch.name for ch in commune.choices] == ["tm"]
    assert [ch.name for ch in ask(form, {"province": "dt", "min_size": 0}).choices] == [
        "tm",
        "mh",
    ]
    problem = validate(form, {"province": "ag", "min_size": 0}, ("commune",), "tm", today=TODAY)
    assert problem is not None and problem.key == "forms.choice_not_allowed"


@pytest.fixture
def household(make_form: MakeForm) -> Form:
    return make_form(
        [
            q("integer", "size", "Số người?", required="yes"),
            q("begin repeat", "people", "Người", repeat_count="${size}"),
            q("text", "name", "Tên người thứ ${no}?", required="yes"),
            q("calculate", "no", calculation="position(..)"),
            q("integer", "age", "Tuổi của ${name}?", required="yes"),
            q("select_one yn", "works", "${name} có đi làm?", relevant="${age} >= 15"),
            q("end repeat", ""),
            q("calculate", "workers", calculation="count(${works}[. = 'yes'])"),
        ],
        YES_NO,
    )


def test_repeat_count_drives_instances(household: Form) -> None:
    first = ask(household, {"size": 2})
    assert first.path == ("people", 0, "name")
    assert first.label.vi == "Tên người thứ 1?"
    answers = {"size": 2, "people": [{"name": "An", "age": 40, "works": "yes"}, {"name": "Bé"}]}
    second = ask(household, answers)
    assert second.path == ("people", 1, "age") and second.label.vi == "Tuổi của Bé?"
    answers["people"][1]["age"] = 5  # type: ignore[index]
    assert isinstance(next_step(household, answers, today=TODAY), Done)
    assert apply_calculations(household, answers, today=TODAY)["workers"] == 1
    assert visible_questions(household, answers, today=TODAY) == [
        ("size",),
        ("people", 0, "name"),
        ("people", 0, "age"),
        ("people", 0, "works"),
        ("people", 1, "name"),
        ("people", 1, "age"),
    ]


def test_shrinking_repeat_count_and_drop_irrelevant(household: Form) -> None:
    answers = {
        "size": 1,
        "people": [{"name": "An", "age": 10, "works": "yes"}, {"name": "Bé", "age": 3}],
    }
    assert isinstance(next_step(household, answers, today=TODAY), Done)
    cleaned = drop_irrelevant(household, answers, today=TODAY)
    assert len(cleaned["people"]) == 1
    assert "works" not in cleaned["people"][0]  # age 10: the work question is not relevant
    assert cleaned["people"][0]["name"] == "An"
    assert answers["people"][0]["works"] == "yes"  # the caller's data is untouched


def test_back_and_review(household: Form) -> None:
    answers = {"size": 2, "people": [{"name": "An", "age": 40}]}
    assert ask(household, answers).path == ("people", 0, "works")
    assert previous_question(household, answers, None, today=TODAY) == ("people", 0, "age")
    assert previous_question(household, answers, ("people", 0, "name"), today=TODAY) == ("size",)
    assert previous_question(household, answers, ("size",), today=TODAY) is None
    assert answered_questions(household, answers, today=TODAY) == [
        ("size",),
        ("people", 0, "name"),
        ("people", 0, "age"),
    ]
    again = question_at(household, answers, ("people", 0, "age"), today=TODAY)
    assert again.value == 40 and again.label.vi == "Tuổi của An?"


def test_defaults_and_prefill(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("integer", "n", "N", default="3"),
            q("select_multiple yn", "m", "M", default="yes no"),
            q("date", "d", "D", default="2000-01-31"),
            q("integer", "twice", "Twice", default="${n} * 2"),
            q("text", "t", "T"),
        ],
        YES_NO,
    )
    assert ask(form, {}).default == 3
    assert ask(form, {"n": 4}).default == ["yes", "no"]
    assert ask(form, {"n": 4, "m": ["no"]}).default == date(2000, 1, 31)
    assert ask(form, {"n": 4, "m": ["no"], "d": None}).default == 8
    prefill = {"t": "Từ danh sách"}
    step = next_step(form, {"n": 4, "m": [], "d": None, "twice": 8}, today=TODAY, prefill=prefill)
    assert isinstance(step, Question) and step.default == "Từ danh sách"


def test_builtin_birth_and_age_sanity(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("date", "birth_date", "Ngày sinh"),
            q("integer", "birth_year", "Năm sinh"),
            q("integer", "age", "Tuổi"),
        ]
    )

    def key(path: str, value: object) -> str | None:
        problem = validate(form, {}, (path,), value, today=TODAY)
        return problem.key if problem else None

    assert key("birth_date", date(2025, 10, 2)) == "forms.birth_in_future"
    assert key("birth_date", date(2025, 10, 1)) is None
    assert key("birth_date", date(1904, 9, 30)) == "forms.age_over_limit"
    assert key("birth_date", date(1905, 10, 1)) is None  # exactly 120 today
    assert key("birth_year", 2026) == "forms.birth_in_future"
    assert key("birth_year", 1904) == "forms.age_over_limit"
    assert key("birth_year", 1985) is None
    assert key("age", 121) == "forms.age_over_limit"
    assert key("age", -1) == "forms.age_negative"
    over = validate(form, {}, ("age",), 121, today=TODAY)
    assert over is not None and "120" in over.text("vi")


def test_group_relevance_applies_to_children(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("integer", "age", "Tuổi"),
            q("begin group", "adult", "Người lớn", relevant="${age} >= 18"),
            q("select_one yn", "married", "Kết hôn?"),
            q("end group", ""),
            q("select_one yn", "school", "Đi học?"),
        ],
        YES_NO,
    )
    assert ask(form, {"age": 30}).path == ("married",)
    assert ask(form, {"age": 10}).path == ("school",)


def test_acknowledge(make_form: MakeForm) -> None:
    form = make_form([q("acknowledge", "consent", "Đồng ý tham gia?", required="yes")])
    assert ask(form, {}).path == ("consent",)
    assert isinstance(next_step(form, {"consent": "OK"}, today=TODAY), Done)
    problem = validate(form, {}, ("consent",), "no", today=TODAY)
    assert problem is not None and problem.key == "forms.not_acknowledged"


def test_answers_helpers() -> None:
    answers: dict[str, object] = {"a": 1}
    updated = set_answer(answers, ("people", 2, "name"), "An")
    assert answers == {"a": 1}
    assert updated["people"] == [{}, {}, {"name": "An"}]
    assert get_answer(updated, ("people", 2, "name")) == "An"
    assert has_answer(updated, ("people", 2, "name"))
    assert not has_answer(updated, ("people", 0, "name"))
    assert not has_answer(remove_answer(updated, ("people", 2, "name")), ("people", 2, "name"))
    assert has_answer(set_answer(answers, ("b",), None), ("b",))


def test_decimal_answers_in_expressions(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("decimal", "area", "Diện tích", constraint=". > 0"),
            q("calculate", "per_person", calculation="${area} div 4"),
        ]
    )
    assert apply_calculations(form, {"area": Decimal("42.5")}, today=TODAY)["per_person"] == 10.625
    assert validate(form, {}, ("area",), Decimal(0), today=TODAY) is not None


def test_iso_date_strings_from_storage_are_understood(make_form: MakeForm) -> None:
    form = make_form(
        [q("date", "d", "D"), q("calculate", "y", calculation="format-date(${d}, '%Y')")]
    )
    assert apply_calculations(form, {"d": "1985-03-12"}, today=TODAY)["y"] == "1985"


def test_evaluations_are_shared_by_equal_data_only(make_form: MakeForm) -> None:
    # The engine keys its evaluations on the answers' bytes first, then on an order-free
    # image: the same data in another key order is the same evaluation, while values that
    # compare equal in Python but differ in type (1, 1.0, True) are not.
    form = make_form(
        [
            q("text", "name", "Tên"),
            q("decimal", "share", "Tỷ lệ", constraint="string-length(string(.)) < 3"),
        ]
    )
    one = {"name": "A", "share": 1}
    reordered = {"share": 1, "name": "A"}
    assert next_step(form, one, today=TODAY) == next_step(form, reordered, today=TODAY)
    assert apply_calculations(form, reordered, today=TODAY) == reordered
    assert isinstance(next_step(form, one, today=TODAY), Done)
    # True == 1 in Python, but it reads "true" in the instance: no shared evaluation.
    as_bool = next_step(form, {"name": "A", "share": True}, today=TODAY)
    assert isinstance(as_bool, Question) and as_bool.error is not None
    assert validate(form, {"name": "A"}, ("share",), 1, today=TODAY) is None
    assert validate(form, {"name": "A"}, ("share",), True, today=TODAY) is not None
