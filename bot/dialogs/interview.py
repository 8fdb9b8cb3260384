"""Interviewing one household: roster check, questions, /back, /skip, /review, /pause, /cancel.

The dialog keeps only a cursor in the database (which interview, which mode, a question
being revisited); everything else is derived from the stored answers by the engine, so a
restart resumes exactly where the collaborator stopped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from bot.context import DialogContext
from bot.dialogs import menu
from bot.dialogs.scope import may_interview
from bot.interview import render
from bot.interview.outcome import on_answer_recorded, on_interview_finished
from bot.interview.session import InterviewSession, roster_answers, start_interview
from bot.messages import Choice, Choices, Notice, Outgoing, Text
from forms import Done, FieldType, Invalid, Question, parse_answer
from forms import validate as engine_validate
from forms.codec import encode, key_path, path_key
from forms.parsing import ascii_int
from storage.models import Household, Interview, InterviewStatus

DIALOG = "interview"
ROSTER = "r"
CANCEL = "x"
REVIEW = "v"

# Text typed after this long a silence is not taken as an answer: the collaborator is
# first reminded where the interview stands.
RESUME_AFTER_SECONDS = 3600

# Modes of the dialog cursor.
ASK = "ask"
ROSTER_CHECK = "roster"
ADD_MEMBER = "add_member"
REVIEWING = "review"
CONFIRM_CANCEL = "confirm_cancel"
# In the idle state after an interview: which one was finished last.
FINISHED = "finished"


def reference_day(ctx: DialogContext, interview: Interview) -> date:
    """The day ages are counted at (the form's today()): the review year's reference date,
    so the chat computes the ages the imports, the results and the exports show."""
    moment = interview.completed_at or ctx.now
    return ctx.settings.review_dates.reference(interview.household.review_year, moment)


async def _session(ctx: DialogContext) -> tuple[InterviewSession, dict[str, Any]] | None:
    assert ctx.user is not None
    state_row = await ctx.uow.dialogs.get(ctx.user)
    if state_row is None or state_row.dialog != DIALOG:
        return None
    state = dict(state_row.state)
    # Locked: this turn may record an answer, which moves the step.
    interview = await ctx.uow.interviews.get_for_update(int(state["interview_id"]))
    if interview is None or interview.status is InterviewStatus.CANCELLED:
        await ctx.uow.dialogs.clear(ctx.user)
        return None
    # An answer moves the interview's updated_at rather than the dialog's (whose row is
    # not rewritten when only the time would change): the later of the two is when the
    # collaborator was last active.
    last_active = max(state_row.updated_at, interview.updated_at)
    state["_idle"] = (ctx.now - last_active).total_seconds()
    return await InterviewSession.load(ctx.uow, interview, reference_day(ctx, interview)), state


async def _save_state(ctx: DialogContext, state: dict[str, Any], *, touch: bool = True) -> None:
    """Store the cursor and mark the user active. ``touch=False`` when this turn recorded
    an answer, which marks them active already (see _session)."""
    assert ctx.user is not None
    saved = {key: value for key, value in state.items() if not key.startswith("_")}
    if touch:
        saved["touched"] = ctx.now.isoformat()
    else:
        current = await ctx.uow.dialogs.get(ctx.user)
        if current is not None and current.dialog == DIALOG and current.state == saved:
            # Spares an UPDATE per answer that would only move the timestamp.
            return
    await ctx.uow.dialogs.set(ctx.user, DIALOG, saved)


def _household_title(household: Household) -> str:
    return f"{household.code} · {household.head_name}"


# -- starting --------------------------------------------------------------------------


async def open_household(ctx: DialogContext, household: Household) -> list[Outgoing]:
    """Start, resume or review the interview of a household the user may interview."""
    assert ctx.user is not None
    current = await ctx.uow.interviews.open_for_household(household.id)
    title = _household_title(household)
    if current is not None:
        if current.collaborator_id not in (None, ctx.user.id):
            other = await ctx.uow.users.get(current.collaborator_id)
            name = other.display_name if other else "?"
            return [Text(ctx.t("interview.taken", household=title, name=name))]
        session = await InterviewSession.load(ctx.uow, current, reference_day(ctx, current))
        if not session.answered():
            # Left (or lost on the way) before the roster was confirmed: check it first,
            # rather than asking one by one what the roster confirms in one tap.
            await _save_state(ctx, {"interview_id": current.id, "mode": ROSTER_CHECK})
            household_full = await ctx.uow.households.with_members(household.id)
            assert household_full is not None
            return _roster(ctx, current.id, current.prefill or {}, household_full)
        state = {"interview_id": current.id, "mode": ASK}
        await _save_state(ctx, state)
        return [_resumed(ctx, session), *await _ask(ctx, session, state)]
    latest = await ctx.uow.interviews.latest_for_household(household.id)
    if latest is not None and latest.status is InterviewStatus.COMPLETED:
        buttons = (
            Choice(ctx.t("interview.review_button"), f"{REVIEW}:{latest.id}"),
            Choice(ctx.t("interview.back_to_list"), "cmd:interview"),
        )
        return [Choices(ctx.t("interview.already_done", household=title), buttons)]
    household_full = await ctx.uow.households.with_members(household.id)
    assert household_full is not None
    interview = await start_interview(ctx.uow, household_full, ctx.user, ctx.now)
    ctx.uow.audit.record(
        "interview.started", actor=ctx.user, entity="interview", entity_id=interview.id
    )
    state = {"interview_id": interview.id, "mode": ROSTER_CHECK}
    await _save_state(ctx, state)
    return _roster(ctx, interview.id, interview.prefill, household_full)


def _resumed(ctx: DialogContext, session: InterviewSession) -> Text:
    answered = len(session.answered())
    title = _household_title(session.household)
    return Text(ctx.t("interview.resumed", household=title, count=answered))


def _roster(
    ctx: DialogContext, interview_id: int, prefill: dict[str, Any], household: Household
) -> list[Outgoing]:
    members = prefill.get("members") or []
    lines = [
        ctx.t(
            "interview.roster_title",
            household=_household_title(household),
            category=ctx.t(f"category.{household.category.value}"),
            count=len(members),
        )
    ]
    for number, member in enumerate(members, start=1):
        birth = member.get("birth_date") or member.get("birth_year") or "?"
        if isinstance(birth, str) and len(birth) == 10:
            birth = f"{birth[8:10]}/{birth[5:7]}/{birth[0:4]}"
        relation = ctx.t(f"relation.{member['relation']}") if member.get("relation") else ""
        sex = ctx.t(f"sex.{member['sex']}") if member.get("sex") else ""
        details = ", ".join(str(part) for part in (sex, birth, relation) if part)
        lines.append(f"{number}. {member.get('name', '?')} ({details})")
    lines.append(ctx.t("interview.roster_question"))
    buttons = (
        Choice(ctx.t("interview.roster_ok"), f"{ROSTER}:{interview_id}:ok"),
        Choice(ctx.t("interview.roster_add"), f"{ROSTER}:{interview_id}:add"),
        Choice(ctx.t("interview.roster_remove"), f"{ROSTER}:{interview_id}:del"),
    )
    return [Choices("\n".join(lines), buttons)]


# -- asking ----------------------------------------------------------------------------


def _cursor(state: dict[str, Any]) -> Any:
    return key_path(state["at"]) if state.get("at") else None


async def _ask(
    ctx: DialogContext,
    session: InterviewSession,
    state: dict[str, Any],
    *,
    error: str = "",
    again: bool = False,
) -> list[Outgoing]:
    """The current question; ``again`` (or an error) when it was just shown, so its
    section notes are not repeated."""
    step = session.step(_cursor(state))
    if isinstance(step, Done):
        return await _finish(ctx, session, state)
    return render.render_question(
        step,
        interview_id=session.interview.id,
        step=session.interview.step,
        locale=ctx.locale,
        selected=state.get("selected", []),
        header=_progress(ctx, session, step),
        error=error,
        notes=not (error or again),
    )


def _progress(ctx: DialogContext, session: InterviewSession, question: Question) -> str:
    if question.path and question.path[0] == "members" and len(question.path) > 2:
        index = int(question.path[1])
        total = max(session.member_count(), index + 1)
        count = session.answers.get("member_count")
        if isinstance(count, int):
            total = max(total, count)
        return ctx.t("interview.member_progress", number=index + 1, total=total)
    return ""


async def _accept(
    ctx: DialogContext,
    session: InterviewSession,
    state: dict[str, Any],
    question: Question,
    value: Any,
) -> list[Outgoing]:
    problem = engine_validate(
        session.form, session.answers, question.path, value, today=session.today
    )
    if problem is not None:
        return await _ask(ctx, session, state, error="❌ " + problem.text(ctx.locale))
    previous = await session.record(question.path, value, ctx.user, ctx.now)
    if previous is not None or session.interview.status is InterviewStatus.COMPLETED:
        ctx.uow.audit.record(
            "answer.changed",
            actor=ctx.user,
            entity="interview",
            entity_id=session.interview.id,
            household=session.household.code,
            path=path_key(question.path),
            old=previous,
            new=encode(value),
        )
    returning_to_review = state.get("return_to") == REVIEWING
    state.pop("at", None)
    state.pop("selected", None)
    state.pop("return_to", None)
    out = await on_answer_recorded(ctx, session, question.path)
    if returning_to_review:
        state["mode"] = REVIEWING
        await _save_state(ctx, state, touch=False)
        return [Text(ctx.t("interview.changed")), *out, *_review_list(ctx, session)]
    state["mode"] = ASK
    await _save_state(ctx, state, touch=False)
    return [*out, *await _ask(ctx, session, state)]


async def _finish(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any]
) -> list[Outgoing]:
    assert ctx.user is not None
    interview = session.interview
    if interview.status is not InterviewStatus.COMPLETED:
        interview.status = InterviewStatus.COMPLETED
        interview.completed_at = ctx.now
        ctx.uow.audit.record(
            "interview.completed", actor=ctx.user, entity="interview", entity_id=interview.id
        )
    await ctx.uow.dialogs.clear(ctx.user, {FINISHED: interview.id})
    done = ctx.t("interview.finished", household=_household_title(session.household))
    summary = await on_interview_finished(ctx, session)
    return [Text(done), *summary, *await menu.main_menu(ctx)]


# -- incoming --------------------------------------------------------------------------


async def on_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    """Handle typed text if an interview is open for this user; None otherwise."""
    loaded = await _session(ctx)
    if loaded is None:
        return None
    session, state = loaded
    mode = state.get("mode", ASK)
    if mode == ADD_MEMBER:
        return await _add_member(ctx, session, state, text)
    if mode == REVIEWING:
        return await _pick_from_review(ctx, session, state, text)
    if mode in (ROSTER_CHECK, CONFIRM_CANCEL):
        return [Text(ctx.t("interview.use_buttons"))]
    if state["_idle"] > RESUME_AFTER_SECONDS:
        # Back after hours or days: whatever was typed, first show where we are.
        await _save_state(ctx, state)
        return [_resumed(ctx, session), *await _ask(ctx, session, state)]
    step = session.step(_cursor(state))
    if isinstance(step, Done):
        return await _finish(ctx, session, state)
    parsed = parse_answer(step, text)
    if isinstance(parsed, Invalid):
        return await _ask(ctx, session, state, error="❌ " + parsed.text(ctx.locale))
    return await _accept(ctx, session, state, step, parsed.value)


def button_namespaces() -> frozenset[str]:
    """The button data prefixes this dialog handles (see bot.router.BUTTONS)."""
    return frozenset(_CHOICE_HANDLERS)


async def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    """Handle a button of this dialog; None when ``data`` isn't one of ours."""
    verb, _, rest = data.partition(":")
    handler = _CHOICE_HANDLERS.get(verb)
    if handler is None:
        return None
    parts = rest.split(":")
    interview_id = ascii_int(parts[0])
    if interview_id is None:
        return [Notice(ctx.t("interview.stale"))]
    loaded = await _session(ctx)
    if loaded is None or loaded[0].interview.id != interview_id:
        if verb == REVIEW:
            return await _open_review(ctx, interview_id)
        # A button of another (or a finished) interview, or forged data.
        return [Notice(ctx.t("interview.stale"))]
    return await handler(ctx, loaded[0], loaded[1], parts[1:])


async def _on_answer_button(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], args: list[str]
) -> list[Outgoing]:
    verb = args[0]
    step_text = args[1] if len(args) > 1 else ""
    if state.get("mode", ASK) != ASK or step_text != str(session.interview.step):
        return [Notice(ctx.t("interview.stale"))]
    question = session.step(_cursor(state))
    if isinstance(question, Done):
        return await _finish(ctx, session, state)
    index = ascii_int(args[2]) if len(args) > 2 else None
    if verb == render.ANSWER:
        if question.type is FieldType.ACKNOWLEDGE:
            return await _accept(ctx, session, state, question, "OK")
        if index is None or index >= len(question.choices):
            return [Notice(ctx.t("interview.stale"))]
        return await _accept(ctx, session, state, question, question.choices[index].name)
    if verb == render.TOGGLE:
        if index is None or index >= len(question.choices):
            return [Notice(ctx.t("interview.stale"))]
        code = question.choices[index].name
        selected = list(state.get("selected", []))
        selected = [c for c in selected if c != code] if code in selected else [*selected, code]
        state["selected"] = selected
        await _save_state(ctx, state)
        [*_, keyboard] = render.render_question(
            question,
            interview_id=session.interview.id,
            step=session.interview.step,
            locale=ctx.locale,
            selected=selected,
            header=_progress(ctx, session, question),
        )
        assert isinstance(keyboard, Choices)
        return [Choices(keyboard.text, keyboard.choices, keyboard.columns, edit=True)]
    if verb == render.DONE:
        order = [choice.name for choice in question.choices]
        chosen = [code for code in order if code in state.get("selected", [])]
        return await _accept(ctx, session, state, question, chosen)
    if verb == render.KEEP:
        value = question.value if question.value is not None else question.default
        if value is None:
            return [Notice(ctx.t("interview.stale"))]
        return await _accept(ctx, session, state, question, value)
    if verb == render.SKIP:
        return await _skip(ctx, session, state, question)
    return [Notice(ctx.t("interview.stale"))]


def _answer_handler(verb: str) -> Callable[..., Awaitable[list[Outgoing]]]:
    async def handler(
        ctx: DialogContext, session: InterviewSession, state: dict[str, Any], args: list[str]
    ) -> list[Outgoing]:
        return await _on_answer_button(ctx, session, state, [verb, *args])

    return handler


async def _skip(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], question: Question
) -> list[Outgoing]:
    if question.required:
        return await _ask(ctx, session, state, error=ctx.t("interview.cannot_skip"))
    return await _accept(ctx, session, state, question, None)


# -- roster ----------------------------------------------------------------------------


async def _on_roster(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], args: list[str]
) -> list[Outgoing]:
    if state.get("mode") not in (ROSTER_CHECK, ADD_MEMBER):
        return [Notice(ctx.t("interview.stale"))]
    action = args[0] if args else ""
    prefill = dict(session.interview.prefill or {})
    household = await ctx.uow.households.with_members(session.household.id)
    assert household is not None
    if action == "ok":
        # The roster's values are the form's own answers from now on: stored (by whom and
        # when, like any answer) and changeable through /review, never asked again.
        confirmed = roster_answers(session.form, prefill)
        if confirmed:
            await session.record_all(confirmed, ctx.user, ctx.now)
        ctx.uow.audit.record(
            "roster.confirmed",
            actor=ctx.user,
            entity="interview",
            entity_id=session.interview.id,
            answers=len(confirmed),
        )
        state["mode"] = ASK
        await _save_state(ctx, state, touch=not confirmed)
        return await _ask(ctx, session, state)
    if action == "add":
        state["mode"] = ADD_MEMBER
        await _save_state(ctx, state)
        return [Text(ctx.t("interview.add_member_name"))]
    if action == "del":
        members = prefill.get("members") or []
        buttons = tuple(
            Choice(f"{n}. {m.get('name', '?')}", f"{ROSTER}:{session.interview.id}:rm:{n - 1}")
            for n, m in enumerate(members, start=1)
        )
        return [Choices(ctx.t("interview.remove_which"), buttons)]
    index = ascii_int(args[1]) if action == "rm" and len(args) > 1 else None
    if index is not None:
        members = list(prefill.get("members") or [])
        if index < len(members):
            removed = members.pop(index)
            prefill["members"], prefill["member_count"] = members, len(members)
            session.interview.prefill = prefill
            ctx.uow.audit.record(
                "roster.member_removed",
                actor=ctx.user,
                entity="interview",
                entity_id=session.interview.id,
                name=removed.get("name"),
            )
        return _roster(ctx, session.interview.id, prefill, household)
    return [Notice(ctx.t("interview.stale"))]


async def _add_member(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], text: str
) -> list[Outgoing]:
    name = " ".join(text.split())
    if not name or len(name) > 100 or name.startswith("/"):
        return [Text(ctx.t("interview.add_member_name"))]
    prefill = dict(session.interview.prefill or {})
    members = [*(prefill.get("members") or []), {"name": name}]
    prefill["members"], prefill["member_count"] = members, len(members)
    session.interview.prefill = prefill
    ctx.uow.audit.record(
        "roster.member_added",
        actor=ctx.user,
        entity="interview",
        entity_id=session.interview.id,
        name=name,
    )
    state["mode"] = ROSTER_CHECK
    await _save_state(ctx, state)
    household = await ctx.uow.households.with_members(session.household.id)
    assert household is not None
    return _roster(ctx, session.interview.id, prefill, household)


# -- commands --------------------------------------------------------------------------


async def _require_session(
    ctx: DialogContext,
) -> tuple[InterviewSession, dict[str, Any]] | list[Outgoing]:
    loaded = await _session(ctx)
    if loaded is None:
        return [Text(ctx.t("interview.none_open"))]
    return loaded


async def back(ctx: DialogContext) -> list[Outgoing]:
    loaded = await _require_session(ctx)
    if isinstance(loaded, list):
        return loaded
    session, state = loaded
    current = session.step(_cursor(state))
    current_path = None if isinstance(current, Done) else current.path
    previous = session.previous(current_path)
    if previous is None:
        return [Text(ctx.t("interview.at_first")), *await _ask(ctx, session, state, again=True)]
    state.update(mode=ASK, at=path_key(previous))
    state.pop("selected", None)
    await _save_state(ctx, state)
    return await _ask(ctx, session, state)


async def skip(ctx: DialogContext) -> list[Outgoing]:
    loaded = await _require_session(ctx)
    if isinstance(loaded, list):
        return loaded
    session, state = loaded
    question = session.step(_cursor(state))
    if isinstance(question, Done):
        return await _finish(ctx, session, state)
    return await _skip(ctx, session, state, question)


async def review(ctx: DialogContext) -> list[Outgoing]:
    loaded = await _require_session(ctx)
    if isinstance(loaded, list):
        return loaded
    session, state = loaded
    state.update(mode=REVIEWING)
    state.pop("at", None)
    await _save_state(ctx, state)
    return _review_list(ctx, session)


def _review_list(ctx: DialogContext, session: InterviewSession) -> list[Outgoing]:
    paths = session.answered()
    lines = [ctx.t("interview.review_title", household=_household_title(session.household))]
    for number, path in enumerate(paths, start=1):
        question = session.step(path)
        if isinstance(question, Done):
            continue
        label = question.label.get(ctx.locale)
        shown = render.format_value(question, question.value, ctx.locale)
        lines.append(f"{number}. {label} → {shown}")
    lines.append(ctx.t("interview.review_help"))
    # Plain text, no buttons: the numbers typed here pick questions, on every platform.
    return [Text("\n".join(lines))]


async def _pick_from_review(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], text: str
) -> list[Outgoing]:
    paths = session.answered()
    choice = text.strip()
    if choice == "0":
        state["mode"] = ASK
        state.pop("at", None)
        state.pop("return_to", None)
        await _save_state(ctx, state)
        return await _ask(ctx, session, state, again=True)
    picked = ascii_int(choice)
    if picked is None or not 1 <= picked <= len(paths):
        return [Text(ctx.t("interview.review_pick", count=len(paths)))]
    state.update(mode=ASK, at=path_key(paths[picked - 1]), return_to=REVIEWING)
    await _save_state(ctx, state)
    return await _ask(ctx, session, state)


async def _open_review(ctx: DialogContext, interview_id: int) -> list[Outgoing]:
    """Review a completed interview chosen from the household list (edits are audited)."""
    assert ctx.user is not None
    interview = await ctx.uow.interviews.get(interview_id)
    if interview is None or interview.status is not InterviewStatus.COMPLETED:
        return [Notice(ctx.t("interview.stale"))]
    if not await may_interview(ctx, interview.household):
        return [Text(ctx.t("scope.refused"))]
    state = {"interview_id": interview.id, "mode": REVIEWING}
    await _save_state(ctx, state)
    session = await InterviewSession.load(ctx.uow, interview, reference_day(ctx, interview))
    return _review_list(ctx, session)


async def again(ctx: DialogContext, *, not_taken: bool = False) -> list[Outgoing]:
    """/tiep: where the user stands, shown again from the stored state (after a reply was
    lost on the way): the current question, or outside an interview the main menu, after
    the interview they finished last, if that is the last thing they did. ``not_taken``:
    said first that what they typed was not stored."""
    loaded = await _session(ctx)
    if loaded is None:
        said = [Text(ctx.t("delivery.not_taken"))] if not_taken else []
        return [*said, *await _last_finished(ctx), *await menu.main_menu(ctx)]
    if not_taken:
        return [Text(ctx.t("delivery.shown_again")), *await again(ctx)]
    session, state = loaded
    mode = state.get("mode", ASK)
    if mode == REVIEWING:
        return _review_list(ctx, session)
    if mode == ADD_MEMBER:
        return [Text(ctx.t("interview.add_member_name"))]
    if mode == CONFIRM_CANCEL:
        return await cancel(ctx)
    if mode == ROSTER_CHECK:
        household = await ctx.uow.households.with_members(session.household.id)
        assert household is not None
        return _roster(ctx, session.interview.id, session.interview.prefill or {}, household)
    await _save_state(ctx, state)
    return [_resumed(ctx, session), *await _ask(ctx, session, state)]


async def _last_finished(ctx: DialogContext) -> list[Outgoing]:
    assert ctx.user is not None
    row = await ctx.uow.dialogs.get(ctx.user)
    interview_id = row.state.get(FINISHED) if row is not None else None
    if not isinstance(interview_id, int):
        return []
    interview = await ctx.uow.interviews.get(interview_id)
    if interview is None or interview.status is not InterviewStatus.COMPLETED:
        return []
    title = _household_title(interview.household)
    return [Text(ctx.t("interview.finished", household=title))]


async def pause(ctx: DialogContext) -> list[Outgoing]:
    assert ctx.user is not None
    loaded = await _require_session(ctx)
    if isinstance(loaded, list):
        return loaded
    session, _state = loaded
    await ctx.uow.dialogs.clear(ctx.user)
    title = _household_title(session.household)
    return [Text(ctx.t("interview.paused", household=title)), *await menu.main_menu(ctx)]


async def cancel(ctx: DialogContext) -> list[Outgoing]:
    loaded = await _require_session(ctx)
    if isinstance(loaded, list):
        return loaded
    session, state = loaded
    if session.interview.status is InterviewStatus.COMPLETED:
        return [Text(ctx.t("interview.cannot_cancel_completed"))]
    state["mode"] = CONFIRM_CANCEL
    await _save_state(ctx, state)
    iid = session.interview.id
    buttons = (
        Choice(ctx.t("interview.cancel_yes"), f"{CANCEL}:{iid}:yes"),
        Choice(ctx.t("interview.cancel_no"), f"{CANCEL}:{iid}:no"),
    )
    title = _household_title(session.household)
    return [Choices(ctx.t("interview.cancel_confirm", household=title), buttons)]


async def _on_cancel(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], args: list[str]
) -> list[Outgoing]:
    assert ctx.user is not None
    if state.get("mode") != CONFIRM_CANCEL:
        return [Notice(ctx.t("interview.stale"))]
    if args and args[0] == "yes":
        session.interview.status = InterviewStatus.CANCELLED
        session.interview.updated_at = ctx.now
        ctx.uow.audit.record(
            "interview.cancelled",
            actor=ctx.user,
            entity="interview",
            entity_id=session.interview.id,
        )
        await ctx.uow.dialogs.clear(ctx.user)
        title = _household_title(session.household)
        return [Text(ctx.t("interview.cancelled", household=title)), *await menu.main_menu(ctx)]
    state["mode"] = ASK
    await _save_state(ctx, state)
    return [Text(ctx.t("interview.cancel_aborted")), *await _ask(ctx, session, state, again=True)]


async def _on_review_button(
    ctx: DialogContext, session: InterviewSession, state: dict[str, Any], args: list[str]
) -> list[Outgoing]:
    state.update(mode=REVIEWING)
    state.pop("at", None)
    await _save_state(ctx, state)
    return _review_list(ctx, session)


_CHOICE_HANDLERS: dict[str, Callable[..., Awaitable[list[Outgoing]]]] = {
    render.ANSWER: _answer_handler(render.ANSWER),
    render.TOGGLE: _answer_handler(render.TOGGLE),
    render.DONE: _answer_handler(render.DONE),
    render.KEEP: _answer_handler(render.KEEP),
    render.SKIP: _answer_handler(render.SKIP),
    ROSTER: _on_roster,
    CANCEL: _on_cancel,
    REVIEW: _on_review_button,
}
