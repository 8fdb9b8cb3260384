"""The bundled demo commune, so a newcomer can try every role without a token."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import CreatedInvite, create_invites
from bot.demo.respondent import interview_demo_households
from classification import ReviewDates
from storage.imports import import_areas, import_roster
from storage.models import Role
from storage.uow import UnitOfWork

DEMO_DIR = Path(__file__).resolve().parent
DEMO_COMMUNE = "87-MH"
DEMO_VILLAGE = "87-MH-A1"


async def _interview_other_villages(
    sessions: async_sessionmaker[AsyncSession], year: int, dates: ReviewDates, now: datetime
) -> None:
    """Villages other than the demo collaborator's are already interviewed, so a supervisor
    sees real figures; Ấp 1 is left for the newcomer to interview."""
    async with UnitOfWork(sessions) as uow:
        commune = await uow.areas.by_code(DEMO_COMMUNE)
        village = await uow.areas.by_code(DEMO_VILLAGE)
        assert commune is not None and village is not None
        others = await uow.areas.subtree_ids([commune.id]) - {village.id}
        households, _total = await uow.households.in_areas(others, year, limit=1000)
        await interview_demo_households(uow, [h.id for h in households], dates, now)
        await uow.commit()


async def load_demo(
    sessions: async_sessionmaker[AsyncSession],
    key: bytes,
    dates: ReviewDates,
    now: datetime,
) -> dict[Role, CreatedInvite]:
    """Load the demo commune's review of the current year (a no-op when already loaded) and
    make fresh invites.

    The imports are idempotent, so running the demo twice keeps one copy of the data;
    invites are one-time, so each run needs new ones.
    """
    year = dates.local_day(now).year
    await import_areas(sessions, DEMO_DIR / "areas.csv")
    await import_roster(
        sessions, DEMO_DIR / "roster.csv", year=year, reference_date=dates.reference(year, now)
    )
    await _interview_other_villages(sessions, year, dates, now)
    invites: dict[Role, CreatedInvite] = {}
    for role, area in (
        (Role.COLLABORATOR, DEMO_VILLAGE),
        (Role.SUPERVISOR, DEMO_COMMUNE),
        (Role.COMMUNE_STAFF, DEMO_COMMUNE),
    ):
        [invites[role]] = await create_invites(sessions, role, area, days=1, key=key)
    return invites
