"""Choosing a household to interview: a page of the collaborator's households, or a search."""

from __future__ import annotations

from bot.context import DialogContext
from bot.dialogs import interview
from bot.dialogs.scope import may_interview, scope_ids
from bot.messages import Choice, Choices, Notice, Outgoing, Text
from forms.parsing import ascii_int
from storage.models import InterviewStatus, Role

DIALOG = "households"
PICK = "h"
PAGE = "hp"
PAGE_SIZE = 8
MARKS = {InterviewStatus.COMPLETED: " ✅", InterviewStatus.IN_PROGRESS: " ⏳"}
INTERVIEWER_ROLES = frozenset({Role.COLLABORATOR, Role.ADMIN})


def review_year(ctx: DialogContext) -> int:
    return ctx.now.astimezone(ctx.settings.tz).year


async def start(ctx: DialogContext) -> list[Outgoing]:
    """/interview: the first page of households, with open interviews first to resume."""
    assert ctx.user is not None
    await ctx.uow.dialogs.set(ctx.user, DIALOG, {"query": "", "offset": 0})
    return await _page(ctx, query="", offset=0)


async def _page(ctx: DialogContext, *, query: str, offset: int) -> list[Outgoing]:
    households, total = await ctx.uow.households.in_areas(
        await scope_ids(ctx), review_year(ctx), query=query, offset=offset, limit=PAGE_SIZE
    )
    if total == 0:
        key = "households.none_found" if query else "households.none"
        return [Text(ctx.t(key, query=query))]
    statuses = await ctx.uow.interviews.statuses(h.id for h in households)
    buttons = [
        Choice(f"{h.code} · {h.head_name}{_mark(statuses, h.id)}", f"{PICK}:{h.id}")
        for h in households
    ]
    if offset > 0:
        buttons.append(Choice("◀", f"{PAGE}:{max(0, offset - PAGE_SIZE)}"))
    if offset + PAGE_SIZE < total:
        buttons.append(Choice("▶", f"{PAGE}:{offset + PAGE_SIZE}"))
    title_key = "households.search_title" if query else "households.title"
    title = ctx.t(
        title_key,
        query=query,
        first=offset + 1,
        last=min(offset + PAGE_SIZE, total),
        total=total,
    )
    return [Choices(f"{title}\n{ctx.t('households.help')}", tuple(buttons))]


def _mark(statuses: dict[int, InterviewStatus], household_id: int) -> str:
    status = statuses.get(household_id)
    return MARKS.get(status, "") if status is not None else ""


async def on_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    """Typed text while the list is open is a search by code or head's name."""
    assert ctx.user is not None
    state = await ctx.uow.dialogs.get(ctx.user)
    if state is None or state.dialog != DIALOG:
        return None
    query = " ".join(text.split())[:50]
    await ctx.uow.dialogs.set(ctx.user, DIALOG, {"query": query, "offset": 0})
    return await _page(ctx, query=query, offset=0)


async def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    assert ctx.user is not None
    verb, _, arg = data.partition(":")
    if verb not in (PICK, PAGE):
        return None
    number = ascii_int(arg)
    if number is None:
        return [Notice(ctx.t("interview.stale"))]
    if verb == PAGE:
        state = await ctx.uow.dialogs.get(ctx.user)
        query = str(state.state.get("query", "")) if state and state.dialog == DIALOG else ""
        await ctx.uow.dialogs.set(ctx.user, DIALOG, {"query": query, "offset": number})
        return await _page(ctx, query=query, offset=number)
    household = await ctx.uow.households.get(number)
    if household is None or not await may_interview(ctx, household):
        ctx.uow.audit.record("scope.refused", actor=ctx.user, entity="household", entity_id=arg)
        return [Text(ctx.t("scope.refused"))]
    return await interview.open_household(ctx, household)
