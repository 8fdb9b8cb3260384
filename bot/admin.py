"""Administrative actions shared by the CLI and the demo: users and invites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogs.registration import (
    WRONG_CODES_ALLOWED,
    WRONG_CODES_WINDOW,
    create_invite,
    deep_link,
)
from locales.catalog import translate
from storage.models import Role, User
from storage.uow import UnitOfWork


class AdminError(Exception):
    """A request that can't be carried out; rendered for the person at the terminal."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def render(self, locale: str) -> str:
        return translate(self.key, locale, **self.params)


@dataclass(frozen=True, slots=True)
class CreatedInvite:
    code: str
    role: Role
    area_code: str
    area_name: str
    expires_at: datetime

    def link(self, bot_username: str | None) -> str | None:
        return deep_link(bot_username, self.code) if bot_username else None


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower().replace("-", "_"))
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise AdminError("admin.bad_role", role=value, choices=names) from None


async def create_invites(
    sessions: async_sessionmaker[AsyncSession],
    role: Role,
    area_code: str,
    *,
    days: int,
    key: bytes,
    count: int = 1,
    now: datetime | None = None,
) -> list[CreatedInvite]:
    now = now or datetime.now(UTC)
    async with UnitOfWork(sessions) as uow:
        area = await uow.areas.by_code(area_code)
        if area is None:
            raise AdminError("admin.unknown_area", codes=area_code)
        created = []
        for _ in range(count):
            code, invite = await uow.run(
                partial(create_invite, key=key, role=role, area=area, now=now, days=days)
            )
            uow.audit.record(
                "invite.created", entity="invite", entity_id=invite.id, role=role.value
            )
            created.append(CreatedInvite(code, role, area.code, area.name, invite.expires_at))
        await uow.commit()
        return created


async def add_user(
    sessions: async_sessionmaker[AsyncSession],
    *,
    platform: str,
    platform_user_id: str,
    name: str,
    role: Role,
    area_codes: list[str],
    locale: str,
) -> User:
    async with UnitOfWork(sessions) as uow:
        if await uow.users.by_platform_id(platform, platform_user_id) is not None:
            raise AdminError("admin.user_exists", user=f"{platform}:{platform_user_id}")
        areas = await uow.areas.by_codes(area_codes)
        missing = sorted(set(area_codes) - set(areas))
        if missing:
            raise AdminError("admin.unknown_area", codes=", ".join(missing))
        user = await uow.users.add(
            User(
                platform=platform,
                platform_user_id=platform_user_id,
                display_name=name,
                role=role,
                locale=locale,
                areas=[areas[code] for code in area_codes],
            )
        )
        uow.audit.record("user.added", entity="user", entity_id=user.id, role=role.value)
        await uow.commit()
        return user


async def set_active(sessions: async_sessionmaker[AsyncSession], who: str, *, active: bool) -> User:
    """Deactivate (or reactivate) the user ``who`` ("telegram:12345"): a deactivated user's
    messages are answered with a notice and change nothing."""
    platform, _, user_id = who.partition(":")
    async with UnitOfWork(sessions) as uow:
        user = await uow.users.by_platform_id(platform, user_id) if user_id else None
        if user is None:
            raise AdminError("admin.unknown_user", who=who)
        user.active = active
        action = "user.activated" if active else "user.deactivated"
        uow.audit.record(action, entity="user", entity_id=user.id)
        await uow.commit()
        return user


@dataclass(frozen=True)
class LockedChat:
    platform: str
    user_id: str
    display_name: str
    last_failure: datetime

    @property
    def who(self) -> str:
        return f"{self.platform}:{self.user_id}"


async def locked_chats(
    sessions: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> list[LockedChat]:
    """Who may not register now: too many wrong codes within the window."""
    now = now or datetime.now(UTC)
    async with UnitOfWork(sessions) as uow:
        rows = await uow.registration_failures.locked(now - WRONG_CODES_WINDOW, WRONG_CODES_ALLOWED)
    return [LockedChat(*row) for row in rows]


async def unlock_chats(
    sessions: async_sessionmaker[AsyncSession], who: str | None, now: datetime | None = None
) -> int:
    """Lift the lock-out of ``who`` ("telegram:12345"), or of everyone when None."""
    now = now or datetime.now(UTC)
    platform = user_id = None
    if who is not None:
        platform, _, user_id = who.partition(":")
        if not platform or not user_id:
            raise AdminError("admin.bad_chat", who=who)
    async with UnitOfWork(sessions) as uow:
        lifted = await uow.registration_failures.lift(now, platform, user_id)
        uow.audit.record("registration.unlocked", entity="chat", entity_id=who or "*")
        await uow.commit()
    return lifted
