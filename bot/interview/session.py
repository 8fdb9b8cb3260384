"""One interview as the dialogs see it: the household, its answers, and how to save one.

This is the imperative shell around the pure engine: it loads stored rows into engine
answers, asks the engine what changed, and writes back exactly the rows that differ, all
inside the caller's unit of work (so an answer is committed before the bot replies).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from forms import (
    HOUSEHOLD_CODE,
    AnswerValue,
    Form,
    Invalid,
    Path,
    Step,
    answered_questions,
    apply_calculations,
    current_form,
    drop_irrelevant,
    has_answer,
    next_step,
    previous_question,
    question_at,
    set_answer,
    validate,
)
from forms.answers import thaw
from forms.codec import assemble, decode, flatten, key_path, path_key
from storage.models import Household, Interview, InterviewStatus, User
from storage.stats_facts import refresh_member_facts
from storage.uow import UnitOfWork

SEX_CODES = {"nam": "male", "male": "male", "nu": "female", "nữ": "female", "female": "female"}


@dataclass(slots=True)
class _Stored:
    """An interview's answers as committed at one (step, updated_at)."""

    step: int
    updated_at: datetime
    prefill_source: Any
    rows: dict[str, Any]
    form: Form
    ordered: bool = False
    """Whether ``rows`` are in the engine's key order (see _remember)."""
    _answers: dict[str, Any] | None = None
    _prefill: dict[str, Any] | None = None
    steps: dict[Path | None, Step] | None = None
    """The steps the engine derived from these answers on ``steps_day``: the question the
    bot asked next is the one the collaborator answers on the following turn."""
    steps_day: date | None = None

    def answers(self) -> dict[str, Any]:
        if self._answers is None:
            self._answers = assemble(self.form, self.rows.items(), ordered=self.ordered)
        # A copy: sessions replace their answers rather than edit them, but a cache
        # entry must not depend on that.
        return thaw(self._answers)

    def prefill(self) -> dict[str, Any]:
        if self._prefill is None:
            self._prefill = decoded_prefill(self.form, dict(self.prefill_source or {}))
        return self._prefill


class StoredAnswers:
    """Each recently used interview's answers, so a chat turn needn't read them back.

    Purely an optimisation; the database stays the truth. An entry is used only if the
    interview row, read (and on PostgreSQL locked) in the current transaction, still has
    the step and ``updated_at`` the entry was made at, and the same roster prefill: every
    writer of answers changes those (the chat bumps the step, an import rewrites both),
    so an entry can't outlive a change made by this process, another worker, or the CLI.
    Entries are added only after their transaction committed.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: OrderedDict[int, _Stored] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, interview: Interview, form: Form) -> _Stored | None:
        with self._lock:
            entry = self._entries.get(interview.id)
        if (
            entry is None
            or entry.form is not form
            or entry.step != interview.step
            or entry.updated_at != interview.updated_at
            or entry.prefill_source != interview.prefill
        ):
            return None
        return entry

    def put(self, interview_id: int, entry: _Stored) -> None:
        with self._lock:
            self._entries[interview_id] = entry
            self._entries.move_to_end(interview_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# One cache per database (engine): interview ids are only unique within a database, and
# tests and benchmarks open several in one process.
_STORED: weakref.WeakKeyDictionary[Any, StoredAnswers] = weakref.WeakKeyDictionary()
_STORED_LOCK = threading.Lock()


def stored_answers(uow: UnitOfWork) -> StoredAnswers:
    bind = uow.session.bind
    key = getattr(bind, "sync_engine", bind)
    with _STORED_LOCK:
        cache = _STORED.get(key)
        if cache is None:
            cache = _STORED[key] = StoredAnswers()
        return cache


def _remember(
    uow: UnitOfWork,
    interview: Interview,
    rows: dict[str, Any],
    form: Form,
    prefill: tuple[object, dict[str, Any]] | None = None,
    *,
    ordered: bool = False,
) -> _Stored:
    """Cache ``rows`` as the interview's answers at its current step, once committed;
    ``prefill`` is the decoded prefill already at hand, if it is of the same source;
    ``ordered`` when ``rows`` come from :func:`flatten` rather than the database."""
    # Rows flattened from engine answers are in the engine's key order: assembled in that
    # order, the next turn's answers match this turn's evaluation byte for byte, so the
    # engine finds it by its cheap key.
    entry = _Stored(interview.step, interview.updated_at, interview.prefill, rows, form, ordered)
    if prefill is not None and prefill[0] is interview.prefill:
        entry._prefill = prefill[1]
    cache = stored_answers(uow)
    uow.after_commit(lambda: cache.put(interview.id, entry))
    return entry


@dataclass(slots=True)
class InterviewSession:
    uow: UnitOfWork
    interview: Interview
    household: Household
    form: Form
    answers: dict[str, Any]
    today: date
    # One chat turn asks for the current step several times (to answer, to tell whether a
    # member is complete, to ask the next question): derive it once per answers object.
    _steps: tuple[object, object, dict[Path | None, Step]] | None = field(default=None, repr=False)
    _prefill: tuple[object, dict[str, Any]] | None = field(default=None, repr=False)
    # The rows stored for ``answers`` ({path: JSON value}) when known, so a save writes
    # exactly the difference from what the database holds.
    _rows: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    async def load(cls, uow: UnitOfWork, interview: Interview, today: date) -> InterviewSession:
        """The interview's session; load ``interview`` with ``get_for_update`` when answers
        may be recorded, so its step can't move under this transaction."""
        form = current_form()
        stored = stored_answers(uow).get(interview, form)
        if stored is not None:
            answers = with_household_code(form, stored.answers(), interview.household)
            session = cls(uow, interview, interview.household, form, answers, today)
            session._prefill = (
                interview.prefill,
                with_household_code(form, stored.prefill(), interview.household),
            )
            session._rows = stored.rows
            if stored.steps is not None and stored.steps_day == today:
                session._steps = (session.answers, interview.prefill, dict(stored.steps))
            return session
        rows = dict(await uow.interviews.answers(interview))
        _remember(uow, interview, rows, form)
        answers = with_household_code(form, assemble(form, rows.items()), interview.household)
        session = cls(uow, interview, interview.household, form, answers, today)
        session._rows = rows
        return session

    @property
    def prefill(self) -> dict[str, Any]:
        """The suggested answers: the roster's, and the household code the chat answers
        itself (so the engine knows it was never asked, and keeps the section note before
        it for the first question that is)."""
        source = self.interview.prefill
        if self._prefill is None or self._prefill[0] is not source:
            decoded = decoded_prefill(self.form, dict(source or {}))
            self._prefill = (source, with_household_code(self.form, decoded, self.household))
        return self._prefill[1]

    def step(self, at: Path | None = None) -> Step:
        """The question to ask: the one being revisited, else the next unanswered one."""
        memo = self._steps
        if memo is None or memo[0] is not self.answers or memo[1] is not self.interview.prefill:
            memo = self._steps = (self.answers, self.interview.prefill, {})
        steps = memo[2]
        if at not in steps:
            steps[at] = (
                question_at(self.form, self.answers, at, today=self.today, prefill=self.prefill)
                if at is not None
                else next_step(self.form, self.answers, today=self.today, prefill=self.prefill)
            )
        return steps[at]

    async def record(
        self, path: Path, value: AnswerValue, by: User | None, now: datetime
    ) -> AnswerValue | None:
        """Store one answer, recompute calculations, and drop answers that no longer apply.

        Returns the previous value of ``path`` when it overwrote one (for the audit log).
        """
        previous = await self.record_all([(path, value)], by, now)
        return previous.get(path_key(path))

    async def record_all(
        self, values: Iterable[tuple[Path, AnswerValue]], by: User | None, now: datetime
    ) -> dict[str, Any]:
        """Store several answers as one step (e.g. a confirmed roster), each as if given
        alone; returns the previous stored value of each path it overwrote."""
        stored = self._rows
        before = stored if stored is not None else flatten(self.answers)
        updated = self.answers
        given: set[str] = set()
        for path, value in values:
            updated = set_answer(updated, path, value)
            given.add(path_key(path))
        updated = drop_irrelevant(
            self.form, apply_calculations(self.form, updated, today=self.today), today=self.today
        )
        after = flatten(updated)
        await self.uow.interviews.save_answers(
            self.interview,
            {
                row_key: row_value
                for row_key, row_value in after.items()
                if row_key not in before or before[row_key] != row_value or row_key in given
            },
            by,
            now,
        )
        await self.uow.interviews.delete_answers(
            self.interview, [row_key for row_key in before if row_key not in after]
        )
        self.answers, self._rows = updated, after
        # Further writes derived from this answer go here, in the same transaction.
        # The statistics projection commits with the answer it derives from.
        # The facts were last brought in line with the stored rows, when those are known.
        await refresh_member_facts(self.uow, self.interview, after, stored)
        self.interview.step += 1
        self.interview.updated_at = now
        entry = _remember(self.uow, self.interview, after, self.form, self._prefill, ordered=True)
        # The engine's answers and the steps this turn derives from them (the memo is
        # filled as the turn goes on) are reused by the next turn, when still current.
        entry._answers = updated
        self._steps = (updated, self.interview.prefill, {})
        entry.steps, entry.steps_day = self._steps[2], self.today
        return {
            key: before[key] for key in given if key in before and before[key] != after.get(key)
        }

    def questionnaire(self) -> EngineQuestionnaire:
        """The answers as an immutable value for the dialog's pure decisions, sharing this
        session's memo of steps (so a turn derives each step once)."""
        memo = self._steps
        if memo is None or memo[0] is not self.answers or memo[1] is not self.interview.prefill:
            memo = self._steps = (self.answers, self.interview.prefill, {})
        return EngineQuestionnaire(self.form, self.today, self.prefill, self.answers, memo[2])

    def stored_rows(self) -> dict[str, Any]:
        """The answer rows as stored: what a step's writes are the difference from."""
        if self._rows is None:
            self._rows = flatten(self.answers)
        return self._rows

    async def save(
        self,
        after: EngineQuestionnaire,
        write: dict[str, Any],
        delete: Iterable[str],
        by: User | None,
        now: datetime,
    ) -> None:
        """Store one step the dialog decided: ``write`` and ``delete`` are the rows that
        take ``stored_rows()`` to ``after``'s."""
        before = self.stored_rows()
        after_rows = after.rows()
        await self.uow.interviews.save_answers(self.interview, write, by, now)
        await self.uow.interviews.delete_answers(self.interview, list(delete))
        await refresh_member_facts(self.uow, self.interview, after_rows, before)
        self.interview.step += 1
        self.interview.updated_at = now
        self.answers, self._rows = after.values, after_rows
        entry = _remember(
            self.uow, self.interview, after_rows, self.form, self._prefill, ordered=True
        )
        # The next turn reuses these answers and the steps this turn derived from them.
        entry._answers = after.values
        self._steps = (after.values, self.interview.prefill, after.steps)
        entry.steps, entry.steps_day = after.steps, self.today

    def answered(self) -> list[Path]:
        """The answers the collaborator gave, in order (for /review): not the household
        code, which is the household they picked."""
        paths = answered_questions(self.form, self.answers, today=self.today)
        return [path for path in paths if path != (HOUSEHOLD_CODE,)]

    def previous(self, current: Path | None) -> Path | None:
        """The answer /back returns to; never the household code (see ``answered``)."""
        found = previous_question(self.form, self.answers, current, today=self.today)
        return None if found == (HOUSEHOLD_CODE,) else found

    def member_count(self) -> int:
        return len(self.answers.get("members") or [])


@dataclass(frozen=True, eq=False)
class EngineQuestionnaire:
    """An interview's answers over the form engine, as the dialog's pure decisions read
    them (see ``bot.interview.core.Questionnaire``): never changed, ``answer`` gives a new
    value. ``steps`` memoises the steps derived from these very answers."""

    form: Form
    today: date
    prefill: dict[str, Any]
    values: dict[str, Any]
    steps: dict[Path | None, Step] = field(default_factory=dict)

    def next_step(self) -> Step:
        return self.question_at(None)

    def question_at(self, at: Path | None) -> Step:
        if at not in self.steps:
            self.steps[at] = (
                question_at(self.form, self.values, at, today=self.today, prefill=self.prefill)
                if at is not None
                else next_step(self.form, self.values, today=self.today, prefill=self.prefill)
            )
        return self.steps[at]

    def answered(self) -> list[Path]:
        return answered_questions(self.form, self.values, today=self.today)

    def previous(self, current: Path | None) -> Path | None:
        return previous_question(self.form, self.values, current, today=self.today)

    def validate(self, path: Path, value: AnswerValue) -> Invalid | None:
        return validate(self.form, self.values, path, value, today=self.today)

    def answer(self, items: Iterable[tuple[Path, AnswerValue]]) -> EngineQuestionnaire:
        updated = self.values
        for path, value in items:
            updated = set_answer(updated, path, value)
        updated = drop_irrelevant(
            self.form, apply_calculations(self.form, updated, today=self.today), today=self.today
        )
        return EngineQuestionnaire(self.form, self.today, self.prefill, updated)

    def answers(self) -> dict[str, Any]:
        return self.values

    def rows(self) -> dict[str, Any]:
        return self.flat

    @cached_property
    def flat(self) -> dict[str, Any]:
        return flatten(self.values)


def roster_prefill(household: Household) -> dict[str, Any]:
    """Suggested answers from the commune's roster, for the collaborator to confirm."""
    members = []
    for member in household.members:
        entry: dict[str, Any] = {"name": member.full_name}
        if member.sex:
            entry["sex"] = SEX_CODES.get(member.sex.lower(), member.sex)
        if member.birth_date is not None:
            entry["birth_known"] = "full_date"
            entry["birth_date"] = member.birth_date.isoformat()
        elif member.birth_year is not None:
            entry["birth_known"] = "year_only"
            entry["birth_year"] = member.birth_year
        if member.relation:
            entry["relation"] = member.relation
        members.append(entry)
    return {
        "category": household.category.value,
        "member_count": len(members),
        "members": members,
    }


def with_household_code(
    form: Form, answers: dict[str, Any], household: Household
) -> dict[str, Any]:
    """``answers`` with the form's household-code question answered by the household
    itself when it is not yet: the chat never asks it, and the first answer recorded
    stores it. A stored answer is what the database holds, and is kept."""
    if HOUSEHOLD_CODE not in form.fields or has_answer(answers, (HOUSEHOLD_CODE,)):
        return answers
    return set_answer(answers, (HOUSEHOLD_CODE,), household.code)


def roster_answers(form: Form, prefill: dict[str, Any]) -> list[tuple[Path, AnswerValue]]:
    """The form answers a confirmed roster gives: each prefilled value of a question.

    Confirming the roster answers these questions (the collaborator has just checked the
    very values), so they are stored like any answer instead of being asked one by one;
    a value the form refuses is asked again, with the reason, when the bot reaches it.
    """
    items: list[tuple[Path, AnswerValue]] = []
    for key, value in flatten(prefill).items():
        path = key_path(key)
        field = form.fields.get(str(path[-1]))
        if value is None or field is None or not field.answerable:
            continue
        items.append((path, decode(form, path, value)))
    return items


def decoded_prefill(form: Form, prefill: dict[str, Any]) -> dict[str, Any]:
    """Prefill as engine values (stored as JSON, so dates are ISO strings)."""
    return assemble(form, flatten(prefill).items())


async def start_interview(
    uow: UnitOfWork, household: Household, collaborator: User, now: datetime
) -> Interview:
    form = current_form()
    return await uow.interviews.add(
        Interview(
            household_id=household.id,
            collaborator_id=collaborator.id,
            form_id=form.form_id,
            form_version=form.version,
            status=InterviewStatus.IN_PROGRESS,
            step=0,
            prefill=roster_prefill(household),
            source="chat",
            started_at=now,
            updated_at=now,
        )
    )
