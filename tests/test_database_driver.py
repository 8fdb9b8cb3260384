"""The database plumbing under the chat: the SQLite driver and recovery from a lost
PostgreSQL connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.conversation import Conversation
from bot.i18n import translate
from bot.settings import Settings
from storage.db import create_engine
from storage.uow import UnitOfWork
from tests.conftest import POSTGRES_URL, Database
from tests.helpers import message


async def test_sqlite_driver_behaves_like_a_dbapi(database: Database) -> None:
    if database.backend != "sqlite":
        pytest.skip("the one-trip driver is SQLite's")
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


async def test_a_lost_connection_costs_no_update(database: Database, settings: Settings) -> None:
    """After a server restart the pool still holds dead connections; the next chat turn
    is applied on a fresh one instead of failing."""
    if database.backend != "postgresql":
        pytest.skip("SQLite has no server to lose")
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
