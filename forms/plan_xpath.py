"""The XPath 1.0 that XLSForms use, parsed once and compiled to Python closures.

A small recursive-descent parser turns an expression into a tree of frozen dataclasses
(``${name}`` is a node of its own, not rewritten text), and :func:`compile_expression`
turns that tree into one closure per node. The closures read a :class:`Tree`, so the same
code runs over a form's answers (see :mod:`forms.plan`) and over a choice list (for
``choice_filter``); nothing here knows about XML or elementpath.

Values follow XPath 1.0: a boolean, a number (float, or int where a function returns
one), a string, or a node-set (a list of nodes in document order). Comparisons follow
section 3.4 as :mod:`forms.xpath` does; arithmetic is in doubles, as in JavaRosa.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, TypeAlias

EPOCH = date(1970, 1, 1)

Node: TypeAlias = tuple[str | int, ...]
"""A node of a tree, named by its path (see the trees in plan.py)."""
Value: TypeAlias = bool | int | float | str | list[Node]


class XPathError(ValueError):
    """An expression that cannot be parsed, or that fails while it is evaluated."""


# -- syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: str


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    """``${name}``: the field (or repeat) of that name, seen from the expression's field."""

    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate:
    operand: Expr


@dataclass(frozen=True)
class Step:
    axis: str
    """child, self, parent, descendant or descendant-or-self."""
    test: str
    """An element name, ``*`` or ``node()``."""
    predicates: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Filter:
    """A primary expression (``${x}``, ``(...)``) with predicates: ``${age}[. > 15]``."""

    primary: Expr
    predicates: tuple[Expr, ...]


@dataclass(frozen=True)
class Path:
    start: Expr | None
    """None: from the context node, or from the document root when ``absolute``."""
    absolute: bool
    steps: tuple[Step, ...]


Expr: TypeAlias = Literal | Number | Ref | Call | Binary | Negate | Filter | Path

SELF = Step("self", "node()")
PARENT = Step("parent", "node()")
ANYWHERE = Step("descendant-or-self", "node()")
AXES = frozenset({"child", "self", "parent", "descendant", "descendant-or-self"})


# -- parsing ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<ref>\$\{\s*[A-Za-z_][\w.\-]*\s*\})
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<op>//|::|\.\.|!=|<=|>=|[/()\[\],|+\-=<>*@.$])
    | (?P<name>[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)
    )""",
    re.VERBOSE,
)
_WORD_OPERATORS = frozenset({"and", "or", "div", "mod"})
# After these a ``*`` multiplies and a name is an operator (XPath 1.0, section 3.7).
_OPERAND_ENDS = frozenset({")", "]", ".", "..", "*"})
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "=": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "div": 6,
    "mod": 6,
}
_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})


def _tokenize(source: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; kind is ref, string, number, name, op (operators) or end."""
    tokens: list[tuple[str, str]] = []
    position = 0
    source = source.rstrip()
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise XPathError(f"unexpected character at {source[position:]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        text = match.group(kind)
        previous = tokens[-1] if tokens else None
        after_operand = previous is not None and (
            previous[0] in ("ref", "string", "number", "name")
            or (previous[0] == "op" and previous[1] in _OPERAND_ENDS and previous != ("op", "*"))
            or previous == ("name", "*")
        )
        if kind == "op" and text == "*" and not after_operand:
            kind = "name"  # a wildcard name test, not a multiplication
        elif kind == "name" and after_operand:
            if text not in _WORD_OPERATORS:
                raise XPathError(f"unexpected name {text!r}")
            kind = "op"
        tokens.append((kind, text))
    tokens.append(("end", ""))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.index = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def next(self) -> tuple[str, str]:
        token = self.peek()
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.peek() == ("op", text):
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise XPathError(f"expected {text!r}, found {self.peek()[1] or 'the end'!r}")

    def parse(self) -> Expr:
        expression = self.binary(1)
        if self.peek()[0] != "end":
            raise XPathError(f"unexpected {self.peek()[1]!r}")
        return expression

    def binary(self, lowest: int) -> Expr:
        left = self.unary()
        while True:
            kind, text = self.peek()
            precedence = _PRECEDENCE.get(text, 0) if kind == "op" else 0
            if precedence < lowest:
                return left
            self.next()
            left = Binary(text, left, self.binary(precedence + 1))

    def unary(self) -> Expr:
        if self.accept("-"):
            return Negate(self.unary())
        left = self.path()
        while self.accept("|"):
            left = Binary("|", left, self.path())
        return left

    def starts_step(self) -> bool:
        kind, text = self.peek()
        if kind == "op":
            return text in (".", "..", "@")
        if kind != "name":
            return False
        # A name before "(" calls a function, unless it is a node type test.
        return self.peek(1) != ("op", "(") or text in _NODE_TYPES

    def path(self) -> Expr:
        if self.accept("/"):
            steps = self.relative() if self.starts_step() else ()
            return Path(None, True, steps)
        if self.accept("//"):
            return Path(None, True, (ANYWHERE, *self.relative()))
        if self.starts_step():
            return Path(None, False, self.relative())
        primary = self.primary()
        predicates = self.predicates()
        start = Filter(primary, predicates) if predicates else primary
        if self.peek() in (("op", "/"), ("op", "//")):
            return Path(start, False, self.relative(leading=True))
        return start

    def relative(self, *, leading: bool = False) -> tuple[Step, ...]:
        steps: list[Step] = []
        if not leading:
            steps.append(self.step())
        while True:
            if self.accept("/"):
                steps.append(self.step())
            elif self.accept("//"):
                steps += [ANYWHERE, self.step()]
            else:
                return tuple(steps)

    def step(self) -> Step:
        if self.accept("."):
            return SELF
        if self.accept(".."):
            return PARENT
        if self.accept("@"):
            raise XPathError("attributes are not supported")
        axis = "child"
        if self.peek(1) == ("op", "::"):
            axis = self.next()[1]
            self.next()
            if axis not in AXES:
                raise XPathError(f"the {axis} axis is not supported")
        kind, test = self.next()
        if kind != "name":
            raise XPathError(f"expected a name, found {test or 'the end'!r}")
        if test in _NODE_TYPES and self.peek() == ("op", "("):
            self.expect("(")
            self.expect(")")
            if test != "node":
                raise XPathError(f"{test}() is not supported")
            test = "node()"
        return Step(axis, test, self.predicates())

    def predicates(self) -> tuple[Expr, ...]:
        found: list[Expr] = []
        while self.accept("["):
            found.append(self.binary(1))
            self.expect("]")
        return tuple(found)

    def primary(self) -> Expr:
        kind, text = self.next()
        if kind == "ref":
            return Ref(text[2:-1].strip())
        if kind == "string":
            return Literal(text[1:-1])
        if kind == "number":
            return Number(float(text))
        if (kind, text) == ("op", "("):
            inner = self.binary(1)
            self.expect(")")
            return inner
        if kind == "name" and self.accept("("):
            args: list[Expr] = []
            if not self.accept(")"):
                args.append(self.binary(1))
                while self.accept(","):
                    args.append(self.binary(1))
                self.expect(")")
            if text not in FUNCTIONS:
                raise XPathError(f"unknown function {text}()")
            low, high = FUNCTIONS[text][:2]
            if not low <= len(args) <= high:
                raise XPathError(f"{text}() takes {low}..{high} arguments, not {len(args)}")
            return Call(text, tuple(args))
        if (kind, text) == ("op", "$"):
            raise XPathError("variables are not supported")
        raise XPathError(f"unexpected {text or 'end of expression'!r}")


def parse(source: str) -> Expr:
    """The syntax tree of an expression; XPathError if it is not in the supported subset."""
    return _Parser(source).parse()


# -- evaluation context ---------------------------------------------------------------------


class Tree(Protocol):
    """What expressions may read: nodes named by tuples, with text and structure."""

    document: Node

    def text(self, node: Node) -> str: ...

    def name(self, node: Node) -> str: ...

    def children(self, node: Node) -> list[Node]: ...

    def child(self, node: Node, name: str) -> list[Node]: ...

    def parent(self, node: Node) -> Node | None: ...

    def ordinal(self, node: Node) -> int:
        """1-based rank among the siblings of the same name (ODK's position(node))."""
        ...

    def reference(self, name: str, shared: int, indices: tuple[int, ...]) -> Value:
        """What ``${name}`` stands for, seen from a node in the repeat instances
        ``indices`` with which its first ``shared`` enclosing repeats are shared."""
        ...

    def order(self, nodes: list[Node]) -> list[Node]:
        """The nodes in document order, each once."""
        ...


class Context:
    __slots__ = ("indices", "node", "position", "size", "today", "tree")

    def __init__(
        self,
        tree: Tree,
        node: Node,
        indices: tuple[int, ...],
        today: int,
        position: int = 1,
        size: int = 1,
    ) -> None:
        self.tree = tree
        self.node = node
        self.indices = indices
        """Repeat instances of the expression's own field: what ``${x}`` is seen from."""
        self.today = today
        """Days since 1970-01-01."""
        self.position = position
        self.size = size

    def at(self, node: Node, position: int, size: int) -> Context:
        return Context(self.tree, node, self.indices, self.today, position, size)


Compiled: TypeAlias = Callable[[Context], Value]


# -- conversions ------------------------------------------------------------------------------

_NUMERIC_TEXT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")


def text_number(text: str) -> float:
    return float(text) if _NUMERIC_TEXT.fullmatch(text) else math.nan


def number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if float(number).is_integer():
        return str(int(number))
    return repr(float(number))


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_string(value: Value, tree: Tree) -> str:
    if isinstance(value, list):
        return tree.text(value[0]) if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    return value


def to_number(value: Value, tree: Tree) -> float:
    if isinstance(value, list):
        return text_number(tree.text(value[0])) if value else math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return text_number(value)


def to_boolean(value: Value) -> bool:
    if isinstance(value, float):
        return not math.isnan(value) and value != 0
    return bool(value)


def to_date(value: Value, tree: Tree) -> date | None:
    """A date from a day count (JavaRosa's numeric dates), an ISO date or date-time."""
    if isinstance(value, list):
        if not value:
            return None
        value = tree.text(value[0])
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return EPOCH + timedelta(value)
        text = value.strip()
        if not text:
            return None
        try:
            return EPOCH + timedelta(float(text))
        except ValueError:
            return date.fromisoformat(text[:10])
    except (ValueError, OverflowError):
        return None


# -- compiling ----------------------------------------------------------------------------------


def _compare(op: str, left: Value, right: Value, tree: Tree) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _COMPARE[op](to_boolean(left), to_boolean(right))
    lefts = [tree.text(n) for n in left] if isinstance(left, list) else [left]
    rights = [tree.text(n) for n in right] if isinstance(right, list) else [right]
    numeric = op not in ("=", "!=")
    compare = _COMPARE[op]
    for a in lefts:
        for b in rights:
            if numeric or is_number(a) or is_number(b):
                if compare(to_number(a, tree), to_number(b, tree)):
                    return True
            elif compare(a, b):
                return True
    return False


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _divide(a: float, b: float) -> float:
    if b:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "div": _divide,
    "mod": lambda a, b: math.fmod(a, b) if b else math.nan,
}


def _node_set(value: Value, what: str) -> list[Node]:
    if not isinstance(value, list):
        raise XPathError(f"{what} needs a node-set, not {to_kind(value)}")
    return value


def to_kind(value: Value) -> str:
    return {bool: "a boolean", str: "a string", list: "a node-set"}.get(type(value), "a number")


def _filtered(context: Context, predicates: Sequence[Compiled], nodes: list[Node]) -> list[Node]:
    for predicate in predicates:
        size = len(nodes)
        kept = []
        for position, node in enumerate(nodes, 1):
            result = predicate(context.at(node, position, size))
            if result == position if is_number(result) else to_boolean(result):
                kept.append(node)
        nodes = kept
    return nodes


def _descendants(tree: Tree, node: Node) -> list[Node]:
    found: list[Node] = []
    for child in tree.children(node):
        found.append(child)
        found += _descendants(tree, child)
    return found


def _axis(step: Step) -> Callable[[Tree, Node], list[Node]]:
    test = step.test
    if step.axis == "child":
        if test in ("*", "node()"):
            return lambda tree, node: tree.children(node)
        return lambda tree, node: tree.child(node, test)

    def matches(tree: Tree, node: Node) -> bool:
        return test in ("*", "node()") or tree.name(node) == test

    if step.axis == "self":
        return lambda tree, node: [node] if matches(tree, node) else []
    if step.axis == "parent":

        def parent(tree: Tree, node: Node) -> list[Node]:
            up = tree.parent(node)
            return [up] if up is not None and matches(tree, up) else []

        return parent
    with_self = step.axis == "descendant-or-self"
    return lambda tree, node: [
        n for n in ([node] if with_self else []) + _descendants(tree, node) if matches(tree, n)
    ]


def _compile_steps(
    steps: Sequence[Step], shared: Callable[[str], int]
) -> Callable[[Context, list[Node]], list[Node]]:
    compiled = [
        (_axis(step), tuple(compile_expression(p, shared) for p in step.predicates))
        for step in steps
    ]

    def walk(context: Context, nodes: list[Node]) -> list[Node]:
        tree = context.tree
        for axis, predicates in compiled:
            found: list[Node] = []
            for node in nodes:
                selected = axis(tree, node)
                found += _filtered(context, predicates, selected) if predicates else selected
            nodes = tree.order(found) if len(nodes) > 1 else found
        return nodes

    return walk


def compile_expression(expression: Expr, shared: Callable[[str], int]) -> Compiled:
    """A closure computing ``expression``; ``shared(name)`` tells how many of ``${name}``'s
    enclosing repeats are also the expression's own (the instances it keeps)."""
    if isinstance(expression, Literal):
        text = expression.value
        return lambda context: text
    if isinstance(expression, Number):
        number = expression.value
        return lambda context: number
    if isinstance(expression, Ref):
        name, depth = expression.name, shared(expression.name)
        return lambda context: context.tree.reference(name, depth, context.indices)
    if isinstance(expression, Negate):
        operand = compile_expression(expression.operand, shared)
        return lambda context: -to_number(operand(context), context.tree)
    if isinstance(expression, Binary):
        return _compile_binary(expression, shared)
    if isinstance(expression, Call):
        function = FUNCTIONS[expression.name][2]
        args = tuple(compile_expression(arg, shared) for arg in expression.args)
        return lambda context: function(context, args)
    if isinstance(expression, Filter):
        primary = compile_expression(expression.primary, shared)
        predicates = tuple(compile_expression(p, shared) for p in expression.predicates)
        return lambda context: _filtered(
            context, predicates, _node_set(primary(context), "a predicate")
        )
    start = compile_expression(expression.start, shared) if expression.start else None
    walk = _compile_steps(expression.steps, shared)
    if start is not None:
        return lambda context: walk(context, _node_set(start(context), "a path"))
    if expression.absolute:
        return lambda context: walk(context, [context.tree.document])
    return lambda context: walk(context, [context.node])


def _compile_binary(expression: Binary, shared: Callable[[str], int]) -> Compiled:
    op = expression.op
    left = compile_expression(expression.left, shared)
    right = compile_expression(expression.right, shared)
    if op == "and":
        return lambda context: to_boolean(left(context)) and to_boolean(right(context))
    if op == "or":
        return lambda context: to_boolean(left(context)) or to_boolean(right(context))
    if op in _COMPARE:
        return lambda context: _compare(op, left(context), right(context), context.tree)
    if op == "|":
        return lambda context: context.tree.order(
            _node_set(left(context), "|") + _node_set(right(context), "|")
        )
    arithmetic = _ARITHMETIC[op]
    return lambda context: arithmetic(
        to_number(left(context), context.tree), to_number(right(context), context.tree)
    )


# -- functions ----------------------------------------------------------------------------------

Args: TypeAlias = tuple[Compiled, ...]


def _string(context: Context, args: Args, index: int = 0) -> str:
    if index >= len(args):
        return context.tree.text(context.node)
    return to_string(args[index](context), context.tree)


def _number(context: Context, args: Args, index: int = 0) -> float:
    if index >= len(args):
        return text_number(context.tree.text(context.node))
    return to_number(args[index](context), context.tree)


def _round_half_up(number: float) -> float:
    return math.floor(number + 0.5)


def _substring(context: Context, args: Args) -> str:
    text = _string(context, args)
    first = _round_half_up(_number(context, args, 1))
    last = first + _round_half_up(_number(context, args, 2)) if len(args) > 2 else math.inf
    if math.isnan(first) or math.isnan(last):
        return ""
    return "".join(ch for i, ch in enumerate(text, 1) if first <= i < last)


def _translate(context: Context, args: Args) -> str:
    source, target = _string(context, args, 1), _string(context, args, 2)
    table: dict[int, str | None] = {}
    for i, ch in enumerate(source):
        table.setdefault(ord(ch), target[i] if i < len(target) else None)
    return _string(context, args).translate(table)


def _sum(context: Context, args: Args) -> float:
    nodes = _node_set(args[0](context), "sum()")
    return sum((text_number(context.tree.text(n)) for n in nodes), 0.0)


def _position(context: Context, args: Args) -> int:
    if not args:
        return context.position
    nodes = _node_set(args[0](context), "position()")
    return context.tree.ordinal(nodes[0]) if nodes else 0


def _int(context: Context, args: Args) -> float | int:
    number = _number(context, args)
    return number if math.isnan(number) or math.isinf(number) else math.trunc(number)


def _round(context: Context, args: Args) -> float | int:
    number = _number(context, args)
    digits = _number(context, args, 1) if len(args) > 1 else 0.0
    if math.isnan(number) or math.isinf(number) or math.isnan(digits):
        return math.nan
    # JavaRosa rounds half away from zero, unlike Python's banker's rounding.
    quantum = Decimal(1).scaleb(-int(digits))
    rounded = Decimal(repr(number)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded) if digits <= 0 else float(rounded)


def _regex(context: Context, args: Args) -> bool:
    try:
        return re.search(_string(context, args, 1), _string(context, args)) is not None
    except re.error as exc:
        raise XPathError(f"regex(): {exc}") from exc


def _if(context: Context, args: Args) -> Value:
    # Only the chosen branch is evaluated, as in JavaRosa.
    return args[1 if to_boolean(args[0](context)) else 2](context)


def _decimal_date_time(context: Context, args: Args) -> float:
    value = args[0](context)
    text = to_string(value, context.tree).strip()
    if "T" in text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return math.nan
        midnight = datetime.combine(moment.date(), datetime.min.time(), moment.tzinfo)
        fraction = (moment - midnight).total_seconds() / 86400
        return (moment.date() - EPOCH).days + fraction
    day = to_date(value, context.tree)
    return math.nan if day is None else float((day - EPOCH).days)


def _date(context: Context, args: Args) -> float | int:
    day = to_date(args[0](context), context.tree)
    return math.nan if day is None else (day - EPOCH).days


_DATE_FORMATS: dict[str, Callable[[date], str]] = {
    "%Y": lambda d: f"{d.year:04d}",
    "%y": lambda d: f"{d.year % 100:02d}",
    "%m": lambda d: f"{d.month:02d}",
    "%n": lambda d: str(d.month),
    "%d": lambda d: f"{d.day:02d}",
    "%e": lambda d: str(d.day),
    "%b": lambda d: d.strftime("%b"),
    "%a": lambda d: d.strftime("%a"),
}


def format_date(day: date, pattern: str) -> str:
    """ODK's format-date(): the pattern's %-codes filled from ``day`` (both engines')."""
    return re.sub(r"%[Yymnde ab]", lambda m: _DATE_FORMATS.get(m.group(), str)(day), pattern)


def _format_date(context: Context, args: Args) -> str:
    day = to_date(args[0](context), context.tree)
    return "" if day is None else format_date(day, _string(context, args, 1))


Function: TypeAlias = Callable[[Context, Args], Value]
MANY = 1_000

FUNCTIONS: dict[str, tuple[int, int, Function]] = {
    # XPath 1.0 core library
    "last": (0, 0, lambda c, a: c.size),
    "position": (0, 1, _position),
    "count": (1, 1, lambda c, a: len(_node_set(a[0](c), "count()"))),
    "string": (0, 1, _string),
    "concat": (1, MANY, lambda c, a: "".join(_string(c, a, i) for i in range(len(a)))),
    "starts-with": (2, 2, lambda c, a: _string(c, a).startswith(_string(c, a, 1))),
    "contains": (2, 2, lambda c, a: _string(c, a, 1) in _string(c, a)),
    "substring-before": (
        2,
        2,
        lambda c, a: (
            _string(c, a).partition(_string(c, a, 1))[0]
            if _string(c, a, 1) in _string(c, a)
            else ""
        ),
    ),
    "substring-after": (
        2,
        2,
        lambda c, a: (
            _string(c, a).partition(_string(c, a, 1))[2]
            if _string(c, a, 1) in _string(c, a)
            else ""
        ),
    ),
    "substring": (2, 3, _substring),
    "string-length": (0, 1, lambda c, a: len(_string(c, a))),
    "normalize-space": (0, 1, lambda c, a: " ".join(_string(c, a).split())),
    "translate": (3, 3, _translate),
    "boolean": (1, 1, lambda c, a: to_boolean(a[0](c))),
    "not": (1, 1, lambda c, a: not to_boolean(a[0](c))),
    "true": (0, 0, lambda c, a: True),
    "false": (0, 0, lambda c, a: False),
    "number": (0, 1, _number),
    "sum": (1, 1, _sum),
    "floor": (1, 1, lambda c, a: math.floor(n) if math.isfinite(n := _number(c, a)) else n),
    "ceiling": (1, 1, lambda c, a: math.ceil(n) if math.isfinite(n := _number(c, a)) else n),
    # ODK / JavaRosa extensions
    "selected": (2, 2, lambda c, a: _string(c, a, 1).strip() in _string(c, a).split()),
    "count-selected": (1, 1, lambda c, a: len(_string(c, a).split())),
    "if": (3, 3, _if),
    "today": (0, 0, lambda c, a: c.today),
    "now": (0, 0, lambda c, a: c.today),
    "int": (1, 1, _int),
    "round": (1, 2, _round),
    "regex": (2, 2, _regex),
    "coalesce": (2, 2, lambda c, a: _string(c, a) or _string(c, a, 1)),
    "decimal-date-time": (1, 1, _decimal_date_time),
    "date": (1, 1, _date),
    "format-date": (2, 2, _format_date),
}
"""name -> (fewest arguments, most arguments, implementation taking unevaluated args)."""

# Functions whose node-set arguments are counted or located, not read.
STRUCTURE_FUNCTIONS = frozenset({"count", "position"})
