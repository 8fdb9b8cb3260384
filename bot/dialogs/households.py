"""Choosing a household to interview: a page of the collaborator's households, or a search.

The shell of :mod:`bot.decisions.households`: a turn asks the core what to do, stores the
list's new state and reads the page it names (the households, then their statuses), and
has the core render what was read; a pick opens the interview dialog.
"""

from __future__ import annotations

from bot.context import DialogContext
from bot.decisions import households as core
from bot.decisions.households import DIALOG, PAGE, PAGE_SIZE, PICK, ListState
from bot.dialogs import interview
from bot.dialogs.scope import may_interview, scope_ids
from bot.messages import Outgoing

__all__ = ["DIALOG", "PAGE", "PAGE_SIZE", "PICK"]


def review_year(ctx: DialogContext) -> int:
    return ctx.now.astimezone(ctx.settings.tz).year


def _stored(ctx: DialogContext) -> ListState | None:
    """The list's stored state; None when another dialog (or none) is open."""
    assert ctx.user is not None
    row = ctx.uow.dialogs.get(ctx.user)
    if row is None or row.dialog != DIALOG:
        return None
    return ListState.from_json(row.state)


def _turn(ctx: DialogContext, state: ListState, event: core.Event) -> list[Outgoing]:
    assert ctx.user is not None
    decision = core.decide(state, event, ctx.locale)
    match decision:
        case core.Reply(replies):
            return list(replies)
        case core.ShowPage(state):
            page = _read(ctx, state)
            if (last := core.past_end(page)) is not None:
                page = _read(ctx, last)
            ctx.uow.dialogs.set(ctx.user, DIALOG, page.state.to_json())
            return core.render(page, ctx.locale)
        case core.OpenHousehold(household_id, given):
            household = ctx.uow.households.get(household_id)
            if household is None or not may_interview(ctx, household):
                ctx.uow.audit.record(
                    "scope.refused", actor=ctx.user, entity="household", entity_id=given
                )
                return core.refused(ctx.locale)
            return interview.open_household(ctx, household)
    raise AssertionError(decision)


def _read(ctx: DialogContext, state: ListState) -> core.Page:
    households, total = ctx.uow.households.in_areas(
        scope_ids(ctx),
        review_year(ctx),
        query=state.query,
        offset=state.offset,
        limit=PAGE_SIZE,
    )
    statuses = ctx.uow.interviews.statuses(h.id for h in households) if households else {}
    rows = [
        core.Row(
            h.id, h.code, h.head_name, status.value if (status := statuses.get(h.id)) else None
        )
        for h in households
    ]
    return core.Page(state, rows, total)


def start(ctx: DialogContext) -> list[Outgoing]:
    """/interview: the first page of households."""
    return _turn(ctx, ListState(), core.Opened())


def on_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    """Typed text while the list is open is a search by code or head's name."""
    state = _stored(ctx)
    if state is None:
        return None
    return _turn(ctx, state, core.Typed(text))


def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    verb, _, arg = data.partition(":")
    if verb not in (PICK, PAGE):
        return None
    # A page button of a list left since (for an interview) shows a fresh list's page.
    state = _stored(ctx) or ListState()
    return _turn(ctx, state, core.Pressed(verb, arg))
