"""The one entry point every channel calls: one incoming message, one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import DialogContext
from bot.i18n import translate
from bot.messages import Incoming, Outgoing, Text
from bot.router import route
from bot.settings import Settings
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Conversation:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        # SQLite has one writer at a time, and every update writes (the ledger row comes
        # first). Queueing here hands the database over the moment a commit ends; left to
        # SQLite, waiters sleep and poll in its busy handler, and throughput collapses as
        # soon as two chats overlap. Other processes are still kept out by SQLite's lock.
        bind = sessions.kw.get("bind")
        dialect = getattr(getattr(bind, "dialect", None), "name", "")
        self._writer: asyncio.Lock | None = asyncio.Lock() if dialect == "sqlite" else None

    def _transaction_slot(self) -> AbstractAsyncContextManager[object]:
        return self._writer if self._writer is not None else nullcontext()

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        """Apply one message and return the replies.

        The replies are returned only after the transaction committed: a reply never
        promises something the database doesn't hold. A redelivered update (same
        ``update_key``) is recognised inside that same transaction and changes nothing.
        """
        try:
            async with self._transaction_slot(), UnitOfWork(self.sessions) as uow:
                if incoming.update_key is not None and not await uow.updates.claim(
                    incoming.platform, incoming.update_key
                ):
                    log.info("duplicate update %s ignored", incoming.update_key)
                    return []
                user, state = await uow.users.with_dialog_state(incoming.platform, incoming.user_id)
                if user is not None:
                    uow.dialogs.remember(user, state)
                ctx = DialogContext(uow, incoming, user, self.settings, self.clock())
                replies = await route(ctx)
                await uow.commit()
                return replies
        except Exception:
            # The transaction was rolled back; say so instead of going silent.
            log.exception("failed to handle an update")
            return [Text(translate("error.internal", self.settings.locale))]
