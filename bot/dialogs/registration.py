"""Registration: `/start CODE` (or a t.me deep link) binds a chat user to an invite."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from bot.context import DialogContext
from bot.dialogs import menu
from bot.messages import Outgoing, Text
from bot.server_key import server_key
from storage.models import Area, Invite, Role, User
from storage.uow import UnitOfWork

# No 0/O, 1/I/L: codes are read aloud over the phone and copied from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# Wrong codes one chat may send within a day before registration from it is locked until
# commune staff lift it (`rasoat invites unlock`): enough for typing slips, far too few to
# guess a code.
WRONG_CODES_ALLOWED = 5
WRONG_CODES_WINDOW = timedelta(days=1)

log = logging.getLogger(__name__)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """Accept what people type: lower case, spaces, dashes ("k7px-3mqa")."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def create_invite(
    uow: UnitOfWork, key: bytes, role: Role, area: Area, now: datetime, days: int
) -> tuple[str, Invite]:
    code = new_code()
    invite = await uow.invites.add(code, key, role, area, expires_at=now + timedelta(days=days))
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
    platform, user_id = ctx.incoming.platform, ctx.incoming.user_id
    failures = ctx.uow.registration_failures
    since = ctx.now - WRONG_CODES_WINDOW
    if await failures.count_since(platform, user_id, since) >= WRONG_CODES_ALLOWED:
        log.warning("registration attempt from a locked chat refused")
        return [Text(ctx.t("registration.locked"))]
    invite = await ctx.uow.invites.by_code(code, server_key(ctx.settings))
    refusal = _refusal(invite, ctx.now)
    if invite is not None and refusal is None and not await ctx.uow.invites.claim(invite, ctx.now):
        refusal = "used"  # by someone else, a moment ago
    if refusal is not None:
        # The code is never logged or stored: a log is no place to collect guesses.
        failures.record(platform, user_id, ctx.incoming.display_name, ctx.now)
        ctx.uow.audit.record("invite.rejected", reason=refusal, platform=platform)
        log.info("registration refused: %s code", refusal)
        return [Text(ctx.t(f"registration.code_{refusal}"))]
    assert invite is not None  # an unknown code is a refusal

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


def _refusal(invite: Invite | None, now: datetime) -> str | None:
    if invite is None:
        return "unknown"
    if invite.used_at is not None:
        return "used"
    if invite.expires_at <= now:
        return "expired"
    return None


def unknown_user(ctx: DialogContext) -> list[Outgoing]:
    return [Text(ctx.t("registration.unknown_user"))]
