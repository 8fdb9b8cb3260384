"""One pusher among the processes sharing a PostgreSQL database.

The outbox's limits (30 messages a second) are the bot's, not a process's: with several
workers only the holder of a session-level advisory lock pushes. The lock lives as long as
its server session, so a worker that dies (or loses its connection) hands it over.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def lock_key(schema: str, scope: str = "") -> int:
    # Advisory locks are per database; communes in separate schemas each have a pusher,
    # and so has each platform (``scope``) other than Telegram, whose key is as it was.
    name = f"rasoat-outbox:{schema}" + (f":{scope}" if scope else "")
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresLeader:
    def __init__(self, engine: AsyncEngine, scope: str = "") -> None:
        self.engine = engine
        # Processes of one channel share a pusher; another channel's process has its own.
        self.scope = scope
        self._held: AsyncConnection | None = None

    async def hold(self) -> bool:
        """Whether this process is the pusher now: it was and its connection still answers,
        or it just took the lock."""
        if self._held is not None:
            try:
                await self._held.execute(select(1))
                return True
            except Exception:
                await self._drop()
                return False
        connection = await self.engine.connect()
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            schema = str(await connection.scalar(select(func.current_schema())))
            taken = await connection.scalar(
                select(func.pg_try_advisory_lock(lock_key(schema, self.scope)))
            )
        except Exception:
            await connection.close()
            return False
        if not taken:
            await connection.close()
            return False
        self._held = connection
        return True

    async def release(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        connection, self._held = self._held, None
        if connection is None:
            return
        try:
            # The pool keeps the server session (and so its locks) for the next user.
            await connection.execute(select(func.pg_advisory_unlock_all()))
            await connection.close()
        except Exception:
            # Thrown away instead: the server ends the session, and the lock with it.
            await connection.invalidate()
            await connection.close()
