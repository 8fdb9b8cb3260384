"""Registration: `/start CODE` (or a t.me deep link) binds a chat user to an invite.

The shell of :mod:`bot.decisions.registration`: it loads what each step needs (the chat's
recent wrong codes, the invite the code names), claims the invite with a conditional
UPDATE when the core says so and tells it whether the claim won, then writes the effects.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.commands import commands_for
from bot.context import DialogContext
from bot.decisions import menu as menus
from bot.decisions import registration as core
from bot.decisions.registration import WRONG_CODES_ALLOWED, WRONG_CODES_WINDOW, normalise_code
from bot.messages import Outgoing
from bot.server_key import server_key
from storage.models import Area, Invite, Role, User
from storage.uow import Work

__all__ = ["WRONG_CODES_ALLOWED", "WRONG_CODES_WINDOW", "normalise_code"]

# No 0/O, 1/I/L: codes are read aloud over the phone and copied from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8

log = logging.getLogger(__name__)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def create_invite(
    uow: Work, key: bytes, role: Role, area: Area, now: datetime, days: int
) -> tuple[str, Invite]:
    code = new_code()
    invite = uow.invites.add(code, key, role, area, expires_at=now + timedelta(days=days))
    return code, invite


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def menu_env(locale: str) -> core.Env:
    """What registration's decisions (and linking's) are given: the language, and the
    role's main menu."""

    def menu(role: str, with_command_menu: bool) -> Sequence[Outgoing]:
        commands = commands_for(Role(role))
        return menus.main_menu(role, locale, commands, with_command_menu=with_command_menu)

    return core.Env(locale, menu)


def start(ctx: DialogContext) -> list[Outgoing]:
    env = menu_env(ctx.locale)
    user = ctx.user
    member = core.Member(user.display_name, user.role.value) if user is not None else None
    step = core.start(member, normalise_code(ctx.incoming.args), env)
    if isinstance(step, core.Decision):
        if user is not None:
            # Telegram's "Restart" after unblocking the bot sends /start: the outbox may
            # reach this chat again.
            ctx.uow.users.bind_chat(user, ctx.incoming.platform, ctx.incoming.chat_id, ctx.now)
        return list(step.replies)
    incoming = ctx.incoming
    since = ctx.now - WRONG_CODES_WINDOW
    failures = ctx.uow.registration_failures.count_since(incoming.platform, incoming.user_id, since)
    invite = ctx.uow.invites.by_code(step.code, server_key(ctx.settings))
    seen = (
        core.InviteSeen(
            invite.role.value, invite.area.name, invite.used_at is not None, invite.expires_at
        )
        if invite is not None
        else None
    )
    name = core.display_name(incoming.display_name, incoming.user_id)
    decision = core.check(failures, seen, ctx.now, name, env)
    if isinstance(decision, core.Claim):
        assert invite is not None
        claimed = ctx.uow.invites.claim(invite, ctx.now)
        decision = core.check(failures, seen, ctx.now, name, env, claimed=claimed)
        assert isinstance(decision, core.Decision)
    for effect in decision.effects:
        _apply(ctx, effect, invite)
    return list(decision.replies)


def refused(ctx: DialogContext, kind: str, reason: str) -> None:
    """A wrong ``kind`` of code ("invite", "link") counted against the account typing it,
    and audited. The code is never logged or stored: a log is no place to collect guesses."""
    incoming = ctx.incoming
    ctx.uow.registration_failures.record(
        incoming.platform, incoming.user_id, incoming.display_name, ctx.now
    )
    ctx.uow.audit.record(f"{kind}.rejected", reason=reason, platform=incoming.platform)
    log.info("%s refused: %s code", kind, reason)


def _apply(ctx: DialogContext, effect: core.Effect, invite: Invite | None) -> None:
    incoming = ctx.incoming
    match effect:
        case core.LockedOut():
            log.warning("registration attempt from a locked chat refused")
        case core.Refuse(reason=reason):
            refused(ctx, "invite", reason)
        case core.Register(name=name, role=role):
            assert invite is not None
            user = ctx.uow.users.add(
                User(
                    platform=incoming.platform,
                    platform_user_id=incoming.user_id,
                    display_name=name,
                    role=Role(role),
                    locale=ctx.settings.locale,
                    areas=[invite.area],
                    # The turn's clock, as the chat's binding and a later link use: the
                    # account registered with comes first among the person's accounts.
                    created_at=ctx.now,
                )
            )
            ctx.uow.users.bind_chat(user, incoming.platform, incoming.chat_id, ctx.now)
            invite.used_by = user.id
            ctx.uow.audit.record(
                "user.registered", actor=user, entity="invite", entity_id=invite.id, role=role
            )
            ctx.user = user


def unknown_user(ctx: DialogContext) -> list[Outgoing]:
    return core.unknown_user(ctx.locale)
