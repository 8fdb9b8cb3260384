"""An interview's evaluated state over a compiled plan, kept up to date answer by answer.

**Plan** (:mod:`forms.plan_graph`): the form's expressions compiled once, and the
dependency graph between the slots to evaluate, in topological order.

**State** (:class:`State`): the raw answers (flat, by path), and everything derived from
them: relevance, calculated values, repeat instance counts, the problems of stored answers
and the next question's path. Plain immutable data, saved and loaded as JSON
(:mod:`forms.plan_json`).

**Evaluation**: :func:`evaluate` computes a state from scratch; :func:`update` applies one
answer and re-evaluates only the slots that depend on it, in topological order, adding or
dropping repeat instances when a count changes. Neither builds an XML instance: the
expressions read a tree of paths over the state (:class:`_Instance`).

The semantics are the engine's (:mod:`forms.engine`): a field's own relevance is its
relevant plus its groups' (a calculation that is not relevant is empty); answers to fields
that are not relevant stay visible to expressions; a repeat's instances number its
repeat_count when it is relevant and has one, else the instances stored in the answers.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, cast

from forms.checks import sanity_check, type_check
from forms.model import Answers, Choice, Field, FieldType, FormError, Invalid, Path
from forms.plan_graph import (
    CHECK,
    COUNT,
    RELEVANT,
    TOP,
    VALUE,
    Plan,
    Rules,
    Slot,
    SlotId,
    affected,
    compile_plan,
)
from forms.plan_xpath import Compiled, Context, Value, XPathError, to_boolean, to_number
from forms.xpath import ROOT, days_since_epoch, variable_value, xml_text

__all__ = [
    "CHECK",
    "COUNT",
    "RELEVANT",
    "VALUE",
    "Plan",
    "Rules",
    "Slot",
    "State",
    "affected",
    "choices",
    "compile_plan",
    "default",
    "evaluate",
    "flatten",
    "instances",
    "invalid",
    "lookup",
    "next_question",
    "prune",
    "remove",
    "required",
    "settled_answers",
    "shown",
    "update",
    "update_all",
    "visible_questions",
    "walk",
    "walk_back",
    "walked",
]

DOCUMENT: Path = ("/",)
"""The document node above the root element (no field or repeat can be called "/")."""


# -- the state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """An interview evaluated against a plan: plain data, never mutated.

    Paths are the engine's: ``("category",)``, ``("members", 2, "age")``; a repeat's
    own path (``("members",)``) keys its counts and relevance."""

    today: date
    answers: Mapping[Path, Any]
    """The raw answers by field path (None = asked and skipped), as the user gave them."""
    lengths: Mapping[Path, int]
    """Repeat path -> how many instances the raw answers hold, for repeats they name."""
    relevant: Mapping[Path, bool]
    """Own relevance of each node that has a relevant expression (others are relevant)."""
    calculated: Mapping[Path, Any]
    """Value of every calculation, None where empty or not relevant."""
    counts: Mapping[Path, int]
    """Repeat path -> number of instances, for every instance of its container."""
    problems: Mapping[Path, str]
    """Stored answers that do not hold (catalog key: forms.required, constraint_failed…)."""
    position: Path | None
    """The next question: the first relevant one unanswered or with a problem."""


class _Instance:
    """The tree expressions read: paths over a state under evaluation (see plan_xpath.Tree).

    Nodes are the document, the root element ``()``, repeat instances ``(..., "members",
    2)`` and fields ``(..., "age")``; a field's text is its value as the XML instance of
    the engine would hold it."""

    document = DOCUMENT

    def __init__(
        self,
        plan: Plan,
        answers: dict[Path, Any],
        calculated: dict[Path, Any],
        counts: dict[Path, int],
    ) -> None:
        # The run's own dicts, not the run: a run holding its tree that held the run was a
        # cycle, garbage only the collector's passes found, several an answer.
        self.plan = plan
        self.answers = answers
        self.calculated = calculated
        self.counts = counts
        self.fields = plan.form.fields

    def value(self, path: Path) -> Any:
        name = str(path[-1])
        if name in self.plan.computed:
            return self.calculated.get(path)
        return self.answers.get(path)

    def text(self, node: Path) -> str:
        if node == DOCUMENT or not node or isinstance(node[-1], int):
            return "".join(self.text(child) for child in self.children(node))
        return xml_text(self.fields[str(node[-1])], self.value(node))

    def name(self, node: Path) -> str:
        if node == DOCUMENT:
            return ""
        if not node:
            return ROOT
        return str(node[-2] if isinstance(node[-1], int) else node[-1])

    def _container(self, node: Path) -> str | None:
        if node == DOCUMENT:
            return None
        if not node:
            return TOP
        return str(node[-2]) if isinstance(node[-1], int) else None

    def _instances(self, container: Path, name: str) -> list[Path]:
        if name in self.plan.form.repeats:
            repeat = (*container, name)
            return [(*repeat, i) for i in range(self.counts.get(repeat, 0))]
        return [(*container, name)]

    def children(self, node: Path) -> list[Path]:
        if node == DOCUMENT:
            return [()]
        static = self._container(node)
        if static is None:
            return []
        found: list[Path] = []
        for name in self.plan.children[static]:
            found += self._instances(node, name)
        return found

    def child(self, node: Path, name: str) -> list[Path]:
        if node == DOCUMENT:
            return [()] if name == ROOT else []
        static = self._container(node)
        if static is None or self.plan.container.get(name) != static:
            return []
        return self._instances(node, name)

    def parent(self, node: Path) -> Path | None:
        if node == DOCUMENT:
            return None
        if not node:
            return DOCUMENT
        return node[:-2] if isinstance(node[-1], int) else node[:-1]

    def ordinal(self, node: Path) -> int:
        if node == DOCUMENT:
            return 0
        return node[-1] + 1 if node and isinstance(node[-1], int) else 1

    def reference(self, name: str, shared: int, indices: tuple[int, ...]) -> Value:
        chain = self.plan.chain(name)
        prefixes: list[Path] = [()]
        for depth, repeat in enumerate(chain):
            if depth < shared:
                prefixes = [(*p, repeat, indices[depth]) for p in prefixes]
            else:
                prefixes = [
                    (*p, repeat, i)
                    for p in prefixes
                    for i in range(self.counts.get((*p, repeat), 0))
                ]
        found: list[Path] = []
        for prefix in prefixes:
            found += self._instances(prefix, name)
        return found

    def order(self, nodes: list[Path]) -> list[Path]:
        rank = self.plan.rank

        def key(node: Path) -> tuple[int, ...]:
            if node == DOCUMENT:
                return (-1,)
            return tuple(part if isinstance(part, int) else rank[part] for part in node)

        return sorted(set(nodes), key=key)


class _Items:
    """A choice list as a tree, for choice_filter: ``name`` and the extra columns of each
    choice are its children; ``${x}`` is the referenced field's value (a variable)."""

    document: Path = ("#items",)

    def __init__(self, choices: tuple[Choice, ...], variables: Mapping[str, Any]) -> None:
        self.columns = [dict((("name", choice.name), *choice.extra)) for choice in choices]
        self.variables = variables

    def text(self, node: Path) -> str:
        if len(node) == 3:
            return self.columns[int(node[1])][str(node[2])]
        return "".join(self.text(child) for child in self.children(node))

    def name(self, node: Path) -> str:
        return {1: "", 2: "item"}.get(len(node), str(node[-1]))

    def children(self, node: Path) -> list[Path]:
        if len(node) == 1:
            return [(*node, i) for i in range(len(self.columns))]
        if len(node) == 2:
            return [(*node, column) for column in self.columns[int(node[1])]]
        return []

    def child(self, node: Path, name: str) -> list[Path]:
        return [child for child in self.children(node) if self.name(child) == name]

    def parent(self, node: Path) -> Path | None:
        return node[:-1] if len(node) > 1 else None

    def ordinal(self, node: Path) -> int:
        return int(node[1]) + 1 if len(node) == 2 else 1

    def reference(self, name: str, shared: int, indices: tuple[int, ...]) -> Value:
        value: Value = self.variables[name]
        return value

    def order(self, nodes: list[Path]) -> list[Path]:
        def key(node: Path) -> tuple[int, int]:
            if len(node) < 2:
                return (-1, -1)
            item = int(node[1])
            return (item, list(self.columns[item]).index(str(node[2])) if len(node) > 2 else -1)

        return sorted(set(nodes), key=key)


def _indices(path: Path) -> tuple[int, ...]:
    return tuple(part for part in path if isinstance(part, int))


def _is_empty(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


def _same(old: object, new: object) -> bool:
    return type(old) is type(new) and old == new


def _to_python(result: Value, tree: _Instance) -> Any:
    """A calculation's result as the engine stores it: None if empty, int when integral."""
    if isinstance(result, list):
        return (tree.text(result[0]) or None) if result else None
    if isinstance(result, bool | int):
        return result
    if isinstance(result, float):
        if math.isnan(result) or math.isinf(result):
            return None
        return int(result) if result.is_integer() else result
    return result or None


_MISSING = object()


def _lookup(
    plan: Plan,
    answers: Mapping[Path, Any],
    calculated: Mapping[Path, Any],
    name: str,
    context: Path,
) -> Any:
    """See :meth:`_Run.lookup`."""
    chain = plan.chain(name)
    own = [part for part in context if isinstance(part, str)][:-1]
    if name not in plan.form.fields or tuple(own[: len(chain)]) != chain:
        return None
    path = (*context[: 2 * len(chain)], name)
    return calculated.get(path) if name in plan.computed else answers.get(path)


def instances(slot: Slot, counts: Mapping[Path, int], prefix: tuple[int, ...] = ()) -> list[Path]:
    """The paths of ``slot``'s instances that exist with these repeat ``counts``, whose
    repeat indices start with ``prefix``, in document order."""
    paths: list[Path] = [()]
    for depth, repeat in enumerate(slot.chain):
        expanded: list[Path] = []
        for path in paths:
            count = counts.get((*path, repeat), 0)
            if depth < len(prefix):
                if prefix[depth] < count:
                    expanded.append((*path, repeat, prefix[depth]))
            else:
                expanded += [(*path, repeat, i) for i in range(count)]
        paths = expanded
    return [(*path, slot.name) for path in paths]


class _Run:
    """One evaluation: mutable copies of a state's dicts, and the work list of slots."""

    def __init__(
        self,
        plan: Plan,
        today: date,
        answers: dict[Path, Any],
        lengths: dict[Path, int],
        relevant: dict[Path, bool] | None = None,
        calculated: dict[Path, Any] | None = None,
        counts: dict[Path, int] | None = None,
        problems: dict[Path, str] | None = None,
    ) -> None:
        self.plan = plan
        self.today = today
        self.days = days_since_epoch(today)
        self.answers = answers
        self.lengths = lengths
        self.relevant = relevant if relevant is not None else {}
        self.calculated = calculated if calculated is not None else {}
        self.counts = counts if counts is not None else {}
        self.problems = problems if problems is not None else {}
        self.tree = _Instance(plan, self.answers, self.calculated, self.counts)
        self.queue: list[tuple[int, tuple[int, ...]]] = []
        self.queued: set[tuple[int, tuple[int, ...]]] = set()
        self.propagate = False

    # -- instances --------------------------------------------------------------------------

    def exists(self, path: Path) -> bool:
        for depth in range(1, len(path) - 1, 2):
            index = path[depth]
            assert isinstance(index, int)
            if index >= self.counts.get(path[:depth], 0):
                return False
        return True

    # -- evaluating one slot ----------------------------------------------------------------

    def context(self, node: Path, indices: tuple[int, ...]) -> Context:
        return Context(self.tree, node, indices, self.days)

    def fail(self, exc: Exception, name: str, column: str) -> FormError:
        node = self.plan.node(name)
        return FormError(
            "forms.load.runtime_error", str(exc), sheet="survey", row=node.row, column=column
        )

    def boolean(self, closure: Compiled, node: Path, key: Path, name: str, column: str) -> bool:
        try:
            return to_boolean(closure(self.context(node, _indices(key))))
        except XPathError as exc:
            raise self.fail(exc, name, column) from exc

    def own_relevance(self, slot: Slot, key: Path) -> bool:
        node = key if slot.name in self.plan.form.fields else key[:-1]
        return all(
            self.boolean(closure, node, key, slot.name, RELEVANT)
            for closure in self.plan.rules[slot.name].relevant
        )

    def calculate(self, slot: Slot, key: Path) -> Any:
        if not self.relevant.get(key, True):
            return None
        closure = self.plan.rules[slot.name].calculate
        assert closure is not None
        try:
            return _to_python(closure(self.context(key, _indices(key))), self.tree)
        except XPathError as exc:
            raise self.fail(exc, slot.name, "calculation") from exc

    def count(self, slot: Slot, key: Path) -> int:
        closure = self.plan.rules[slot.name].repeat_count
        if closure is None or not self.relevant.get(key, True):
            return self.lengths.get(key, 0)
        try:
            number = to_number(closure(self.context(key[:-1], _indices(key))), self.tree)
        except XPathError as exc:
            raise self.fail(exc, slot.name, "repeat_count") from exc
        return 0 if not math.isfinite(number) or number < 0 else int(number)

    def choices(self, field: Field, path: Path) -> tuple[Choice, ...]:
        if not field.list_name:
            return ()
        options = self.plan.form.choices[field.list_name]
        closure = self.plan.rules[field.name].choice_filter
        if closure is None:
            return options
        variables = {
            name: variable_value(self.plan.form.fields.get(name), self.lookup(name, path))
            for name in self.plan.rules[field.name].filter_refs
        }
        items = _Items(options, variables)
        indices = _indices(path)
        try:
            return tuple(
                choice
                for i, choice in enumerate(options)
                if to_boolean(closure(Context(items, (*items.document, i), indices, self.days)))
            )
        except XPathError as exc:
            raise self.fail(exc, field.name, "choice_filter") from exc

    def lookup(self, name: str, context: Path) -> Any:
        """The value ``${name}`` has from ``context`` (None unless it is in the same or an
        enclosing repeat instance), as the engine's choice filters see it."""
        return _lookup(self.plan, self.answers, self.calculated, name, context)

    def check(self, slot: Slot, key: Path) -> str | None:
        if key not in self.answers:
            return None
        problem = self.invalid(self.plan.form.fields[slot.name], key, self.answers[key])
        return None if problem is None else problem.key

    def invalid(self, field: Field, key: Path, value: Any) -> Invalid | None:
        """Why ``value`` does not hold at ``key`` (the engine's check), or None."""
        rules = self.plan.rules[field.name]
        if _is_empty(value):
            return (
                Invalid("forms.required", message=field.required_message or None)
                if self.required(field, key)
                else None
            )
        selects = (FieldType.SELECT_ONE, FieldType.SELECT_MULTIPLE)
        choices = self.choices(field, key) if field.type in selects else ()
        problem = type_check(field, value, choices) or sanity_check(field, value, self.today)
        if problem:
            return problem
        if rules.constraint and not self.boolean(
            rules.constraint, key, key, field.name, "constraint"
        ):
            return Invalid("forms.constraint_failed", message=field.constraint_message or None)
        return None

    def required(self, field: Field, key: Path) -> bool:
        required = self.plan.rules[field.name].required
        if isinstance(required, bool):
            return required
        return self.boolean(required, key, key, field.name, "required")

    def default(self, field: Field, key: Path) -> Any:
        closure = self.plan.rules[field.name].default
        if closure is None:
            return None
        try:
            return _to_python(closure(self.context(key, _indices(key))), self.tree)
        except XPathError as exc:
            raise self.fail(exc, field.name, "default") from exc

    # -- propagation ------------------------------------------------------------------------

    def push(self, index: int, prefix: tuple[int, ...]) -> None:
        item = (index, prefix)
        if item not in self.queued:
            self.queued.add(item)
            heapq.heappush(self.queue, item)

    def changed(self, source: SlotId, indices: tuple[int, ...]) -> None:
        if self.propagate:
            for index, shared in self.plan.dependents.get(source, ()):
                self.push(index, indices[:shared])

    def compute(self, index: int, key: Path) -> None:
        slot = self.plan.slots[index]
        if slot.kind == RELEVANT:
            relevant = self.own_relevance(slot, key)
            if self.relevant.get(key) is not relevant:
                self.relevant[key] = relevant
                self.changed((RELEVANT, slot.name), _indices(key))
        elif slot.kind == VALUE:
            value = self.calculate(slot, key)
            if not _same(self.calculated.get(key, _MISSING), value):
                self.calculated[key] = value
                self.changed((VALUE, slot.name), _indices(key))
        elif slot.kind == COUNT:
            count = self.count(slot, key)
            before = self.counts.get(key)
            if before != count:
                self.counts[key] = count
                if before is not None:
                    self.resize(slot.name, key, before, count)
        else:
            problem = self.check(slot, key)
            if problem is None:
                self.problems.pop(key, None)
            else:
                self.problems[key] = problem

    def resize(self, repeat: str, key: Path, before: int, after: int) -> None:
        """A repeat's count changed: evaluate new instances, forget removed ones."""
        indices = _indices(key)
        for i in range(after, before):
            gone = (*key, i)
            for table in (self.relevant, self.calculated, self.counts, self.problems):
                for path in [p for p in table if p[: len(gone)] == gone]:
                    del table[path]
        for i in range(before, after):
            for index in self.plan.inside[repeat]:
                self.push(index, (*indices, i))
        self.changed((COUNT, repeat), indices)

    def run(self) -> None:
        while self.queue:
            index, prefix = heapq.heappop(self.queue)
            for key in instances(self.plan.slots[index], self.counts, prefix):
                self.compute(index, key)

    def state(self) -> State:
        return State(
            today=self.today,
            answers=MappingProxyType(self.answers),
            lengths=MappingProxyType(self.lengths),
            relevant=MappingProxyType(self.relevant),
            calculated=MappingProxyType(self.calculated),
            counts=MappingProxyType(self.counts),
            problems=MappingProxyType(self.problems),
            position=_position(self.plan, self.relevant, self.counts, self.answers, self.problems),
        )


# -- public API -----------------------------------------------------------------------------


def flatten(plan: Plan, answers: Answers) -> tuple[dict[Path, Any], dict[Path, int]]:
    """Nested answers (the engine's shape) as (answers by path, repeat lengths)."""
    flat: dict[Path, Any] = {}
    lengths: dict[Path, int] = {}
    _flatten(plan, flat, lengths, TOP, answers, ())
    return flat, lengths


def _flatten(
    plan: Plan,
    flat: dict[Path, Any],
    lengths: dict[Path, int],
    container: str,
    data: Mapping[str, Any],
    prefix: Path,
) -> None:
    # A function of the module, not a closure calling itself (see _first).
    for name in plan.children[container]:
        if name not in data:
            continue
        value = data[name]
        if name in plan.computed:
            continue  # calculated again: a stored value is not an answer
        if name in plan.form.fields:
            flat[(*prefix, name)] = list(value) if isinstance(value, list) else value
            continue
        items = value if isinstance(value, list) else []
        lengths[(*prefix, name)] = len(items)
        for i, item in enumerate(items):
            _flatten(
                plan,
                flat,
                lengths,
                name,
                item if isinstance(item, Mapping) else {},
                (*prefix, name, i),
            )


def evaluate(plan: Plan, answers: Answers, today: date) -> State:
    """The state of ``answers`` (the engine's nested shape), computed from scratch."""
    flat, lengths = flatten(plan, answers)
    return _evaluate(plan, today, flat, lengths)


def _evaluate(plan: Plan, today: date, answers: dict[Path, Any], lengths: dict[Path, int]) -> State:
    run = _Run(plan, today, answers, lengths)
    for index, slot in enumerate(plan.slots):
        for key in instances(slot, run.counts):
            run.compute(index, key)
    return run.state()


def _check_path(plan: Plan, path: Path) -> str:
    """The name of the answerable field at ``path``; KeyError if there is none."""
    name = path[-1] if path else None
    if not isinstance(name, str) or name not in plan.form.fields or name in plan.computed:
        raise KeyError(f"no field to answer at {path!r}")
    chain = plan.chain(name)
    expected = len(chain) * 2 + 1
    if len(path) != expected or any(
        path[2 * d] != repeat or not isinstance(path[2 * d + 1], int) or int(path[2 * d + 1]) < 0
        for d, repeat in enumerate(chain)
    ):
        raise KeyError(f"no field to answer at {path!r}")
    return name


def update(plan: Plan, state: State, path: Path, value: Any, today: date) -> State:
    """``state`` with ``value`` answered at ``path``: only what depends on it is
    re-evaluated. Repeat lists grow to hold ``path``, as with ``set_answer``."""
    return _apply(plan, state, [(path, value)], today)


def update_all(plan: Plan, state: State, items: Iterable[tuple[Path, Any]], today: date) -> State:
    """``state`` with several answers given at once (a confirmed roster), re-evaluated once."""
    return _apply(plan, state, list(items), today)


def remove(plan: Plan, state: State, path: Path, today: date) -> State:
    """``state`` with ``path`` back to "not asked yet" (as ``remove_answer``)."""
    return _apply(plan, state, [(path, _MISSING)], today)


def _apply(
    plan: Plan,
    state: State,
    changes: Sequence[tuple[Path, Any]],
    today: date,
    lengths: Mapping[Path, int] | None = None,
) -> State:
    """Answers set (or removed, with _MISSING) and repeat lengths replaced, then every
    slot that depends on them re-evaluated."""
    names = [_check_path(plan, path) for path, _ in changes]
    answers = dict(state.answers)
    new_lengths = dict(state.lengths if lengths is None else lengths)
    touched: list[tuple[str, Path]] = []
    for name, (path, value) in zip(names, changes, strict=True):
        if value is _MISSING:
            if answers.pop(path, _MISSING) is not _MISSING:
                touched.append((name, path))
            continue
        answers[path] = list(value) if isinstance(value, list) else value
        touched.append((name, path))
        for depth in range(1, len(path) - 1, 2):
            repeat, index = path[:depth], path[depth]
            assert isinstance(index, int)
            new_lengths[repeat] = max(new_lengths.get(repeat, 0), index + 1)
    if today != state.today:
        return _evaluate(plan, today, answers, new_lengths)
    resized = [
        key
        for key in new_lengths.keys() | state.lengths.keys()
        if new_lengths.get(key) != state.lengths.get(key)
    ]
    if not touched and not resized:
        return state
    run = _Run(
        plan,
        today,
        answers,
        new_lengths,
        dict(state.relevant),
        dict(state.calculated),
        dict(state.counts),
        dict(state.problems),
    )
    run.propagate = True
    for repeat in resized:
        run.push(plan.index[(COUNT, str(repeat[-1]))], _indices(repeat))
    for name, path in touched:
        if run.exists(path):
            run.changed((VALUE, name), _indices(path))
    run.run()
    return run.state()


def prune(plan: Plan, state: State, today: date) -> State:
    """``state`` without the answers that are not relevant any more, or beyond a repeat's
    count, and with repeat lists cut to their counts: the engine's ``drop_irrelevant``.
    Dropping an answer can make another question irrelevant, so this runs until nothing
    changes."""
    while True:
        # Each answer's own path is checked, not the whole walk: an answer is settled
        # after every turn, and most turns hide nothing.
        gone = [(path, _MISSING) for path in _hidden(state)]
        lengths = {
            key: count for key, count in state.counts.items() if count or key in state.lengths
        }
        if not gone and lengths == state.lengths and today == state.today:
            return state
        state = _apply(plan, state, gone, today, lengths)


def shown(state: State, path: Path) -> bool:
    """Whether :func:`walk` reaches the field at ``path``: it and its repeats relevant,
    and each of its repeat instances within its repeat's count."""
    return _within(state, path) and state.relevant.get(path, True)


def _within(state: State, path: Path) -> bool:
    # Reads path[:-1] only: the repeats around the field and its instance of each.
    relevant, counts = state.relevant, state.counts
    for end in range(1, len(path), 2):
        repeat = path[:end]
        index = path[end]
        if not relevant.get(repeat, True) or not isinstance(index, int):
            return False
        if index >= counts.get(repeat, 0):
            return False
    return True


def _hidden(state: State) -> list[Path]:
    """The answers :func:`shown` says no to, each repeat instance checked once for all
    the answers in it."""
    relevant = state.relevant
    within: dict[Path, bool] = {}
    hidden = []
    for path in state.answers:
        if len(path) > 1:
            around = path[:-1]
            inside = within.get(around)
            if inside is None:
                inside = within[around] = _within(state, path)
            if not inside:
                hidden.append(path)
                continue
        if path in relevant and not relevant[path]:
            hidden.append(path)
    return hidden


def walk(plan: Plan, state: State) -> Iterator[tuple[Field, Path]]:
    """Relevant fields in document order, repeat instances expanded (the engine's walk):
    questions, notes and calculations."""
    return iter(walked(plan, state))


def walked(plan: Plan, state: State) -> list[tuple[Field, Path]]:
    """:func:`walk` as a list, built without generators."""
    found: list[tuple[Field, Path]] = []
    _visit(plan, state, found, TOP, ())
    return found


def _visit(
    plan: Plan, state: State, found: list[tuple[Field, Path]], container: str, prefix: Path
) -> None:
    relevant, fields = state.relevant, plan.form.fields
    for name in plan.children[container]:
        path = (*prefix, name)
        if path in relevant and not relevant[path]:
            continue
        field = fields.get(name)
        if field is not None:
            found.append((field, path))
        else:
            for i in range(state.counts.get(path, 0)):
                _visit(plan, state, found, name, (*path, i))


def walk_back(plan: Plan, state: State, at: Path | None) -> Iterator[tuple[Field, Path]]:
    """The fields :func:`walk` gives before the one at ``at`` (a field it reaches), last
    first; all of them when ``at`` is None. Lazy: what comes just before a question (its
    notes) is read without walking the form from its start."""
    children = plan.children
    if at is None:
        yield from _back(plan, state, children[TOP], ())
        return
    # From the field up through its repeats: the siblings before it, then the earlier
    # instances of the repeat around it, then the siblings before that repeat, and so on.
    while at:
        prefix, name = at[:-1], str(at[-1])
        siblings = children[plan.container[name]]
        yield from _back(plan, state, siblings[: siblings.index(name)], prefix)
        if not prefix:
            return
        repeat, index = prefix[:-1], prefix[-1]
        assert isinstance(index, int)
        for i in reversed(range(index)):
            yield from _back(plan, state, children[str(repeat[-1])], (*repeat, i))
        at = repeat


def _back(
    plan: Plan, state: State, names: Sequence[str], prefix: Path
) -> Iterator[tuple[Field, Path]]:
    relevant, counts, fields = state.relevant, state.counts, plan.form.fields
    for name in reversed(names):
        path = (*prefix, name)
        if path in relevant and not relevant[path]:
            continue
        field = fields.get(name)
        if field is not None:
            yield field, path
        else:
            for i in reversed(range(counts.get(path, 0))):
                yield from _back(plan, state, plan.children[name], (*path, i))


def _position(
    plan: Plan,
    relevant: Mapping[Path, bool],
    counts: Mapping[Path, int],
    answers: Mapping[Path, Any],
    problems: Mapping[Path, str],
) -> Path | None:
    """The first relevant question unanswered or with a problem (the walk of :func:`walk`,
    without generators: it runs after every answer)."""
    return _first(plan.asked, relevant, counts, answers, problems, TOP, ())


# The recursive walks are functions of the module, not closures over their caller: a nested
# function that calls itself holds itself through its closure, a cycle (keeping the state's
# dicts it reads) that only the collector's passes free, at every answer.


def _first(
    asked: Mapping[str, Sequence[tuple[str, bool]]],
    relevant: Mapping[Path, bool],
    counts: Mapping[Path, int],
    answers: Mapping[Path, Any],
    problems: Mapping[Path, str],
    container: str,
    prefix: Path,
) -> Path | None:
    for name, repeat in asked[container]:
        path = (*prefix, name)
        if repeat:
            if path in relevant and not relevant[path]:
                continue
            for i in range(counts.get(path, 0)):
                found = _first(asked, relevant, counts, answers, problems, name, (*path, i))
                if found is not None:
                    return found
        elif path in answers and path not in problems:
            continue  # answered, and the answer holds: most questions before it
        elif path not in relevant or relevant[path]:
            return path
    return None


def next_question(plan: Plan, state: State) -> Path | None:
    """The first relevant question that is unanswered or whose answer does not hold;
    None when the interview is complete."""
    return state.position


def visible_questions(plan: Plan, state: State) -> list[Path]:
    """Paths of all relevant questions (answered or not), in order."""
    return [path for field, path in walk(plan, state) if field.answerable]


def _reader(plan: Plan, state: State) -> _Run:
    """A run over ``state`` that only reads it: its tables are the state's own, unmodified
    (nothing is computed or pushed), so none is copied. One per state and plan: a question
    shown reads its choices, whether it is required, its default and its labels."""
    found = state.__dict__.get("_reader")
    if found is not None and found.plan is plan:
        return cast(_Run, found)
    run = _Run(
        plan,
        state.today,
        cast(dict[Path, Any], state.answers),
        cast(dict[Path, int], state.lengths),
        cast(dict[Path, bool], state.relevant),
        cast(dict[Path, Any], state.calculated),
        cast(dict[Path, int], state.counts),
    )
    # Outside the fields, as a cached property: equality and meaning are unchanged.
    state.__dict__["_reader"] = run
    return run


def _field(plan: Plan, path: Path) -> Field:
    field = plan.form.fields.get(str(path[-1])) if path else None
    if field is None:
        raise KeyError(f"no field at {path!r}")
    return field


def choices(plan: Plan, state: State, path: Path) -> tuple[Choice, ...]:
    """The choices offered at ``path`` now (choice_filter applied)."""
    name = _check_path(plan, path)
    return _reader(plan, state).choices(plan.form.fields[name], path)


def lookup(plan: Plan, state: State, name: str, context: Path) -> Any:
    """The value ``${name}`` has in a text shown at ``context``: the answer or calculation
    in the same or an enclosing repeat instance, else None (as the engine's labels)."""
    # Read from the state straight: a label may name several answers.
    return _lookup(plan, state.answers, state.calculated, name, context)


def invalid(plan: Plan, state: State, path: Path) -> Invalid | None:
    """Why the value at ``path`` does not hold (the engine's check: required, type, sanity,
    constraint), with the parameters and the form's message; None when it holds. A path
    outside the repeats' instances holds no value."""
    run = _reader(plan, state)
    value = run.tree.value(path) if run.exists(path) else None
    return run.invalid(_field(plan, path), path, value)


def required(plan: Plan, state: State, path: Path) -> bool:
    """Whether the field at ``path`` must be answered now."""
    return _reader(plan, state).required(_field(plan, path), path)


def default(plan: Plan, state: State, path: Path) -> Any:
    """The value of the field's ``default`` expression at ``path`` (None if it has none,
    or a literal default, which needs no state)."""
    return _reader(plan, state).default(_field(plan, path), path)


def settled_answers(
    plan: Plan,
    state: State,
    *,
    relevant_only: bool = False,
    visible: Collection[Path] | None = None,
) -> dict[str, Any]:
    """Nested answers with calculations set and repeats sized, like the engine's
    ``apply_calculations`` (fields unknown to the form are not kept). With
    ``relevant_only``, calculations are kept only where relevant, as in the output of
    ``drop_irrelevant`` (use after :func:`prune`). ``visible``: the paths of
    ``walk(plan, state)``, when the caller has them already."""
    if visible is None:
        visible = {path for _, path in walk(plan, state)}

    return _build(plan, state, relevant_only, visible, TOP, ())


def _build(
    plan: Plan,
    state: State,
    relevant_only: bool,
    visible: Collection[Path],
    container: str,
    prefix: Path,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in plan.children[container]:
        path = (*prefix, name)
        if name in plan.computed:
            if path in state.calculated and (not relevant_only or path in visible):
                data[name] = state.calculated[path]
        elif name in plan.form.fields:
            if path in state.answers:
                value = state.answers[path]
                data[name] = list(value) if isinstance(value, list) else value
        else:
            count = state.counts.get(path, 0)
            if count or path in state.lengths:
                data[name] = [
                    _build(plan, state, relevant_only, visible, name, (*path, i))
                    for i in range(count)
                ]
    return data
