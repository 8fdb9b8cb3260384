"""The compiled plan: it agrees with the engine, and its incremental state with a full one.

- differential: on the bundled form (the scripted household and random answer sequences)
  and on small forms with repeats, choice filters and chained calculations, the plan's
  state gives the engine's next question, visible questions and calculated answers;
- property: after every answer of a random sequence, ``update`` gives the state that
  ``evaluate`` computes from scratch;
- the dependency graph names the right dependents (a state as JSON: test_plan_json).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms.answers import remove_answer, set_answer
from forms.engine import apply_calculations, drop_irrelevant, next_step, visible_questions
from forms.model import Field, FieldType, Form, FormError, Parsed, Path, Question
from forms.parsing import parse_answer
from forms.plan import (
    CHECK,
    COUNT,
    RELEVANT,
    VALUE,
    Plan,
    State,
    affected,
    choices,
    compile_plan,
    evaluate,
    next_question,
    prune,
    remove,
    settled_answers,
    update,
    walk,
    walk_back,
    walked,
)
from forms.plan import (
    visible_questions as plan_visible_questions,
)
from forms.plan_xpath import (
    PARENT,
    SELF,
    Binary,
    Call,
    Filter,
    Literal,
    Negate,
    Number,
    Ref,
    Step,
    XPathError,
    parse,
)
from forms.plan_xpath import Path as XPath
from forms.xlsform import load_bundled_form, parse_workbook
from tests.forms.conftest import TODAY, YES_NO, Rows, c, q, write_workbook
from tests.forms.test_household import HOUSEHOLD_INPUT, MEMBER_INPUT

PROPERTY = settings(
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def image(value: Any) -> Any:
    """A comparable image that keeps types apart (1, 1.0 and True are different answers)."""
    if isinstance(value, Mapping):
        return {key: image(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(image(item) for item in value))
    return (type(value).__name__, value)


def state_image(state: State) -> dict[str, Any]:
    return {f.name: image(getattr(state, f.name)) for f in fields(state)}


# -- forms ----------------------------------------------------------------------------------


class Case:
    """A form and its plan, named in reports instead of printed whole (a plain class:
    hypothesis prints a dataclass field by field)."""

    def __init__(
        self, name: str, form: Form, plan: Plan, script: tuple[tuple[Path, Any], ...] = ()
    ) -> None:
        self.name = name
        self.form = form
        self.plan = plan
        self.script = script
        """Valid answers in the order asked: random sequences start from a part of it."""

    def __repr__(self) -> str:
        return f"<form {self.name}>"


def scripted_household(form: Form) -> tuple[tuple[Path, Any], ...]:
    """The scripted household's answers (tests/forms/test_household.py), as the engine
    asks for them."""
    answers: dict[str, Any] = {}
    script = []
    while isinstance(step := next_step(form, answers, today=TODAY), Question):
        name = str(step.path[-1])
        raw = HOUSEHOLD_INPUT[name] if len(step.path) == 1 else MEMBER_INPUT[step.path[1]][name]  # type: ignore[index]
        parsed = parse_answer(step, raw)
        assert isinstance(parsed, Parsed), (step.path, parsed)
        script.append((step.path, parsed.value))
        answers = set_answer(answers, step.path, parsed.value)
    return tuple(script)


@pytest.fixture(scope="module")
def bundled() -> Case:
    form = load_bundled_form()
    return Case("household", form, compile_plan(form), scripted_household(form))


ROSTER: Rows = [
    q("integer", "size", "Số người?", required="yes", constraint=". >= 0"),
    q("begin repeat", "people", "Người", repeat_count="${size}"),
    q("calculate", "no", calculation="position(..)"),
    q("text", "name", "Tên người thứ ${no}?", required="yes"),
    q("integer", "age", "Tuổi?", required="yes"),
    q("select_one yn", "works", "Đi làm?", relevant="${age} >= 15"),
    q("calculate", "older_than_first", calculation="${age} > ../../people[1]/age"),
    q("end repeat", ""),
    q("calculate", "workers", calculation="count(${works}[. = 'yes'])"),
    q("calculate", "total_age", calculation="sum(${age})"),
    q("calculate", "adults", calculation="count(${people}[age >= 18])"),
    q(
        "calculate",
        "share",
        calculation="${workers} div ${size}",
        relevant="string-length(${employer}) > 0",
    ),
    q("text", "employer", "Nơi làm?", relevant="${workers} > 0"),
]

PLOTS: Rows = [
    q("select_one province", "province", "Tỉnh", required="yes"),
    q("integer", "min_size", "Cỡ"),
    q(
        "select_one commune",
        "commune",
        "Xã",
        choice_filter="province = ${province} and size >= ${min_size}",
    ),
    q("integer", "plot_count", "Số thửa"),
    q("begin repeat", "plots", "Thửa", repeat_count="${plot_count}"),
    q("select_one crop", "crop", "Cây trồng"),
    q("select_one variety", "variety", "Giống", choice_filter="crop = ${crop}"),
    q("decimal", "area", "Diện tích", constraint=". > 0"),
    # Chained, and in reverse document order: grade is computed from productivity below.
    q("calculate", "grade", calculation="if(${productivity} > 2, 'high', 'low')"),
    q("decimal", "harvest", "Sản lượng"),
    q("calculate", "productivity", calculation="if(${area} > 0, ${harvest} div ${area}, '')"),
    q("end repeat", ""),
    q("calculate", "high_plots", calculation="count(${plots}[grade = 'high'])"),
    q("calculate", "total_harvest", calculation="sum(${harvest})"),
    q("calculate", "label", calculation="concat(${province}, '-', ${high_plots})"),
    q("select_one yn", "irrigated", "Tưới?", relevant="${high_plots} > 0 or ${min_size} = 3"),
]
PLOT_CHOICES: Rows = [
    *YES_NO,
    c("province", "dt", "Đồng Tháp"),
    c("province", "ag", "An Giang"),
    c("commune", "tm", "Tháp Mười", province="dt", size=5),
    c("commune", "mh", "Mỹ Hòa", province="dt", size=1),
    c("commune", "lx", "Long Xuyên", province="ag", size=9),
    c("crop", "rice", "Lúa"),
    c("crop", "mango", "Xoài"),
    c("variety", "st25", "ST25", crop="rice"),
    c("variety", "om18", "OM18", crop="rice"),
    c("variety", "cat", "Cát Chu", crop="mango"),
]

NESTED: Rows = [
    q("integer", "group_count", "Số nhóm"),
    q("text", "region", "Vùng"),
    q(
        "begin repeat",
        "groups",
        "Nhóm",
        repeat_count="${group_count}",
        relevant="${region} != 'a'",
    ),
    q("text", "title", "Tên nhóm"),
    q("integer", "item_count", "Số món"),
    q("begin group", "details", "Chi tiết", relevant="${item_count} > 1"),
    q("select_one yn", "shared", "Dùng chung?"),
    q("end group", ""),
    q("begin repeat", "items", "Món", repeat_count="${item_count}"),
    q("integer", "qty", "Số lượng"),
    q("calculate", "tag", calculation="concat(${region}, '/', ${title}, '/', position(..))"),
    q("text", "note", "Ghi chú", relevant="${qty} > ${item_count}"),
    q("end repeat", ""),
    q("calculate", "group_qty", calculation="sum(${qty})"),
    q("end repeat", ""),
    # A repeat without a count: as many instances as the answers hold.
    q("begin repeat", "visits", "Lần thăm", relevant="${group_count} != 0"),
    q("date", "visit_date", "Ngày"),
    q("calculate", "days_ago", calculation="today() - ${visit_date}"),
    q("end repeat", ""),
    q("calculate", "total_qty", calculation="sum(${qty})"),
    q("calculate", "big", calculation="${total_qty} > 10 and count(${items}) > 2"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    folder = tmp_path_factory.mktemp("plan_forms")
    built = {}
    for name, survey, choices_rows in [
        ("roster", ROSTER, YES_NO),
        ("plots", PLOTS, PLOT_CHOICES),
        ("nested", NESTED, YES_NO),
    ]:
        form = parse_workbook(write_workbook(folder / f"{name}.xlsx", survey, choices_rows))
        built[name] = Case(name, form, compile_plan(form))
    return built


# -- random answers -------------------------------------------------------------------------

Answer = tuple[Path, Any]
REMOVE = object()


def counting_fields(plan: Plan) -> set[str]:
    """Fields that size repeats: kept small so that a household stays a household."""
    return {
        name for (kind, _), reads in plan.reads.items() if kind == COUNT for _, name, _ in reads
    }


def values_for(field: Field, form: Form, small: bool) -> st.SearchStrategy[Any]:
    codes = [choice.name for choice in form.choices.get(field.list_name or "", ())]
    kind = field.type
    if kind is FieldType.SELECT_ONE:
        typed: st.SearchStrategy[Any] = st.sampled_from([*codes, "bogus"])
    elif kind is FieldType.SELECT_MULTIPLE:
        typed = st.lists(st.sampled_from(codes), unique=True, max_size=3)
    elif kind is FieldType.INTEGER:
        typed = (
            st.integers(-1, 4)
            if small
            else st.one_of(st.integers(-2, 40), st.integers(1930, 2030), st.just(50_000_001))
        )
    elif kind is FieldType.DECIMAL:
        typed = st.one_of(
            st.decimals(0, 50, places=1, allow_nan=False), st.integers(0, 20), st.just(0.5)
        )
    elif kind is FieldType.DATE:
        typed = st.dates(date(1930, 1, 1), date(2026, 12, 31))
    elif kind is FieldType.ACKNOWLEDGE:
        typed = st.sampled_from(["OK", "no"])
    else:
        typed = st.text(alphabet="ab ", max_size=3)
    return st.one_of(typed, st.none())


def steering_fields(plan: Plan) -> list[str]:
    """Answerable fields that some expression reads: where the interesting changes are."""
    read = {name for reads in plan.reads.values() for kind, name, _ in reads if kind == VALUE}
    return sorted(name for name in read if plan.form.fields[name].answerable)


@st.composite
def answer_steps(draw: st.DrawFn, case: Case, length: int = 12) -> list[Answer]:
    """Random answers (and removals), most of them where something depends on them: the
    repeat sizes first, then fields read by expressions, in instances that mostly exist."""
    form, plan = case.form, case.plan
    names = sorted(name for name, field in form.fields.items() if field.answerable)
    steering = steering_fields(plan)
    small = counting_fields(plan)
    steps: list[Answer] = list(case.script[: draw(st.integers(0, len(case.script)))])
    for name in sorted(small):
        if draw(st.integers(0, 4)):
            chain = form.fields[name].repeats
            path = (*(part for repeat in chain for part in (repeat, 0)), name)
            steps.append((path, draw(st.integers(1, 3))))
    for _ in range(draw(st.integers(1, length))):
        pool = steering if steering and draw(st.booleans()) else names
        field = form.fields[draw(st.sampled_from(pool))]
        path: list[str | int] = []
        for repeat in field.repeats:
            path += [repeat, draw(st.sampled_from([0, 0, 0, 1, 2]))]
        path.append(field.name)
        if len(path) == 1 and field.name in small and draw(st.booleans()):
            continue  # a household keeps its size for a while
        if draw(st.integers(0, 9)) == 0:
            steps.append((tuple(path), REMOVE))
        else:
            steps.append((tuple(path), draw(values_for(field, form, field.name in small))))
    return steps


def apply(answers: dict[str, Any], step: Answer) -> dict[str, Any]:
    path, value = step
    return remove_answer(answers, path) if value is REMOVE else set_answer(answers, path, value)


def advance(plan: Plan, state: State, step: Answer, today: date = TODAY) -> State:
    path, value = step
    return (
        remove(plan, state, path, today)
        if value is REMOVE
        else update(plan, state, path, value, today)
    )


def assert_agrees_with_engine(case: Case, state: State, answers: Any) -> None:
    form, plan = case.form, case.plan
    step = next_step(form, answers, today=TODAY)
    expected = step.path if isinstance(step, Question) else None
    assert next_question(plan, state) == expected
    assert plan_visible_questions(plan, state) == visible_questions(form, answers, today=TODAY)
    assert image(settled_answers(plan, state)) == image(
        apply_calculations(form, answers, today=TODAY)
    )
    assert_walks_back(plan, state)


def assert_walks_back(plan: Plan, state: State) -> None:
    """walk_back gives the walk before a field, last first: from the end, from the next
    question, and from fields all along (every field in a small walk)."""
    forward = list(walk(plan, state))
    assert walked(plan, state) == forward
    paths = [path for _, path in forward]
    step = max(1, len(paths) // 12)
    for at in {None, next_question(plan, state), *paths[::step], *paths[-1:]}:
        before = forward if at is None else forward[: paths.index(at)]
        assert list(walk_back(plan, state, at)) == before[::-1], at


def check_sequence(case: Case, steps: list[Answer], *, engine: bool) -> None:
    plan = case.plan
    answers: dict[str, Any] = {}
    state = evaluate(plan, answers, TODAY)
    for step in steps:
        answers = apply(answers, step)
        state = advance(plan, state, step)
        assert state_image(state) == state_image(evaluate(plan, answers, TODAY)), step
        if engine:
            assert_agrees_with_engine(case, state, answers)
            pruned = drop_irrelevant(case.form, answers, today=TODAY)
            assert_prunes_like_engine(case, state, pruned)


def assert_prunes_like_engine(case: Case, state: State, expected: dict[str, Any]) -> State:
    pruned = prune(case.plan, state, TODAY)
    assert image(settled_answers(case.plan, pruned, relevant_only=True)) == image(expected)
    assert state_image(pruned) == state_image(evaluate(case.plan, expected, TODAY))
    return pruned


def check_turns(case: Case, steps: list[Answer]) -> None:
    """Turns as the bot takes them: answer, calculate, drop what no longer applies."""
    answers: dict[str, Any] = {}
    state = evaluate(case.plan, answers, TODAY)
    for step in steps:
        answers = drop_irrelevant(
            case.form, apply_calculations(case.form, apply(answers, step), today=TODAY), today=TODAY
        )
        state = assert_prunes_like_engine(case, advance(case.plan, state, step), answers)
        assert_agrees_with_engine(case, state, answers)


# -- differential: the bundled form -----------------------------------------------------------


def test_scripted_household_agrees_with_engine(bundled: Case) -> None:
    plan = bundled.plan
    answers: dict[str, Any] = {}
    state = evaluate(plan, answers, TODAY)
    for path, value in bundled.script:
        assert next_question(plan, state) == path
        assert_agrees_with_engine(bundled, state, answers)
        question = next_step(bundled.form, answers, today=TODAY)
        assert isinstance(question, Question)
        offered = tuple(c.name for c in choices(plan, state, path))
        assert offered == tuple(c.name for c in question.choices)
        answers = set_answer(answers, path, value)
        state = update(plan, state, path, value, TODAY)
    assert next_question(plan, state) is None
    assert_agrees_with_engine(bundled, state, answers)
    assert len(bundled.script) > 60
    ages = [state.calculated[("members", i, "age")] for i in range(5)]
    assert ages == [50, 77, 20, 9, 25]
    assert state_image(state) == state_image(evaluate(plan, answers, TODAY))


@PROPERTY
@given(data=st.data())
def test_random_answers_on_the_household_agree_with_engine(
    bundled: Case, data: st.DataObject
) -> None:
    check_sequence(bundled, data.draw(answer_steps(bundled)), engine=True)


@settings(PROPERTY, max_examples=25)
@given(data=st.data())
def test_turns_like_the_bot_agree_with_engine(bundled: Case, data: st.DataObject) -> None:
    check_turns(bundled, data.draw(answer_steps(bundled)))


@settings(PROPERTY, max_examples=50)
@given(data=st.data())
def test_incremental_equals_full_on_the_household(bundled: Case, data: st.DataObject) -> None:
    check_sequence(bundled, data.draw(answer_steps(bundled, length=25)), engine=False)


# -- differential and property: small forms --------------------------------------------------


@pytest.mark.parametrize("name", ["roster", "plots", "nested"])
@settings(PROPERTY, max_examples=60)
@given(data=st.data())
def test_small_forms_incremental_equals_full_and_engine(
    small: dict[str, Case], name: str, data: st.DataObject
) -> None:
    case = small[name]
    steps = data.draw(answer_steps(case, length=15))
    check_sequence(case, steps, engine=True)
    check_turns(case, steps)


def test_roster_counts_and_cross_instance_calculations(small: dict[str, Case]) -> None:
    plan = small["roster"].plan
    state = evaluate(plan, {}, TODAY)
    state = update(plan, state, ("size",), 3, TODAY)
    assert state.counts[("people",)] == 3
    assert next_question(plan, state) == ("people", 0, "name")
    for i, age in enumerate([40, 10, 30]):
        state = update(plan, state, ("people", i, "age"), age, TODAY)
    state = update(plan, state, ("people", 2, "works"), "yes", TODAY)
    assert state.calculated[("workers",)] == 1
    assert state.calculated[("total_age",)] == 80
    assert state.calculated[("adults",)] == 2
    assert [state.calculated[("people", i, "older_than_first")] for i in range(3)] == [
        False,
        False,
        False,
    ]
    assert state.relevant[("employer",)] is True
    state = update(plan, state, ("people", 0, "age"), 5, TODAY)
    assert [state.calculated[("people", i, "older_than_first")] for i in range(3)] == [
        False,
        True,
        True,
    ]
    shrunk = update(plan, state, ("size",), 1, TODAY)
    assert shrunk.counts[("people",)] == 1
    assert ("people", 2, "works") not in shrunk.relevant
    assert shrunk.calculated[("workers",)] == 0 and shrunk.relevant[("employer",)] is False
    # The answers beyond the count are kept, as the engine keeps the caller's answers.
    regrown = update(plan, shrunk, ("size",), 3, TODAY)
    assert state_image(regrown) == state_image(state)


def test_choice_filters_follow_their_fields(small: dict[str, Case]) -> None:
    plan = small["plots"].plan
    state = evaluate(plan, {"province": "dt", "min_size": 2, "plot_count": 1}, TODAY)
    assert [c.name for c in choices(plan, state, ("commune",))] == ["tm"]
    state = update(plan, state, ("commune",), "tm", TODAY)
    assert ("commune",) not in state.problems
    state = update(plan, state, ("min_size",), 6, TODAY)
    assert state.problems[("commune",)] == "forms.choice_not_allowed"
    state = update(plan, state, ("plots", 0, "crop"), "mango", TODAY)
    assert [c.name for c in choices(plan, state, ("plots", 0, "variety"))] == ["cat"]


def test_a_new_day_re_evaluates_everything(small: dict[str, Case]) -> None:
    plan = small["nested"].plan
    answers = {"group_count": 1, "visits": [{"visit_date": date(2025, 9, 1)}]}
    state = evaluate(plan, answers, TODAY)
    assert state.calculated[("visits", 0, "days_ago")] == 30
    later = TODAY + timedelta(days=2)
    moved = update(plan, state, ("region",), "x", later)
    assert moved.calculated[("visits", 0, "days_ago")] == 32
    assert state_image(moved) == state_image(evaluate(plan, {**answers, "region": "x"}, later))


# -- XPath functions, against the engine -------------------------------------------------------

BASE = [
    q("integer", "n", "N"),
    q("decimal", "x", "X"),
    q("text", "t", "T"),
    q("date", "d", "D"),
    q("select_multiple colours", "s", "S"),
    q("text", "t_empty", "E"),
]
COLOURS = [c("colours", "red", "Đỏ"), c("colours", "green", "Xanh"), c("colours", "blue", "Lam")]
ANSWERS: dict[str, Any] = {
    "n": 7,
    "x": Decimal("2.5"),
    "t": "Nguyễn",
    "d": date(1985, 3, 12),
    "s": ["red", "blue"],
}
EXPRESSIONS = [
    "selected(${s}, 'red')",
    "selected(${s}, 'green')",
    "count-selected(${s})",
    "count-selected(${t_empty})",
    "if(${n} > 5, 'big', 'small')",
    "format-date(today(), '%Y-%m-%d')",
    "today() - ${d}",
    "int(7.9)",
    "int(-7.9)",
    "int(${x} * 3)",
    "round(2.5)",
    "round(-2.5)",
    "round(1.2345, 2)",
    "string-length(${t})",
    "regex(${t}, '^Ng')",
    "coalesce(${t_empty}, 'fallback')",
    "concat(${t}, '-', ${n})",
    "decimal-date-time(${d})",
    "decimal-date-time('1970-01-02T12:00:00')",
    "date('2020-01-01')",
    "format-date(date('2020-03-05'), '%d/%m/%Y')",
    "format-date(${d}, '%e/%n/%y')",
    "${d} < today()",
    "${d} > date('1990-01-01')",
    "${n} + ${x}",
    "sum(/data/n | /data/x)",
    "not(${t_empty} != '')",
    "${n} mod 3",
    "-${n} div 2",
    "substring(${t}, 2, 3)",
    "normalize-space('  a   b ')",
    "contains(${t}, 'guy') and starts-with(${t}, 'N')",
    "translate('abc', 'ab', 'x')",
    "floor(-1.5) + ceiling(1.2)",
    "count(/data/*)",
    "string(${n} = 7)",
    "boolean(${t_empty})",
    "number('12') * 2",
    "${t} = 'Nguyễn' or ${n} < 3",
    "string(1 div 4)",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_functions_agree_with_engine(tmp_path: FilePath, expression: str) -> None:
    survey = [*BASE, q("calculate", "result", calculation=expression)]
    form = parse_workbook(write_workbook(tmp_path / "f.xlsx", survey, COLOURS))
    state = evaluate(compile_plan(form), ANSWERS, TODAY)
    expected = apply_calculations(form, ANSWERS, today=TODAY)["result"]
    assert image(state.calculated[("result",)]) == image(expected)


def test_circular_calculations_are_refused(tmp_path: FilePath) -> None:
    survey = [
        q("calculate", "a", calculation="${b} + 1"),
        q("calculate", "b", calculation="if(${c} > 0, ${a} * 2, 0)"),
        q("integer", "c", "C"),
        q("calculate", "after", calculation="${a} + ${c}"),  # waits on the cycle, not in it
    ]
    form = parse_workbook(write_workbook(tmp_path / "f.xlsx", survey))
    with pytest.raises(FormError, match=r"circular reference between \$\{a\}, \$\{b\}"):
        compile_plan(form)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("frobnicate(${b})", "unknown function"),
        ("${b} +", "unexpected"),
        ("@id = 1", "attributes"),
        ("following-sibling::x", "axis is not supported"),
        ("concat('a'", "expected '\\)'"),
        ("$v = 1", "variables"),
        ("a b", "unexpected name"),
        ("text()", "not supported"),
    ],
)
def test_expressions_outside_the_subset_are_refused(expression: str, reason: str) -> None:
    with pytest.raises(XPathError, match=reason):
        parse(expression)


def test_node_type_names_are_element_names_without_parentheses() -> None:
    assert parse("text = 'a'") == Binary(
        "=", XPath(None, False, (Step("child", "text"),)), Literal("a")
    )
    assert parse("node()") == XPath(None, False, (Step("child", "node()"),))


def test_parser_reads_paths_and_operators() -> None:
    assert parse("count(../../members[relation = 'head'])") == Call(
        "count",
        (
            XPath(
                None,
                False,
                (
                    PARENT,
                    PARENT,
                    Step(
                        "child",
                        "members",
                        (
                            Binary(
                                "=",
                                XPath(None, False, (Step("child", "relation"),)),
                                Literal("head"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )
    # "*" multiplies after an operand and is a name test elsewhere; "div" is an operator.
    assert parse("${a} * 2 div 4 - -1") == Binary(
        "-", Binary("div", Binary("*", Ref("a"), Number(2.0)), Number(4.0)), Negate(Number(1.0))
    )
    assert parse("/data/*") == XPath(None, True, (Step("child", "data"), Step("child", "*")))
    assert parse("${x}[. = 'yes']/..") == XPath(
        Filter(Ref("x"), (Binary("=", XPath(None, False, (SELF,)), Literal("yes")),)),
        False,
        (PARENT,),
    )


# -- the dependency graph ------------------------------------------------------------------


def test_dependents_of_known_fields(bundled: Case) -> None:
    plan = bundled.plan

    def direct(kind: str, name: str) -> dict[tuple[str, str], int]:
        return {
            (plan.slots[index].kind, plan.slots[index].name): shared
            for index, shared in plan.dependents[(kind, name)]
        }

    # member_count sizes the roster; each member's age steers that member's questions.
    assert direct(VALUE, "member_count") == {(COUNT, "members"): 0, (CHECK, "member_count"): 0}
    assert direct(VALUE, "birth_known") == {
        (RELEVANT, "birth_date"): 1,
        (RELEVANT, "birth_year"): 1,
        (VALUE, "age"): 1,
        (CHECK, "birth_known"): 1,
    }
    on_age = direct(VALUE, "age")
    assert on_age[(RELEVANT, "labour_capacity")] == 1
    assert on_age[(CHECK, "school_level")] == 1  # its constraint reads the age
    assert (RELEVANT, "name") not in on_age
    # The head-of-household constraint counts every member's relation.
    assert direct(VALUE, "relation") == {(CHECK, "relation"): 0}
    assert direct(VALUE, "labour_capacity") == {
        (RELEVANT, "incapacity_reason"): 1,
        (RELEVANT, "employment_status"): 1,
        (CHECK, "employment_status"): 1,  # constraint and choice filter
        (CHECK, "labour_capacity"): 1,
    }
    everything = affected(plan, "birth_known")
    assert {(VALUE, "age"), (RELEVANT, "support_needs"), (CHECK, "school_level")} <= everything
    assert not any(name == "category" for _, name in everything)
    # A member's number reads the roster's structure only, never a value.
    assert plan.reads[(VALUE, "member_no")] == frozenset()
    assert plan.index[(COUNT, "members")] < plan.index[(VALUE, "age")]


def test_cross_instance_readers_are_shared_nothing(small: dict[str, Case]) -> None:
    plan = small["roster"].plan
    dependents = {
        (plan.slots[i].kind, plan.slots[i].name): shared
        for i, shared in plan.dependents[(VALUE, "age")]
    }
    assert dependents[(VALUE, "total_age")] == 0
    assert dependents[(VALUE, "adults")] == 0
    assert dependents[(VALUE, "older_than_first")] == 0  # reads ../../people[1]/age
    assert dependents[(RELEVANT, "works")] == 1
    # Slots come after everything they read, even against document order.
    plots = small["plots"].plan
    assert plots.index[(VALUE, "productivity")] < plots.index[(VALUE, "grade")]
    assert plots.index[(VALUE, "grade")] < plots.index[(VALUE, "high_plots")]


# -- state as data -------------------------------------------------------------------------


def test_update_refuses_paths_that_are_not_fields(bundled: Case) -> None:
    household_plan = bundled.plan
    state = evaluate(household_plan, {}, TODAY)
    for path in [("nope",), ("members", "age"), ("age",), ("members", 0, 1, "age")]:
        with pytest.raises(KeyError):
            update(household_plan, state, path, 1, TODAY)
