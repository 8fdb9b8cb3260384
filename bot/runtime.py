"""Opens what every channel and CLI command needs: the migrated database and a Conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.conversation import Conversation
from bot.settings import Settings
from storage.db import create_engine, session_factory, upgrade
from storage.uow import UnitOfWork

# Long past any redelivery window, short enough that the ledger stays small.
LEDGER_KEEP = timedelta(days=7)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    conversation: Conversation

    async def close(self) -> None:
        await self.engine.dispose()


async def open_runtime(settings: Settings, **engine_kwargs: Any) -> Runtime:
    engine = create_engine(settings.database_url, schema=settings.database_schema, **engine_kwargs)
    # Migrating at every start means an upgraded bot never runs on an old schema.
    await upgrade(engine)
    sessions = session_factory(engine)
    async with UnitOfWork(sessions) as uow:
        await uow.updates.prune(datetime.now(UTC) - LEDGER_KEEP)
        await uow.inbox.prune(datetime.now(UTC) - LEDGER_KEEP)
        await uow.commit()
    return Runtime(settings, engine, sessions, Conversation(sessions, settings))


@asynccontextmanager
async def runtime(settings: Settings, **engine_kwargs: Any) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings, **engine_kwargs)
    try:
        yield opened
    finally:
        await opened.close()
