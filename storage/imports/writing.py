"""Helpers shared by the importers for their single write transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from storage.imports.errors import ImportResult

T = TypeVar("T")

# Well under the bind-parameter limits of SQLite (32766) and PostgreSQL (32767) for
# IN lists, and large enough that a 50,000-row file needs only a few dozen queries.
BATCH = 1000


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def lock_for_import(session: AsyncSession) -> None:
    """Make the checks and the writes see the same database state.

    SQLite's driver only opens a transaction at the first write, so the reads that
    validate the file would otherwise run outside it, and a write by the bot in between
    would make our first write fail with "database is locked". A write that touches no
    row takes the write lock up front. PostgreSQL needs nothing: unique constraints stop
    a concurrent duplicate, and rows the checks rely on are not deleted by the bot.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("UPDATE areas SET id = id WHERE 0 = 1"))


async def actor(uow: UnitOfWork, actor_id: int | None) -> User | None:
    return None if actor_id is None else await uow.users.get(actor_id)


async def audit_import(
    uow: UnitOfWork,
    action: str,
    path: Path,
    actor_id: int | None,
    result: ImportResult,
    **details: Any,
) -> None:
    """The one audit entry of an import: who, which file, and what it changed."""
    uow.audit.record(
        action,
        actor=await actor(uow, actor_id),
        entity="file",
        entity_id=path.name[:64],
        file=path.name,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        **details,
    )
