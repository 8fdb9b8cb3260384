"""Opens what every channel needs: the migrated database (``bot.database``) and a
Conversation, in this process or with its turns in a process of their own
(``bot.turn_process``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.conversation import Conversation
from bot.database import open_database
from bot.settings import Settings
from bot.turn_process import Forked, TurnProcess

# The connections of a process whose turns are another's (a turns' process keeps up to
# storage.db.POSTGRES_POOL's).
CHANNELS_POOL = {"pool_size": 2, "max_overflow": 3}


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    conversation: Conversation

    async def close(self) -> None:
        await self.conversation.aclose()
        await self.engine.dispose()


async def open_runtime(
    settings: Settings, *, turns: Forked | None = None, **engine_kwargs: Any
) -> Runtime:
    """``turns``: the chat turns applied by that process of their own (see
    :func:`bot.turn_process.fork`)."""
    if turns is not None:
        # The turns, and what they defer, use the child's connections: this side reads at a
        # start, and writes what the outbox and the reminders' sweeps do.
        engine_kwargs = {**CHANNELS_POOL, **engine_kwargs}
    opened = await open_database(settings, **engine_kwargs)
    conversation: Conversation
    if turns is None:
        conversation = Conversation(opened.sessions, settings)
    else:
        conversation = TurnProcess(opened.sessions, settings, turns)
        try:
            await conversation.start()
        except BaseException:
            await opened.engine.dispose()
            raise
    return Runtime(settings, opened.engine, opened.sessions, conversation)


@asynccontextmanager
async def runtime(settings: Settings, **engine_kwargs: Any) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings, **engine_kwargs)
    try:
        yield opened
    finally:
        await opened.close()
