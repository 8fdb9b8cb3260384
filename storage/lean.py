"""A chat turn's prepared statements run straight on the DB-API cursor (pysqlite's, asyncpg's).

Every chat turn runs the same few Core statements (the ledger's claim, the turn's read,
the answer, the interview, the dialog state), each built once. Through
``Connection.execute`` each execution still builds SQLAlchemy's execution context and
result objects: about three quarters of a statement's CPU, a quarter of the writer
thread's, on a turn whose statements SQLite itself answers in microseconds.

A :class:`Prepared` statement is compiled once for a set of parameter names, with SQLAlchemy's
own bind and result processors of its types (the same text, the same stored formats), and
then run by the DB-API cursor of the connection the transaction is on: ``sqlite3``'s on
SQLite's writer thread; on PostgreSQL, SQLAlchemy's public DB-API adaptation of asyncpg,
whose statements wait for the server in the turn's greenlet as SQLAlchemy's own do.
Statements this cannot run exactly as SQLAlchemy would (Python-side column defaults,
expanding IN, RETURNING) are run by ``Connection.execute`` as before: :func:`execute`
decides once per statement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None


class Rows:
    """What a prepared statement gave back: its rows (plain tuples, in the order selected)
    and, for a write, the rows it changed; what the repositories ask of a result."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[tuple[Any, ...]]:
        return self._rows

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


class _Given:
    """Stands for the value given under ``key`` when a statement is prepared: where
    SQLAlchemy's ``construct_params`` puts one, that parameter is the given value, and
    anywhere else a value the statement holds."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


@dataclass(frozen=True, slots=True)
class Prepared:
    compiled: SQLCompiler
    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...] | None
    sources: tuple[tuple[str | None, Any, Processor], ...] | None = None
    """Each parameter as (the given key it is read from, or None and the value the statement
    holds; its bind processor): SQLAlchemy's own matching, done once (see :func:`prepare`).
    None where a parameter's value is computed at each execution (``construct_params``)."""
    processed: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    """The columns selected whose values a result processor converts, by position."""

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.sources is not None:
            try:
                return tuple(
                    (value if key is None else given[key])
                    if process is None
                    else process(value if key is None else given[key])
                    for key, value, process in self.sources
                )
            except KeyError:
                pass  # SQLAlchemy's error for a missing parameter, below
        # SQLAlchemy's own matching of the given values to the statement's parameters
        # (and its error for one missing); only the execution context is left out.
        values = self.compiled.construct_params(given)
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in zip(self.names, self.binds, strict=True)
        )

    def run(self, cursor: Any, given: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Rows:
        if isinstance(given, Mapping):
            cursor.execute(self.sql, self.parameters(given))
        else:
            cursor.executemany(self.sql, [self.parameters(one) for one in given])
        if self.results is None:
            return Rows([], cursor.rowcount)
        rows = cursor.fetchall()
        if self.processed:
            converted = []
            for row in rows:
                values = list(row)
                for index, process in self.processed:
                    values[index] = process(values[index])
                converted.append(tuple(values))
            rows = converted
        elif rows and type(rows[0]) is not tuple:
            # asyncpg's records: plain tuples, as pysqlite gives and SQLAlchemy's rows compare.
            rows = [tuple(row) for row in rows]
        return Rows(rows, -1)


# The drivers whose DB-API cursor a turn's thread may use: pysqlite (SQLite's writer
# thread) and asyncpg (SQLAlchemy's adaptation, in the turn's greenlet on the event loop).
DRIVERS = frozenset({"pysqlite", "asyncpg"})
# The drivers whose cursor is no longer used in this process: asyncpg's after a statement
# it had prepared went stale (another process changed the schema: InvalidCachedStatement,
# InternalServerError "cache lookup failed"). SQLAlchemy's execution recovers from that by
# preparing statements anew, as its asyncpg dialect documents; the cursor alone would not.
STALE = ("InvalidCachedStatementError", "InternalServerError")
given_up: set[str] = set()
_prepared: dict[tuple[Any, frozenset[str], str], Prepared | None] = {}
_preparing = threading.Lock()
# The statements a turn runs are built once (functools.cache) and number a few dozen with
# their sets of parameters; past this many, a statement built at each call would only grow
# the dict: it goes through Connection.execute.
PREPARED_LIMIT = 256


def prepare(statement: Any, keys: frozenset[str], dialect: Dialect) -> Prepared | None:
    """``statement`` compiled for parameters named ``keys``, or None where only
    ``Connection.execute`` runs it as SQLAlchemy would."""
    if isinstance(statement, UpdateBase):
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
        if compiled.effective_returning:
            return None
    elif isinstance(statement, Select):
        compiled = statement.compile(dialect=dialect)
    else:
        return None
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.positiontup is None
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.literal_execute_params
        or "POSTCOMPILE" in compiled.string
    ):
        return None
    names = tuple(compiled.positiontup)
    binds = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    results = None
    processed: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    if isinstance(statement, Select):
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        processed = tuple((n, process) for n, process in enumerate(results) if process is not None)
    return Prepared(
        compiled, compiled.string, names, binds, results, _sources(compiled, keys, binds), processed
    )


def _sources(
    compiled: SQLCompiler, keys: frozenset[str], binds: tuple[Processor, ...]
) -> tuple[tuple[str | None, Any, Processor], ...] | None:
    """Where each parameter's value comes from, as SQLAlchemy's ``construct_params`` finds
    it for values given under ``keys``; None if one of them is computed at each execution."""
    names = compiled.positiontup or []
    if any(compiled.binds[name].callable is not None for name in names):
        return None
    found = compiled.construct_params({key: _Given(key) for key in keys})
    assert found is not None
    sources: list[tuple[str | None, Any, Processor]] = []
    for name, process in zip(names, binds, strict=True):
        value = found[name]
        if isinstance(value, _Given):
            sources.append((value.key, None, process))
        else:
            sources.append((None, value, process))
    return tuple(sources)


def execute(connection: Connection, statement: Any, parameters: Any = None) -> Any:
    """``statement`` run in ``connection``'s transaction: prepared where it can be, on the
    DB-API cursor; else by ``connection.execute``."""
    dispatch = connection.dispatch
    if (
        connection.dialect.driver not in DRIVERS
        or connection.dialect.driver in given_up
        or dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or not connection.in_transaction()
    ):
        # aiosqlite's connection is not called from this thread; whoever listens to the
        # statements run (a test counting them, --profile) sees every one; and a connection
        # that has not begun its transaction begins it, as only SQLAlchemy's execution does
        # (a statement run on the cursor would be in the driver's transaction, which
        # SQLAlchemy's commit does not know of).
        return connection.execute(statement, parameters)
    given = parameters if parameters is not None else {}
    first = given if isinstance(given, Mapping) else (given[0] if given else None)
    if first is None:
        return connection.execute(statement, parameters)
    # The driver too: a process may have a SQLite and a PostgreSQL engine (the statement is
    # compiled for each); engines of one driver are alike here (rasoat's settings).
    key = (statement, frozenset(first), connection.dialect.driver)
    try:
        prepared = _prepared[key]
    except KeyError:
        if len(_prepared) >= PREPARED_LIMIT:
            return connection.execute(statement, parameters)
        with _preparing:
            prepared = _prepared[key] = prepare(statement, key[1], connection.dialect)
    if prepared is None:
        return connection.execute(statement, parameters)
    dbapi = connection.dialect.loaded_dbapi
    # pysqlite's own cursor; asyncpg's, SQLAlchemy's DB-API adaptation of it (which begins
    # the transaction at the first statement, and waits for the server in the turn's
    # greenlet, as SQLAlchemy's own statements do).
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        return prepared.run(cursor, given)
    except dbapi.Error as error:
        if connection.dialect.is_disconnect(error, dbapi_connection, cursor):
            # The connection is gone: SQLAlchemy's own handling of that (this connection
            # invalidated, and the pool's others with it, as the server restarted), by a
            # statement on it that fails the same way and raises what it raises.
            connection.exec_driver_sql("SELECT 1")
        if type(error).__name__ in STALE:
            given_up.add(connection.dialect.driver)
        # As SQLAlchemy raises it (IntegrityError, OperationalError…), without the values:
        # they may be personal, and errors are logged.
        raise DBAPIError.instance(
            prepared.sql, None, error, dbapi.Error, hide_parameters=True, dialect=connection.dialect
        ) from error
    finally:
        cursor.close()
