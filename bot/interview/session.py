"""One interview as the chat keeps it: the household, the evaluated questionnaire, and how
to store a step.

The shell around :class:`forms.questionnaire.Questionnaire`: a turn loads the interview
(locked), starts from the questionnaire state stored with it when that state is still the
one of its answers, or evaluates the form once from the stored answer rows; a step the
dialog decided is written back as exactly the rows that differ, with the new state, the
step and the member facts, inside the caller's unit of work (so an answer is committed
before the bot replies). No state lives in the process: the database holds everything a
turn starts from, for every worker. The two memos here (the decoded prefill, the
questionnaire a turn stored) serve only a load of the very value the database holds,
compared each time: another worker's state, or a rolled-back one, is read, not remembered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.decisions.interview import record
from forms import HOUSEHOLD_CODE, AnswerValue, Form, Path, current_form, has_answer
from forms.codec import assemble, decode, decode_answers, flatten, key_path, path_key
from forms.plan import Plan, compile_plan
from forms.questionnaire import Questionnaire
from storage.models import Household, Interview, InterviewStatus
from storage.rows import HouseholdRow, InterviewRow, Person
from storage.stats_facts import refresh_member_facts
from storage.uow import Work

SEX_CODES = {"nam": "male", "male": "male", "nu": "female", "nữ": "female", "female": "female"}

_PLANS: dict[int, tuple[Form, Plan]] = {}
_PLANS_LOCK = threading.Lock()


def plan_of(form: Form) -> Plan:
    """The form's compiled plan, compiled once per loaded form (an immutable value)."""
    with _PLANS_LOCK:
        found = _PLANS.get(id(form))
        if found is None or found[0] is not form:
            found = _PLANS[id(form)] = (form, compile_plan(form))
        return found[1]


# The engine's prefill of the interviews loaded lately, by interview id: (form, stored
# prefill, household code, engine prefill). Decoding it costs about as much as loading the
# stored questionnaire state, at every turn, for a value that changes once an interview.
# Only a memo: an entry serves only a load of the very same stored prefill and household
# code (compared, not assumed), so every worker still starts from what the database holds.
_PREFILLS: dict[int, tuple[Form, dict[str, Any], str, dict[str, Any]]] = {}
_PREFILLS_LOCK = threading.Lock()
PREFILLS_REMEMBERED = 256


def engine_prefill(form: Form, interview: InterviewRow) -> dict[str, Any]:
    """The interview's prefill as the engine takes it (a value nobody changes): decoded,
    with the household code."""
    stored = interview.prefill or {}
    code = interview.household.code
    with _PREFILLS_LOCK:
        found = _PREFILLS.get(interview.id)
    if found is not None and found[0] is form and found[2] == code and found[1] == stored:
        return found[3]
    prefill = with_household_code(form, decoded_prefill(form, dict(stored)), interview.household)
    with _PREFILLS_LOCK:
        _PREFILLS.pop(interview.id, None)
        _PREFILLS[interview.id] = (form, stored, code, prefill)
        if len(_PREFILLS) > PREFILLS_REMEMBERED:
            del _PREFILLS[next(iter(_PREFILLS))]
    return prefill


# The questionnaire each interview's turn here stored lately, by interview id: (its state
# as stored, the questionnaire). The next turn of the same interview, here, loads that very
# state: rebuilding the questionnaire from it (its tables, then its answer rows encoded
# again) costs more than the answer's SQL. Only a memo: an entry serves only a load of the
# same stored state (compared, not assumed), on the same plan, day and prefill, so every
# worker still starts from what the database holds (a state stored by another worker, or
# rolled back, is not the one remembered).
_STATES: dict[int, tuple[dict[str, Any], Questionnaire]] = {}
_STATES_LOCK = threading.Lock()
STATES_REMEMBERED = 256


def _remembered(
    interview_id: int, stored: dict[str, Any], plan: Plan, today: date, prefill: dict[str, Any]
) -> Questionnaire | None:
    """The questionnaire remembered for ``stored`` (a stored state's data), if any."""
    with _STATES_LOCK:
        found = _STATES.get(interview_id)
    if found is None:
        return None
    data, questionnaire = found
    if (
        questionnaire.plan is not plan
        or questionnaire.today != today
        or data != stored
        or questionnaire.prefill != prefill
    ):
        return None
    return questionnaire


def _remember(interview_id: int, stored: dict[str, Any], questionnaire: Questionnaire) -> None:
    with _STATES_LOCK:
        _STATES.pop(interview_id, None)
        _STATES[interview_id] = (stored, questionnaire)
        if len(_STATES) > STATES_REMEMBERED:
            del _STATES[next(iter(_STATES))]


def _stamp(step: int, at: datetime) -> dict[str, Any]:
    """What a stored questionnaire state belongs to: the step and time of its answers."""
    return {"step": step, "updated_at": at.isoformat()}


@dataclass(slots=True)
class InterviewSession:
    uow: Work
    interview: InterviewRow
    household: HouseholdRow
    form: Form
    questionnaire: Questionnaire
    rows: dict[str, Any]
    """The answer rows as stored ({path key: JSON value}): what a step's writes differ from."""
    today: date

    @classmethod
    def load(cls, uow: Work, loaded: Interview | InterviewRow, today: date) -> InterviewSession:
        """The interview's session; load the interview with ``get_for_update`` when answers
        may be recorded, so its step can't move under this transaction (that also loads
        the stored questionnaire state, which other loads leave in the database)."""
        interview = loaded if isinstance(loaded, InterviewRow) else InterviewRow.of(loaded)
        form = current_form()
        plan = plan_of(form)
        prefill = engine_prefill(form, interview)
        stored = interview.plan_state
        if stored is not None and stored.get("stamp") == _stamp(
            interview.step, interview.updated_at
        ):
            data = stored["questionnaire"]
            questionnaire = _remembered(
                interview.id, data, plan, today, prefill
            ) or Questionnaire.from_json(plan, data, today=today, prefill=prefill)
            if questionnaire is not None:
                # Saved with the rows in the same transaction: they are its rows.
                return cls(
                    uow,
                    interview,
                    interview.household,
                    form,
                    questionnaire,
                    questionnaire.rows(),
                    today,
                )
        rows = dict(uow.interviews.answers(interview))
        answers = with_household_code(form, assemble(form, rows.items()), interview.household)
        questionnaire = Questionnaire.start(plan, answers, today=today, prefill=prefill)
        return cls(uow, interview, interview.household, form, questionnaire, rows, today)

    def save(
        self,
        after: Questionnaire,
        write: dict[str, Any],
        delete: Iterable[str],
        by: Person | None,
        now: datetime,
    ) -> None:
        """Store one step: ``write`` and ``delete`` take the stored rows to ``after``'s."""
        after_rows = after.rows()
        deleted = list(delete)
        self.uow.interviews.delete_answers(self.interview, deleted)
        # The statistics projection commits with the answer it derives from.
        refresh_member_facts(
            self.uow, self.interview, after_rows, self.rows, changed=[*write, *deleted]
        )
        step = self.interview.step + 1
        state = {"stamp": _stamp(step, now), "questionnaire": after.to_json()}
        # The answers with the step: one statement on PostgreSQL (deleted rows are others).
        self.interview = self.uow.interviews.record_step(
            self.interview, write, by, now, step, state
        )
        _remember(self.interview.id, state["questionnaire"], after)
        self.questionnaire, self.rows = after, after_rows

    def record(
        self, path: Path, value: AnswerValue, by: Person | None, now: datetime
    ) -> AnswerValue | None:
        """Store one answer as one step (see :meth:`record_all`); returns the previous
        stored value of ``path`` when it overwrote one."""
        previous = self.record_all([(path, value)], by, now)
        return previous.get(path_key(path))

    def record_all(
        self, values: Iterable[tuple[Path, AnswerValue]], by: Person | None, now: datetime
    ) -> dict[str, Any]:
        """Store several answers as one step, each as if given alone; returns the previous
        stored value of each path it overwrote with another."""
        step, previous = record(self.questionnaire, self.rows, list(values))
        assert isinstance(step.after, Questionnaire)
        self.save(step.after, step.write, step.delete, by, now)
        return previous

    @property
    def answers(self) -> dict[str, Any]:
        return self.questionnaire.answers()


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
    form: Form, answers: dict[str, Any], household: Household | HouseholdRow
) -> dict[str, Any]:
    """``answers`` with the form's household-code question answered by the household
    itself when it is not yet: the chat never asks it, and the first answer recorded
    stores it. A stored answer is what the database holds, and is kept."""
    if HOUSEHOLD_CODE not in form.fields or has_answer(answers, (HOUSEHOLD_CODE,)):
        return answers
    # A question of the top level: the answers in repeats are shared, not copied (every
    # turn's load sets it on answers it has just decoded).
    return {**answers, HOUSEHOLD_CODE: household.code}


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
    return decode_answers(form, prefill)


def start_interview(
    uow: Work, household: Household, collaborator: Person, now: datetime
) -> Interview:
    form = current_form()
    return uow.interviews.add(
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
