"""One interview as a value: the compiled plan, its evaluated state, the roster's suggested
answers and the reference date, with every question the chat asks of it.

:class:`Questionnaire` is what the chat keeps between turns instead of the nested answers:
an answer updates it incrementally (:func:`forms.plan.update_all`, then
:func:`forms.plan.prune`), and its state is stored with the interview as JSON
(:meth:`Questionnaire.to_json`), so the next turn finds the next question without
evaluating the form again. It is pure: no database, no clock (``today`` is given), nothing
mutable; every method returns new data.

Its answers are always *settled* as the chat stores them: calculations applied and the
answers that no longer apply dropped, i.e. the engine's
``drop_irrelevant(apply_calculations(answers))``. Every reply is the engine's
(:mod:`forms.engine`) on those answers: ``next_step``, ``question_at``,
``answered_questions``, ``previous_question`` and ``validate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from forms import plan as planned
from forms import plan_json
from forms.answers import get_answer
from forms.codec import encode, encode_all, path_key
from forms.model import (
    Answers,
    AnswerValue,
    Done,
    Field,
    FieldType,
    Invalid,
    Path,
    Question,
    Step,
    Text,
)
from forms.parsing import display_value, literal_value
from forms.plan import Plan, State
from forms.xpath import REFERENCE

JSON_FORMAT = plan_json.FORMAT
"""Version of :meth:`Questionnaire.to_json`'s layout, the state's (:mod:`forms.plan_json`):
a worker that does not know it evaluates the interview again instead of misreading it."""


def _same(left: tuple[Path, Any], right: tuple[Path, Any]) -> bool:
    """The same answer at the same path, types included (1, 1.0 and True differ)."""
    (path, value), (other_path, other_value) = left, right
    if path != other_path or type(value) is not type(other_value) or value != other_value:
        return False
    if isinstance(value, list):
        return [type(item) for item in value] == [type(item) for item in other_value]
    return True


def _copy(value: Any) -> Any:
    """A copy of nested answers, down to their lists (a value inside is immutable)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


_GONE = object()


class StateError(ValueError):
    """Stored state data that is not a questionnaire state at all (corrupt or foreign)."""


@dataclass(frozen=True)
class Questionnaire:
    """An interview evaluated against a compiled form, settled after each answer.

    Build it with :meth:`start` (from answers) or :meth:`from_json` (from a stored state);
    :meth:`answer` returns the next value. Equal values hold the same state and prefill."""

    plan: Plan
    state: State
    prefill: Answers
    """Suggested answers (the roster's, decoded), shaped like the answers: a question's
    ``default``, and the answers a confirmed roster gives."""

    @property
    def today(self) -> date:
        """The reference date every expression (``today()``) and check is evaluated on."""
        return self.state.today

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls, plan: Plan, answers: Answers, *, today: date, prefill: Answers | None = None
    ) -> Questionnaire:
        """The questionnaire holding ``answers`` (nested, as :func:`forms.codec.assemble`
        gives them from stored rows), evaluated from scratch and settled: stored values of
        calculations are computed again, answers that do not apply are dropped (none, for
        answers the chat stored on the same day)."""
        state = planned.prune(plan, planned.evaluate(plan, answers, today), today)
        return cls(plan, state, dict(prefill or {}))

    def answer(self, items: Iterable[tuple[Path, AnswerValue]]) -> Questionnaire:
        """The questionnaire after these answers, given as one step (a confirmed roster
        gives several), each stored as given, then settled; only what depends on them
        is evaluated again. KeyError for a path that is no question's."""
        given = list(items)
        tried = self.__dict__.get("_tried")
        if len(given) == 1 and tried is not None and _same(tried[0], given[0]):
            # A turn validates its answer, then records it: the state is the one validated.
            state = tried[1]
        else:
            state = planned.update_all(self.plan, self.state, given, self.today)
        after = Questionnaire(self.plan, planned.prune(self.plan, state, self.today), self.prefill)
        if "_answer_rows" in self.__dict__:
            # Its rows are worked out from these, for the few answers that changed.
            after.__dict__["_base"] = (self.state.answers, self._answer_rows)
        return after

    # -- storing ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The evaluated state as JSON-ready data, for a JSON column next to the answers.
        The prefill is not in it: it is stored with the interview already."""
        form = self.plan.form
        return {
            "format": JSON_FORMAT,
            "form_id": form.form_id,
            "form_version": form.version,
            "state": plan_json.state_to_json(self.plan, self.state),
        }

    @classmethod
    def from_json(
        cls,
        plan: Plan,
        data: Mapping[str, Any],
        *,
        today: date,
        prefill: Answers | None = None,
    ) -> Questionnaire | None:
        """The questionnaire stored by :meth:`to_json`, or **None** when that state no
        longer serves: saved for another form id or version, another layout (one of
        :data:`forms.plan_json.FORMATS` is read, the older ones too), another compiled
        plan of the form (edited without a new version), or another day than ``today``
        (``today()`` may have moved answers in or out). On None, build
        it again with :meth:`start` from the stored answers, which stay the truth.

        StateError when ``data`` is no stored state at all (not a mapping, keys missing
        or malformed): a fault to report, not a stale state."""
        form = plan.form
        try:
            if not isinstance(data, Mapping):
                raise TypeError(f"a mapping was expected, not {type(data).__name__}")
            layout = data.get("format")
            if (
                layout not in plan_json.FORMATS
                or data.get("form_id") != form.form_id
                or data.get("form_version") != form.version
            ):
                return None
            stored = data["state"]
            if stored.get("today") != today.isoformat():
                return None
            state = plan_json.state_from_json(plan, stored, layout)
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise StateError(f"not a stored questionnaire state: {exc}") from exc
        if state is None:
            return None
        return cls(plan, state, dict(prefill or {}))

    # -- the answers ------------------------------------------------------------------------

    def answers(self) -> dict[str, Any]:
        """The answers as nested data (a new copy), calculations included: what the
        classification reads, and the engine's answers after ``apply_calculations`` and
        ``drop_irrelevant``."""
        return _copy(self._settled)

    def answer_at(self, path: Path) -> Any:
        """The value :meth:`answers` holds at a field's ``path`` (None when it holds none),
        read from the state: nothing is copied or built. KeyError if ``path`` names no
        field."""
        name = str(path[-1]) if path else ""
        if name not in self.plan.form.fields:
            raise KeyError(f"no field at {path!r}")
        # The state is pruned: every answer and calculation is in an existing instance.
        state = self.state
        if name in self.plan.computed:
            # Kept where it and its repeats are relevant, as in the settled answers.
            return state.calculated.get(path) if planned.shown(state, path) else None
        value = state.answers.get(path)
        return list(value) if isinstance(value, list) else value

    def instances(self, repeat: Path) -> int:
        """How many instances the repeat at ``repeat`` holds in :meth:`answers` (the
        length of its list; 0 when it has none)."""
        return self.state.counts.get(repeat, 0)

    def rows(self) -> dict[str, Any]:
        """The answers as stored rows, {path key: JSON value} (:func:`forms.codec.flatten`)."""
        return dict(self._rows)

    # A value never changes: a turn asks for its answers and rows several times (the
    # progress line, the rows to write, the classification), they are worked out once.
    @cached_property
    def _settled(self) -> dict[str, Any]:
        visible = {path for _, path in self._visible}
        return planned.settled_answers(self.plan, self.state, relevant_only=True, visible=visible)

    @cached_property
    def _rows(self) -> dict[str, Any]:
        # Straight from the state's flat tables, not by flattening the nested answers
        # again: a turn needs the rows of the state it loads and of the one it stores,
        # and the nested answers only for the latter. The same rows as
        # ``flatten(self._settled)``: the state is pruned, so every answer is in a
        # relevant question of an existing instance; a calculation is kept where it and
        # its repeats are relevant; a repeat emptied but named by the answers is [],
        # relevant or not (pruning keeps lengths for existing instances only).
        state = self.state
        rows = dict(self._answer_rows)
        for path, value in state.calculated.items():
            if planned.shown(state, path):
                rows[path_key(path)] = encode(value)
        for path in state.lengths:
            if not state.counts.get(path):
                rows[path_key(path)] = []
        return rows

    @cached_property
    def _answer_rows(self) -> dict[str, Any]:
        # The rows of the answers alone, in the answers' order; after an answer, those of
        # the questionnaire before with the answers that changed (the unchanged ones are
        # the very same values: an update copies its tables, not what they hold).
        base = self.__dict__.pop("_base", None)
        answers = self.state.answers
        if base is None:
            return encode_all(answers)
        before, rows = base
        rows = dict(rows)
        for path in before:
            if path not in answers:
                del rows[path_key(path)]
        previous = before.get
        changed = {
            path: value for path, value in answers.items() if previous(path, _GONE) is not value
        }
        rows.update(encode_all(changed))
        return rows

    # -- navigating -------------------------------------------------------------------------

    @cached_property
    def _visible(self) -> tuple[tuple[Field, Path], ...]:
        # A value never changes, so its walk is taken once, however often it is asked.
        return tuple(planned.walked(self.plan, self.state))

    @cached_property
    def _next(self) -> Step:
        position = self.state.position
        # The notes shown are those after the last question asked before it, read
        # backwards from it (the form is not walked from its start): a question asked
        # since its notes were shown drops them; a prefilled answer confirmed with the
        # roster was never asked, and keeps them.
        notes: list[Text] = []
        for field, path in planned.walk_back(self.plan, self.state, position):
            if field.type is FieldType.NOTE:
                notes.append(self._render(field.label, path))
            elif field.answerable and not self._confirmed(path):
                break
        notes.reverse()
        if position is None:
            return Done(notes=tuple(notes))
        field = self.plan.form.fields[str(position[-1])]
        error = self.state.problems.get(position) and planned.invalid(
            self.plan, self.state, position
        )
        return self._question(field, position, notes=tuple(notes), error=error or None)

    def _confirmed(self, path: Path) -> bool:
        """Whether the answer at ``path`` is the prefilled one (confirmed with the roster)."""
        suggested = get_answer(self.prefill, path) if self.prefill else None
        return suggested is not None and suggested == self.state.answers.get(path)

    def next_step(self) -> Step:
        """The first relevant question unanswered or whose answer does not hold (with the
        reason as its ``error``), after the notes that precede it; Done at the end."""
        return self._next

    def question_at(self, at: Path | None) -> Step:
        """The question at ``at`` as it would be asked now (for /back and editing, without
        notes); the next step when ``at`` is None. KeyError if ``at`` names no field."""
        if at is None:
            return self.next_step()
        name = str(at[-1]) if at else ""
        field = self.plan.form.fields.get(name)
        if field is None:
            raise KeyError(f"no field at {at!r}")
        return self._question(field, at)

    def answered(self) -> list[Path]:
        """Relevant questions with a stored answer, in order (for /review)."""
        return [
            path for field, path in self._visible if field.answerable and path in self.state.answers
        ]

    def previous(self, current: Path | None) -> Path | None:
        """The relevant answered question before ``current`` (None: before the next
        step, or the end), for /back."""
        visible = [path for field, path in self._visible if field.answerable]
        if current is None:
            current = self.state.position
        stop = visible.index(current) if current in visible else len(visible)
        for path in reversed(visible[:stop]):
            if path in self.state.answers:
                return path
        return None

    def validate(self, path: Path, value: AnswerValue) -> Invalid | None:
        """Would ``value`` be accepted at ``path``? Required, type, sanity and constraint,
        evaluated with the value in place (a constraint may read other answers)."""
        state = planned.update(self.plan, self.state, path, value, self.today)
        # Remembered for answer(), outside the fields: equality and meaning are unchanged,
        # as with the cached properties.
        self.__dict__["_tried"] = ((path, value), state)
        return planned.invalid(self.plan, state, path)

    # -- presenting -------------------------------------------------------------------------

    def _value(self, field: Field, path: Path) -> Any:
        if field.name in self.plan.computed:
            return self.state.calculated.get(path)
        return self.state.answers.get(path)

    def _render(self, text: Text, context: Path) -> Text:
        def fill(template: str, locale: str) -> str:
            if "${" not in template:
                return template  # most labels name no answer
            form = self.plan.form

            def display(match: Any) -> str:
                name = match.group(1)
                value = planned.lookup(self.plan, self.state, name, context)
                return display_value(form, name, value, locale)

            return REFERENCE.sub(display, template)

        return Text(vi=fill(text.vi, "vi"), en=fill(text.en, "en"))

    def _default(self, field: Field, path: Path) -> AnswerValue:
        suggested = get_answer(self.prefill, path) if self.prefill else None
        if suggested is not None:
            return suggested
        if not field.default:
            return None
        if self.plan.rules[field.name].default is None:
            return literal_value(field, field.default.strip())  # type: ignore[return-value]
        raw = planned.default(self.plan, self.state, path)
        return None if raw is None else literal_value(field, str(raw))  # type: ignore[return-value]

    def _question(
        self,
        field: Field,
        path: Path,
        *,
        notes: tuple[Text, ...] = (),
        error: Invalid | None = None,
    ) -> Question:
        choices = planned.choices(self.plan, self.state, path) if field.answerable else ()
        return Question(
            path=path,
            field=field,
            label=self._render(field.label, path),
            hint=self._render(field.hint, path),
            choices=choices,
            required=planned.required(self.plan, self.state, path),
            value=self._value(field, path),
            default=self._default(field, path),
            notes=notes,
            error=error,
        )
