"""The prunes of the minute sweep read only what they delete: the database's own query
plan for each, on the statement the prune really sends, names the index on its date.

Without it the sweep reads the whole ledger (or inbox) every minute, on SQLite's one writer.
PostgreSQL's planner would scan a table this small whatever its indexes: sequential scans
are turned off for the EXPLAIN, so the plan shows whether an index can serve the query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from storage.uow import UnitOfWork
from tests.conftest import Database

LATER = datetime.now(UTC) + timedelta(days=400)


async def _sent(database: Database, prune: Callable[[UnitOfWork], Awaitable[None]]) -> list[Any]:
    """The DELETE statements (with their parameters) ``prune`` sends."""
    sent: list[Any] = []

    # The listener's other arguments are not read (and a parameter named like a library's
    # private attribute would hide it from tests/test_private_names.py).
    def seen(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith("DELETE"):
            sent.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with UnitOfWork(database.sessions) as uow:
            await prune(uow)
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return sent


async def _plan(database: Database, prune: Callable[[UnitOfWork], Awaitable[None]]) -> str:
    [(statement, parameters)] = await _sent(database, prune)
    async with database.engine.connect() as connection:
        if database.backend == "postgresql":
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()
        await connection.rollback()
    return "\n".join(" ".join(str(cell) for cell in row) for row in rows)


async def test_the_ledger_prune_searches_by_the_date_index(database: Database) -> None:
    plan = await _plan(database, lambda uow: uow.updates.prune(LATER))
    assert "ix_processed_updates_processed_at" in plan, plan


async def test_the_inbox_prune_searches_by_the_date_index(database: Database) -> None:
    plan = await _plan(database, lambda uow: uow.inbox.prune(LATER))
    assert "ix_inbox_updates_received_at" in plan, plan
