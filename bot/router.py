"""Sends each incoming message to the dialog that owns it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.commands import BY_NAME
from bot.context import DialogContext
from bot.dialogs import exports, fallback, households, interview, menu, registration, summary
from bot.messages import Kind, Outgoing

CommandHandler = Callable[[DialogContext], Awaitable[list[Outgoing]]]

COMMAND_HANDLERS: dict[str, CommandHandler] = {
    "start": registration.start,
    "help": menu.show_help,
    "menu": menu.show_menu,
    "whoami": menu.who_am_i,
    "interview": households.start,
    "summary": summary.summary,
    "export": exports.export,
    "report": exports.report,
    "back": interview.back,
    "skip": interview.skip,
    "review": interview.review,
    "pause": interview.pause,
    "cancel": interview.cancel,
    "tiep": interview.again,
}

# Text and buttons go to the first dialog that claims them.
TEXT_HANDLERS = (interview.on_text, households.on_text)
CHOICE_HANDLERS = (interview.on_choice, households.on_choice, summary.on_choice)


async def route(ctx: DialogContext) -> list[Outgoing]:
    incoming = ctx.incoming
    if incoming.kind is Kind.COMMAND and incoming.command == "start":
        return await registration.start(ctx)
    if ctx.user is None:
        return registration.unknown_user(ctx)
    if incoming.kind is Kind.UNSUPPORTED:
        return fallback.unsupported(ctx)
    if incoming.kind is Kind.COMMAND:
        return await _run_command(ctx, incoming.command or "")
    if incoming.kind is Kind.CHOICE:
        return await _on_choice(ctx, incoming.choice or "")
    if len(incoming.text) > fallback.MAX_TEXT_LENGTH:
        return fallback.too_long(ctx)
    for handler in TEXT_HANDLERS:
        replies = await handler(ctx, incoming.text)
        if replies is not None:
            return replies
    return await fallback.idle_text(ctx)


async def _run_command(ctx: DialogContext, name: str) -> list[Outgoing]:
    assert ctx.user is not None
    spec = BY_NAME.get(name)
    handler = COMMAND_HANDLERS.get(name)
    if spec is None or handler is None:
        return fallback.unknown_command(ctx)
    if ctx.user.role not in spec.roles:
        return fallback.not_allowed(ctx)
    return await handler(ctx)


async def _on_choice(ctx: DialogContext, data: str) -> list[Outgoing]:
    namespace, _, payload = data.partition(":")
    if namespace == "cmd":
        return await _run_command(ctx, payload)
    for handler in CHOICE_HANDLERS:
        replies = await handler(ctx, data)
        if replies is not None:
            return replies
    return fallback.stale_button(ctx)
