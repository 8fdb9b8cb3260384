"""Opens what every channel needs: the migrated database (``bot.database``) and a
Conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.conversation import Conversation
from bot.database import open_database
from bot.settings import Settings


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    conversation: Conversation

    async def close(self) -> None:
        self.conversation.close()
        await self.engine.dispose()


async def open_runtime(settings: Settings, **engine_kwargs: Any) -> Runtime:
    opened = await open_database(settings, **engine_kwargs)
    return Runtime(
        settings, opened.engine, opened.sessions, Conversation(opened.sessions, settings)
    )


@asynccontextmanager
async def runtime(settings: Settings, **engine_kwargs: Any) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings, **engine_kwargs)
    try:
        yield opened
    finally:
        await opened.close()
