"""The database plumbing under the chat: SQLite through stock aiosqlite (nothing waits on
the event loop, ``:memory:`` works), and recovery from a lost PostgreSQL connection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import IntegrityError

from bot.conversation import Conversation
from bot.database import open_database
from bot.messages import Text
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.db import create_engine, in_memory, session_factory, upgrade
from storage.models import Role
from storage.uow import UnitOfWork
from tests.conftest import POSTGRES_URL, POSTGRESQL_ONLY, SQLITE_ONLY, Database
from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import add_terminal_users, message, seed_areas


@SQLITE_ONLY
async def test_sqlite_through_aiosqlite_behaves_like_a_dbapi(database: Database) -> None:
    engine = database.engine
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        inserted = await connection.execute(
            text("INSERT INTO t (v) VALUES (:v) RETURNING id"), {"v": "một"}
        )
        assert inserted.scalar_one() == 1
        many = await connection.execute(
            text("INSERT INTO t (v) VALUES (:v)"), [{"v": "hai"}, {"v": "ba"}]
        )
        assert many.rowcount == 2
        plain = await connection.execute(text("INSERT INTO t (v) VALUES ('bốn')"))
        assert plain.lastrowid == 4
        changed = await connection.execute(text("UPDATE t SET v = v || '!' WHERE id > 2"))
        assert changed.rowcount == 2
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "một"), (2, "hai"), (3, "ba!"), (4, "bốn!")]
        assert (await connection.execute(text("SELECT v FROM t WHERE id = 9"))).first() is None

    # A failing statement raises SQLAlchemy's own error, and its transaction rolls back.
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (id, v) VALUES (5, 'năm')"))
            await connection.execute(text("INSERT INTO t (id, v) VALUES (1, 'trùng')"))
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM t")) == 4


@SQLITE_ONLY
async def test_a_long_read_runs_off_the_event_loop(database: Database) -> None:
    """A statement that can only finish once the event loop has run something else: had
    it run on the loop's thread, the loop could not have let it finish."""
    engine = create_engine(database.url)
    entered, release = threading.Event(), threading.Event()
    ran_on: list[int] = []

    def wait_for_the_loop() -> int:
        ran_on.append(threading.get_ident())
        entered.set()
        return int(release.wait(timeout=30))

    def register(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("wait_for_the_loop", 0, wait_for_the_loop)

    event.listen(engine.sync_engine, "connect", register)
    try:
        async with engine.connect() as connection:
            reading = asyncio.create_task(connection.scalar(text("SELECT wait_for_the_loop()")))
            assert await asyncio.to_thread(entered.wait, 30)
            release.set()
            assert await reading == 1
    finally:
        await engine.dispose()
    assert ran_on != [threading.get_ident()]


@SQLITE_ONLY
async def test_waiting_for_another_process_lock_blocks_no_one(
    database: Database, settings: Settings
) -> None:
    """A turn waits for SQLite's write lock on the writer thread: meanwhile the event
    loop, i.e. every other chat, goes on (a read completes)."""
    conversation = Conversation(database.sessions, settings)
    path = database.url.split(":///", 1)[1]
    other = sqlite3.connect(path, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process (the CLI, say) is writing
    try:
        waiting = asyncio.create_task(conversation.handle(message("/help", update_key="7")))
        await asyncio.sleep(0)  # the turn is queued and its transaction begins
        async with UnitOfWork(database.sessions) as uow:
            assert await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) == 0
        assert not waiting.done()
    finally:
        other.rollback()
        other.close()
    replies = await waiting
    assert replies and translate("error.internal", "vi") not in str(replies)
    async with UnitOfWork(database.sessions) as uow:
        assert not await uow.updates.claim("terminal", "7")


async def test_an_in_memory_database_carries_the_whole_stack() -> None:
    """``:memory:``: one database per connection, so the engine keeps a single one, which
    migrations, turns, their receipts and reads all share."""
    url = "sqlite+aiosqlite:///:memory:"
    settings = load_settings(DATABASE_URL=url, RASOAT_LOCALE="vi")
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        await seed_areas(sessions)
        await add_terminal_users(sessions, {"111": (Role.COLLABORATOR, "87-MH-A1")})
        conversation = Conversation(sessions, settings)

        first = message("/whoami", update_key="1")
        second = message("/help", update_key="2")
        whoami, help_ = await asyncio.gather(
            conversation.handle(first), conversation.handle(second)
        )
        await conversation.delivered(first)
        again = await conversation.handle(message("/whoami", update_key="1"))

        assert "Ấp 1" in str(whoami)
        assert help_ and translate("error.internal", "vi") not in str(help_)
        assert again == []  # the same update, already applied
        async with UnitOfWork(sessions) as uow:
            assert await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) == 2
    finally:
        await engine.dispose()


def test_an_in_memory_url_is_told_from_a_file() -> None:
    assert in_memory("sqlite+aiosqlite:///:memory:")
    assert in_memory("sqlite+aiosqlite://")
    assert not in_memory("sqlite+aiosqlite:///data/rasoat.db")
    assert not in_memory("sqlite+aiosqlite:////srv/rasoat/:memory:.db")


@POSTGRESQL_ONLY
async def test_a_lost_connection_costs_no_update(database: Database, settings: Settings) -> None:
    """After a server restart the pool still holds dead connections; the next chat turn
    is applied on a fresh one instead of failing."""
    conversation = Conversation(database.sessions, settings)
    first = await conversation.handle(message("/help", update_key="1"))
    assert first and translate("error.internal", "vi") not in str(first)
    async with database.engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(POSTGRES_URL)
    try:
        async with admin.connect() as connection:
            assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()

    second = await conversation.handle(message("/help", update_key="2"))

    assert second == first
    async with UnitOfWork(database.sessions) as uow:
        assert not await uow.updates.claim("terminal", "2")


@asynccontextmanager
async def proxied(
    database: Database, settings: Settings
) -> AsyncIterator[tuple[Conversation, TcpProxy]]:
    """A conversation whose database connections go through a proxy the test can cut."""
    target = make_url(POSTGRES_URL)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        url = target.set(host="127.0.0.1", port=proxy.port)
        engine = create_engine(url.render_as_string(hide_password=False), schema=database.schema)
        try:
            yield Conversation(session_factory(engine), settings), proxy
        finally:
            await engine.dispose()


@POSTGRESQL_ONLY
async def test_a_restart_of_the_server_costs_no_update(
    database: Database, settings: Settings
) -> None:
    """The server is away for 400 ms (a restart): the turn waits it out and is applied."""
    async with proxied(database, settings) as (conversation, proxy):
        first = await conversation.handle(message("/help", update_key="1"))
        restart = asyncio.create_task(proxy.down_for(0.4))
        await asyncio.sleep(0)  # the server goes away first
        second = await conversation.handle(message("/help", update_key="2"))
        await restart
    assert second == first
    async with UnitOfWork(database.sessions) as uow:
        assert not await uow.updates.claim("terminal", "2")


@POSTGRESQL_ONLY
async def test_a_server_away_for_long_gets_a_try_again_later(
    database: Database, settings: Settings
) -> None:
    async with proxied(database, settings) as (conversation, proxy):
        await conversation.handle(message("/help", update_key="1"))
        proxy.cut()
        replies = await conversation.handle(message("/help", update_key="2"))
        proxy.restore()
        again = await conversation.handle(message("/help", update_key="2"))
    assert replies == [Text(translate("error.database_unavailable", "vi"))]
    # Nothing was applied while the server was away: the same update, sent again, is.
    assert again != replies and translate("error.internal", "vi") not in str(again)


@POSTGRESQL_ONLY
async def test_postgresql_connections_stay_open_between_bursts(
    database: Database, settings: Settings
) -> None:
    """The turn process's engine (bot.turn_process opens it so) keeps the connections a
    burst of transactions opened: the next burst opens none, where SQLAlchemy's default pool
    closed all but 5 of them as they were given back and opened them again, each a server
    process forked and every statement prepared again (storage.db.POSTGRES_POOL)."""
    opened = await open_database(settings, prepare=False)
    connects: list[object] = []
    event.listen(opened.engine.sync_engine, "connect", lambda *_: connects.append(None))
    burst = 12

    async def hold(all_in: asyncio.Event, release: asyncio.Event, holding: list[None]) -> None:
        async with opened.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            holding.append(None)
            if len(holding) == burst:
                all_in.set()
            await release.wait()

    try:
        for _ in range(2):
            all_in, release, holding = asyncio.Event(), asyncio.Event(), []
            held = [asyncio.create_task(hold(all_in, release, holding)) for _ in range(burst)]
            await all_in.wait()
            release.set()
            await asyncio.gather(*held)
        assert len(connects) == burst
    finally:
        await opened.engine.dispose()
