"""The Zalo Official Account's access token: refreshed before it expires, every new pair
stored before it is used.

Zalo's access token lives about 25 hours; its refresh token about 3 months and works once.
A refresh here is: a lease on the current pair, committed (one process refreshes at a time;
the others wait for its pair); the call to Zalo; then the new pair stored in the transaction
that marks the old one used (storage.zalo_oa_tokens). So a crash before the call leaves the
old pair, which works; a crash after the store leaves the new one.

What no client can make safe: Zalo spent the refresh token and answered, and the process
died (or the answer was lost on the way) before the new pair was stored. The stored refresh
token is then spent: Zalo refuses it at the next refresh, which is recorded (``refused_at``),
logged as an error naming the command that fixes it (``rasoat zalo-oa tokens set``), and
shown by ``rasoat zalo-oa tokens status``. The old access token is still used until it
expires (refreshing when ``REFRESH_BEFORE`` of its life is left gives the operator those
hours, where Zalo keeps an access token valid after its refresh).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.retry import Sleep, wait_or_stop
from bot.outbox import Write, worker_name
from storage.uow import UnitOfWork, Work
from storage.zalo_oa_tokens import OaToken

log = logging.getLogger(__name__)

# Refreshed when this much of the access token's life is left: ahead of expiry, and hours
# of the old token left should a refresh be lost (see the module's docstring).
REFRESH_BEFORE = timedelta(hours=12)
# Zalo does not say how long the new refresh token lives; it documents about 3 months.
REFRESH_TOKEN_LIFE = timedelta(days=90)
# A refresh takes a second; a lease this long outlives any, and a dead process's runs out.
LEASE = timedelta(minutes=2)
# While another process refreshes: how often, and how many times, to look for its pair.
WAIT_FOR_OTHER = 1.0
WAITS_FOR_OTHER = 30
# After a refresh that got no answer: not tried again sooner than this (a send finding
# the token due would otherwise try at every message).
RETRY_AFTER_FAILURE = timedelta(minutes=1)
# The keeper looks at least this often (another process may have refreshed).
LOOK_EVERY = timedelta(hours=1)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewPair:
    access_token: str
    refresh_token: str
    # Seconds, as Zalo says it ("90000").
    expires_in: int


class Refused(Exception):
    """Zalo refused the refresh token (spent, expired or revoked)."""


class NoAnswer(Exception):
    """The refresh got no usable answer (the network, Zalo down): it may or may not have
    been spent on Zalo's side."""


class NoToken(Exception):
    """No pair is stored: the operator has not run ``rasoat zalo-oa tokens set``."""


# The token server's refresh: a refresh token in, a new pair out, or Refused / NoAnswer.
Refresh = Callable[[str], Awaitable[NewPair]]


class TokenKeeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write: Write,
        refresh: Refresh,
        *,
        clock: Clock = _utcnow,
        sleep: Sleep = asyncio.sleep,
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.write = write
        self.refresh_call = refresh
        self.clock = clock
        self.sleep = sleep
        self.worker = worker or worker_name()
        self.token: OaToken | None = None
        self._lock = asyncio.Lock()
        self._failed_at: datetime | None = None

    async def stored(self) -> OaToken:
        async with UnitOfWork(self.sessions) as uow:
            token = await uow.zalo_oa_tokens.current()
        if token is None:
            raise NoToken()
        self.token = token
        return token

    def due(self, token: OaToken) -> bool:
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE:
            return False
        return token.access_expires_at - now <= REFRESH_BEFORE and token.refused_at is None

    async def access(self) -> str:
        """The access token to call Zalo with, refreshed first if it is due."""
        token = self.token or await self.stored()
        if self.due(token):
            token = await self.refresh(token.id)
        return token.access_token

    async def after_invalid(self, used: str) -> str | None:
        """Zalo said ``used`` is invalid (-216): another process's newer token, or a fresh
        one; None if there is none better."""
        token = await self.stored()
        if token.access_token != used:
            return token.access_token
        if token.refused_at is not None:
            # Nothing to refresh with until the operator sets a new pair.
            return None
        self._failed_at = None
        token = await self.refresh(token.id, force=True)
        return token.access_token if token.access_token != used else None

    async def refresh(self, token_id: int, *, force: bool = False) -> OaToken:
        """The pair after refreshing ``token_id`` (if still current and, unless ``force``,
        due); the current pair, whatever happened, if a refresh could not be made."""
        async with self._lock:
            token = await self.stored()
            if token.id != token_id or not (force or self.due(token)):
                return token
            now = self.clock()
            taken = await self.write(partial(_begin, token.id, self.worker, now))
            if not taken:
                return await self._wait_for_other(token)
            try:
                pair = await self.refresh_call(token.refresh_token)
            except Refused:
                await self.write(lambda work: work.zalo_oa_tokens.refused(token.id, now))
                log.error(
                    "Zalo refused the OA's refresh token: its access token works until %s; "
                    "get a new pair from Zalo and run: rasoat zalo-oa tokens set",
                    token.access_expires_at.isoformat(timespec="minutes"),
                )
                return await self.stored()
            except Exception as error:
                self._failed_at = self.clock()
                await self.write(lambda work: work.zalo_oa_tokens.abandon(token.id))
                log.warning("Zalo OA token refresh failed (%s)", type(error).__name__)
                return token
            stored = await self.write(partial(_store, token.id, pair, self.clock()))
            self._failed_at = None
            self.token = stored
            log.info(
                "Zalo OA access token refreshed; valid until %s",
                stored.access_expires_at.isoformat(timespec="minutes"),
            )
            return stored

    async def _wait_for_other(self, token: OaToken) -> OaToken:
        """Another process holds the lease: its pair, once stored (or ours, unchanged)."""
        for _ in range(WAITS_FOR_OTHER):
            await self.sleep(WAIT_FOR_OTHER)
            current = await self.stored()
            if current.id != token.id or current.refreshing_until is None:
                return current
        return token

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: each pair refreshed when it falls due, even with nobody writing
        (each refresh also renews the 3-month refresh token)."""
        while not stop.is_set():
            try:
                token = await self.stored()
                if self.due(token):
                    token = await self.refresh(token.id)
                wake = min(token.access_expires_at - REFRESH_BEFORE, self.clock() + LOOK_EVERY)
            except NoToken:
                wake = self.clock() + LOOK_EVERY
            except Exception:
                log.exception("Zalo OA token keeper: trying again shortly")
                wake = self.clock() + RETRY_AFTER_FAILURE
            seconds = max((wake - self.clock()).total_seconds(), 1.0)
            await wait_or_stop(stop, seconds, self.sleep)


def _begin(token_id: int, worker: str, now: datetime, work: Work) -> bool:
    return work.zalo_oa_tokens.begin_refresh(token_id, worker, now, LEASE)


def _store(token_id: int, pair: NewPair, now: datetime, work: Work) -> OaToken:
    return work.zalo_oa_tokens.refreshed(
        token_id,
        pair.access_token,
        pair.refresh_token,
        now + timedelta(seconds=pair.expires_in),
        now + REFRESH_TOKEN_LIFE,
        now,
    )


async def set_tokens(
    sessions: async_sessionmaker[AsyncSession],
    refresh_token: str,
    access_token: str = "",
    expires_in: int = 0,
    now: datetime | None = None,
) -> OaToken:
    """The operator's pair (``rasoat zalo-oa tokens set``): without an access token, the
    refresh token alone, refreshed by the bot at its start."""
    now = now or _utcnow()
    async with UnitOfWork(sessions) as uow:
        token = await uow.zalo_oa_tokens.set(
            access_token,
            refresh_token,
            now + timedelta(seconds=expires_in if access_token else 0),
            now + REFRESH_TOKEN_LIFE,
            now,
        )
        await uow.commit()
    return token
