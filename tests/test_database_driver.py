"""The database plumbing under the chat: the SQLite driver and recovery from a lost
PostgreSQL connection."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import IntegrityError

from bot.conversation import Conversation
from bot.messages import Text
from bot.settings import Settings
from locales.catalog import translate
from storage.db import create_engine, session_factory
from storage.sqlite_driver import OneTripConnection
from storage.uow import UnitOfWork
from tests.conftest import POSTGRES_URL, POSTGRESQL_ONLY, SQLITE_ONLY, Database
from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import message


@SQLITE_ONLY
async def test_sqlite_driver_behaves_like_a_dbapi(database: Database) -> None:
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


async def _connection_of(uow: UnitOfWork) -> OneTripConnection:
    raw = await (await uow.session.connection()).get_raw_connection()
    assert isinstance(raw.dbapi_connection, OneTripConnection)
    return raw.dbapi_connection


@SQLITE_ONLY
async def test_a_brief_transaction_goes_inline_once_it_holds_the_write_lock(
    database: Database,
) -> None:
    async with UnitOfWork(database.sessions, brief=True) as uow:
        connection = await _connection_of(uow)
        await uow.session.execute(text("SELECT count(*) FROM users"))
        assert connection.brief and not connection.write_locked  # a read takes no lock
        assert await uow.updates.claim("telegram", "1")
        assert connection.write_locked
        assert not await uow.updates.claim("telegram", "1")  # inline, same answer
        await uow.commit()
        assert not connection.brief and not connection.write_locked
    async with UnitOfWork(database.sessions) as uow:
        connection = await _connection_of(uow)
        assert await uow.updates.claim("telegram", "2")
        assert not connection.write_locked  # not brief: every statement on the thread


@SQLITE_ONLY
async def test_an_inline_failure_rolls_back_and_the_connection_carries_on(
    database: Database,
) -> None:
    with pytest.raises(IntegrityError):
        async with UnitOfWork(database.sessions, brief=True) as uow:
            assert await uow.updates.claim("telegram", "1")
            await uow.session.execute(
                text("INSERT INTO areas (code, name, level) VALUES ('X', 'X', 'village')")
            )
            await uow.session.execute(
                text("INSERT INTO areas (code, name, level) VALUES ('X', 'Y', 'village')")
            )
    async with UnitOfWork(database.sessions, brief=True) as uow:
        assert await uow.updates.claim("telegram", "1")  # the first claim was undone
        assert await uow.session.scalar(text("SELECT count(*) FROM areas")) == 0
        await uow.commit()


@SQLITE_ONLY
async def test_waiting_for_another_process_lock_blocks_no_one(database: Database) -> None:
    """The first write of a brief transaction waits for SQLite's lock on aiosqlite's
    thread: meanwhile the event loop, i.e. every other chat, goes on."""
    path = database.url.split(":///", 1)[1]
    other = sqlite3.connect(path, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process (the CLI, say) is writing
    try:

        async def claim() -> bool:
            async with UnitOfWork(database.sessions, brief=True) as uow:
                claimed = await uow.updates.claim("telegram", "7")
                await uow.commit()
                return claimed

        waiting = asyncio.create_task(claim())
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not waiting.done()
        assert ticks == 20
    finally:
        other.rollback()
        other.close()
    assert await waiting


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
