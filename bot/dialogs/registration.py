"""Registration: `/start CODE` (or a t.me deep link) binds a chat user to an invite."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from bot.context import DialogContext
from bot.dialogs import menu
from bot.messages import Outgoing, Text
from storage.models import Area, Invite, Role, User
from storage.uow import UnitOfWork

# No 0/O, 1/I/L: codes are read aloud over the phone and copied from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """Accept what people type: lower case, spaces, dashes ("k7px-3mqa")."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def create_invite(
    uow: UnitOfWork, role: Role, area: Area, now: datetime, days: int
) -> tuple[str, Invite]:
    code = new_code()
    invite = await uow.invites.add(code, role, area, expires_at=now + timedelta(days=days))
    return code, invite


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


async def start(ctx: DialogContext) -> list[Outgoing]:
    code = normalise_code(ctx.incoming.args)
    if ctx.user is not None:
        if code:
            return [Text(ctx.t("registration.already_registered")), *await menu.main_menu(ctx)]
        return [Text(ctx.t("registration.welcome_back", name=ctx.user.display_name))] + (
            await menu.main_menu(ctx, with_command_menu=True)
        )
    if not code:
        return unknown_user(ctx)
    invite = await ctx.uow.invites.by_code(code)
    if invite is None:
        ctx.uow.audit.record("invite.rejected", reason="unknown", platform=ctx.incoming.platform)
        return [Text(ctx.t("registration.code_unknown"))]
    if invite.used_at is not None:
        return [Text(ctx.t("registration.code_used"))]
    if invite.expires_at <= ctx.now:
        return [Text(ctx.t("registration.code_expired"))]
    if not await ctx.uow.invites.claim(invite, ctx.now):
        return [Text(ctx.t("registration.code_used"))]

    user = await ctx.uow.users.add(
        User(
            platform=ctx.incoming.platform,
            platform_user_id=ctx.incoming.user_id,
            display_name=ctx.incoming.display_name or ctx.incoming.user_id,
            role=invite.role,
            locale=ctx.settings.locale,
            areas=[invite.area],
        )
    )
    await ctx.uow.users.bind_chat(user, ctx.incoming.chat_id)
    invite.used_by = user.id
    ctx.uow.audit.record(
        "user.registered", actor=user, entity="invite", entity_id=invite.id, role=invite.role.value
    )
    ctx.user = user
    welcome = ctx.t(
        "registration.welcome",
        name=user.display_name,
        role=ctx.t(f"role.{user.role.value}"),
        area=invite.area.name,
    )
    return [Text(welcome), *await menu.main_menu(ctx, with_command_menu=True)]


def unknown_user(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("registration.unknown_user"))]
