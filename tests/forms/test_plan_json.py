"""A state stored as JSON (forms/plan_json.py) reads back as the state it was.

- property: the states random answers reach (answered, and pruned as a turn leaves them)
  on the bundled form and on the small forms with repeats survive format 2, and their
  format 1 (what was stored before format 2) reads as the same state;
- examples: a state stored by the code before format 2 reads as the state its answers
  evaluate to; a state written for another plan of a form that kept its version is
  refused; a table that does not hold the instances of its slots is stored keyed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path as FilePath
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from forms.answers import set_answer
from forms.model import Path
from forms.plan import Plan, State, compile_plan, evaluate, prune, update
from forms.plan_json import state_from_json, state_to_json
from forms.xlsform import parse_workbook
from tests.forms.conftest import TODAY, YES_NO, q, write_workbook
from tests.forms.test_plan import (
    NESTED,
    PROPERTY,
    Case,
    advance,
    answer_steps,
    bundled,
    small,
    state_image,
)

__all__ = ["bundled", "small"]  # fixtures, shared with test_plan


def format_1(state: State) -> dict[str, Any]:
    """``state`` as stored before format 2: every table keyed by its paths spelt with
    names; dates and decimals among the answers tagged (pinned to a state the code of
    then wrote by test_format_1_is_what_was_stored)."""

    def key(path: Path) -> str:
        return "/".join(map(str, path))

    def value(answer: Any) -> Any:
        if isinstance(answer, date):
            return {"date": answer.isoformat()}
        if isinstance(answer, Decimal):
            return {"decimal": str(answer)}
        return answer

    def table(data: Any, spell: Any = lambda item: item) -> dict[str, Any]:
        return {key(path): spell(item) for path, item in data.items()}

    return {
        "today": state.today.isoformat(),
        "answers": table(state.answers, value),
        "lengths": table(state.lengths),
        "relevant": table(state.relevant),
        "calculated": table(state.calculated),
        "counts": table(state.counts),
        "problems": table(state.problems),
        "position": None if state.position is None else key(state.position),
    }


def stored(data: Any) -> Any:
    """``data`` as the database gives it back: through JSON text."""
    return json.loads(json.dumps(data))


def read(plan: Plan, data: Any, format: int = 2) -> State:
    state = state_from_json(plan, data, format)
    assert state is not None
    return state


def reload(plan: Plan, state: State) -> State:
    return read(plan, stored(state_to_json(plan, state)))


def assert_survives(plan: Plan, state: State) -> None:
    assert state_image(reload(plan, state)) == state_image(state)
    assert state_image(read(plan, stored(format_1(state)), 1)) == state_image(state)


def check_survives(case: Case, steps: list[tuple[Path, Any]]) -> None:
    plan = case.plan
    state = evaluate(plan, {}, TODAY)
    assert_survives(plan, state)
    for step in steps:
        state = advance(plan, state, step)
        assert_survives(plan, state)
        pruned = prune(plan, state, TODAY)
        assert_survives(plan, pruned)
        if len(steps) % 2:
            state = pruned  # turns as the chat takes them, in half the examples


@settings(PROPERTY, max_examples=40)
@given(data=st.data())
def test_states_of_the_household_survive_json(bundled: Case, data: st.DataObject) -> None:
    check_survives(bundled, data.draw(answer_steps(bundled, length=20)))


@settings(PROPERTY, max_examples=40)
@given(data=st.data(), name=st.sampled_from(["roster", "plots", "nested"]))
def test_states_of_forms_with_repeats_survive_json(
    small: dict[str, Case], name: str, data: st.DataObject
) -> None:
    case = small[name]
    check_survives(case, data.draw(answer_steps(case, length=15)))


NESTED_ANSWERS: dict[str, Any] = {
    "group_count": 1,
    "region": "b",
    "groups": [
        {
            "title": "x",
            "item_count": 2,
            "shared": "yes",
            "items": [{"qty": 3}, {"qty": Decimal("1.5")}],
        }
    ],
    "visits": [{"visit_date": date(2025, 9, 1)}],
}
# What forms/plan.py's state_to_json wrote for NESTED_ANSWERS before format 2.
NESTED_FORMAT_1 = """{
 "today": "2025-10-01",
 "answers": {"group_count": 1, "region": "b", "groups/0/title": "x",
  "groups/0/item_count": 2, "groups/0/shared": "yes", "groups/0/items/0/qty": 3,
  "groups/0/items/1/qty": {"decimal": "1.5"}, "visits/0/visit_date": {"date": "2025-09-01"}},
 "lengths": {"groups": 1, "groups/0/items": 2, "visits": 1},
 "relevant": {"groups": true, "groups/0/shared": true, "groups/0/items/0/note": true,
  "groups/0/items/1/note": false, "visits": true},
 "calculated": {"groups/0/items/0/tag": "b/x/1", "groups/0/items/1/tag": "b/x/2",
  "groups/0/group_qty": 4.5, "visits/0/days_ago": 30, "total_qty": 4.5, "big": false},
 "counts": {"groups": 1, "groups/0/items": 2, "visits": 1},
 "problems": {"groups/0/items/1/qty": "forms.wrong_type"},
 "position": "groups/0/items/0/note"
}"""


def test_a_state_stored_in_format_1_reads_as_its_answers(small: dict[str, Case]) -> None:
    plan = small["nested"].plan
    loaded = read(plan, json.loads(NESTED_FORMAT_1), 1)
    assert loaded.answers[("groups", 0, "items", 1, "qty")] == Decimal("1.5")
    assert state_image(loaded) == state_image(evaluate(plan, NESTED_ANSWERS, TODAY))
    # It carries on like the state it was stored from, and is stored in format 2 then.
    path = ("groups", 0, "items", 1, "qty")
    carried = reload(plan, update(plan, loaded, path, 5, TODAY))
    expected = evaluate(plan, set_answer(NESTED_ANSWERS, path, 5), TODAY)
    assert state_image(carried) == state_image(expected)


def test_format_1_is_what_was_stored(small: dict[str, Case]) -> None:
    state = evaluate(small["nested"].plan, NESTED_ANSWERS, TODAY)
    assert stored(format_1(state)) == json.loads(NESTED_FORMAT_1)


def test_a_household_survives_json_and_carries_on(bundled: Case) -> None:
    plan = bundled.plan
    answers = {
        "category": "poor",
        "floor_area_m2": Decimal("42.5"),
        "info_devices": ["tv", "none"],
        "member_count": 2,
        "members": [
            {"name": "An", "birth_known": "full_date", "birth_date": date(1975, 3, 12)},
            {"name": "Bình", "birth_known": "year_only", "birth_year": 1948, "sex": None},
        ],
    }
    state = evaluate(plan, answers, TODAY)
    assert state.problems[("info_devices",)] == "forms.constraint_failed"
    data = stored(state_to_json(plan, state))
    # Nodes by index, relevance and calculations by position: no name is spelt.
    assert "members" not in json.dumps(data) and isinstance(data["relevant"], str)
    loaded = reload(plan, state)
    assert state_image(loaded) == state_image(state)
    path = ("members", 1, "relation")
    assert state_image(update(plan, loaded, path, "parent", TODAY)) == state_image(
        update(plan, state, path, "parent", TODAY)
    )


def test_a_state_of_another_plan_is_refused(tmp_path: FilePath, small: dict[str, Case]) -> None:
    plan = small["nested"].plan
    data = stored(state_to_json(plan, evaluate(plan, NESTED_ANSWERS, TODAY)))
    # The same form id and version, a question added: its indexes mean other nodes.
    edited = [q("text", "village", "Ấp"), *NESTED]
    form = parse_workbook(write_workbook(tmp_path / "edited.xlsx", edited, YES_NO))
    assert form.version == small["nested"].form.version
    assert state_from_json(compile_plan(form), data) is None
    assert state_from_json(plan, data) is not None


def test_a_table_without_its_instances_is_stored_keyed(small: dict[str, Case]) -> None:
    plan = small["nested"].plan
    state = evaluate(plan, NESTED_ANSWERS, TODAY)
    relevant = {path: value for path, value in state.relevant.items() if path != ("visits",)}
    calculated = {**state.calculated, ("groups", 3, "group_qty"): 1}
    odd = replace(
        state, relevant=MappingProxyType(relevant), calculated=MappingProxyType(calculated)
    )
    data = stored(state_to_json(plan, odd))
    assert isinstance(data["relevant"], dict) and isinstance(data["calculated"], dict)
    assert state_image(read(plan, data)) == state_image(odd)
