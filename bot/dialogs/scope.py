"""Which households a user may interview: those in the areas they are assigned, and below."""

from __future__ import annotations

from bot.context import DialogContext
from storage.models import Household


def scope_ids(ctx: DialogContext) -> set[int]:
    assert ctx.user is not None
    return ctx.uow.areas.subtree_ids(area.id for area in ctx.user.areas)


def may_interview(ctx: DialogContext, household: Household) -> bool:
    return household.area_id in scope_ids(ctx)
