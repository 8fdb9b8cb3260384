"""storage.lean on PostgreSQL: a chat turn's statements run on SQLAlchemy's DB-API cursor of
asyncpg, in the turn's transaction, and store, read and fail exactly as SQLAlchemy's own
execution does; a connection lost on the way is said lost, as SQLAlchemy says it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from storage import lean
from storage.db import create_engine
from tests.conftest import POSTGRES_URL, POSTGRESQL_ONLY, Database
from tests.test_lean import (
    LATER,
    STATE_INSERT,
    STATE_READ,
    STATE_UPDATE,
    STATES,
    USER_INSERT,
    USERS,
    WHEN,
    person,
    state,
)

T = TypeVar("T")


async def in_transaction(database: Database, work: Callable[[Connection], T]) -> T:
    """``work`` on a connection of the database's engine, in a transaction committed after."""
    async with database.engine.begin() as connection:
        return await connection.run_sync(work)


def columns(connection: Connection, table: Any, key: Any) -> list[tuple[Any, ...]]:
    """Every row as SQLAlchemy reads it, its key left out."""
    rows = connection.execute(select(table).order_by(key)).mappings().all()
    return [tuple(value for name, value in row.items() if name != key.name) for row in rows]


@POSTGRESQL_ONLY
async def test_writes_store_and_reads_read_what_sqlalchemy_does(database: Database) -> None:
    def work(connection: Connection) -> tuple[Any, ...]:
        written = lean.execute(connection, USER_INSERT, person(1))
        lean.execute(connection, STATE_INSERT, state(1, seen_turn=LATER))
        connection.execute(USER_INSERT, person(2))
        connection.execute(STATE_INSERT, state(2, seen_turn=LATER))
        read = lean.execute(connection, STATE_READ, {"user": 1})
        role = lean.execute(connection, select(USERS.c.role).where(USERS.c.id == 1), {})
        # Nothing to convert: asyncpg's records given as tuples all the same.
        plain = select(USERS.c.id, USERS.c.display_name).order_by(USERS.c.id)
        names = lean.execute(connection, plain, {})
        return (
            names.all(),
            written,
            read.all(),
            role.all(),
            lean.execute(connection, STATE_READ, {"user": 3}).first(),
            columns(connection, USERS, USERS.c.id),
            columns(connection, STATES, STATES.c.user_id),
        )

    names, written, read, role, nobody, users, states = await in_transaction(database, work)

    # Run on the cursor, not handed back to SQLAlchemy's execution.
    assert isinstance(written, lean.Rows)
    assert read == [("interview", {"household": 7, "note": "Ấp Tân Hòa"}, WHEN, LATER)]
    assert type(read[0]) is tuple and read[0][2].utcoffset() is not None
    assert role == [(person(1)["role"],)]
    assert nobody is None
    assert names == [(1, "Nguyễn Thị Lan"), (2, "Nguyễn Thị Lan")]
    assert all(type(row) is tuple for row in names)
    # The two people stored alike but for their own ids, the two states alike.
    assert users[0][0] == users[1][0] == "telegram"
    assert users[0][2:] == users[1][2:]
    assert states[0] == states[1]


@POSTGRESQL_ONLY
async def test_an_update_counts_its_rows(database: Database) -> None:
    def work(connection: Connection) -> tuple[int, int]:
        connection.execute(USER_INSERT, [person(1), person(2)])
        connection.execute(STATE_INSERT, [state(1), state(2)])
        moved = {"asked_at": LATER, "updated_at": LATER}
        one = lean.execute(connection, STATE_UPDATE, {"key_": 1, **moved})
        nobody = lean.execute(connection, STATE_UPDATE, {"key_": 9, **moved})
        return one.rowcount, nobody.rowcount

    assert await in_transaction(database, work) == (1, 0)


@POSTGRESQL_ONLY
async def test_statements_are_the_transactions_own(database: Database) -> None:
    def insert(who: int) -> Callable[[Connection], Any]:
        return lambda connection: lean.execute(connection, USER_INSERT, person(who))

    async with database.engine.connect() as connection:
        await connection.begin()
        on_cursor = await connection.run_sync(insert(1))
        await connection.rollback()
        await connection.begin()
        await connection.run_sync(insert(2))
        await connection.commit()
        # Not begun: begun by SQLAlchemy's own execution, which its commit then ends.
        begun = await connection.run_sync(insert(3))
        await connection.commit()

    async with database.engine.connect() as connection:
        stored = (await connection.execute(select(USERS.c.id).order_by(USERS.c.id))).scalars()
        assert stored.all() == [2, 3]
    assert isinstance(on_cursor, lean.Rows) and not isinstance(begun, lean.Rows)


@POSTGRESQL_ONLY
async def test_an_error_is_sqlalchemys_and_holds_no_values(database: Database) -> None:
    await in_transaction(database, lambda c: lean.execute(c, USER_INSERT, person(1, "Trần Riêng")))

    def again(connection: Connection) -> Exception:
        try:
            lean.execute(connection, USER_INSERT, person(1, "Trần Riêng"))
        except IntegrityError as error:
            return error
        raise AssertionError("stored twice")

    async with database.engine.connect() as connection:
        error = await connection.run_sync(again)
        await connection.rollback()
    assert "pk_users" in str(error)
    assert "Trần Riêng" not in str(error) and "1001" not in str(error)
    assert not error.connection_invalidated


@POSTGRESQL_ONLY
async def test_a_connection_the_server_dropped_is_said_lost_and_the_pool_renewed(
    database: Database,
) -> None:
    """As SQLAlchemy's own execution says it: the error marks the connection invalidated
    (rasoat then tries again on a new one, bot.conversation), and the pool's other
    connections, dropped by the same restart, are not lent again."""
    engine = database.engine
    async with engine.connect() as first, engine.connect() as second:
        pids = [await c.scalar(text("SELECT pg_backend_pid()")) for c in (first, second)]
    admin = create_async_engine(POSTGRES_URL)
    try:
        async with admin.connect() as connection:
            for pid in pids:
                await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()

    def lost(connection: Connection) -> DBAPIError:
        try:
            lean.execute(connection, STATE_READ, {"user": 1})
        except DBAPIError as error:
            return error
        raise AssertionError("read on a dropped connection")

    async with engine.connect() as connection:
        await connection.begin()
        error = await connection.run_sync(lost)
    assert error.connection_invalidated

    # The next connection lent works: the other dropped one was let go with the first.
    async with engine.begin() as connection:
        read = await connection.run_sync(lambda c: lean.execute(c, STATE_READ, {"user": 1}))
    assert isinstance(read, lean.Rows) and read.all() == []


@POSTGRESQL_ONLY
async def test_a_statement_gone_stale_leaves_the_rest_to_sqlalchemy(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process changed a table a prepared statement reads (an upgrade's migration,
    say): asyncpg refuses the statement it has cached. SQLAlchemy's execution recovers from
    that, as its asyncpg dialect documents; the cursor would fail every time, so this
    process leaves the rest to SQLAlchemy."""
    monkeypatch.setattr(lean, "given_up", set())
    # One connection: the one that prepared the statement is the one lent again.
    engine = create_engine(POSTGRES_URL, schema=database.schema, pool_size=1)
    try:

        def read(connection: Connection) -> Any:
            return lean.execute(connection, STATE_READ, {"user": 1})

        async with engine.begin() as connection:
            assert isinstance(await connection.run_sync(read), lean.Rows)
        admin = create_async_engine(POSTGRES_URL)
        try:
            async with admin.begin() as connection:
                table = f"{database.schema}.dialog_states"
                await connection.execute(text(f"ALTER TABLE {table} ALTER COLUMN dialog TYPE text"))
        finally:
            await admin.dispose()

        async with engine.connect() as connection:
            await connection.begin()
            with pytest.raises(DBAPIError) as stale:
                await connection.run_sync(read)
        assert "InvalidCachedStatementError" in str(stale.value)
        assert lean.given_up == {"asyncpg"}

        # SQLAlchemy's execution from now on: it fails once on the statement asyncpg still
        # holds (SQLAlchemy was not told by the cursor's failure), then prepares it anew.
        outcomes: list[Any] = []
        for _ in range(2):
            async with engine.begin() as connection:
                try:
                    outcomes.append(await connection.run_sync(lambda c: read(c).all()))
                except DBAPIError as error:
                    outcomes.append(type(error.orig).__name__)
        assert outcomes == ["InvalidCachedStatementError", []]
    finally:
        await engine.dispose()
