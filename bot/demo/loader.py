"""The bundled demo commune, so a newcomer can try every role without a token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import CreatedInvite, create_invites
from storage.imports import import_areas, import_roster
from storage.models import Role

DEMO_DIR = Path(__file__).resolve().parent
DEMO_COMMUNE = "87-MH"
DEMO_VILLAGE = "87-MH-A1"


async def load_demo(
    sessions: async_sessionmaker[AsyncSession], year: int | None = None
) -> dict[Role, CreatedInvite]:
    """Load the demo commune (a no-op when already loaded) and make fresh invites.

    The imports are idempotent, so running the demo twice keeps one copy of the data;
    invites are one-time, so each run needs new ones.
    """
    year = year or datetime.now(UTC).year
    await import_areas(sessions, DEMO_DIR / "areas.csv")
    await import_roster(sessions, DEMO_DIR / "roster.csv", year=year)
    invites: dict[Role, CreatedInvite] = {}
    for role, area in (
        (Role.COLLABORATOR, DEMO_VILLAGE),
        (Role.SUPERVISOR, DEMO_COMMUNE),
        (Role.COMMUNE_STAFF, DEMO_COMMUNE),
    ):
        [invites[role]] = await create_invites(sessions, role, area, days=1)
    return invites
