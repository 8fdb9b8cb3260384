"""The prunes of the minute sweep read only what they delete, and a turn's look for its
sender's earlier updates reads only those still waiting: the database's own query plan for
each, on the statement really sent, names the index that serves it.

Without the first the sweep reads the whole ledger (or inbox) every minute, on SQLite's one
writer; without the second every turn on a shared database read the sender's week of
applied updates, each asked of the ledger (22 ms a turn in the benchmark, growing).
PostgreSQL's planner would scan a table this small whatever its indexes: sequential scans
are turned off for the EXPLAIN, so the plan shows whether an index can serve the query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from bot.dialogs.interview import OPEN_INTERVIEW
from storage.repositories import Received
from storage.uow import UnitOfWork
from tests.conftest import POSTGRESQL_ONLY, Database
from tests.helpers import add_person, seed_areas

LATER = datetime.now(UTC) + timedelta(days=400)


async def _sent(
    database: Database, act: Callable[[UnitOfWork], Awaitable[object]], verb: str = "DELETE"
) -> list[Any]:
    """The statements starting with ``verb`` (with their parameters) ``act`` sends."""
    sent: list[Any] = []

    # The listener's other arguments are not read (and a parameter named like a library's
    # private attribute would hide it from tests/test_private_names.py).
    def seen(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith(verb):
            sent.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with UnitOfWork(database.sessions) as uow:
            await act(uow)
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return sent


async def _plan(
    database: Database, act: Callable[[UnitOfWork], Awaitable[object]], verb: str = "DELETE"
) -> str:
    [(statement, parameters)] = await _sent(database, act, verb)
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


@POSTGRESQL_ONLY
async def test_a_turns_look_for_earlier_updates_reads_only_those_waiting(
    database: Database,
) -> None:
    await _week_of_applied_updates(database)
    plan = await _plan(
        database,
        lambda uow: uow.users.for_turn("telegram", "111", OPEN_INTERVIEW, "60"),
        "SELECT",
    )
    assert "ix_inbox_updates_waiting" in plan, plan
    # Not the ledger, row by row.
    assert "processed_updates" not in plan, plan


async def test_the_updates_waiting_before_one_are_read_through_their_index(
    database: Database,
) -> None:
    await _week_of_applied_updates(database)
    plan = await _plan(database, lambda uow: uow.inbox.unapplied("telegram", "111", "60"), "SELECT")
    assert "ix_inbox_updates_waiting" in plan, plan
    assert "processed_updates" not in plan, plan


async def _week_of_applied_updates(database: Database) -> None:
    """Hoa's 60 updates in the inbox, all applied but the last."""
    await seed_areas(database.sessions)
    await add_person(database.sessions, "telegram", "111", "Hoa")
    keys = [str(number) for number in range(1, 61)]
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", [Received(key, "111", {"update_id": key}) for key in keys])
        for key in keys[:-1]:
            await uow.updates.hold_and_claim("telegram", "111", key)
        await uow.commit()
