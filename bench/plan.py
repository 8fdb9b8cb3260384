"""CPU per answer of the compiled plan (forms/plan.py) next to the engine's, on the
scripted household of tests/forms/test_household.py (83 answers, five members).

- engine ``next_step``: the question after each answer, on answers as a turn has them;
- engine turn: what a chat turn asks of the engine (bot/dialogs/interview.py, _accept, and
  bot/interview/session.py, record): ``validate``, ``set_answer``, ``apply_calculations``,
  ``drop_irrelevant``, ``next_step``, and ``flatten`` (the rows to store);
- plan ``update``: the new state after the answer, its problem at the answered path (the
  validation) and ``next_question``;
- plan turn: the same with ``prune`` (the engine's ``drop_irrelevant``) after the update;
- plan ``evaluate``: a state computed from scratch from all the answers so far (a state
  that was not stored with the interview);
- state JSON: ``state_to_json`` + ``json.dumps`` + ``json.loads`` + ``state_from_json``;
- Questionnaire turn: the same turn through :class:`forms.questionnaire.Questionnaire`, as
  the chat takes it: ``validate``, ``answer`` (update and prune), ``next_step`` (the
  question with its labels, choices and notes) and ``rows`` (what is stored);
- Questionnaire turn from JSON: the same, the value loaded from its stored JSON first and
  stored again after (a turn in a worker that did not keep it).

The engine is measured with its caches cleared before the interview ("cold") and as a
long-running worker has them at best ("warm": the same interview was evaluated before, so
every expression result is remembered; only its cache of whole evaluations, keyed on the
answers, is cleared, as a new answer never hits it). CPU time, best of N runs.

Usage: ``python -m bench.plan [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from forms.answers import set_answer
from forms.codec import flatten
from forms.engine import apply_calculations, drop_irrelevant, next_step, validate
from forms.model import Form, Parsed, Path, Question
from forms.parsing import parse_answer
from forms.plan import (
    Plan,
    compile_plan,
    evaluate,
    next_question,
    prune,
    update,
)
from forms.plan_json import state_from_json, state_to_json
from forms.questionnaire import Questionnaire
from forms.xlsform import load_bundled_form
from tests.forms.conftest import TODAY
from tests.forms.test_household import HOUSEHOLD_INPUT, MEMBER_INPUT

Script = list[tuple[Path, Any]]


def script(form: Form) -> Script:
    answers: dict[str, Any] = {}
    found: Script = []
    while isinstance(step := next_step(form, answers, today=TODAY), Question):
        name = str(step.path[-1])
        if len(step.path) == 1:
            raw = HOUSEHOLD_INPUT[name]
        else:
            raw = MEMBER_INPUT[int(step.path[1])][name]
        parsed = parse_answer(step, raw)
        assert isinstance(parsed, Parsed)
        found.append((step.path, parsed.value))
        answers = set_answer(answers, step.path, parsed.value)
    return found


def engine_next_step(form: Form, answers_script: Script) -> None:
    answers: dict[str, Any] = {}
    for path, value in answers_script:
        answers = set_answer(answers, path, value)
        next_step(form, answers, today=TODAY)


def engine_turn(form: Form, answers_script: Script) -> None:
    answers: dict[str, Any] = {}
    for path, value in answers_script:
        validate(form, answers, path, value, today=TODAY)
        updated = set_answer(answers, path, value)
        answers = drop_irrelevant(form, apply_calculations(form, updated, today=TODAY), today=TODAY)
        next_step(form, answers, today=TODAY)
        flatten(answers)


def plan_update(plan: Plan, answers_script: Script) -> None:
    state = evaluate(plan, {}, TODAY)
    for path, value in answers_script:
        state = update(plan, state, path, value, TODAY)
        state.problems.get(path)
        next_question(plan, state)


def plan_turn(plan: Plan, answers_script: Script) -> None:
    state = evaluate(plan, {}, TODAY)
    for path, value in answers_script:
        state = prune(plan, update(plan, state, path, value, TODAY), TODAY)
        state.problems.get(path)
        next_question(plan, state)


def plan_evaluate(plan: Plan, answers_script: Script) -> None:
    answers: dict[str, Any] = {}
    for path, value in answers_script:
        answers = set_answer(answers, path, value)
        next_question(plan, evaluate(plan, answers, TODAY))


def state_json(plan: Plan, answers_script: Script) -> None:
    state = evaluate(plan, {}, TODAY)
    for path, value in answers_script:
        state = update(plan, state, path, value, TODAY)
        loaded = state_from_json(plan, json.loads(json.dumps(state_to_json(plan, state))))
        assert loaded is not None
        state = loaded


def questionnaire_turn(plan: Plan, answers_script: Script) -> None:
    value = Questionnaire.start(plan, {}, today=TODAY)
    for path, answer in answers_script:
        value.validate(path, answer)
        value = value.answer([(path, answer)])
        value.next_step()
        value.rows()


def questionnaire_json_turn(plan: Plan, answers_script: Script) -> None:
    stored = json.dumps(Questionnaire.start(plan, {}, today=TODAY).to_json())
    for path, answer in answers_script:
        value = Questionnaire.from_json(plan, json.loads(stored), today=TODAY)
        assert value is not None
        value.validate(path, answer)
        value = value.answer([(path, answer)])
        value.next_step()
        value.rows()
        stored = json.dumps(value.to_json())


def best(runs: int, work: Callable[[], None], before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(runs):
        before()
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args(argv)
    form = load_bundled_form()
    answers_script = script(form)
    start = time.process_time()
    plan = compile_plan(form)
    compiled = time.process_time() - start
    n = len(answers_script)

    def cold() -> None:
        form.cache.clear()

    def warm() -> None:
        # Each turn's answers are new: the evaluations of whole answer sets (sessions)
        # never serve the next turn, while the remembered expression results do.
        form.cache.pop("sessions", None)

    def engine(work: Callable[[Form, Script], None], before: Callable[[], None]) -> float:
        return best(options.runs, lambda: work(form, answers_script), before)

    def planned(work: Callable[[Plan, Script], None]) -> float:
        return best(options.runs, lambda: work(plan, answers_script))

    rows = [
        ("engine next_step, cold", engine(engine_next_step, cold)),
        ("engine next_step, warm", engine(engine_next_step, warm)),
        ("engine turn, cold", engine(engine_turn, cold)),
        ("engine turn, warm", engine(engine_turn, warm)),
        ("plan update + next_question", planned(plan_update)),
        ("plan turn (update, prune, next)", planned(plan_turn)),
        ("plan evaluate from scratch", planned(plan_evaluate)),
        ("plan update + state JSON round trip", planned(state_json)),
        ("Questionnaire turn", planned(questionnaire_turn)),
        ("Questionnaire turn from JSON", planned(questionnaire_json_turn)),
    ]
    print(f"scripted household: {n} answers; compile_plan {compiled * 1000:.1f} ms CPU")
    reference = rows[4][1]
    for label, seconds in rows:
        print(f"  {label:<38} {seconds / n * 1e6:8.0f} µs/answer  {seconds / reference:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
