"""A form compiled once into a plan: its expressions as closures, and the dependency
graph between the things to evaluate.

Every ``relevant``, ``calculation``, ``repeat_count``, ``constraint``, ``required`` and
``choice_filter`` of the form is parsed and compiled to closures (:mod:`forms.plan_xpath`)
once. What an expression reads is worked out from its syntax tree (:class:`_Analysis`),
and becomes a graph between *slots*: one slot per kind of thing to evaluate for a node (its
relevance, its calculation, a repeat's instance count, an answer's check), kept in
topological order. Each edge says how many enclosing repeat instances the reader shares
with what it reads, so that a change in member 2 re-evaluates member 2's dependents while
a household-level ``sum(${age})`` is re-evaluated for any member (JavaRosa's
triggerables). :mod:`forms.plan` evaluates a plan over an interview's answers.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import TypeAlias

from forms.model import Field, FieldType, Form, FormError, Node, Repeat
from forms.plan_xpath import (
    STRUCTURE_FUNCTIONS,
    Binary,
    Call,
    Compiled,
    Expr,
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
from forms.plan_xpath import compile_expression as compile_closure
from forms.xpath import ROOT

TRUE_WORDS = frozenset({"yes", "true", "true()", "1"})
FALSE_WORDS = frozenset({"no", "false", "false()", "0", ""})

RELEVANT, VALUE, COUNT, CHECK = "relevant", "value", "count", "check"
"""Slot kinds; VALUE and COUNT are also what other slots read (a field's value, a repeat's
instances)."""

SlotId: TypeAlias = tuple[str, str]
"""(kind, node name)."""
Read: TypeAlias = tuple[str, str, int]
"""(VALUE or COUNT, name, shared): the reader keeps its first ``shared`` repeat instances."""

TOP = ""
"""The container name of the fields and repeats outside any repeat."""
_DOC = "#doc"
"""The document node, in the analysis (the root element is TOP)."""


@dataclass(frozen=True)
class Rules:
    """A node's expressions, compiled."""

    relevant: tuple[Compiled, ...] = ()
    calculate: Compiled | None = None
    repeat_count: Compiled | None = None
    constraint: Compiled | None = None
    required: Compiled | bool = False
    choice_filter: Compiled | None = None
    filter_refs: tuple[str, ...] = ()
    """The fields a choice_filter names, passed to it as values."""
    default: Compiled | None = None
    """A ``default`` that is an expression (a plain default is a literal, see
    :func:`forms.parsing.literal_value`). Read when a question is shown, never a slot."""


@dataclass(frozen=True)
class Slot:
    kind: str
    name: str
    chain: tuple[str, ...]
    """The repeats whose instances index this slot (the node's enclosing repeats)."""


@dataclass(frozen=True, eq=False)
class Plan:
    """A compiled form. Immutable; evaluated by :func:`evaluate` and :func:`update`."""

    form: Form
    rank: Mapping[str, int]
    """Document order of every field and repeat."""
    children: Mapping[str, tuple[str, ...]]
    """Container ("" for the root, else a repeat's name) -> its fields and repeats."""
    container: Mapping[str, str]
    rules: Mapping[str, Rules]
    slots: tuple[Slot, ...]
    """Every slot, in an order where each comes after all it reads (topological)."""
    index: Mapping[SlotId, int]
    reads: Mapping[SlotId, frozenset[Read]]
    """What each slot's expressions read (its own value is implied for checks)."""
    dependents: Mapping[SlotId, tuple[tuple[int, int], ...]]
    """Reverse graph: a changed value, count or relevance -> (slot index, shared)."""
    inside: Mapping[str, tuple[int, ...]]
    """Repeat -> indices of the slots of every node inside it (a new instance's slots)."""
    computed: frozenset[str]
    """Fields whose value is calculated (the answers' value for them is ignored)."""
    questions: frozenset[str]
    """Fields that are asked (not notes or calculations)."""

    def __repr__(self) -> str:
        return f"Plan({self.form.form_id!r}, {len(self.slots)} slots)"

    @cached_property
    def asked(self) -> Mapping[str, tuple[tuple[str, bool], ...]]:
        """Container -> its questions and repeats in order, each with whether it is a
        repeat: what finding the next question reads (notes and calculations never are)."""
        repeats = self.form.repeats
        return MappingProxyType(
            {
                container: tuple(
                    (name, name in repeats)
                    for name in names
                    if name in repeats or name in self.questions
                )
                for container, names in self.children.items()
            }
        )

    def node(self, name: str) -> Node:
        return self.form.node(name)

    def chain(self, name: str) -> tuple[str, ...]:
        return self.form.node(name).repeats


def _layout(form: Form) -> tuple[dict[str, int], dict[str, tuple[str, ...]], dict[str, str]]:
    rank: dict[str, int] = {}
    children: dict[str, tuple[str, ...]] = {}
    container: dict[str, str] = {}

    def visit(nodes: tuple[Node, ...], parent: str) -> None:
        children[parent] = tuple(node.name for node in nodes)
        for node in nodes:
            rank[node.name] = len(rank)
            container[node.name] = parent
            if isinstance(node, Repeat):
                visit(node.children, node.name)

    visit(form.children, TOP)
    return rank, children, container


class _Analysis:
    """What an expression reads, from its syntax tree (never from its text).

    A static node is a field or repeat name (a repeat stands for its instances), "" for
    the root element or "#doc" for the document; with it goes how many of its enclosing
    repeat instances are still those of the expression's own node (``shared``). Reads are
    conservative: a node-set whose text is used reads every field under it."""

    def __init__(
        self, form: Form, children: Mapping[str, tuple[str, ...]], container: Mapping[str, str]
    ) -> None:
        self.form = form
        self.children = children
        self.container = container

    def depth(self, static: str) -> int:
        if static in (_DOC, TOP):
            return 0
        node = self.form.node(static)
        return len(node.repeats) + isinstance(node, Repeat)

    def is_repeat(self, static: str) -> bool:
        return static in self.form.repeats

    def under(self, static: str) -> list[str]:
        """Every field and repeat inside a container node, at any depth."""
        if static == _DOC:
            static = TOP
        elif static != TOP and not self.is_repeat(static):
            return []
        found: list[str] = []
        for name in self.children[static]:
            found.append(name)
            found += self.under(name)
        return found

    def exists(self, repeat: str, shared: int) -> set[Read]:
        # A reader inside its own instance needs no word that the instance exists.
        return (
            {(COUNT, repeat, shared)} if shared <= len(self.form.repeats[repeat].repeats) else set()
        )

    def value_reads(self, static: str, shared: int) -> set[Read]:
        if static not in (_DOC, TOP) and not self.is_repeat(static):
            return {(VALUE, static, shared)}
        reads: set[Read] = set()
        for name in self.under(static):
            reads |= self.exists(name, shared) if self.is_repeat(name) else {(VALUE, name, shared)}
        return reads

    def consumed(
        self, expression: Expr, context: set[tuple[str, int]], own: tuple[str, ...]
    ) -> set[Read]:
        """Reads of an expression whose result is used as a value."""
        nodes, reads = self.nodes(expression, context, own)
        for static, shared in nodes:
            reads |= self.value_reads(static, shared)
        return reads

    def shared(self, name: str, own: tuple[str, ...]) -> int:
        """How many of ``${name}``'s enclosing repeats are also the expression's own."""
        count = 0
        for outer, inner in zip(self.form.node(name).repeats, own, strict=False):
            if outer != inner:
                break
            count += 1
        return count

    def nodes(
        self, expression: Expr, context: set[tuple[str, int]], own: tuple[str, ...]
    ) -> tuple[set[tuple[str, int]], set[Read]]:
        """(the static nodes a node-set result may hold, what computing it reads)."""
        if isinstance(expression, Literal | Number):
            return set(), set()
        if isinstance(expression, Ref):
            name = expression.name
            shared = self.shared(name, own)
            reads: set[Read] = set()
            for repeat in self.form.node(name).repeats[shared:]:
                reads |= self.exists(repeat, shared)
            if self.is_repeat(name):
                reads |= self.exists(name, shared)
            return {(name, shared)}, reads
        if isinstance(expression, Negate):
            return set(), self.consumed(expression.operand, context, own)
        if isinstance(expression, Binary):
            if expression.op == "|":
                left, left_reads = self.nodes(expression.left, context, own)
                right, right_reads = self.nodes(expression.right, context, own)
                return left | right, left_reads | right_reads
            return set(), self.consumed(expression.left, context, own) | self.consumed(
                expression.right, context, own
            )
        if isinstance(expression, Call):
            reads = set()
            for arg in expression.args:
                if expression.name in STRUCTURE_FUNCTIONS:
                    reads |= self.nodes(arg, context, own)[1]
                else:
                    reads |= self.consumed(arg, context, own)
            return set(), reads
        if isinstance(expression, Filter):
            nodes, reads = self.nodes(expression.primary, context, own)
            for predicate in expression.predicates:
                for node in nodes:
                    reads |= self.consumed(predicate, {node}, own)
            return nodes, reads
        assert isinstance(expression, XPath)
        if expression.start is not None:
            nodes, reads = self.nodes(expression.start, context, own)
        else:
            nodes, reads = ({(_DOC, 0)} if expression.absolute else set(context)), set()
        for step in expression.steps:
            found: set[tuple[str, int]] = set()
            for static, shared in nodes:
                found |= self.step(step, static, shared, reads)
            for predicate in step.predicates:
                for node in found:
                    reads |= self.consumed(predicate, {node}, own)
            nodes = found
        return nodes, reads

    def step(self, step: Step, static: str, shared: int, reads: set[Read]) -> set[tuple[str, int]]:
        def name_of(node: str) -> str:
            return ROOT if node == TOP else node

        def matches(node: str) -> bool:
            return step.test in ("*", "node()") or name_of(node) == step.test

        if step.axis == "self":
            return {(static, shared)} if matches(static) else set()
        if step.axis == "parent":
            if static == _DOC:
                return set()
            parent = _DOC if static == TOP else self.container[static]
            return {(parent, min(shared, self.depth(parent)))} if matches(parent) else set()
        if step.axis == "child":
            if static == _DOC:
                candidates = [TOP]
            elif static == TOP or self.is_repeat(static):
                candidates = list(self.children[static])
            else:
                candidates = []
        else:
            candidates = self.under(static)
            if step.axis == "descendant-or-self":
                candidates.append(static)
            if static == _DOC:
                candidates.append(TOP)
        found = set()
        for node in candidates:
            if matches(node):
                found.add((node, shared))
                if self.is_repeat(node):
                    reads |= self.exists(node, shared)
        return found


def _compile(
    form: Form, source: str, node: Node, column: str, analysis: _Analysis, *, items: bool = False
) -> tuple[Compiled, set[Read]]:
    """An expression of ``node``'s, compiled, with what it reads."""

    def fail(key: str, reason: str, value: str) -> FormError:
        return FormError(key, reason, sheet="survey", row=node.row, column=column, value=value)

    try:
        tree = parse(source)
    except XPathError as exc:
        raise fail("forms.load.bad_expression", str(exc), source) from exc
    refs = _refs(tree)
    for name in refs:
        if name not in form.fields and name not in form.repeats:
            raise fail("forms.load.unknown_reference", f"unknown reference ${{{name}}}", name)
    own = node.repeats
    if items:
        # A choice filter reads the choices' columns, and ${x} as a value (see _lookup).
        reads: set[Read] = set()
        for name in refs:
            target = form.node(name)
            if isinstance(target, Field) and own[: len(target.repeats)] == target.repeats:
                reads.add((VALUE, name, len(target.repeats)))
    elif isinstance(node, Field):
        reads = analysis.consumed(tree, {(node.name, len(own))}, own)
    else:
        parent = analysis.container[node.name]
        reads = analysis.consumed(tree, {(parent, analysis.depth(parent))}, own)
    return compile_closure(tree, lambda name: analysis.shared(name, own)), reads


def _refs(expression: Expr) -> set[str]:
    if isinstance(expression, Ref):
        return {expression.name}
    found: set[str] = set()
    if isinstance(expression, Negate):
        found |= _refs(expression.operand)
    elif isinstance(expression, Binary):
        found |= _refs(expression.left) | _refs(expression.right)
    elif isinstance(expression, Call):
        for arg in expression.args:
            found |= _refs(arg)
    elif isinstance(expression, Filter):
        found |= _refs(expression.primary)
        for predicate in expression.predicates:
            found |= _refs(predicate)
    elif isinstance(expression, XPath):
        if expression.start is not None:
            found |= _refs(expression.start)
        for step in expression.steps:
            for predicate in step.predicates:
                found |= _refs(predicate)
    return found


def _node_rules(
    form: Form,
    node: Node,
    analysis: _Analysis,
    slots: list[Slot],
    reads: dict[SlotId, set[Read]],
) -> Rules:
    """Compiles a node's expressions, adding its slots and what each of them reads."""

    def compiled(source: str, column: str, into: set[Read]) -> Compiled:
        closure, found = _compile(form, source, node, column, analysis)
        into.update(found)
        return closure

    def add(kind: str, found: set[Read]) -> None:
        slots.append(Slot(kind, node.name, node.repeats))
        reads[(kind, node.name)] = found

    found: set[Read] = set()
    relevant = tuple(compiled(source, "relevant", found) for source in node.relevant)
    if relevant:
        add(RELEVANT, found)
    if isinstance(node, Repeat):
        found = set()
        count = compiled(node.repeat_count, "repeat_count", found) if node.repeat_count else None
        add(COUNT, found)
        return Rules(relevant=relevant, repeat_count=count)
    calculate = None
    if node.type is FieldType.CALCULATE and node.calculation:
        found = set()
        calculate = compiled(node.calculation, "calculation", found)
        add(VALUE, found)
    found = set()
    required: Compiled | bool = False
    rule = (node.required or "").strip()
    if rule.lower() in TRUE_WORDS:
        required = True
    elif rule.lower() not in FALSE_WORDS:
        required = compiled(rule, "required", found)
    constraint = compiled(node.constraint, "constraint", found) if node.constraint else None
    choice_filter = None
    filter_refs: tuple[str, ...] = ()
    if node.choice_filter:
        choice_filter, in_filter = _compile(
            form, node.choice_filter, node, "choice_filter", analysis, items=True
        )
        found |= in_filter
        filter_refs = tuple(sorted(_refs(parse(node.choice_filter))))
    if node.answerable:
        add(CHECK, found)
    default = None
    text = (node.default or "").strip()
    if "${" in text or "(" in text:
        # As the engine tells an expression from a literal; what it reads is no slot's
        # business: a default is evaluated when its question is shown.
        default, _ = _compile(form, text, node, "default", analysis)
    return Rules(
        relevant, calculate, None, constraint, required, choice_filter, filter_refs, default
    )


def compile_plan(form: Form) -> Plan:
    """Compiles every expression of ``form`` and orders its slots; FormError on a bad
    expression, an unsupported function or a circular dependency."""
    rank, children, container = _layout(form)
    analysis = _Analysis(form, children, container)
    rules: dict[str, Rules] = {}
    reads: dict[SlotId, set[Read]] = {}
    slots: list[Slot] = []
    nodes: list[Node] = sorted(
        [*form.fields.values(), *form.repeats.values()], key=lambda n: rank[n.name]
    )
    for node in nodes:
        rules[node.name] = _node_rules(form, node, analysis, slots, reads)
    computed = frozenset(s.name for s in slots if s.kind == VALUE)
    order = _order(form, slots, reads, computed)
    index = {(slot.kind, slot.name): i for i, slot in enumerate(order)}
    dependents: dict[SlotId, dict[int, int]] = {}

    def depend(source: SlotId, reader: SlotId, shared: int) -> None:
        targets = dependents.setdefault(source, {})
        targets[index[reader]] = min(shared, targets.get(index[reader], shared))

    for reader, found in reads.items():
        for kind, name, shared in found:
            depend((kind, name), reader, shared)
    for slot in order:
        depth = len(slot.chain)
        if slot.kind == RELEVANT:
            for kind in (VALUE, COUNT):
                if (kind, slot.name) in index:
                    depend((RELEVANT, slot.name), (kind, slot.name), depth)
        if slot.kind == CHECK:
            depend((VALUE, slot.name), (CHECK, slot.name), depth)
    inside = {
        repeat: tuple(i for i, slot in enumerate(order) if repeat in slot.chain)
        for repeat in form.repeats
    }
    return Plan(
        form=form,
        rank=MappingProxyType(rank),
        children=MappingProxyType(children),
        container=MappingProxyType(container),
        rules=MappingProxyType(rules),
        slots=tuple(order),
        index=MappingProxyType(index),
        reads=MappingProxyType({key: frozenset(value) for key, value in reads.items()}),
        dependents=MappingProxyType(
            {key: tuple(sorted(value.items())) for key, value in dependents.items()}
        ),
        inside=MappingProxyType(inside),
        computed=computed,
        questions=frozenset(name for name, field in form.fields.items() if field.answerable),
    )


def _order(
    form: Form, slots: list[Slot], reads: Mapping[SlotId, set[Read]], computed: frozenset[str]
) -> list[Slot]:
    """Slots in topological order (document order among the free ones); FormError on a cycle."""
    ids = [(slot.kind, slot.name) for slot in slots]
    present = set(ids)
    before: dict[SlotId, set[SlotId]] = {slot_id: set() for slot_id in ids}
    for slot, slot_id in zip(slots, ids, strict=True):
        for kind, name, _ in reads.get(slot_id, ()):
            source = (kind, name)
            if source in present and (kind == COUNT or name in computed):
                before[slot_id].add(source)
        if slot.kind in (VALUE, COUNT) and (RELEVANT, slot.name) in present:
            before[slot_id].add((RELEVANT, slot.name))
        for repeat in slot.chain:  # instances exist once their repeat is counted
            before[slot_id].add((COUNT, repeat))
    after: dict[SlotId, list[SlotId]] = {slot_id: [] for slot_id in ids}
    for slot_id, sources in before.items():
        for source in sources:
            after[source].append(slot_id)
    position = {slot_id: i for i, slot_id in enumerate(ids)}
    waiting = {slot_id: len(sources) for slot_id, sources in before.items()}
    ready = [position[slot_id] for slot_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[Slot] = []
    while ready:
        slot = slots[heapq.heappop(ready)]
        order.append(slot)
        for follower in after[(slot.kind, slot.name)]:
            waiting[follower] -= 1
            if waiting[follower] == 0:
                heapq.heappush(ready, position[follower])
    if len(order) < len(slots):
        # What is left waits on a cycle; peel off what only follows it, to name the cycle.
        stuck = {slot_id for slot_id, count in waiting.items() if count}
        while sinks := {i for i in stuck if not any(f in stuck for f in after[i])}:
            stuck -= sinks
        names = list(dict.fromkeys(name for _, name in sorted(stuck, key=position.__getitem__)))
        raise FormError(
            "forms.load.bad_expression",
            "circular reference between " + ", ".join(f"${{{name}}}" for name in names),
            sheet="survey",
            row=form.node(names[0]).row,
            value=names[0],
        )
    return order


def affected(plan: Plan, name: str) -> frozenset[SlotId]:
    """Every slot that a change of field ``name`` re-evaluates, directly or not."""
    seen: set[SlotId] = set()
    frontier: list[SlotId] = [(VALUE, name)]
    while frontier:
        source = frontier.pop()
        for index, _ in plan.dependents.get(source, ()):
            slot = plan.slots[index]
            slot_id = (slot.kind, slot.name)
            if slot_id not in seen:
                seen.add(slot_id)
                frontier.append(slot_id)
    return frozenset(seen)
