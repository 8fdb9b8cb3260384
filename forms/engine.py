"""Navigation through a form: what to ask next, what is visible, whether an answer holds.

Every function is pure: it takes the form, the answers so far and the reference date
(``today``), and returns new data. Nothing here knows about chats or storage.
"""

from __future__ import annotations

import math
import pickle
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from datetime import date
from typing import Any

from elementpath.exceptions import ElementPathError

from forms.answers import get_answer, has_answer, set_answer, thaw
from forms.checks import sanity_check, type_check
from forms.model import (
    Answers,
    AnswerValue,
    Choice,
    Done,
    Field,
    FieldType,
    Form,
    FormError,
    Invalid,
    Node,
    Path,
    Question,
    Repeat,
    Step,
    Text,
)
from forms.parsing import display_value, literal_value
from forms.xpath import REFERENCE, Instance, Itemset, variable_value

MAX_PASSES = 10
"""Bound on re-evaluation rounds (calculations feeding repeat counts feeding calculations)."""

SESSION_CACHE_SIZE = 64
"""Evaluations kept per form. A chat turn asks about the same answers several times
(validate, calculate, prune, next step), and the next turn reloads those same answers from
storage; a few entries per concurrently active interview is enough."""

TRUE_WORDS = frozenset({"yes", "true", "true()", "1"})
FALSE_WORDS = frozenset({"no", "false", "false()", "0", ""})


def _is_empty(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


def _indices(path: Path) -> tuple[int, ...]:
    return tuple(part for part in path if isinstance(part, int))


class _Session:
    """One evaluation of a form over a set of answers (calculations applied, repeats sized)."""

    def __init__(self, form: Form, answers: Answers, today: date) -> None:
        self.form = form
        self.today = today
        self.answers = thaw(answers)
        self.settled = False
        self.instance = self._settle()
        # Sessions are shared through the cache, so everything derived from the settled
        # answers is computed once; nothing may change them after _settle.
        self._walked: tuple[tuple[Field, Path], ...] | None = None
        self._checked: dict[Path, Invalid | None] = {}

    # -- evaluation ----------------------------------------------------------------------

    def _error(self, exc: Exception, node: Node, column: str) -> FormError:
        return FormError(
            "forms.load.runtime_error", str(exc), sheet="survey", row=node.row, column=column
        )

    def _boolean(self, expression: str, node: Node, path: Path, column: str) -> bool:
        try:
            return self.instance.boolean(expression, node.repeats, path)
        except (ElementPathError, TypeError, ValueError) as exc:
            raise self._error(exc, node, column) from exc

    def _value(self, expression: str, node: Node, path: Path, column: str) -> Any:
        try:
            return self.instance.value(expression, node.repeats, path)
        except (ElementPathError, TypeError, ValueError) as exc:
            raise self._error(exc, node, column) from exc

    def relevant(self, node: Node, path: Path) -> bool:
        return all(self._boolean(expr, node, path, "relevant") for expr in node.relevant)

    def required(self, field: Field, path: Path) -> bool:
        rule = (field.required or "").strip()
        if rule.lower() in FALSE_WORDS:
            return False
        if rule.lower() in TRUE_WORDS:
            return True
        return self._boolean(rule, field, path, "required")

    def repeat_count(self, repeat: Repeat, parent: Path) -> int | None:
        if not repeat.repeat_count:
            return None
        try:
            number = self.instance.number(repeat.repeat_count, repeat.repeats, parent)
        except (ElementPathError, TypeError, ValueError) as exc:
            raise self._error(exc, repeat, "repeat_count") from exc
        return 0 if math.isnan(number) or number < 0 else int(number)

    # -- settling calculations and repeat sizes ------------------------------------------

    def _settle(self) -> Instance:
        instance = Instance(self.form, self.answers, self.today)
        for _ in range(MAX_PASSES):
            self.instance = instance
            self._calculate()
            if not self._fit_repeats(self.form.children, self.answers, ()):
                self.settled = True
                return instance
            instance = Instance(self.form, self.answers, self.today)
        return instance

    def _calculate(self) -> None:
        for _ in range(MAX_PASSES):
            changed = False
            for field, path in self._all_fields(self.form.children, self.answers, ()):
                if field.type is not FieldType.CALCULATE or not field.calculation:
                    continue
                value = (
                    self._value(field.calculation, field, path, "calculation")
                    if self.relevant(field, path)
                    else None
                )
                stored = has_answer(self.answers, path)
                if stored and get_answer(self.answers, path) == value:
                    continue
                changed = changed or stored or value is not None
                self._store(path, value)
                self.instance.set_value(path, value)
            if not changed:
                return

    def _store(self, path: Path, value: object) -> None:
        container: Any = self.answers
        for part in path[:-1]:
            container = container[part]
        container[path[-1]] = value

    def _fit_repeats(self, nodes: tuple[Node, ...], data: dict[str, Any], prefix: Path) -> bool:
        changed = False
        for node in nodes:
            if not isinstance(node, Repeat):
                continue
            items = data.get(node.name)
            if not isinstance(items, list):
                items = []
            count = self.repeat_count(node, prefix) if self.relevant(node, prefix) else None
            if count is not None and count != len(items):
                items = items[:count] + [{} for _ in range(count - len(items))]
                changed = True
            if items or node.name in data:
                data[node.name] = [item if item is not None else {} for item in items]
            for index, item in enumerate(data.get(node.name, [])):
                changed |= self._fit_repeats(node.children, item, (*prefix, node.name, index))
        return changed

    def _all_fields(
        self, nodes: tuple[Node, ...], data: Mapping[str, Any], prefix: Path
    ) -> Iterator[tuple[Field, Path]]:
        for node in nodes:
            if isinstance(node, Field):
                yield node, (*prefix, node.name)
            else:
                for index, item in enumerate(data.get(node.name) or []):
                    yield from self._all_fields(
                        node.children, item or {}, (*prefix, node.name, index)
                    )

    # -- walking -------------------------------------------------------------------------

    def walk(self) -> tuple[tuple[Field, Path], ...]:
        """Relevant fields in document order, repeat instances expanded."""
        if self._walked is None:
            self._walked = tuple(self._walk(self.form.children, self.answers, ()))
        return self._walked

    def _walk(
        self, nodes: tuple[Node, ...], data: Mapping[str, Any], prefix: Path
    ) -> Iterator[tuple[Field, Path]]:
        for node in nodes:
            if isinstance(node, Field):
                path = (*prefix, node.name)
                if self.relevant(node, path):
                    yield node, path
            elif self.relevant(node, prefix):
                for index, item in enumerate(data.get(node.name) or []):
                    yield from self._walk(node.children, item or {}, (*prefix, node.name, index))

    # -- presenting ----------------------------------------------------------------------

    def lookup(self, name: str, context: Path) -> Any:
        """The value ``${name}`` refers to from ``context`` (None if ambiguous or empty)."""
        node = self.form.node(name)
        context_repeats = [part for part in context if isinstance(part, str)][:-1]
        indices = _indices(context)
        path: list[str | int] = []
        for depth, repeat in enumerate(node.repeats):
            if depth >= len(context_repeats) or context_repeats[depth] != repeat:
                return None
            path += [repeat, indices[depth]]
        path.append(name)
        return get_answer(self.answers, tuple(path))

    def display(self, name: str, context: Path, locale: str) -> str:
        return display_value(self.form, name, self.lookup(name, context), locale)

    def render(self, text: Text, context: Path) -> Text:
        def fill(template: str, locale: str) -> str:
            return REFERENCE.sub(lambda m: self.display(m.group(1), context, locale), template)

        return Text(vi=fill(text.vi, "vi"), en=fill(text.en, "en"))

    def choices(self, field: Field, path: Path) -> tuple[Choice, ...]:
        if not field.list_name:
            return ()
        options = self.form.choices[field.list_name]
        if not field.choice_filter:
            return options
        values = {
            name: variable_value(self.form.fields.get(name), self.lookup(name, path))
            for name in REFERENCE.findall(field.choice_filter)
        }
        itemset = Itemset.of(self.form, field.list_name)
        try:
            kept = list(itemset.select(self.form, field.choice_filter, values, self.today))
        except (ElementPathError, TypeError, ValueError) as exc:
            raise self._error(exc, field, "choice_filter") from exc
        return tuple(options[index] for index in kept)

    def default(self, field: Field, path: Path) -> AnswerValue:
        if not field.default:
            return None
        text = field.default.strip()
        if "${" in text or "(" in text:
            raw = self._value(text, field, path, "default")
            return None if raw is None else literal_value(field, str(raw))  # type: ignore[return-value]
        return literal_value(field, text)  # type: ignore[return-value]

    def question(
        self,
        field: Field,
        path: Path,
        *,
        notes: tuple[Text, ...] = (),
        prefill: Answers | None = None,
        error: Invalid | None = None,
    ) -> Question:
        suggested = get_answer(prefill, path) if prefill else None
        return Question(
            path=path,
            field=field,
            label=self.render(field.label, path),
            hint=self.render(field.hint, path),
            choices=self.choices(field, path),
            required=self.required(field, path),
            value=get_answer(self.answers, path),
            default=suggested if suggested is not None else self.default(field, path),
            notes=notes,
            error=error,
        )

    # -- checking ------------------------------------------------------------------------

    def check(self, field: Field, path: Path) -> Invalid | None:
        """Checks the value stored at ``path`` (already present in the instance)."""
        if path not in self._checked:
            self._checked[path] = self._check(field, path)
        return self._checked[path]

    def _check(self, field: Field, path: Path) -> Invalid | None:
        value = get_answer(self.answers, path)
        if _is_empty(value):
            if self.required(field, path):
                return Invalid("forms.required", message=field.required_message or None)
            return None
        problem = type_check(field, value, self.choices(field, path))
        problem = problem or sanity_check(field, value, self.today)
        if problem:
            return problem
        if field.constraint and not self._boolean(field.constraint, field, path, "constraint"):
            return Invalid("forms.constraint_failed", message=field.constraint_message or None)
        return None


def _freeze(value: object) -> Hashable:
    """A hashable image of answers; types are kept so 1, 1.0 and True stay distinct."""
    if isinstance(value, Mapping):
        return (dict, tuple(sorted((key, _freeze(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        return (list, tuple(_freeze(item) for item in value))
    return (type(value), value)


_cache_lock = threading.Lock()


def _fingerprint(answers: Answers) -> bytes | None:
    """A cheap exact key: equal bytes mean equal data, types included (pickle writes 1,
    1.0 and True differently). Equal data may still differ here (key order, shared
    objects), so a miss falls back to :func:`_freeze`; None when the data can't be pickled."""
    try:
        return pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)
    except (TypeError, AttributeError, pickle.PicklingError):
        return None


def _session(form: Form, answers: Answers, today: date) -> _Session:
    """The evaluation of ``answers``, shared by every call that asks about the same data."""
    cache: OrderedDict[Hashable, _Session] = form.cache.setdefault("sessions", OrderedDict())
    # Sorting every mapping for the order-free key costs more than most lookups save, so
    # the byte image (same data, same order: the common case) is tried first.
    fingerprint = _fingerprint(answers)
    quick = (today, fingerprint) if fingerprint is not None else None
    if quick is not None:
        with _cache_lock:
            session = cache.get(quick)
            if session is not None:
                cache.move_to_end(quick)
                return session
    key = (today, _freeze(answers))
    with _cache_lock:
        session = cache.get(key)
        if session is not None:
            cache.move_to_end(key)
            if quick is not None:
                cache[quick] = session
                _trim(cache)
            return session
    session = _Session(form, answers, today)
    with _cache_lock:
        cache[key] = session
        if quick is not None:
            cache[quick] = session
        if session.settled:
            # Settling settled answers changes nothing, so callers that pass the output of
            # apply_calculations or drop_irrelevant back in get this same evaluation.
            cache[(today, _freeze(session.answers))] = session
            settled = _fingerprint(session.answers)
            if settled is not None:
                cache[(today, settled)] = session
        _trim(cache)
    return session


def _trim(cache: OrderedDict[Hashable, _Session]) -> None:
    # Each evaluation has up to four keys (see _session).
    while len(cache) > 4 * SESSION_CACHE_SIZE:
        cache.popitem(last=False)


def _field_at(form: Form, path: Path) -> Field:
    name = path[-1]
    field = form.fields.get(str(name))
    if field is None:
        raise KeyError(f"no field at {path!r}")
    return field


def next_step(form: Form, answers: Answers, *, today: date, prefill: Answers | None = None) -> Step:
    """The first relevant question that is unanswered or whose answer no longer holds.

    ``prefill`` has the shape of ``answers`` and supplies suggested values (e.g. roster
    data) shown as the question's ``default`` for the user to confirm or correct.

    Notes (section titles) come with the question asked after them, so an answered
    question drops the notes before it, as they were shown with it; unless its answer is
    the prefilled value, confirmed all at once without the question being asked.
    """
    session = _session(form, answers, today)
    notes: list[Text] = []
    for field, path in session.walk():
        if field.type is FieldType.CALCULATE:
            continue
        if field.type is FieldType.NOTE:
            notes.append(session.render(field.label, path))
            continue
        if not has_answer(session.answers, path):
            return session.question(field, path, notes=tuple(notes), prefill=prefill)
        problem = session.check(field, path)
        if problem:
            return session.question(field, path, notes=tuple(notes), prefill=prefill, error=problem)
        suggested = get_answer(prefill, path) if prefill else None
        if suggested is None or suggested != get_answer(session.answers, path):
            notes = []
    return Done(notes=tuple(notes))


def question_at(
    form: Form, answers: Answers, path: Path, *, today: date, prefill: Answers | None = None
) -> Question:
    """The question at ``path`` as it would be asked now (for /back and editing)."""
    session = _session(form, answers, today)
    return session.question(_field_at(form, path), path, prefill=prefill)


def visible_questions(form: Form, answers: Answers, *, today: date) -> list[Path]:
    """Paths of all currently relevant questions (answered or not), in order."""
    session = _session(form, answers, today)
    return [path for field, path in session.walk() if field.answerable]


def answered_questions(form: Form, answers: Answers, *, today: date) -> list[Path]:
    """Relevant questions that have a stored answer, in order (for /review)."""
    return [
        path for path in visible_questions(form, answers, today=today) if has_answer(answers, path)
    ]


def previous_question(
    form: Form, answers: Answers, current: Path | None, *, today: date
) -> Path | None:
    """The relevant answered question before ``current`` (None = before the next step)."""
    visible = visible_questions(form, answers, today=today)
    if current is None:
        step = next_step(form, answers, today=today)
        current = step.path if isinstance(step, Question) else None
    stop = visible.index(current) if current in visible else len(visible)
    for path in reversed(visible[:stop]):
        if has_answer(answers, path):
            return path
    return None


def validate(
    form: Form, answers: Answers, path: Path, value: AnswerValue, *, today: date
) -> Invalid | None:
    """Would ``value`` be accepted at ``path``? Required, type, sanity and constraint."""
    session = _session(form, set_answer(answers, path, value), today)
    return session.check(_field_at(form, path), path)


def apply_calculations(form: Form, answers: Answers, *, today: date) -> dict[str, Any]:
    """A copy of the answers with every calculate field set (None where not relevant)."""
    return thaw(_session(form, answers, today).answers)


def _prune(nodes: tuple[Node, ...], data: dict[str, Any], prefix: Path, keep: set[Path]) -> bool:
    changed = False
    for node in nodes:
        if isinstance(node, Field):
            path = (*prefix, node.name)
            if node.name in data and path not in keep:
                del data[node.name]
                changed = True
        elif node.name in data:
            for index, item in enumerate(data[node.name] or []):
                changed |= _prune(node.children, item, (*prefix, node.name, index), keep)
    return changed


def drop_irrelevant(form: Form, answers: Answers, *, today: date) -> dict[str, Any]:
    """A copy without answers to questions that are not relevant any more.

    Repeat lists are cut to their repeat_count. Dropping one answer can make another
    question irrelevant, so this runs until nothing changes.
    """
    current: dict[str, Any] = thaw(answers)
    for _ in range(MAX_PASSES):
        session = _session(form, current, today)
        keep = {path for _, path in session.walk()}
        # A copy: the session is cached and its answers must stay as evaluated.
        pruned = thaw(session.answers)
        if not _prune(form.children, pruned, (), keep) and pruned == current:
            return pruned
        current = pruned
    return current
