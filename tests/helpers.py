"""Small builders shared by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.admin import add_user
from bot.messages import Incoming, Kind
from storage.db import alembic_config
from storage.followup import SupportPerson
from storage.models import Area, Household, HouseholdCategory, Role, SupportAssignment, User
from storage.text import fold
from storage.uow import UnitOfWork

# Two poor households of Ấp 1, as the policy dialogues' tests invite them.
TWO_HOUSEHOLDS = (("A1-01", "Nguyễn Văn An"), ("A1-02", "Trần Thị Bé"))


async def seed_areas(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Province › commune › two villages: the smallest tree that exercises scoping."""
    async with UnitOfWork(sessions) as uow:
        province = Area(code="87", name="Tỉnh Đồng Tháp", level="tỉnh")
        uow.areas.add(province)
        await uow.session.flush()
        commune = Area(code="87-MH", name="Xã Mỹ Hòa", level="xã", parent_id=province.id)
        uow.areas.add(commune)
        await uow.session.flush()
        for number in (1, 2):
            uow.areas.add(
                Area(code=f"87-MH-A{number}", name=f"Ấp {number}", level="ấp", parent_id=commune.id)
            )
        await uow.commit()


async def area_ids(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """{area code: id} of every area."""
    async with sessions() as session:
        return {a.code: a.id for a in (await session.scalars(select(Area))).all()}


async def add_person(
    sessions: async_sessionmaker[AsyncSession],
    platform: str,
    user_id: str,
    name: str,
    role: Role = Role.COLLABORATOR,
    area: str = "87-MH-A1",
) -> User:
    """One person registered on ``platform`` for one area (a village's collaborator unless
    said otherwise), speaking Vietnamese."""
    return await add_user(
        sessions,
        platform=platform,
        platform_user_id=user_id,
        name=name,
        role=role,
        area_codes=[area],
        locale="vi",
    )


async def add_terminal_users(
    sessions: async_sessionmaker[AsyncSession], users: Mapping[str, tuple[Role, str]]
) -> dict[str, int]:
    """Registered users of the terminal channel, {user id: (role, area code)}, named by id;
    their ids in the database, by user id."""
    return {
        user_id: (await add_person(sessions, "terminal", user_id, user_id, role, area)).id
        for user_id, (role, area) in users.items()
    }


async def assign(
    uow: UnitOfWork,
    person: SupportPerson,
    year: int,
    at: datetime,
    *,
    officer_user_id: int | None = None,
    officer_name: str | None = None,
    officer_phone: str | None = None,
) -> SupportAssignment:
    """``person`` of the support lists assigned to an officer (a user, or one typed in)."""
    return await uow.followup.assign(
        SupportAssignment(
            review_year=year,
            household_id=person.household_id,
            member_index=person.member_index,
            member_name=person.member_name,
            group=person.group,
            officer_user_id=officer_user_id,
            officer_name=officer_name,
            officer_phone=officer_phone,
        ),
        at,
    )


def message(
    text: str,
    *,
    user_id: str = "111",
    name: str = "Nguyễn Văn An",
    update_key: str | None = None,
    platform: str = "terminal",
) -> Incoming:
    kind, command, args = Incoming.parse_text(text)
    return Incoming(
        platform=platform,
        user_id=user_id,
        chat_id=user_id,
        display_name=name,
        kind=kind,
        text=text,
        command=command,
        args=args,
        update_key=update_key,
    )


def press(
    data: str, *, user_id: str = "111", update_key: str | None = None, platform: str = "terminal"
) -> Incoming:
    return Incoming(
        platform=platform,
        user_id=user_id,
        chat_id=user_id,
        display_name="Nguyễn Văn An",
        kind=Kind.CHOICE,
        choice=data,
        update_key=update_key,
    )


def fixed_clock(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


async def add_poor_households(
    sessions: async_sessionmaker[AsyncSession],
    village_code: str = "87-MH-A1",
    households: tuple[tuple[str, str], ...] = TWO_HOUSEHOLDS,
) -> int:
    """Poor households of this year's roster in a village, (code, head) each; its id."""
    async with UnitOfWork(sessions) as uow:
        village = await uow.areas.by_code(village_code)
        assert isinstance(village, Area)
        for code, name in households:
            uow.session.add(
                Household(
                    code=code,
                    review_year=datetime.now(UTC).year,
                    area_id=village.id,
                    head_name=name,
                    head_name_search=fold(name),
                    category=HouseholdCategory.POOR,
                )
            )
        await uow.commit()
        return village.id


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """The schema of ``engine``'s database taken back to the migration ``revision``."""

    def back(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(back)
