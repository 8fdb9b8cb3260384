"""What the Official Account's kill test sets up, reads back and does as Zalo and as the
operator: the process's environment, the stored token pairs and their leases, the database
held so a new pair cannot be stored, people writing and messages pushed."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

from bot.channels.zalo_oa_tokens import set_tokens
from bot.messages import Text
from bot.push import encode
from storage.models import OutboxMessage, ZaloOaToken
from storage.uow import UnitOfWork
from storage.zalo_oa_tokens import OaToken
from tests.conftest import Database
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, OA_SECRET, FakeZaloOa, Json

# How long a person waits for the bot's answer before the test calls it stuck.
PROMPTLY = 10.0


def oa_env(database: Database, fake: FakeZaloOa, oauth_url: str = "") -> dict[str, str]:
    """The environment of a `rasoat run --channel zalo-oa` against the fake OA."""
    return {
        **database.env(),
        "ZALO_OA_APP_ID": APP_ID,
        "ZALO_OA_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": OA_SECRET,
        "ZALO_OA_API_URL": fake.base_url,
        "ZALO_OA_OAUTH_URL": oauth_url or fake.base_url,
    }


@contextmanager
def black_hole() -> Iterator[str]:
    """The URL of a server that takes connections and never reads them: a request sent
    there never reaches Zalo."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def operator_pair(database: Database, fake: FakeZaloOa, life: timedelta) -> tuple[str, str]:
    """A pair from Zalo's console whose access token has ``life`` left, stored as
    `rasoat zalo-oa tokens set` stores it."""
    access, refresh = fake.issue(life)
    await set_tokens(database.sessions, refresh, access, int(life.total_seconds()))
    return access, refresh


async def current(database: Database) -> OaToken:
    async with UnitOfWork(database.sessions) as uow:
        token = await uow.zalo_oa_tokens.current()
    assert token is not None
    return token


async def stored_access_tokens(database: Database) -> set[str]:
    """Every access token the database ever held (used rows too)."""
    async with database.sessions() as session:
        return set((await session.scalars(select(ZaloOaToken.access_token))).all())


async def stored_refresh_tokens(database: Database) -> set[str]:
    async with database.sessions() as session:
        return set((await session.scalars(select(ZaloOaToken.refresh_token))).all())


async def until(check: Callable[[], Awaitable[bool]], seconds: float = PROMPTLY) -> None:
    """Until ``check()`` holds, looked at every 50 ms (TimeoutError after ``seconds``)."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(getattr(check, "__doc__", None) or getattr(check, "__name__", ""))


async def run_out_token_leases(database: Database) -> None:
    """The lease a killed process left on the pair runs out: moved to its end (2 minutes
    on) rather than waited for."""
    now = datetime.now(UTC)
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(ZaloOaToken)
            .where(ZaloOaToken.refreshing_until > now)
            .values(refreshing_until=now - timedelta(seconds=1))
        )


async def run_out_claims(database: Database) -> set[str]:
    """The outbox claims killed processes left run out (moved to their end, 2 minutes on):
    the dedupe keys of their messages, which may have been pushed before the kill."""
    now = datetime.now(UTC)
    unsent = (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.claimed_until > now,
    )
    async with database.sessions() as session, session.begin():
        keys = set((await session.scalars(select(OutboxMessage.dedupe_key).where(*unsent))).all())
        await session.execute(
            update(OutboxMessage).where(*unsent).values(claimed_until=now - timedelta(seconds=1))
        )
    return keys


@asynccontextmanager
async def store_held(database: Database) -> AsyncIterator[None]:
    """No new pair can be stored meanwhile: the test's own transaction holds the token
    table (PostgreSQL) or the database's write lock (SQLite), as a slow disk or a busy
    server would, and gives it up untouched."""
    if database.backend == "sqlite":
        path = make_url(database.url).database
        assert path is not None
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(connection.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    async with database.engine.connect() as connection:
        await connection.execute(text("LOCK TABLE zalo_oa_tokens IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await connection.rollback()


async def store_waiting(database: Database) -> bool:
    """Whether another connection waits to write the token table (PostgreSQL only: SQLite's
    waiting writer shows nowhere)."""
    if database.backend == "sqlite":
        return True
    async with database.engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks "
                "WHERE relation = 'zalo_oa_tokens'::regclass AND NOT granted"
            )
        )
    return bool(waiting)


async def post(fake: FakeZaloOa, event: Json) -> None:
    """Zalo posting ``event`` again until the bot takes it (200), as a platform redelivers."""
    while True:
        try:
            if await fake.post(event) == 200:
                return
        except aiohttp.ClientError:
            pass  # Nobody listening (between a kill and a start), or cut off by the kill.
        await asyncio.sleep(0.1)


async def probe(fake: FakeZaloOa, person: str) -> str:
    """``person`` writes /whoami; the access token the bot's answer came with (it came, so
    Zalo took that token)."""
    before = len(fake.sent)
    await post(fake, fake.event(person, "/whoami"))

    def answered() -> bool:
        return any(to == person for to, _ in fake.sent[before:])

    await fake.wait_for(answered, PROMPTLY)
    return next(
        fake.sent_with[index]
        for index in range(before, len(fake.sent))
        if fake.sent[index][0] == person
    )


async def writing(fake: FakeZaloOa, person: str, pace: float, stop: asyncio.Event) -> list[str]:
    """``person`` writes /whoami until ``stop``: the keys of the events the bot took."""
    taken: list[str] = []
    while not stop.is_set():
        event = fake.event(person, "/whoami")
        await post(fake, event)
        taken.append(f"{event['event_name']}:{event['message']['msg_id']}")
        await asyncio.sleep(pace)
    return taken


async def pushing(
    database: Database, person: str, pace: float, stop: asyncio.Event
) -> dict[str, str]:
    """Messages for ``person`` put in the outbox until ``stop``: their texts by dedupe key."""
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("zalo-oa", person)
        assert user is not None
        user_id = user.id
    queued: dict[str, str] = {}
    while not stop.is_set():
        number = len(queued) + 1
        key, said = f"oakill:{number}", f"Nhắc việc số {number}"
        async with UnitOfWork(database.sessions) as uow:
            now = datetime.now(UTC)
            await uow.outbox.enqueue(user_id, encode(Text(said)), key, now, now)
            await uow.commit()
        queued[key] = said
        await asyncio.sleep(pace)
    return queued
