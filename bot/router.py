"""Sends each incoming message to the dialog that owns it."""

from __future__ import annotations

from collections.abc import Callable

from bot.commands import BY_NAME
from bot.context import DialogContext
from bot.dialogs import (
    exports,
    fallback,
    followup,
    households,
    interview,
    linking,
    meetings,
    menu,
    registration,
    reports,
    summary,
)
from bot.messages import Kind, Notice, Outgoing

CommandHandler = Callable[[DialogContext], list[Outgoing]]

COMMAND_HANDLERS: dict[str, CommandHandler] = {
    "start": registration.start,
    "help": menu.show_help,
    "menu": menu.show_menu,
    "whoami": menu.who_am_i,
    "interview": households.start,
    "summary": summary.summary,
    "export": exports.export,
    "report": exports.report,
    "baocao": reports.baocao,
    "doithoai": meetings.start,
    "meeting": meetings.start,
    "back": interview.back,
    "skip": interview.skip,
    "review": interview.review,
    "pause": interview.pause,
    "cancel": interview.cancel,
    "tiep": interview.again,
    "phutrach": followup.assign,
    "assign": followup.assign,
    "theodoi": followup.follow,
    "followup": followup.follow,
    "lienket": linking.command,
    "link": linking.command,
}

ChoiceHandler = Callable[[DialogContext, str], list[Outgoing] | None]

# The prefix of a button that runs a command ("cmd:interview"): the menus' buttons.
COMMAND_BUTTON = "cmd"

# Every kind of button, by the prefix of its data ("h:12"): the command whose roles may press
# it (the same table that builds /help and the menus) and the dialog that handles it. A button
# is authorised here, before any dialog sees its data; data with another prefix is stale.
BUTTONS: dict[str, tuple[str, ChoiceHandler]] = {
    households.PICK: ("interview", households.on_choice),
    households.PAGE: ("interview", households.on_choice),
    **{prefix: ("interview", interview.on_choice) for prefix in interview.button_namespaces()},
    summary.CALLBACK: ("summary", summary.on_choice),
    meetings.BUTTON: ("doithoai", meetings.on_choice),
    # "Đã mời", pressed by the collaborator who invites the household.
    meetings.INVITED: ("interview", meetings.on_invited),
    followup.ASSIGN: ("phutrach", followup.on_assign_choice),
    followup.RECORD: ("theodoi", followup.on_record_choice),
}

# Typed text goes to the dialog the person's stored state names: the interview (an answer)
# or the household list (a search). Both are the interview command's, and only its roles'
# text reaches them.
TEXT_COMMAND = "interview"
# Typed text of an organiser in the /doithoai dialog: a date, a place, a note.
MEETING_COMMAND = "doithoai"
TEXT_HANDLERS: dict[str, Callable[[DialogContext, str], list[Outgoing] | None]] = {
    interview.DIALOG: interview.on_text,
    households.DIALOG: households.on_text,
}


# Typed text of the follow-up dialogs (an officer's name and phone, a date, a note), by the
# dialog the stored state names, with the command whose roles may type it.
OWNED_TEXT_HANDLERS: dict[
    str, tuple[str, Callable[[DialogContext, str], list[Outgoing] | None]]
] = {
    followup.ASSIGN_DIALOG: ("phutrach", followup.on_assign_text),
    followup.RECORD_DIALOG: ("theodoi", followup.on_record_text),
}


def route(ctx: DialogContext) -> list[Outgoing]:
    incoming = ctx.incoming
    if (
        incoming.kind is Kind.COMMAND
        and incoming.command in linking.CODE_COMMANDS
        and (ctx.user is None or not ctx.user.active)
    ):
        # A code typed by an account not in use: an invite, or a link code making it an
        # account of someone registered (a deactivated person's account included).
        return linking.from_outside(ctx)
    if ctx.user is not None and not ctx.user.active:
        # Deactivated by commune staff: nothing they send is applied, an invite included.
        return fallback.deactivated(ctx)
    if incoming.kind is Kind.COMMAND and incoming.command == "start":
        return registration.start(ctx)
    if ctx.user is None:
        return registration.unknown_user(ctx)
    if incoming.kind is Kind.UNSUPPORTED:
        return fallback.unsupported(ctx)
    if incoming.kind is Kind.COMMAND:
        return _run_command(ctx, incoming.command or "")
    if incoming.kind is Kind.CHOICE:
        return _on_choice(ctx, incoming.choice or "")
    if len(incoming.text) > fallback.MAX_TEXT_LENGTH:
        return fallback.too_long(ctx)
    state = ctx.uow.dialogs.get(ctx.user)
    in_meeting = state is not None and state.dialog == meetings.DIALOG
    if in_meeting and ctx.user.role in BY_NAME[MEETING_COMMAND].roles:
        replies = meetings.on_text(ctx, incoming.text)
        if replies is not None:
            return replies
    state = ctx.uow.dialogs.get(ctx.user)
    owned = OWNED_TEXT_HANDLERS.get(state.dialog) if state is not None else None
    if owned is not None and ctx.user.role in BY_NAME[owned[0]].roles:
        if ctx.reply_lost:
            return followup.again(ctx)
        replies = owned[1](ctx, incoming.text)
        if replies is not None:
            return replies
    elif ctx.user.role in BY_NAME[TEXT_COMMAND].roles:
        if ctx.reply_lost:
            # What they typed may answer a question they never saw (the reply carrying it
            # was lost): it is not applied; where they stand is shown instead.
            return interview.again(ctx, not_taken=True)
        handler = TEXT_HANDLERS.get(state.dialog) if state is not None else None
        if handler is not None:
            replies = handler(ctx, incoming.text)
            if replies is not None:
                return replies
    return fallback.idle_text(ctx)


def _run_command(ctx: DialogContext, name: str) -> list[Outgoing]:
    assert ctx.user is not None
    spec = BY_NAME.get(name)
    handler = COMMAND_HANDLERS.get(name)
    if spec is None or handler is None:
        return fallback.unknown_command(ctx)
    if ctx.user.role not in spec.roles:
        return fallback.not_allowed(ctx)
    return handler(ctx)


def _on_choice(ctx: DialogContext, data: str) -> list[Outgoing]:
    assert ctx.user is not None
    namespace, _, payload = data.partition(":")
    if namespace == COMMAND_BUTTON:
        return _run_command(ctx, payload)
    owner = BUTTONS.get(namespace)
    if owner is None:
        return _spent(ctx, fallback.stale_button(ctx))
    command, handler = owner
    if ctx.user.role not in BY_NAME[command].roles:
        ctx.uow.audit.record("button.refused", actor=ctx.user, entity="button", entity_id=namespace)
        return fallback.button_not_allowed(ctx)
    replies = handler(ctx, data)
    return _spent(ctx, replies if replies is not None else fallback.stale_button(ctx))


def _spent(ctx: DialogContext, replies: list[Outgoing]) -> list[Outgoing]:
    """A button that only gets a toast (it was spent) pressed again because what came after
    it never arrived: where the person stands is shown with the toast."""
    if ctx.reply_lost and all(isinstance(reply, Notice) for reply in replies):
        return [*replies, *interview.again(ctx)]
    return replies
