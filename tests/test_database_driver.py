"""The database plumbing under the chat: the SQLite driver and recovery from a lost
PostgreSQL connection."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.conversation import Conversation
from bot.i18n import translate
from bot.settings import Settings
from storage.db import create_engine
from storage.sqlite_driver import OneTripConnection
from storage.uow import UnitOfWork
from tests.conftest import POSTGRES_URL, Database
from tests.helpers import message

# Tests of one backend's plumbing run on that backend only, rather than being skipped on
# the other (a skip in `make test` must mean a missing PostgreSQL server, nothing else).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@sqlite_only
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


@sqlite_only
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


@sqlite_only
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


@sqlite_only
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


@postgresql_only
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
