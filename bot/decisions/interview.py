"""The interview dialog's decisions, as pure functions.

A turn is ``decide(cursor, event, snapshot, env) -> Decision``: the stored cursor, what
the collaborator did and everything the turn may read go in; the replies, the new cursor
and the effects to write come out (RapidPro goflow's shape: a session goes in, a sprint
of events comes out). Nothing here touches the database, a platform or a clock, so the
dialog is tested on plain values, thousands of turns a second; ``bot.dialogs.interview``
is the shell that loads once, decides, writes once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Literal, Protocol

from bot.interview import render
from bot.interview.outcome import classify, household_summary, member_completed, member_message
from bot.messages import Choice, Choices, Notice, Outgoing, Text
from classification import HouseholdResult, MemberResult, RuleSet, classify_member
from forms import (
    HOUSEHOLD_CODE,
    Answers,
    AnswerValue,
    Done,
    FieldType,
    Invalid,
    Path,
    Question,
    Step,
    parse_answer,
)
from forms.codec import encode, key_path, path_key
from forms.parsing import ascii_int
from locales.catalog import translate

# Button data prefixes of this dialog, besides the answer verbs of ``render``.
ROSTER = "r"
CANCEL = "x"
REVIEW = "v"

# Text typed after this long a silence is not taken as an answer: the collaborator is
# first reminded where the interview stands.
RESUME_AFTER_SECONDS = 3600

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
CANCELLED = "cancelled"


class Mode(StrEnum):
    ASK = "ask"
    ROSTER_CHECK = "roster"
    ADD_MEMBER = "add_member"
    REVIEWING = "review"
    CONFIRM_CANCEL = "confirm_cancel"


# The key of the dialog state (Cursor.to_json) naming the interview.
INTERVIEW_KEY = "interview_id"


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the collaborator stands in one interview: the dialog's whole stored state."""

    interview_id: int
    mode: Mode = Mode.ASK
    at: Path | None = None
    """A question being revisited (/back, /review); None: the next unanswered one."""
    selected: tuple[str, ...] = ()
    """The choices ticked so far on a several-answer question."""
    return_to_review: bool = False
    """The question at ``at`` was picked from /review's list, which comes back after it."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {INTERVIEW_KEY: self.interview_id, "mode": self.mode.value}
        if self.at is not None:
            data["at"] = path_key(self.at)
        if self.selected:
            data["selected"] = list(self.selected)
        if self.return_to_review:
            data["return_to"] = Mode.REVIEWING.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cursor | None:
        """The cursor a stored row holds; None when it is not one (another dialog's row,
        or a row damaged by hand)."""
        interview_id = data.get(INTERVIEW_KEY)
        if not isinstance(interview_id, int) or isinstance(interview_id, bool):
            return None
        try:
            mode = Mode(data.get("mode", Mode.ASK.value))
        except ValueError:
            mode = Mode.ASK
        at = data.get("at")
        selected = data.get("selected")
        return cls(
            interview_id=interview_id,
            mode=mode,
            at=key_path(at) if isinstance(at, str) and at else None,
            selected=tuple(c for c in selected if isinstance(c, str))
            if isinstance(selected, list)
            else (),
            return_to_review=data.get("return_to") == Mode.REVIEWING.value,
        )


class Questionnaire(Protocol):
    """An interview's answers as the form sees them: an immutable value."""

    def next_step(self) -> Step: ...
    def question_at(self, at: Path | None) -> Step: ...
    def answered(self) -> list[Path]: ...
    def previous(self, current: Path | None) -> Path | None: ...
    def validate(self, path: Path, value: AnswerValue) -> Invalid | None: ...
    def answer(self, items: Iterable[tuple[Path, AnswerValue]]) -> Questionnaire: ...
    def answers(self) -> Answers: ...
    def answer_at(self, path: Path) -> Any: ...
    def instances(self, repeat: Path) -> int: ...
    def rows(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class HouseholdInfo:
    code: str
    head_name: str
    category: str

    @property
    def title(self) -> str:
        return f"{self.code} · {self.head_name}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One interview as a turn reads it, loaded once by the shell."""

    interview_id: int
    status: str
    step: int
    household: HouseholdInfo
    prefill: Mapping[str, Any]
    """The roster as stored (JSON): the suggested members to confirm."""
    questionnaire: Questionnaire
    rows: Mapping[str, Any]
    """The answers as stored ({path key: JSON value}): what a step's writes differ from."""
    idle_seconds: float = 0.0
    """Since the collaborator was last active in this interview."""


@dataclass(frozen=True, slots=True)
class Env:
    """What a turn knows besides the interview: who, in which language, the rules."""

    locale: str
    rules: RuleSet
    today: date
    """The day ages are counted at (the review's reference date)."""
    menu: Callable[[], list[Outgoing]]
    """The collaborator's main menu (pure: it depends on their role only)."""
    roster_answers: Callable[[Mapping[str, Any]], list[tuple[Path, AnswerValue]]]
    """The form answers a confirmed roster gives (see session.roster_answers)."""

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Typed:
    text: str


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button of this dialog: its verb and what follows the interview id."""

    verb: str
    args: tuple[str, ...]


Command = Literal["back", "skip", "review", "pause", "cancel", "again", "again_not_taken"]


@dataclass(frozen=True, slots=True)
class Commanded:
    name: Command


Event = Typed | Pressed | Commanded


# -- effects ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """Store one step of answers: ``write`` the rows that changed, and the ones given
    again with the same value (by whom and when), ``delete`` the rows no longer there."""

    after: Questionnaire
    before_rows: Mapping[str, Any]
    after_rows: Mapping[str, Any]
    write: dict[str, Any]
    delete: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetPrefill:
    prefill: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SetStatus:
    status: str


@dataclass(frozen=True, slots=True)
class Audit:
    action: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreMember:
    index: int
    member: Mapping[str, Any]
    result: MemberResult


@dataclass(frozen=True, slots=True)
class StoreHousehold:
    answers: Answers
    result: HouseholdResult


Effect = Record | SetPrefill | SetStatus | Audit | StoreMember | StoreHousehold


@dataclass(frozen=True, slots=True)
class Save:
    """Store this cursor; ``touch``: even if it is unchanged (it marks the collaborator
    active; a turn that recorded an answer has done so already)."""

    cursor: Cursor
    touch: bool = True


@dataclass(frozen=True, slots=True)
class Close:
    """End the dialog; ``finished``: the interview just completed (said again if the
    message saying so was lost)."""

    finished: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    replies: tuple[Outgoing, ...]
    effects: tuple[Effect, ...] = ()
    save: Save | Close | None = None


# -- the turn -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Turn:
    """One decision being built: the values change as the turn goes (an answer recorded
    moves the questionnaire), the effects accumulate in order."""

    cursor: Cursor
    snapshot: Snapshot
    env: Env
    effects: list[Effect] = field(default_factory=list)
    save: Save | Close | None = None

    @property
    def q(self) -> Questionnaire:
        return self.snapshot.questionnaire

    def done(self, replies: Sequence[Outgoing]) -> Decision:
        return Decision(tuple(replies), tuple(self.effects), self.save)

    def keep(self, cursor: Cursor, *, touch: bool = True) -> None:
        self.cursor = cursor
        self.save = Save(cursor, touch)

    def audit(self, action: str, **details: Any) -> None:
        self.effects.append(Audit(action, details))

    def step(self) -> Step:
        return self.q.question_at(self.cursor.at)


def decide(cursor: Cursor, event: Event, snapshot: Snapshot, env: Env) -> Decision:
    """What one event does to an open interview."""
    turn = _Turn(cursor, snapshot, env)
    match event:
        case Typed(text):
            return turn.done(_on_text(turn, text))
        case Pressed(verb, args):
            return turn.done(_on_button(turn, verb, args))
        case Commanded(name):
            return turn.done(_COMMANDS[name](turn))
    raise AssertionError(event)


def open_review(snapshot: Snapshot, env: Env) -> Decision:
    """Review a completed interview picked from the household list."""
    turn = _Turn(Cursor(snapshot.interview_id, Mode.REVIEWING), snapshot, env)
    turn.keep(turn.cursor)
    return turn.done(_review_list(turn))


def resume(snapshot: Snapshot, env: Env) -> Decision:
    """An interview of the collaborator's, opened again from the household list."""
    turn = _Turn(Cursor(snapshot.interview_id), snapshot, env)
    if not _answered(turn):
        # Left (or lost on the way) before the roster was confirmed: check it first,
        # rather than asking one by one what the roster confirms in one tap.
        turn.keep(Cursor(snapshot.interview_id, Mode.ROSTER_CHECK))
        return turn.done(_roster(turn, snapshot.prefill))
    turn.keep(turn.cursor)
    return turn.done([_resumed(turn), *_ask(turn)])


def started(snapshot: Snapshot, env: Env) -> Decision:
    """A new interview: the roster to check comes first."""
    turn = _Turn(Cursor(snapshot.interview_id, Mode.ROSTER_CHECK), snapshot, env)
    turn.keep(turn.cursor)
    turn.audit("interview.started")
    return turn.done(_roster(turn, snapshot.prefill))


# -- asking ---------------------------------------------------------------------------------


def _answered(turn: _Turn) -> list[Path]:
    """The answers the collaborator gave, in order (for /review): not the household
    code, which is the household they picked."""
    return [path for path in turn.q.answered() if path != (HOUSEHOLD_CODE,)]


def _resumed(turn: _Turn) -> Text:
    title = turn.snapshot.household.title
    return Text(turn.env.t("interview.resumed", household=title, count=len(_answered(turn))))


def _ask(turn: _Turn, *, error: str = "", again: bool = False) -> list[Outgoing]:
    """The current question; ``again`` (or an error) when it was just shown, so its
    section notes are not repeated."""
    step = turn.step()
    if isinstance(step, Done):
        return _finish(turn)
    return render.render_question(
        step,
        interview_id=turn.snapshot.interview_id,
        step=turn.snapshot.step,
        locale=turn.env.locale,
        selected=turn.cursor.selected,
        header=_progress(turn, step),
        error=error,
        notes=not (error or again),
    )


def _progress(turn: _Turn, question: Question) -> str:
    if question.path and question.path[0] == "members" and len(question.path) > 2:
        index = int(question.path[1])
        # Two numbers, read without building the answers.
        total = max(turn.q.instances(("members",)), index + 1)
        count = turn.q.answer_at(("member_count",))
        if isinstance(count, int):
            total = max(total, count)
        return turn.env.t("interview.member_progress", number=index + 1, total=total)
    return ""


def record(
    before: Questionnaire, rows: Mapping[str, Any], items: Sequence[tuple[Path, AnswerValue]]
) -> tuple[Record, dict[str, Any]]:
    """Answers given as one step, over ``before`` whose stored rows are ``rows``: the rows
    to write and delete, and the previous stored value of each row they overwrote with
    another (for the audit log)."""
    after = before.answer(items)
    given = {path_key(path) for path, _ in items}
    new = after.rows()
    write = {k: v for k, v in new.items() if k in given or rows.get(k, _NONE) != v}
    delete = tuple(key for key in rows if key not in new)
    previous = {key: rows[key] for key in given if key in rows and rows[key] != new.get(key)}
    return Record(after, rows, new, write, delete), previous


_NONE = object()


def _record(turn: _Turn, items: Sequence[tuple[Path, AnswerValue]]) -> dict[str, Any]:
    """Record answers as one step; returns what :func:`record` says they overwrote."""
    step, previous = record(turn.q, turn.snapshot.rows, items)
    turn.effects.append(step)
    turn.snapshot = replace(
        turn.snapshot, questionnaire=step.after, rows=step.after_rows, step=turn.snapshot.step + 1
    )
    return previous


def _accept(turn: _Turn, question: Question, value: AnswerValue) -> list[Outgoing]:
    problem = turn.q.validate(question.path, value)
    if problem is not None:
        return _ask(turn, error="❌ " + problem.text(turn.env.locale))
    previous = _record(turn, [(question.path, value)])
    key = path_key(question.path)
    if key in previous or turn.snapshot.status == COMPLETED:
        turn.audit(
            "answer.changed",
            household=turn.snapshot.household.code,
            path=key,
            old=previous.get(key),
            new=encode(value),
        )
    returning_to_review = turn.cursor.return_to_review
    out = _on_recorded(turn, question.path)
    cursor = Cursor(turn.cursor.interview_id)
    if returning_to_review:
        turn.keep(replace(cursor, mode=Mode.REVIEWING), touch=False)
        return [Text(turn.env.t("interview.changed")), *out, *_review_list(turn)]
    turn.keep(cursor, touch=False)
    return [*out, *_ask(turn)]


def _on_recorded(turn: _Turn, path: Path) -> list[Outgoing]:
    """A member's result once their last question is answered; after a change to a
    completed interview, every stored result recomputed at once."""
    if turn.snapshot.status == COMPLETED:
        _store_household(turn)
    index = member_completed(path, turn.q.next_step())
    # Most answers complete no member: the answers are built only for one that does.
    if index is None or index >= turn.q.instances(("members",)):
        return []
    member = turn.q.answers()["members"][index]
    result = classify_member(member, turn.env.today, turn.env.rules)
    if turn.snapshot.status != COMPLETED:
        turn.effects.append(StoreMember(index, member, result))
    return [Text(member_message(member, index, result, turn.env.rules, turn.env.locale))]


def _store_household(turn: _Turn) -> tuple[Answers, HouseholdResult]:
    answers = turn.q.answers()
    result = classify(answers, turn.env.today, turn.env.rules)
    turn.effects.append(StoreHousehold(answers, result))
    return answers, result


def _finish(turn: _Turn) -> list[Outgoing]:
    if turn.snapshot.status != COMPLETED:
        turn.effects.append(SetStatus(COMPLETED))
        turn.snapshot = replace(turn.snapshot, status=COMPLETED)
        turn.audit("interview.completed")
    turn.save = Close(finished=turn.snapshot.interview_id)
    title = turn.snapshot.household.title
    answers, result = _store_household(turn)
    summary = household_summary(answers, result, turn.env.rules, turn.env.locale)
    finished = Text(turn.env.t("interview.finished", household=title))
    return [finished, Text(summary), *turn.env.menu()]


# -- typed text -----------------------------------------------------------------------------


def _on_text(turn: _Turn, text: str) -> list[Outgoing]:
    mode = turn.cursor.mode
    if mode is Mode.ADD_MEMBER:
        return _add_member(turn, text)
    if mode is Mode.REVIEWING:
        return _pick_from_review(turn, text)
    if mode in (Mode.ROSTER_CHECK, Mode.CONFIRM_CANCEL):
        return [Text(turn.env.t("interview.use_buttons"))]
    if turn.snapshot.idle_seconds > RESUME_AFTER_SECONDS:
        # Back after hours or days: whatever was typed, first show where we are.
        turn.keep(turn.cursor)
        return [_resumed(turn), *_ask(turn)]
    step = turn.step()
    if isinstance(step, Done):
        return _finish(turn)
    parsed = parse_answer(step, text)
    if isinstance(parsed, Invalid):
        return _ask(turn, error="❌ " + parsed.text(turn.env.locale))
    return _accept(turn, step, parsed.value)


# -- buttons --------------------------------------------------------------------------------


def _stale(turn: _Turn) -> list[Outgoing]:
    return [Notice(turn.env.t("interview.stale"))]


def _on_button(turn: _Turn, verb: str, args: tuple[str, ...]) -> list[Outgoing]:
    if verb in ANSWER_VERBS:
        return _on_answer_button(turn, verb, args)
    if verb == ROSTER:
        return _on_roster(turn, args)
    if verb == CANCEL:
        return _on_cancel(turn, args)
    if verb == REVIEW:
        return _show_review(turn)
    return _stale(turn)


ANSWER_VERBS = frozenset({render.ANSWER, render.TOGGLE, render.DONE, render.KEEP, render.SKIP})
VERBS = ANSWER_VERBS | {ROSTER, CANCEL, REVIEW}


def _on_answer_button(turn: _Turn, verb: str, args: tuple[str, ...]) -> list[Outgoing]:
    step_text = args[0] if args else ""
    if turn.cursor.mode is not Mode.ASK or step_text != str(turn.snapshot.step):
        return _stale(turn)
    question = turn.step()
    if isinstance(question, Done):
        return _finish(turn)
    index = ascii_int(args[1]) if len(args) > 1 else None
    if verb == render.ANSWER:
        if question.type is FieldType.ACKNOWLEDGE:
            return _accept(turn, question, "OK")
        if index is None or index >= len(question.choices):
            return _stale(turn)
        return _accept(turn, question, question.choices[index].name)
    if verb == render.TOGGLE:
        if index is None or index >= len(question.choices):
            return _stale(turn)
        code = question.choices[index].name
        chosen = turn.cursor.selected
        selected = tuple(c for c in chosen if c != code) if code in chosen else (*chosen, code)
        turn.keep(replace(turn.cursor, selected=selected))
        [*_, keyboard] = render.render_question(
            question,
            interview_id=turn.snapshot.interview_id,
            step=turn.snapshot.step,
            locale=turn.env.locale,
            selected=selected,
            header=_progress(turn, question),
        )
        assert isinstance(keyboard, Choices)
        return [Choices(keyboard.text, keyboard.choices, keyboard.columns, edit=True)]
    if verb == render.DONE:
        ticked = [c.name for c in question.choices if c.name in turn.cursor.selected]
        return _accept(turn, question, ticked)
    if verb == render.KEEP:
        value = question.value if question.value is not None else question.default
        if value is None:
            return _stale(turn)
        return _accept(turn, question, value)
    return _skip(turn, question)


def _skip(turn: _Turn, question: Question) -> list[Outgoing]:
    if question.required:
        return _ask(turn, error=turn.env.t("interview.cannot_skip"))
    return _accept(turn, question, None)


# -- roster ---------------------------------------------------------------------------------


def _roster(turn: _Turn, prefill: Mapping[str, Any]) -> list[Outgoing]:
    t = turn.env.t
    members = prefill.get("members") or []
    household = turn.snapshot.household
    lines = [
        t(
            "interview.roster_title",
            household=household.title,
            category=t(f"category.{household.category}"),
            count=len(members),
        )
    ]
    for number, member in enumerate(members, start=1):
        birth = member.get("birth_date") or member.get("birth_year") or "?"
        if isinstance(birth, str) and len(birth) == 10:
            birth = f"{birth[8:10]}/{birth[5:7]}/{birth[0:4]}"
        relation = t(f"relation.{member['relation']}") if member.get("relation") else ""
        sex = t(f"sex.{member['sex']}") if member.get("sex") else ""
        details = ", ".join(str(part) for part in (sex, birth, relation) if part)
        lines.append(f"{number}. {member.get('name', '?')} ({details})")
    lines.append(t("interview.roster_question"))
    iid = turn.snapshot.interview_id
    buttons = (
        Choice(t("interview.roster_ok"), f"{ROSTER}:{iid}:ok"),
        Choice(t("interview.roster_add"), f"{ROSTER}:{iid}:add"),
        Choice(t("interview.roster_remove"), f"{ROSTER}:{iid}:del"),
    )
    return [Choices("\n".join(lines), buttons)]


def _with_members(prefill: Mapping[str, Any], members: list[Any]) -> dict[str, Any]:
    return {**prefill, "members": members, "member_count": len(members)}


def _on_roster(turn: _Turn, args: tuple[str, ...]) -> list[Outgoing]:
    if turn.cursor.mode not in (Mode.ROSTER_CHECK, Mode.ADD_MEMBER):
        return _stale(turn)
    action = args[0] if args else ""
    prefill = turn.snapshot.prefill
    if action == "ok":
        # The roster's values are the form's own answers from now on: stored (by whom and
        # when, like any answer) and changeable through /review, never asked again.
        confirmed = turn.env.roster_answers(prefill)
        if confirmed:
            _record(turn, confirmed)
        turn.audit("roster.confirmed", answers=len(confirmed))
        turn.keep(Cursor(turn.cursor.interview_id), touch=not confirmed)
        return _ask(turn)
    if action == "add":
        turn.keep(replace(turn.cursor, mode=Mode.ADD_MEMBER))
        return [Text(turn.env.t("interview.add_member_name"))]
    members = list(prefill.get("members") or [])
    if action == "del":
        iid = turn.snapshot.interview_id
        buttons = tuple(
            Choice(f"{n}. {m.get('name', '?')}", f"{ROSTER}:{iid}:rm:{n - 1}")
            for n, m in enumerate(members, start=1)
        )
        return [Choices(turn.env.t("interview.remove_which"), buttons)]
    index = ascii_int(args[1]) if action == "rm" and len(args) > 1 else None
    if index is None:
        return _stale(turn)
    if index < len(members):
        removed = members.pop(index)
        prefill = _with_members(prefill, members)
        turn.effects.append(SetPrefill(prefill))
        turn.audit("roster.member_removed", name=removed.get("name"))
    return _roster(turn, prefill)


def _add_member(turn: _Turn, text: str) -> list[Outgoing]:
    name = " ".join(text.split())
    if not name or len(name) > 100 or name.startswith("/"):
        return [Text(turn.env.t("interview.add_member_name"))]
    prefill = turn.snapshot.prefill
    prefill = _with_members(prefill, [*(prefill.get("members") or []), {"name": name}])
    turn.effects.append(SetPrefill(prefill))
    turn.audit("roster.member_added", name=name)
    turn.keep(replace(turn.cursor, mode=Mode.ROSTER_CHECK))
    return _roster(turn, prefill)


# -- commands -------------------------------------------------------------------------------


def _back(turn: _Turn) -> list[Outgoing]:
    current = turn.step()
    current_path = None if isinstance(current, Done) else current.path
    previous = turn.q.previous(current_path)
    if previous is None or previous == (HOUSEHOLD_CODE,):
        return [Text(turn.env.t("interview.at_first")), *_ask(turn, again=True)]
    turn.keep(replace(turn.cursor, mode=Mode.ASK, at=previous, selected=()))
    return _ask(turn)


def _skip_command(turn: _Turn) -> list[Outgoing]:
    if turn.cursor.mode is Mode.REVIEWING:
        # The list of answers is on screen, not the question /skip would skip: the
        # question is shown again, to be skipped (or answered) knowingly.
        turn.keep(replace(turn.cursor, mode=Mode.ASK, at=None, return_to_review=False))
        return _ask(turn)
    question = turn.step()
    if isinstance(question, Done):
        return _finish(turn)
    return _skip(turn, question)


def _show_review(turn: _Turn) -> list[Outgoing]:
    turn.keep(replace(turn.cursor, mode=Mode.REVIEWING, at=None))
    return _review_list(turn)


def _review_list(turn: _Turn) -> list[Outgoing]:
    locale = turn.env.locale
    lines = [turn.env.t("interview.review_title", household=turn.snapshot.household.title)]
    for number, path in enumerate(_answered(turn), start=1):
        question = turn.q.question_at(path)
        if isinstance(question, Done):
            continue
        shown = render.format_value(question, question.value, locale)
        lines.append(f"{number}. {question.label.get(locale)} → {shown}")
    lines.append(turn.env.t("interview.review_help"))
    # Plain text, no buttons: the numbers typed here pick questions, on every platform.
    return [Text("\n".join(lines))]


def _pick_from_review(turn: _Turn, text: str) -> list[Outgoing]:
    paths = _answered(turn)
    choice = text.strip()
    if choice == "0":
        turn.keep(replace(turn.cursor, mode=Mode.ASK, at=None, return_to_review=False))
        return _ask(turn, again=True)
    picked = ascii_int(choice)
    if picked is None or not 1 <= picked <= len(paths):
        return [Text(turn.env.t("interview.review_pick", count=len(paths)))]
    turn.keep(replace(turn.cursor, mode=Mode.ASK, at=paths[picked - 1], return_to_review=True))
    return _ask(turn)


def _pause(turn: _Turn) -> list[Outgoing]:
    turn.save = Close()
    title = turn.snapshot.household.title
    return [Text(turn.env.t("interview.paused", household=title)), *turn.env.menu()]


def _cancel(turn: _Turn) -> list[Outgoing]:
    if turn.snapshot.status == COMPLETED:
        return [Text(turn.env.t("interview.cannot_cancel_completed"))]
    turn.keep(replace(turn.cursor, mode=Mode.CONFIRM_CANCEL))
    iid = turn.snapshot.interview_id
    buttons = (
        Choice(turn.env.t("interview.cancel_yes"), f"{CANCEL}:{iid}:yes"),
        Choice(turn.env.t("interview.cancel_no"), f"{CANCEL}:{iid}:no"),
    )
    title = turn.snapshot.household.title
    return [Choices(turn.env.t("interview.cancel_confirm", household=title), buttons)]


def _on_cancel(turn: _Turn, args: tuple[str, ...]) -> list[Outgoing]:
    if turn.cursor.mode is not Mode.CONFIRM_CANCEL:
        return _stale(turn)
    if args and args[0] == "yes":
        turn.effects.append(SetStatus(CANCELLED))
        turn.audit("interview.cancelled")
        turn.save = Close()
        title = turn.snapshot.household.title
        return [Text(turn.env.t("interview.cancelled", household=title)), *turn.env.menu()]
    turn.keep(replace(turn.cursor, mode=Mode.ASK))
    return [Text(turn.env.t("interview.cancel_aborted")), *_ask(turn, again=True)]


def _again(turn: _Turn) -> list[Outgoing]:
    """Where the collaborator stands, shown again (a reply was lost on the way)."""
    mode = turn.cursor.mode
    if mode is Mode.REVIEWING:
        return _review_list(turn)
    if mode is Mode.ADD_MEMBER:
        return [Text(turn.env.t("interview.add_member_name"))]
    if mode is Mode.CONFIRM_CANCEL:
        return _cancel(turn)
    if mode is Mode.ROSTER_CHECK:
        return _roster(turn, turn.snapshot.prefill)
    turn.keep(turn.cursor)
    return [_resumed(turn), *_ask(turn)]


def _again_not_taken(turn: _Turn) -> list[Outgoing]:
    return [Text(turn.env.t("delivery.shown_again")), *_again(turn)]


_COMMANDS: dict[Command, Callable[[_Turn], list[Outgoing]]] = {
    "back": _back,
    "skip": _skip_command,
    "review": _show_review,
    "pause": _pause,
    "cancel": _cancel,
    "again": _again,
    "again_not_taken": _again_not_taken,
}
