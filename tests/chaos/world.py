"""What the kill tests set up and read back: collaborators, and the updates applied."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from storage.models import ProcessedUpdate
from tests.conftest import Database
from tests.helpers import add_person


async def add_collaborators(
    database: Database, people: Iterable[int | str], platform: str = "telegram"
) -> None:
    """Registered collaborators of village 87-MH-A1, by their user id on ``platform``."""
    for person in people:
        await add_person(database.sessions, platform, str(person), f"CTV {person}")


async def applied(database: Database, platform: str = "telegram") -> list[str]:
    """The keys of the updates applied from ``platform``, one row each (duplicates
    included)."""
    async with database.sessions() as session:
        query = select(ProcessedUpdate.update_key).where(ProcessedUpdate.platform == platform)
        return list((await session.scalars(query)).all())
