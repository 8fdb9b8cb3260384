"""XPath 1.0 evaluation of XLSForm expressions with elementpath, plus the ODK functions.

Answers are written into a small XML instance shaped like ODK's (one element per field,
one element per repeat instance, groups flattened because XLSForm names are unique), and
expressions are evaluated against it with the field's own element as context item, so
``.`` and ``..`` behave as in ODK Collect.

``${name}`` references are rewritten to absolute paths; a step through a repeat that also
encloses the expression gets a ``[$rN]`` predicate bound at evaluation time to the current
instance. Compiled expressions therefore do not depend on the instance index and are
cached per form.

Dates are written as days since 1970-01-01 (JavaRosa's numeric view of dates) so that
``. <= today()`` and date differences compare as numbers.
"""

from __future__ import annotations

import math
import operator
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from copy import copy
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from elementpath import XPath1Parser, XPathContext, get_node_tree
from elementpath.exceptions import ElementPathError
from elementpath.xpath_nodes import ElementNode, XPathNode
from elementpath.xpath_tokens import XPathFunction, XPathToken

from forms.model import Answers, Field, FieldType, Form, FormError, Node, Path
from forms.plan_xpath import format_date

ROOT = "data"
EPOCH = date(1970, 1, 1)
TODAY_VARIABLE = "odk-today"
REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][\w.\-]*)\s*\}")


class ODKParser(XPath1Parser):
    """XPath 1.0 with the ODK/JavaRosa extension functions XLSForms commonly use."""

    symbol_table = {  # noqa: RUF012 (elementpath's own convention)
        name: token
        for name, token in XPath1Parser.symbol_table.items()
        # Replaced below by ODK's variants: round(x, digits) and position(node).
        if name not in ("round", "position")
    }
    function_signatures = dict(  # noqa: RUF012
        XPath1Parser.function_signatures
    )


function = ODKParser.function
method = ODKParser.method


def _string_argument(token: XPathFunction, context: Any, index: int) -> str:
    value = token.get_argument(context, index=index)
    return "" if value is None else str(token.string_value(value))


def _number_argument(token: XPathFunction, context: Any, index: int) -> float:
    value = token.get_argument(context, index=index)
    return math.nan if value is None else float(token.number_value(value))


def days_since_epoch(value: date) -> int:
    return (value - EPOCH).days


def to_date(value: object) -> date | None:
    """Reads a date from an XPath value: a day count, an ISO date or an ISO date-time."""
    if isinstance(value, XPathNode):
        value = value.string_value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else EPOCH + timedelta(number)
    text = str(value).strip()
    if not text:
        return None
    try:
        return EPOCH + timedelta(float(text))
    except ValueError:
        pass
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _date_argument(token: XPathFunction, context: Any, index: int) -> date | None:
    value = token.get_argument(context, index=index)
    return None if value is None else to_date(value)


@method(function("selected", nargs=2))
def evaluate__selected(self: XPathFunction, context: Any = None) -> bool:
    codes = _string_argument(self, context, 0).split()
    return _string_argument(self, context, 1).strip() in codes


@method(function("count-selected", nargs=1))
def evaluate__count_selected(self: XPathFunction, context: Any = None) -> int:
    return len(_string_argument(self, context, 0).split())


@method(function("if", nargs=3))
def evaluate__if(self: XPathFunction, context: Any = None) -> Any:
    # Only the chosen branch is evaluated, as in JavaRosa.
    condition = self.boolean_value(self[0].evaluate(copy(context)))
    return self[1 if condition else 2].evaluate(copy(context))


@method(function("today", nargs=0))
def evaluate__today(self: XPathFunction, context: Any = None) -> int:
    if context is None or TODAY_VARIABLE not in context.variables:
        raise self.missing_context()
    return int(context.variables[TODAY_VARIABLE])


@method(function("now", nargs=0))
def evaluate__now(self: XPathFunction, context: Any = None) -> int:
    return evaluate__today(self, context)


@method(function("int", nargs=1))
def evaluate__int(self: XPathFunction, context: Any = None) -> float | int:
    number = _number_argument(self, context, 0)
    return number if math.isnan(number) or math.isinf(number) else math.trunc(number)


@method(function("round", nargs=(1, 2)))
def evaluate__round(self: XPathFunction, context: Any = None) -> float | int:
    number = _number_argument(self, context, 0)
    digits = 0 if len(self) < 2 else _number_argument(self, context, 1)
    if math.isnan(number) or math.isinf(number) or math.isnan(digits):
        return math.nan
    # JavaRosa rounds half away from zero, unlike Python's banker's rounding.
    quantum = Decimal(1).scaleb(-int(digits))
    rounded = Decimal(repr(number)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded) if digits <= 0 else float(rounded)


@method(function("position", nargs=(0, 1)))
def evaluate__position(self: XPathFunction, context: Any = None) -> int:
    if context is None:
        raise self.missing_context()
    if not self:
        return int(context.position)
    # ODK's position(node): the 1-based index of a repeat instance among its siblings.
    node = self.get_argument(context)
    if not isinstance(node, ElementNode) or node.parent is None:
        return 0
    siblings = [
        child for child in node.parent if isinstance(child, ElementNode) and child.name == node.name
    ]
    return next((i + 1 for i, child in enumerate(siblings) if child is node), 0)


@method(function("regex", nargs=2))
def evaluate__regex(self: XPathFunction, context: Any = None) -> bool:
    pattern = _string_argument(self, context, 1)
    try:
        return re.search(pattern, _string_argument(self, context, 0)) is not None
    except re.error as exc:
        raise self.error("FORX0002", str(exc)) from exc


@method(function("coalesce", nargs=2))
def evaluate__coalesce(self: XPathFunction, context: Any = None) -> str:
    return _string_argument(self, context, 0) or _string_argument(self, context, 1)


@method(function("decimal-date-time", nargs=1))
def evaluate__decimal_date_time(self: XPathFunction, context: Any = None) -> float:
    value = self.get_argument(context)
    if isinstance(value, XPathNode):
        value = value.string_value
    text = "" if value is None else str(value).strip()
    if "T" in text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return math.nan
        midnight = datetime.combine(moment.date(), datetime.min.time(), moment.tzinfo)
        fraction = (moment - midnight).total_seconds() / 86400
        return days_since_epoch(moment.date()) + fraction
    day = to_date(value) if value is not None else None
    return math.nan if day is None else float(days_since_epoch(day))


@method(function("date", nargs=1))
def evaluate__date(self: XPathFunction, context: Any = None) -> float | int:
    day = _date_argument(self, context, 0)
    return math.nan if day is None else days_since_epoch(day)


@method(function("format-date", nargs=2))
def evaluate__format_date(self: XPathFunction, context: Any = None) -> str:
    day = _date_argument(self, context, 0)
    if day is None:
        return ""
    return format_date(day, _string_argument(self, context, 1))


def _comparable(value: object) -> object:
    return value.string_value if isinstance(value, XPathNode) else value


def _as_number(value: object) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def evaluate__xpath1_comparison(self: XPathToken, context: Any = None) -> bool:
    """XPath 1.0 comparison rules (section 3.4), which JavaRosa follows.

    elementpath compares in XPath 2 style even in compatibility mode: an empty answer
    in ``${age} >= 15`` raises instead of being NaN (false), and ``${n} = 3`` compares
    text with a number and is always false.
    """
    compare = _OPERATORS[self.symbol]
    left = self[0].evaluate(copy(context))
    right = self[1].evaluate(copy(context))
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(compare(self.boolean_value(left), self.boolean_value(right)))
    lefts = [_comparable(v) for v in (left if isinstance(left, list) else [left])]
    rights = [_comparable(v) for v in (right if isinstance(right, list) else [right])]
    numeric = self.symbol not in ("=", "!=")
    for a in lefts:
        for b in rights:
            if numeric or _is_number(a) or _is_number(b):
                if compare(_as_number(a), _as_number(b)):
                    return True
            elif compare(str(a), str(b)):
                return True
    return False


for _symbol in _OPERATORS:
    _base = ODKParser.symbol_table[_symbol]
    ODKParser.symbol_table[_symbol] = type(
        _base.__name__, (_base,), {"evaluate": evaluate__xpath1_comparison}
    )


_parser_lock = threading.Lock()
_parser = ODKParser()


def reference_path(form: Form, name: str, context_repeats: tuple[str, ...]) -> str:
    """The absolute path a ``${name}`` stands for, seen from inside ``context_repeats``."""
    node = form.fields.get(name) or form.repeats.get(name)
    if node is None:
        raise KeyError(name)
    shared = 0
    for outer, inner in zip(node.repeats, context_repeats, strict=False):
        if outer != inner:
            break
        shared += 1
    steps = ["", ROOT]
    for depth, repeat in enumerate(node.repeats):
        steps.append(f"{repeat}[$r{depth + 1}]" if depth < shared else repeat)
    steps.append(name)
    return "/".join(steps)


def translate_references(form: Form, expression: str, context_repeats: tuple[str, ...]) -> str:
    return REFERENCE.sub(lambda m: reference_path(form, m.group(1), context_repeats), expression)


def variable_name(field_name: str) -> str:
    """Choice filters run against the itemset, so field values come in as ``$v_name``."""
    return "v_" + field_name.replace(".", "_").replace("-", "_")


def variable_references(expression: str) -> str:
    return REFERENCE.sub(lambda m: "$" + variable_name(m.group(1)), expression)


def referenced_names(expression: str) -> list[str]:
    return [m.group(1) for m in REFERENCE.finditer(expression)]


def parse(source: str) -> XPathToken:
    with _parser_lock:
        return _parser.parse(source)


def compile_expression(form: Form, expression: str, context_repeats: tuple[str, ...]) -> XPathToken:
    cache: dict[tuple[str, tuple[str, ...]], XPathToken] = form.cache.setdefault("xpath", {})
    key = (expression, context_repeats)
    token = cache.get(key)
    if token is None:
        token = parse(translate_references(form, expression, context_repeats))
        cache[key] = token
    return token


def compile_filter(form: Form, expression: str) -> XPathToken:
    cache: dict[str, XPathToken] = form.cache.setdefault("filters", {})
    token = cache.get(expression)
    if token is None:
        token = parse(variable_references(expression))
        cache[expression] = token
    return token


def check_expression(
    form: Form, expression: str, context_repeats: tuple[str, ...], *, is_filter: bool = False
) -> None:
    """Compiles an expression at load time so a broken form fails early, not mid-interview."""
    for name in referenced_names(expression):
        if name not in form.fields and name not in form.repeats:
            raise FormError(
                "forms.load.unknown_reference", f"unknown reference ${{{name}}}", value=name
            )
    try:
        if is_filter:
            compile_filter(form, expression)
        else:
            compile_expression(form, expression, context_repeats)
    except ElementPathError as exc:
        raise FormError("forms.load.bad_expression", str(exc), value=expression) from exc


_STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"(?<![\w.])(?:\d+(?:\.\d*)?|\.\d+)")
_NAME = re.compile(r"[A-Za-z_][\w-]*(\s*\()?")
_WORD_OPERATORS = frozenset({"and", "or", "div", "mod"})
_OWN_POSITION = re.compile(r"position\(\s*\.\.\s*\)")
# Functions whose result depends on more than their arguments.
_CONTEXT_FUNCTIONS = frozenset(
    {"position", "last", "current", "instance", "random", "uuid", "once", "id", "lang"}
)
MEMO_SIZE = 50_000
"""Bound on remembered expression results per form (cleared when reached)."""
WHOLE_MEMO_SIZE = 1_000
"""The same for results keyed on a whole instance, whose keys are a few kilobytes each."""


def dependencies(form: Form, expression: str) -> tuple[tuple[str, ...], bool] | None:
    """The fields an expression reads and whether it reads ``.``, when that is all it reads.

    None when the result may depend on anything else (other paths, ``..``, position()):
    those expressions are always evaluated.
    """
    cache: dict[str, tuple[tuple[str, ...], bool] | None] = form.cache.setdefault("deps", {})
    if expression in cache:
        return cache[expression]
    names = tuple(dict.fromkeys(referenced_names(expression)))
    rest = _STRING_LITERAL.sub(" 0 ", expression)
    rest = REFERENCE.sub(" 0 ", rest)
    # A field's position(..) is its repeat instance's number, which the key holds.
    rest = _OWN_POSITION.sub(" 0 ", rest)
    rest = _NUMBER.sub(" 0 ", rest)
    found: tuple[tuple[str, ...], bool] | None = (names, False)
    if any(name not in form.fields for name in names):
        found = None  # a repeat's node-set: its value is its whole subtree
    elif any(mark in rest for mark in ("..", "/", "@", "[", "$", "::")):
        found = None
    elif re.search(r"(?:^|[^0)])\*", re.sub(r"\s+", "", rest)):
        found = None  # a wildcard step, not a multiplication
    else:
        for match in _NAME.finditer(rest):
            word, call = match.group(0), match.group(1)
            name = word.rstrip("( \t\n")
            if call:
                if name in _CONTEXT_FUNCTIONS:
                    found = None
                    break
            elif name not in _WORD_OPERATORS:
                found = None  # a relative path such as ``foo = 1``
                break
        if found is not None:
            found = (names, "." in rest)
    cache[expression] = found
    return found


def xml_text(field: Field, value: object) -> str:
    """How a stored answer reads inside the XML instance."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return str(days_since_epoch(value))
    if field.type is FieldType.DATE and isinstance(value, str):
        # Answers that went through JSON storage come back as ISO strings.
        day = to_date(value)
        return "" if day is None else str(days_since_epoch(day))
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def python_value(result: object) -> Any:
    """A calculation result as plain data: None for empty/NaN, int when integral."""
    if isinstance(result, list):
        if not result:
            return None
        result = result[0]
    if isinstance(result, XPathNode):
        text = result.string_value
        return text or None
    if isinstance(result, bool):
        return result
    if isinstance(result, Decimal):
        return int(result) if result == result.to_integral_value() else float(result)
    if isinstance(result, float):
        if math.isnan(result) or math.isinf(result):
            return None
        return int(result) if result.is_integer() else result
    if isinstance(result, int):
        return result
    text = str(result)
    return text or None


class Instance:
    """The answers as an XML document that expressions are evaluated against.

    Values can be updated in place (calculations, candidate answers) because elementpath
    reads element text at evaluation time; adding repeat instances needs a new Instance.
    """

    def __init__(self, form: Form, answers: Answers, today: date) -> None:
        self.form = form
        self.today_days = days_since_epoch(today)
        self.elements: dict[Path, ET.Element] = {}
        self.fields: dict[Path, Field] = {}
        self.by_name: dict[str, list[tuple[Path, ET.Element]]] = {}
        self.root = ET.Element(ROOT)
        self.elements[()] = self.root
        self._fill(self.root, form.children, answers, ())
        self._document: Any = None
        self._nodes: dict[Path, XPathNode] = {}
        self._texts: tuple[tuple[Path, str | None], ...] | None = None

    def _tree(self) -> tuple[Any, dict[Path, XPathNode]]:
        # Built on the first evaluation that is not remembered: most turns need none.
        if self._document is None:
            self._document = get_node_tree(ET.ElementTree(self.root))
            by_element = {
                id(node.elem): node
                for node in self._document.iter_descendants()
                if isinstance(node, ElementNode) and hasattr(node, "elem")
            }
            self._nodes = {path: by_element[id(element)] for path, element in self.elements.items()}
        return self._document, self._nodes

    def _fill(
        self, parent: ET.Element, nodes: tuple[Node, ...], data: Mapping[str, Any], prefix: Path
    ) -> None:
        for node in nodes:
            if isinstance(node, Field):
                element = ET.SubElement(parent, node.name)
                element.text = xml_text(node, data.get(node.name))
                path = (*prefix, node.name)
                self.elements[path] = element
                self.fields[path] = node
                self.by_name.setdefault(node.name, []).append((path, element))
            else:
                items = data.get(node.name) or []
                for index, item in enumerate(items):
                    element = ET.SubElement(parent, node.name)
                    path = (*prefix, node.name, index)
                    self.elements[path] = element
                    self._fill(element, node.children, item or {}, path)

    def set_value(self, path: Path, value: object) -> None:
        self.elements[path].text = xml_text(self.fields[path], value)
        self._texts = None

    def _snapshot(self) -> tuple[tuple[Path, str | None], ...]:
        if self._texts is None:
            self._texts = tuple((path, element.text) for path, element in self.elements.items())
        return self._texts

    def evaluate(
        self,
        expression: str,
        context_repeats: tuple[str, ...],
        item_path: Path,
    ) -> tuple[XPathToken, Any]:
        """Evaluates with ``item_path``'s element as context; returns the token for casts."""
        token = compile_expression(self.form, expression, context_repeats)
        indices = [part for part in item_path if isinstance(part, int)]
        variables: dict[str, Any] = {f"r{depth + 1}": i + 1 for depth, i in enumerate(indices)}
        variables[TODAY_VARIABLE] = self.today_days
        document, nodes = self._tree()
        item = nodes.get(item_path, nodes[()])
        context = XPathContext(document, item=item, variables=variables)
        return token, token.evaluate(context)

    def _reference(
        self, name: str, context_repeats: tuple[str, ...], indices: list[int]
    ) -> tuple[str | None, ...] | None:
        """The texts ``${name}`` selects from ``indices`` (see reference_path)."""
        repeats = self.form.fields[name].repeats
        shared = 0
        for outer, inner in zip(repeats, context_repeats, strict=False):
            if outer != inner:
                break
            shared += 1
        if shared > len(indices):
            return None
        if shared == len(repeats):
            path: Path = tuple(p for d in range(shared) for p in (repeats[d], indices[d]))
            element = self.elements.get((*path, name))
            return () if element is None else (element.text,)
        bound = [p for d in range(shared) for p in (repeats[d], indices[d])]
        return tuple(
            element.text
            for path, element in self.by_name.get(name, ())
            if list(path[: 2 * shared]) == bound
        )

    def _memo_key(
        self, kind: str, expression: str, context_repeats: tuple[str, ...], item_path: Path
    ) -> tuple[Any, ...] | None:
        """What the result depends on, or None when it must be evaluated every time.

        The key holds the texts of the elements the expression reads, so a result is
        reused exactly when the expression would see the same data.
        """
        found = dependencies(self.form, expression)
        if found is None:
            # It may read anything: key on the whole instance (structure and texts), which
            # is still far cheaper than building the XPath tree and evaluating.
            return (kind, expression, context_repeats, self.today_days, item_path, self._snapshot())
        names, reads_item = found
        indices = [part for part in item_path if isinstance(part, int)]
        key: list[Any] = [kind, expression, context_repeats, self.today_days, tuple(indices)]
        if "position" in expression and item_path not in self.fields:
            return None  # position(..) of a repeat or group is not its own instance number
        if reads_item:
            if item_path not in self.fields:
                return None  # ``.`` of a group or repeat is its whole subtree
            key.append(self.elements[item_path].text)
        for name in names:
            texts = self._reference(name, context_repeats, indices)
            if texts is None:
                return None
            key.append(texts)
        return tuple(key)

    def _remembered(
        self,
        kind: str,
        expression: str,
        context_repeats: tuple[str, ...],
        item_path: Path,
        convert: Callable[[XPathToken, Any], Any],
    ) -> Any:
        key = self._memo_key(kind, expression, context_repeats, item_path)
        whole = dependencies(self.form, expression) is None
        memo: dict[tuple[Any, ...], Any] = self.form.cache.setdefault(
            "whole_results" if whole else "results", {}
        )
        if key is not None and key in memo:
            return memo[key]
        result = convert(*self.evaluate(expression, context_repeats, item_path))
        if key is not None:
            if len(memo) >= (WHOLE_MEMO_SIZE if whole else MEMO_SIZE):
                memo.clear()
            memo[key] = result
        return result

    def boolean(self, expression: str, context_repeats: tuple[str, ...], item_path: Path) -> bool:
        return bool(
            self._remembered("boolean", expression, context_repeats, item_path, _to_boolean)
        )

    def number(self, expression: str, context_repeats: tuple[str, ...], item_path: Path) -> float:
        return float(self._remembered("number", expression, context_repeats, item_path, _to_number))

    def value(self, expression: str, context_repeats: tuple[str, ...], item_path: Path) -> Any:
        return self._remembered("value", expression, context_repeats, item_path, _to_value)


def _to_boolean(token: XPathToken, result: Any) -> bool:
    return bool(token.boolean_value(result))


def _to_number(token: XPathToken, result: Any) -> float:
    if isinstance(result, list):
        result = result[0] if result else math.nan
    return float(token.number_value(result))


def _to_value(_token: XPathToken, result: Any) -> Any:
    # Converted before it is remembered: a node would read a later instance's text.
    return python_value(result)


class Itemset:
    """A choice list as an XML document, so choice_filter predicates run per item."""

    def __init__(self, form: Form, list_name: str) -> None:
        root = ET.Element("root")
        self.choices = form.choices[list_name]
        elements = []
        for choice in self.choices:
            item = ET.SubElement(root, "item")
            ET.SubElement(item, "name").text = choice.name
            for column, text in choice.extra:
                ET.SubElement(item, column).text = text
            elements.append(item)
        self.document = get_node_tree(ET.ElementTree(root))
        by_element = {
            id(node.elem): node
            for node in self.document.iter_descendants()
            if isinstance(node, ElementNode) and hasattr(node, "elem")
        }
        self.items = [by_element[id(element)] for element in elements]
        self.kept: dict[tuple[Any, ...], tuple[int, ...]] = {}

    @classmethod
    def of(cls, form: Form, list_name: str) -> Itemset:
        cache: dict[str, Itemset] = form.cache.setdefault("itemsets", {})
        if list_name not in cache:
            cache[list_name] = cls(form, list_name)
        return cache[list_name]

    def select(
        self, form: Form, expression: str, values: Mapping[str, Any], today: date
    ) -> Iterator[int]:
        """Indices of the choices the filter keeps, given the referenced fields' values."""
        # The filter sees only the item and these values, so its result can be remembered.
        key = (expression, tuple(sorted(values.items())), today)
        kept = self.kept.get(key)
        if kept is None:
            token = compile_filter(form, expression)
            variables = {variable_name(name): value for name, value in values.items()}
            variables[TODAY_VARIABLE] = days_since_epoch(today)
            kept = tuple(
                index
                for index, item in enumerate(self.items)
                if token.boolean_value(
                    token.evaluate(XPathContext(self.document, item=item, variables=variables))
                )
            )
            if len(self.kept) >= MEMO_SIZE:
                self.kept.clear()
            self.kept[key] = kept
        yield from kept


def variable_value(field: Field | None, value: object) -> Any:
    """A field value as an XPath variable: numbers stay numbers, the rest becomes text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return days_since_epoch(value)
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    if field is not None and field.type in (FieldType.INTEGER, FieldType.DECIMAL):
        try:
            return float(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    return str(value)
