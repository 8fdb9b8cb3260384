"""Replies for everything no dialog expects: the shell of :mod:`bot.decisions.fallback`,
whose replies depend on the language and what was sent only."""

from __future__ import annotations

from bot.context import DialogContext
from bot.decisions import fallback as core
from bot.decisions.fallback import MAX_TEXT_LENGTH
from bot.dialogs import menu
from bot.messages import Outgoing

__all__ = ["MAX_TEXT_LENGTH"]


def unknown_command(ctx: DialogContext) -> list[Outgoing]:
    return core.unknown_command(ctx.locale, ctx.incoming.command or "")


def not_allowed(ctx: DialogContext) -> list[Outgoing]:
    return core.not_allowed(ctx.locale, ctx.incoming.command or "")


def button_not_allowed(ctx: DialogContext) -> list[Outgoing]:
    return core.button_not_allowed(ctx.locale)


def deactivated(ctx: DialogContext) -> list[Outgoing]:
    return core.deactivated(ctx.locale)


def unsupported(ctx: DialogContext) -> list[Outgoing]:
    return core.unsupported(ctx.locale)


def too_long(ctx: DialogContext) -> list[Outgoing]:
    return core.too_long(ctx.locale)


def stale_button(ctx: DialogContext) -> list[Outgoing]:
    return core.stale_button(ctx.locale)


def idle_text(ctx: DialogContext) -> list[Outgoing]:
    return core.idle_text(ctx.locale, menu.menu_for(ctx))
