"""Interviewing one household: roster check, questions, /back, /skip, /review, /pause, /cancel.

The shell around :mod:`bot.decisions.interview`, which decides every turn as a pure function:
here a turn loads what it reads once (the cursor, the interview locked for update, its
answers), asks the core, writes the effects and the new cursor in the same transaction,
and returns the replies, which the conversation sends only after the commit. The cursor
is all the dialog keeps; everything else is derived from the stored answers, so a restart
resumes exactly where the collaborator stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.context import DialogContext
from bot.decisions import interview as core
from bot.decisions.interview import (
    CANCEL,
    REVIEW,
    ROSTER,
    Commanded,
    Cursor,
    Decision,
    Env,
    Event,
    HouseholdInfo,
    Pressed,
    Snapshot,
    Typed,
)
from bot.dialogs import meetings, menu
from bot.dialogs.scope import may_interview
from bot.interview.results import household_rows, member_row
from bot.interview.session import InterviewSession, roster_answers, start_interview
from bot.messages import Choice, Choices, Notice, Outgoing, Text
from classification import rules_for
from forms.parsing import ascii_int
from forms.questionnaire import Questionnaire
from storage.models import Household, Interview, InterviewStatus
from storage.repositories import InterviewInState
from storage.rows import HouseholdRow, InterviewRow

DIALOG = "interview"
# Where this dialog's state names the open interview: each turn reads it, locked, with the
# person (Conversation._turn), and _load finds it read.
OPEN_INTERVIEW = InterviewInState(DIALOG, core.INTERVIEW_KEY)
# In the idle state after an interview: which one was finished last.
FINISHED = "finished"

__all__ = ["CANCEL", "DIALOG", "FINISHED", "REVIEW", "ROSTER"]


def reference_day(ctx: DialogContext, interview: Interview | InterviewRow) -> date:
    """The day ages are counted at (the form's today()): the review year's reference date,
    so the chat computes the ages the imports, the results and the exports show."""
    moment = interview.completed_at or ctx.now
    return ctx.settings.review_dates.reference(interview.household.review_year, moment)


@dataclass(slots=True)
class _Open:
    """An open interview as loaded for one turn."""

    cursor: Cursor
    session: InterviewSession
    stored: dict[str, Any] | None
    """The cursor row as stored, to spare rewriting it unchanged."""
    idle_seconds: float = 0.0


def _load(ctx: DialogContext) -> _Open | None:
    assert ctx.user is not None
    row = ctx.uow.dialogs.get(ctx.user)
    if row is None or row.dialog != DIALOG:
        return None
    cursor = Cursor.from_json(row.state)
    # Locked: this turn may record an answer, which moves the step.
    interview = ctx.uow.interviews.get_for_update(cursor.interview_id) if cursor else None
    if cursor is None or interview is None or interview.status is InterviewStatus.CANCELLED:
        ctx.uow.dialogs.clear(ctx.user)
        return None
    # An answer moves the interview's updated_at rather than the dialog's (whose row is
    # not rewritten when only the time would change): the later of the two is when the
    # collaborator was last active.
    idle = (ctx.now - max(row.updated_at, interview.updated_at)).total_seconds()
    session = InterviewSession.load(ctx.uow, interview, reference_day(ctx, interview))
    return _Open(cursor, session, dict(row.state), idle)


def _household(household: Household | HouseholdRow) -> HouseholdInfo:
    return HouseholdInfo(household.code, household.head_name, household.category.value)


def _snapshot(session: InterviewSession, idle_seconds: float = 0.0) -> Snapshot:
    interview = session.interview
    return Snapshot(
        interview_id=interview.id,
        status=interview.status.value,
        step=interview.step,
        household=_household(session.household),
        prefill=dict(interview.prefill or {}),
        questionnaire=session.questionnaire,
        rows=session.rows,
        idle_seconds=idle_seconds,
    )


def _env(ctx: DialogContext, session: InterviewSession) -> Env:
    form = session.form
    return Env(
        locale=ctx.locale,
        rules=rules_for(session.household.review_year, ctx.settings.rules),
        today=session.today,
        menu=lambda: menu.menu_for(ctx),
        roster_answers=lambda prefill: roster_answers(form, dict(prefill)),
    )


def _apply(
    ctx: DialogContext,
    session: InterviewSession,
    decision: Decision,
    stored: dict[str, Any] | None = None,
) -> list[Outgoing]:
    """Write what the core decided, in this turn's transaction, and hand back the replies."""
    assert ctx.user is not None
    interviews = ctx.uow.interviews
    for effect in decision.effects:
        # The interview as it stands after the effects before this one.
        interview = session.interview
        match effect:
            case core.Record(after=after, write=write, delete=delete):
                assert isinstance(after, Questionnaire)
                session.save(after, write, delete, ctx.user, ctx.now)
            case core.SetPrefill(prefill=prefill):
                session.interview = interviews.change(interview, prefill=prefill)
            case core.SetStatus(status=status):
                moved = InterviewStatus(status)
                at = "completed_at" if moved is InterviewStatus.COMPLETED else "updated_at"
                session.interview = interviews.change(interview, status=moved, **{at: ctx.now})
            case core.Audit(action=action, details=details):
                ctx.uow.audit.record(
                    action, actor=ctx.user, entity="interview", entity_id=interview.id, **details
                )
            case core.StoreMember(index=index, member=member, result=result):
                row = member_row(interview, index, member, result, session.today)
                ctx.uow.classifications.replace(interview, [row])
            case core.StoreHousehold(answers=answers, result=result):
                rows = household_rows(interview, answers, result, session.today)
                ctx.uow.classifications.replace(interview, rows)
    match decision.save:
        case core.Save(cursor=cursor, touch=touch):
            saved = cursor.to_json()
            if touch:
                saved["touched"] = ctx.now.isoformat()
            if touch or saved != stored:
                # Unchanged and untouched: an answer marks the collaborator active
                # already (see _load), this spares an UPDATE per answer.
                ctx.uow.dialogs.set(ctx.user, DIALOG, saved)
        case core.Close(finished=finished):
            ctx.uow.dialogs.clear(ctx.user, {FINISHED: finished} if finished else None)
    return list(decision.replies)


def _turn(ctx: DialogContext, opened: _Open, event: Event) -> list[Outgoing]:
    session = opened.session
    snapshot = _snapshot(session, opened.idle_seconds)
    decision = core.decide(opened.cursor, event, snapshot, _env(ctx, session))
    return _apply(ctx, session, decision, opened.stored)


# -- starting --------------------------------------------------------------------------


def open_household(ctx: DialogContext, household: Household) -> list[Outgoing]:
    """Start, resume or review the interview of a household the user may interview."""
    assert ctx.user is not None
    current = ctx.uow.interviews.open_for_household(household.id)
    title = _household(household).title
    if current is not None:
        if current.collaborator_id not in (None, ctx.user.id):
            other = ctx.uow.users.get(current.collaborator_id)
            name = other.display_name if other else "?"
            return [Text(ctx.t("interview.taken", household=title, name=name))]
        session = InterviewSession.load(ctx.uow, current, reference_day(ctx, current))
        return _apply(ctx, session, core.resume(_snapshot(session), _env(ctx, session)))
    latest = ctx.uow.interviews.latest_for_household(household.id)
    if latest is not None and latest.status is InterviewStatus.COMPLETED:
        buttons = (
            Choice(ctx.t("interview.review_button"), f"{REVIEW}:{latest.id}"),
            Choice(ctx.t("interview.back_to_list"), "cmd:interview"),
        )
        text = ctx.t("interview.already_done", household=title)
        # What came of the household's policy dialogues belongs with its detail.
        detail = meetings.household_detail(ctx, household.id, household.review_year)
        return [Choices(f"{text}\n\n{detail}" if detail else text, buttons)]
    household_full = ctx.uow.households.with_members(household.id)
    assert household_full is not None
    interview = start_interview(ctx.uow, household_full, ctx.user, ctx.now)
    session = InterviewSession.load(ctx.uow, interview, reference_day(ctx, interview))
    return _apply(ctx, session, core.started(_snapshot(session), _env(ctx, session)))


def _open_review(ctx: DialogContext, interview_id: int) -> list[Outgoing]:
    """Review a completed interview chosen from the household list (edits are audited)."""
    interview = ctx.uow.interviews.get(interview_id)
    if interview is None or interview.status is not InterviewStatus.COMPLETED:
        return [Notice(ctx.t("interview.stale"))]
    if not may_interview(ctx, interview.household):
        return [Text(ctx.t("scope.refused"))]
    session = InterviewSession.load(ctx.uow, interview, reference_day(ctx, interview))
    return _apply(ctx, session, core.open_review(_snapshot(session), _env(ctx, session)))


# -- incoming --------------------------------------------------------------------------


def on_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    """Handle typed text if an interview is open for this user; None otherwise."""
    opened = _load(ctx)
    if opened is None:
        return None
    return _turn(ctx, opened, Typed(text))


def button_namespaces() -> frozenset[str]:
    """The button data prefixes this dialog handles (see bot.router.BUTTONS)."""
    return core.VERBS


def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    """Handle a button of this dialog; None when ``data`` isn't one of ours."""
    verb, _, rest = data.partition(":")
    if verb not in core.VERBS:
        return None
    parts = rest.split(":")
    interview_id = ascii_int(parts[0])
    if interview_id is None:
        return [Notice(ctx.t("interview.stale"))]
    opened = _load(ctx)
    if opened is None or opened.cursor.interview_id != interview_id:
        if verb == REVIEW:
            return _open_review(ctx, interview_id)
        # A button of another (or a finished) interview, or forged data.
        return [Notice(ctx.t("interview.stale"))]
    return _turn(ctx, opened, Pressed(verb, tuple(parts[1:])))


# -- commands --------------------------------------------------------------------------


def _command(ctx: DialogContext, name: core.Command) -> list[Outgoing]:
    opened = _load(ctx)
    if opened is None:
        return [Text(ctx.t("interview.none_open"))]
    return _turn(ctx, opened, Commanded(name))


def back(ctx: DialogContext) -> list[Outgoing]:
    return _command(ctx, "back")


def skip(ctx: DialogContext) -> list[Outgoing]:
    return _command(ctx, "skip")


def review(ctx: DialogContext) -> list[Outgoing]:
    return _command(ctx, "review")


def pause(ctx: DialogContext) -> list[Outgoing]:
    return _command(ctx, "pause")


def cancel(ctx: DialogContext) -> list[Outgoing]:
    return _command(ctx, "cancel")


def again(ctx: DialogContext, *, not_taken: bool = False) -> list[Outgoing]:
    """/tiep: where the user stands, shown again from the stored state (after a reply was
    lost on the way): the current question, or outside an interview the main menu, after
    the interview they finished last, if that is the last thing they did. ``not_taken``:
    said first that what they typed was not stored."""
    opened = _load(ctx)
    if opened is not None:
        return _turn(ctx, opened, Commanded("again_not_taken" if not_taken else "again"))
    said = [Text(ctx.t("delivery.not_taken"))] if not_taken else []
    return [*said, *_last_finished(ctx), *menu.menu_for(ctx)]


def _last_finished(ctx: DialogContext) -> list[Outgoing]:
    assert ctx.user is not None
    row = ctx.uow.dialogs.get(ctx.user)
    interview_id = row.state.get(FINISHED) if row is not None else None
    if not isinstance(interview_id, int):
        return []
    interview = ctx.uow.interviews.get(interview_id)
    if interview is None or interview.status is not InterviewStatus.COMPLETED:
        return []
    title = _household(interview.household).title
    return [Text(ctx.t("interview.finished", household=title))]
