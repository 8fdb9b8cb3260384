"""The Questionnaire value answers as the engine does, and is built the same either way.

- differential: for random answers (changed, removed, making others irrelevant, repeat
  counts up and down) on the bundled form and on small forms with repeats, choice filters,
  calculations, defaults and notes, every method gives the engine's reply on the engine's
  settled answers (``drop_irrelevant(apply_calculations(...))``, as the chat stores them):
  the old engine evaluates the form its own way (an XML instance and elementpath), so it
  is a fair oracle;
- property: answering turn by turn gives the value ``start`` builds from the final
  answers, and a value survives JSON;
- examples: what a question shows (labels, notes, defaults, messages), and stored states
  that no longer serve.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms.answers import answers_from, get_answer, set_answer
from forms.codec import flatten
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
from forms.model import Done, Form, Invalid, Path, Question, Text
from forms.plan import compile_plan
from forms.questionnaire import Questionnaire, StateError
from forms.xlsform import current_form, parse_workbook
from tests.forms.conftest import TODAY, YES_NO, Rows, c, q, write_workbook
from tests.forms.test_plan import (
    NESTED,
    PLOT_CHOICES,
    PLOTS,
    PROPERTY,
    REMOVE,
    ROSTER,
    Answer,
    Case,
    answer_steps,
    apply,
    bundled,
    counting_fields,
    state_image,
    values_for,
)
from tests.forms.test_plan_json import format_1

__all__ = ["bundled"]  # a fixture, shared with test_plan

LABELS: Rows = [
    q("note", "intro", "Hộ ${head}, ${size} người"),
    q("text", "head", "Tên chủ hộ?", required="yes", required_message="Cần tên chủ hộ"),
    q(
        "integer",
        "size",
        "Hộ ${head} có mấy người?",
        hint="Kể cả ${head}",
        default="2",
        constraint=". > 0 and . < 6",
        constraint_message="Từ 1 đến 5 người",
        required="yes",
    ),
    q("decimal", "area", "Diện tích (m2)", default="${size} * 12.5"),
    q("date", "moved", "Ngày chuyển đến", default="2020-01-15"),
    q("note", "people_note", "Từng người (${size}), từ ${moved}", relevant="${size} > 1"),
    q("begin repeat", "people", "Người", repeat_count="${size}"),
    q("calculate", "no", calculation="position(..)"),
    q("note", "person_note", "Người số ${no} của hộ ${head}"),
    q("text", "name", "Tên người ${no}", required="${no} = 1", default="concat('Người ', ${no})"),
    q("select_one yn", "works", "${name} đi làm? (${area} m2)", required="yes"),
    q(
        "select_multiple tools",
        "tools",
        "Công cụ của ${name}",
        choice_filter="kind = ${works}",
        default="hoe plough",
    ),
    q("note", "person_done", "${name}: ${works}; ${tools}"),
    q("end repeat", ""),
    q("calculate", "workers", calculation="count(${works}[. = 'yes'])"),
    q("note", "end_note", "Xong: ${head}, ${workers} người đi làm, ${area}"),
    q("acknowledge", "ok", "Xác nhận ${moved}", default="OK", required="${workers} > 0"),
]
LABEL_CHOICES: Rows = [
    *YES_NO,
    c("tools", "hoe", "Cuốc", "Hoe", kind="yes"),
    c("tools", "plough", "Cày", "Plough", kind="yes"),
    c("tools", "none", "Không có", "None", kind="no"),
]
FORMS = {
    "roster": (ROSTER, YES_NO),
    "plots": (PLOTS, PLOT_CHOICES),
    "nested": (NESTED, YES_NO),
    "labels": (LABELS, LABEL_CHOICES),
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    folder = tmp_path_factory.mktemp("questionnaire_forms")
    built = {}
    for name, (survey, choices_rows) in FORMS.items():
        form = parse_workbook(write_workbook(folder / f"{name}.xlsx", survey, choices_rows))
        built[name] = Case(name, form, compile_plan(form))
    return built


def deep(value: Any) -> Any:
    """A comparable image of engine replies: types kept apart (1, 1.0, True and
    Decimal("1") are different answers), dataclasses field by field."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, {f.name: deep(getattr(value, f.name)) for f in fields(value)})
    if isinstance(value, Mapping):
        return ("map", {key: deep(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(deep(item) for item in value))
    return (type(value).__name__, value)


def settle(form: Form, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's answers after a turn (bot/interview/session.py, record_all)."""
    return drop_irrelevant(form, apply_calculations(form, answers, today=TODAY), today=TODAY)


# -- the differential check ---------------------------------------------------------------


def assert_like_engine(
    case: Case,
    value: Questionnaire,
    answers: dict[str, Any],
    prefill: dict[str, Any],
    data: st.DataObject,
) -> None:
    """Every method of ``value`` against the engine on its settled ``answers``."""
    form = case.form
    assert_reads_like_answers(value, answers)
    assert deep(value.answers()) == deep(answers)
    assert deep(value.rows()) == deep(flatten(answers))
    assert deep(value.next_step()) == deep(next_step(form, answers, today=TODAY, prefill=prefill))
    assert deep(value.question_at(None)) == deep(value.next_step())
    assert value.answered() == answered_questions(form, answers, today=TODAY)
    visible = visible_questions(form, answers, today=TODAY)
    for path in visible:
        expected = question_at(form, answers, path, today=TODAY, prefill=prefill)
        assert deep(value.question_at(path)) == deep(expected), path
    for current in [None, *visible, ("nowhere",)]:
        expected_path = previous_question(form, answers, current, today=TODAY)
        assert value.previous(current) == expected_path, current
    for _ in range(2 if visible else 0):
        path = data.draw(st.sampled_from(visible))
        field = form.fields[str(path[-1])]
        sizing = field.name in counting_fields(case.plan)  # a repeat of 50 million is no test
        candidate = data.draw(values_for(field, form, sizing))
        expected_problem = validate(form, answers, path, candidate, today=TODAY)
        assert deep(value.validate(path, candidate)) == deep(expected_problem), (path, candidate)


def assert_reads_like_answers(value: Questionnaire, answers: dict[str, Any]) -> None:
    """``answer_at`` and ``instances`` read what the settled answers hold, for every path
    the state knows, and for the instance after each (which holds nothing)."""
    state = value.state
    known = {*state.answers, *state.calculated, *state.counts, *state.lengths, *state.relevant}
    beyond = {
        (*path[:end], path[end] + 1, *path[end + 1 :])
        for path in known
        for end in range(1, len(path), 2)
        if isinstance(path[end], int)
    }
    for path in sorted(known | beyond, key=repr):
        if str(path[-1]) in value.plan.form.fields:
            expected = get_answer(answers, path)
            assert deep(value.answer_at(path)) == deep(expected), path
        elif str(path[-1]) in value.plan.form.repeats:
            assert value.instances(path) == len(get_answer(answers, path) or []), path


def assert_same(left: Questionnaire, right: Questionnaire) -> None:
    assert left == right
    assert state_image(left.state) == state_image(right.state)
    assert deep(left.prefill) == deep(right.prefill)


def round_trip(value: Questionnaire) -> Questionnaire:
    data = json.loads(json.dumps(value.to_json()))
    loaded = Questionnaire.from_json(value.plan, data, today=TODAY, prefill=value.prefill)
    assert loaded is not None
    return loaded


@st.composite
def prefills(draw: st.DrawFn, case: Case) -> dict[str, Any]:
    """Suggested answers: a part of the scripted ones (the roster's, as confirmed) or
    random ones, or none."""
    steps = [step for step in draw(answer_steps(case, length=6)) if step[1] is not REMOVE]
    return answers_from(steps) if draw(st.booleans()) else {}


@st.composite
def turns(draw: st.DrawFn, case: Case) -> list[list[tuple[Path, Any]]]:
    """Random answers given as turns of one answer, or several at once (a roster)."""
    steps = [step for step in draw(answer_steps(case)) if step[1] is not REMOVE]
    grouped: list[list[tuple[Path, Any]]] = []
    while steps:
        size = draw(st.sampled_from([1, 1, 1, 2, 4]))
        grouped.append(steps[:size])
        steps = steps[size:]
    return grouped


def check_start(case: Case, steps: list[Answer], prefill: dict[str, Any], data: Any) -> None:
    """Answers however they came (removals, stale calculations, answers that do not
    apply any more): the value built from them settles them like the engine."""
    answers: dict[str, Any] = {}
    for step in steps:
        answers = apply(answers, step)
    value = Questionnaire.start(case.plan, answers, today=TODAY, prefill=prefill)
    settled = settle(case.form, answers)
    assert_like_engine(case, value, settled, prefill, data)
    assert_same(Questionnaire.start(case.plan, settled, today=TODAY, prefill=prefill), value)
    assert_same(round_trip(value), value)


def check_turns(
    case: Case, grouped: list[list[tuple[Path, Any]]], prefill: dict[str, Any], data: Any
) -> None:
    """Turn after turn as the chat takes them, against the engine after each."""
    value = Questionnaire.start(case.plan, {}, today=TODAY, prefill=prefill)
    answers: dict[str, Any] = {}
    for items in grouped:
        for path, given_value in items:
            answers = set_answer(answers, path, given_value)
        answers = settle(case.form, answers)
        value = value.answer(items)
        # Its rows worked out from those before (asked for below, so for the next turn
        # too): the rows of the same value computed afresh, in the same order.
        assert [deep(row) for row in value.rows().items()] == [
            deep(row) for row in replace(value).rows().items()
        ]
        assert_like_engine(case, value, answers, prefill, data)
        assert_same(round_trip(value), value)
    assert_same(value, Questionnaire.start(case.plan, answers, today=TODAY, prefill=prefill))


# -- differential: the bundled form --------------------------------------------------------


@settings(PROPERTY, max_examples=20)
@given(data=st.data())
def test_answers_as_given_are_settled_like_the_engine(bundled: Case, data: st.DataObject) -> None:
    steps = data.draw(answer_steps(bundled))
    check_start(bundled, steps, data.draw(prefills(bundled)), data)


@settings(PROPERTY, max_examples=15)
@given(data=st.data())
def test_turns_on_the_household_agree_with_engine(bundled: Case, data: st.DataObject) -> None:
    check_turns(bundled, data.draw(turns(bundled)), data.draw(prefills(bundled)), data)


def test_scripted_household_turn_by_turn(bundled: Case) -> None:
    """The whole interview, a question at a time, as the chat asks it."""
    value = Questionnaire.start(bundled.plan, {}, today=TODAY)
    answers: dict[str, Any] = {}
    for path, given_value in bundled.script:
        step = value.next_step()
        assert isinstance(step, Question) and step.path == path
        assert deep(step) == deep(next_step(bundled.form, answers, today=TODAY))
        assert value.validate(path, given_value) is None
        value = value.answer([(path, given_value)])
        answers = settle(bundled.form, set_answer(answers, path, given_value))
        assert deep(value.answers()) == deep(answers)
    assert isinstance(value.next_step(), Done)
    assert value.answers()["members"][1]["age"] == 77
    assert len(value.answered()) == len(bundled.script)
    assert value.previous(None) == bundled.script[-1][0]
    assert_same(value, Questionnaire.start(bundled.plan, answers, today=TODAY))


def test_an_answer_validated_first_is_recorded_as_given(small: dict[str, Case]) -> None:
    """A turn validates, then records: the validated state serves only the same answer."""
    plan = small["roster"].plan
    value = Questionnaire.start(plan, {"size": 2}, today=TODAY)
    path = ("people", 1, "age")
    for tried, kept in [(20, 20.0), (20, True), (20, 30), (["a"], ["a"]), (20, 20)]:
        value.validate(path, tried)
        recorded = value.answer([(path, kept)])
        expected = Questionnaire.start(plan, {"size": 2}, today=TODAY).answer([(path, kept)])
        assert_same(recorded, expected)
        assert deep(recorded.answers()["people"][1]["age"]) == deep(kept)


# -- differential: small forms -------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORMS))
@settings(PROPERTY, max_examples=40)
@given(data=st.data())
def test_small_forms_agree_with_engine(
    small: dict[str, Case], name: str, data: st.DataObject
) -> None:
    case = small[name]
    prefill = data.draw(prefills(case))
    check_start(case, data.draw(answer_steps(case, length=15)), prefill, data)
    check_turns(case, data.draw(turns(case)), prefill, data)


# -- what a question shows -----------------------------------------------------------------


def test_labels_notes_and_defaults(small: dict[str, Case]) -> None:
    plan = small["labels"].plan
    value = Questionnaire.start(plan, {}, today=TODAY)
    first = value.next_step()
    assert isinstance(first, Question) and first.path == ("head",)
    # Nothing answered yet: the references read empty (a default is no answer).
    assert first.notes == (Text("Hộ ,  người", "Hộ ,  người"),)
    value = value.answer([(("head",), "An")])
    size = value.next_step()
    assert isinstance(size, Question)
    assert (size.label.vi, size.hint.vi, size.default, size.notes) == (
        "Hộ An có mấy người?",
        "Kể cả An",
        2,
        (),
    )
    refused = value.validate(("size",), 9)
    assert refused == Invalid(
        "forms.constraint_failed", message=Text("Từ 1 đến 5 người", "Từ 1 đến 5 người")
    )
    assert value.validate(("head",), None) == Invalid(
        "forms.required", message=Text("Cần tên chủ hộ", "Cần tên chủ hộ")
    )
    value = value.answer([(("size",), 2)])
    area = value.question_at(("area",))
    assert area.default == Decimal("25")
    moved = value.answer([(("area",), Decimal("30.5"))]).next_step()
    assert isinstance(moved, Question) and moved.default == date(2020, 1, 15)
    value = value.answer([(("area",), Decimal("30.5")), (("moved",), date(2019, 6, 1))])
    name = value.next_step()
    assert isinstance(name, Question) and name.path == ("people", 0, "name")
    # The notes before it: the section's, then the member's; numbers the Vietnamese way.
    assert [note.vi for note in name.notes] == [
        "Từng người (2), từ 01/06/2019",
        "Người số 1 của hộ An",
    ]
    assert name.required and name.default == "Người 1"
    value = value.answer([(("people", 0, "name"), "Bình"), (("people", 0, "works"), "yes")])
    tools = value.next_step()
    assert isinstance(tools, Question)
    assert tools.label.en == "Công cụ của Bình"
    assert [choice.name for choice in tools.choices] == ["hoe", "plough"]
    assert tools.default == ["hoe", "plough"]
    assert value.question_at(("people", 0, "works")).label.vi == "Bình đi làm? (30,5 m2)"
    assert value.validate(("people", 0, "tools"), ["none"]) == Invalid(
        "forms.choice_not_allowed", {"value": "none"}
    )


def test_prefilled_answers_keep_the_notes_before_them(small: dict[str, Case]) -> None:
    """A roster confirmed at once answered questions that were never asked: the notes
    before them still come with the first question that is."""
    plan = small["labels"].plan
    prefill = {"head": "An", "size": 1}
    value = Questionnaire.start(plan, {}, today=TODAY, prefill=prefill)
    value = value.answer([(("head",), "An"), (("size",), 1)])
    step = value.next_step()
    assert isinstance(step, Question) and step.path == ("area",)
    assert [note.vi for note in step.notes] == ["Hộ An, 1 người"]
    changed = Questionnaire.start(plan, {}, today=TODAY, prefill=prefill).answer(
        [(("head",), "Ân"), (("size",), 1)]
    )
    assert changed.next_step().notes == ()  # type: ignore[union-attr]


# -- stored states --------------------------------------------------------------------------


def test_stored_state_serves_its_form_and_day_only(bundled: Case) -> None:
    plan = bundled.plan
    value = Questionnaire.start(plan, {}, today=TODAY).answer(bundled.script[:10])
    data = json.loads(json.dumps(value.to_json()))
    assert_same(Questionnaire.from_json(plan, data, today=TODAY) or value, value)
    assert Questionnaire.from_json(plan, data, today=TODAY + timedelta(days=1)) is None
    assert Questionnaire.from_json(plan, {**data, "form_version": "0"}, today=TODAY) is None
    assert Questionnaire.from_json(plan, {**data, "form_id": "other"}, today=TODAY) is None
    assert Questionnaire.from_json(plan, {**data, "format": 0}, today=TODAY) is None
    other = replace(bundled.form, version="other")
    assert Questionnaire.from_json(compile_plan(other), data, today=TODAY) is None
    for broken in [{**data, "state": {"today": TODAY.isoformat()}}, {**data, "state": 3}, []]:
        with pytest.raises(StateError):
            Questionnaire.from_json(plan, broken, today=TODAY)  # type: ignore[arg-type]
    # The prefill is the interview's own, given again on loading.
    prefilled = Questionnaire.from_json(plan, data, today=TODAY, prefill={"category": "poor"})
    assert prefilled is not None and prefilled.prefill == {"category": "poor"}
    assert prefilled != value


def test_a_state_stored_in_format_1_still_loads(bundled: Case) -> None:
    plan = bundled.plan
    value = Questionnaire.start(plan, {}, today=TODAY).answer(bundled.script[:40])
    old = {**value.to_json(), "format": 1, "state": format_1(value.state)}
    loaded = Questionnaire.from_json(plan, json.loads(json.dumps(old)), today=TODAY)
    assert loaded is not None
    assert_same(loaded, value)
    assert loaded.to_json()["format"] == 2


def test_a_state_of_the_form_edited_under_its_version_is_not_used(
    tmp_path: FilePath,
) -> None:
    survey = [q("integer", "size", "Số người?"), q("text", "head", "Chủ hộ?")]
    form = parse_workbook(write_workbook(tmp_path / "form.xlsx", survey))
    value = Questionnaire.start(compile_plan(form), {"size": 2}, today=TODAY)
    data = json.loads(json.dumps(value.to_json()))
    edited = parse_workbook(write_workbook(tmp_path / "edited.xlsx", survey[::-1]))
    assert (edited.form_id, edited.version) == (form.form_id, form.version)
    assert Questionnaire.from_json(compile_plan(edited), data, today=TODAY) is None
    assert Questionnaire.from_json(value.plan, data, today=TODAY) == value


def test_answers_are_copies(bundled: Case) -> None:
    value = Questionnaire.start(bundled.plan, {}, today=TODAY).answer(bundled.script[:3])
    answers = value.answers()
    answers["category"] = "changed"
    assert value.answers()["category"] != "changed"
    with pytest.raises(KeyError):
        value.answer([(("members", 0), 1)])


def _plausible(question: Question) -> Any:
    # A value each kind of question takes on the bundled form (choices: the first).
    if question.default is not None:
        return question.default
    if question.choices:
        first = question.choices[0].name
        return [first] if "multiple" in str(question.type) else first
    kind = str(question.type)
    if "integer" in kind or "decimal" in kind:
        return 2
    if "date" in kind:
        return TODAY - timedelta(days=40 * 365)
    return "Nguyễn Văn A"


def test_answering_leaves_no_garbage_only_the_collector_frees() -> None:
    """Every object an answer (or a questionnaire loaded from its answers) makes is freed as
    soon as it is dropped: none is left in a reference cycle (a recursive closure holding
    itself, a run holding its tree holding the run) for the collector's full passes, which
    stop every chat turn of the process while they walk them."""
    form = current_form()
    plan = compile_plan(form)
    value = Questionnaire.start(plan, {}, today=TODAY)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    answered = 0
    try:
        for _ in range(40):
            step = value.next_step()
            if not isinstance(step, Question):
                break
            given = _plausible(step)
            if value.validate(step.path, given) is not None:
                break
            value = value.answer([(step.path, given)])
            value.rows()
            value.to_json()
            value.question_at(step.path)
            answered += 1
        # Loaded again from its answers, as a turn with no remembered state does.
        Questionnaire.start(plan, value.answers(), today=TODAY).next_step()
        del value, step
        gc.collect()
        ours = [
            o
            for o in gc.garbage
            if type(o).__module__.startswith("forms")
            or getattr(getattr(o, "__code__", None), "co_filename", "").endswith(".py")
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert answered >= 10
    assert ours == []
