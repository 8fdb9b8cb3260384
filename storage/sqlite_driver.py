"""aiosqlite as SQLAlchemy's asyncio dialect drives it, with one thread round trip per
statement instead of four.

aiosqlite runs every sqlite3 call on its own thread and hands the result back to the event
loop. SQLAlchemy's adapter makes a call per step of a statement (open a cursor, execute,
fetch, close), and each hand-over costs far more than SQLite's own work: about 100 µs
against 2 µs for a chat turn's typical statement. Here the four steps run as one call on
the same thread, so each statement crosses threads once; nothing else changes (same
dialect, same connection, same transaction semantics).

A *brief* transaction (:func:`mark_brief`: a chat turn, a handful of one-row statements)
goes further. Its first write takes SQLite's write lock on aiosqlite's thread, where
waiting for another process to let go of the lock blocks nobody. From then on nothing can
make a statement wait (WAL readers never block the one writer), so the rest of the
transaction's statements run right on the event loop's thread, taking microseconds, until
COMMIT, which goes back to the thread for its fsync. A chat turn then crosses threads twice
in all, and holds the write lock for its own CPU time rather than for as many trips through
a busy event loop as it has statements. Anything that may read at length (exports,
reports) runs in ordinary transactions.

Used through ``create_async_engine(url, module=dbapi())``; ``storage.db`` does that for
every SQLite URL. It leans on two private but long-standing details: aiosqlite's
``Connection._execute`` (queue a function on the connection's thread) and the slots of
SQLAlchemy's ``AsyncAdapt_dbapi_cursor``. The whole test suite runs through it.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import EMPTY_DICT

# (description, rows, rowcount, lastrowid): everything SQLAlchemy reads off a cursor.
_Outcome = tuple[Any, list[Any], int, int | None]


def _run_statement(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """The whole life of a cursor in one call: on aiosqlite's thread, or right here in a
    brief transaction that holds the write lock."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No driver cursor is opened here: ``_run_statement`` opens and closes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        pass

    def close(self) -> None:
        self._rows.clear()

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted = cast(OneTripConnection, self._adapt_connection)
        if adapted.write_locked:
            outcome = _run_statement(driver._conn, operation, parameters, many)
        else:
            async with adapted._execute_mutex:
                outcome = await driver._execute(
                    lambda: _run_statement(driver._conn, operation, parameters, many)
                )
            # sqlite3 opens a transaction only for a write, which takes the write lock.
            adapted.write_locked = adapted.brief and driver._conn.in_transaction
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, many=True)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("brief", "write_locked")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.brief = False
        """This transaction is brief (see the module's docstring)."""
        self.write_locked = False
        """A brief transaction that holds the write lock: statements run inline."""

    def _end(self) -> None:
        self.brief = self.write_locked = False

    def commit(self) -> None:
        self._end()
        super().commit()

    def rollback(self) -> None:
        self._end()
        # The pool rolls back every connection it takes back, almost always with no
        # transaction open (the unit of work committed or rolled back already): don't
        # cross threads to do nothing.
        driver = self._connection._connection
        if driver is not None and not driver.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    """The DB-API module to hand to ``create_async_engine(..., module=...)``."""
    return OneTripDBAPI(aiosqlite, sqlite3)


async def mark_brief(session: AsyncSession) -> None:
    """Declare the session's transaction brief: no statement in it reads at length.

    Only SQLite's one-trip connections act on it; on other databases it does nothing.
    """
    if session.bind is None or session.bind.dialect.name != "sqlite":
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    if isinstance(raw.dbapi_connection, OneTripConnection):
        raw.dbapi_connection.brief = True
