"""Replies for everything no dialog expects, so the bot never goes silent."""

from __future__ import annotations

from bot.context import DialogContext
from bot.dialogs import menu
from bot.messages import Notice, Outgoing, Text

# Longer than any answer the questionnaire needs; a paste this long is a mistake.
MAX_TEXT_LENGTH = 1000


def unknown_command(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("fallback.unknown_command", command=ctx.incoming.command or ""))]


def not_allowed(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("fallback.not_allowed", command=ctx.incoming.command or ""))]


def button_not_allowed(ctx: DialogContext) -> list[Outgoing]:
    return [Notice(ctx.t("fallback.button_not_allowed"))]


def deactivated(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("fallback.deactivated"))]


def unsupported(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("fallback.unsupported"))]


def too_long(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("fallback.too_long", limit=MAX_TEXT_LENGTH))]


def stale_button(ctx: DialogContext) -> list[Outgoing]:
    return [Notice(ctx.t("fallback.stale_button"))]


async def idle_text(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("fallback.idle_text")), *await menu.main_menu(ctx)]
