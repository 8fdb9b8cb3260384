"""Group commit on SQLite: writes that arrive while one transaction is being applied share
the next, each in a savepoint, with one COMMIT; nobody learns an outcome before it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

import bot.conversation
from bot.context import DialogContext
from bot.conversation import Conversation, GroupedWrites
from bot.messages import Outgoing, Text
from bot.settings import Settings
from locales.catalog import translate
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWork
from tests.conftest import SQLITE_ONLY, Database
from tests.helpers import message

Work = Callable[[UnitOfWork], Awaitable[Any]]


class Gate:
    """A unit of work that holds its batch open until the test lets it go, so that the
    writes submitted meanwhile are known to make up the next batch."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.open = asyncio.Event()

    async def __call__(self, uow: UnitOfWork) -> str:
        self.entered.set()
        await self.open.wait()
        return "gate"


@contextmanager
def counted_commits(database: Database) -> Iterator[list[object]]:
    commits: list[object] = []

    def count(connection: Any) -> None:
        commits.append(connection)

    event.listen(database.engine.sync_engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(database.engine.sync_engine, "commit", count)


def claim(key: str, *, then_fail: bool = False) -> Work:
    async def work(uow: UnitOfWork) -> str:
        assert await uow.updates.claim("test", key)
        if then_fail:
            raise ValueError(key)
        return key

    return work


async def claimed(database: Database) -> set[str]:
    async with UnitOfWork(database.sessions) as uow:
        rows = await uow.session.scalars(
            select(ProcessedUpdate.update_key).where(ProcessedUpdate.platform == "test")
        )
        return set(rows)


async def behind_a_gate(
    writes: GroupedWrites, works: list[Work]
) -> tuple[asyncio.Task[Any], list[asyncio.Task[Any]]]:
    """``works`` submitted while a first batch is held open: they form the second."""
    gate = Gate()
    first = asyncio.create_task(writes.run(gate))
    await gate.entered.wait()
    tasks = [asyncio.create_task(writes.run(work)) for work in works]
    await asyncio.sleep(0)  # every one of them is queued
    gate.open.set()
    return first, tasks


@SQLITE_ONLY
async def test_writes_arriving_together_share_one_commit(database: Database) -> None:
    writes = GroupedWrites(database.sessions, limit=32)
    order: list[int] = []

    def step(number: int) -> Work:
        async def work(uow: UnitOfWork) -> int:
            await uow.updates.claim("test", str(number))
            order.append(number)
            return number

        return work

    with counted_commits(database) as commits:
        first, tasks = await behind_a_gate(writes, [step(n) for n in range(10)])
        assert await first == "gate"
        assert [await task for task in tasks] == list(range(10))

    assert len(commits) == 2  # the gate's batch, then the ten others together
    assert order == list(range(10))  # in the order they arrived
    assert await claimed(database) == {str(n) for n in range(10)}


@SQLITE_ONLY
async def test_a_batch_is_bounded(database: Database) -> None:
    writes = GroupedWrites(database.sessions, limit=4)
    with counted_commits(database) as commits:
        first, tasks = await behind_a_gate(writes, [claim(str(n)) for n in range(10)])
        await first
        await asyncio.gather(*tasks)
    assert len(commits) == 1 + 3  # the gate's, then 4 + 4 + 2


@SQLITE_ONLY
async def test_a_write_that_raises_is_undone_alone(database: Database) -> None:
    writes = GroupedWrites(database.sessions, limit=32)
    stored_after: list[str] = []

    def remembering(key: str) -> Work:
        async def work(uow: UnitOfWork) -> str:
            await uow.updates.claim("test", key)
            uow.after_commit(lambda: stored_after.append(key))
            if key == "b":
                raise ValueError(key)
            return key

        return work

    with counted_commits(database) as commits:
        first, tasks = await behind_a_gate(writes, [remembering(k) for k in "abc"])
        await first
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert outcomes[0] == "a" and outcomes[2] == "c"
    assert isinstance(outcomes[1], ValueError)
    assert len(commits) == 2
    assert await claimed(database) == {"a", "c"}
    assert stored_after == ["a", "c"]  # never for the write undone


@SQLITE_ONLY
async def test_a_failed_commit_fails_every_write_of_its_batch(database: Database) -> None:
    """No caller is told its write is stored before the COMMIT that stores it succeeded."""
    writes = GroupedWrites(database.sessions, limit=32)
    stored_after: list[str] = []
    gate = Gate()

    def remembering(key: str) -> Work:
        async def work(uow: UnitOfWork) -> str:
            await uow.updates.claim("test", key)
            uow.after_commit(lambda: stored_after.append(key))
            return key

        return work

    commits: list[object] = []
    answered_before_commit: list[bool] = []

    def refuse(connection: Any) -> None:
        commits.append(connection)
        if len(commits) > 1:  # the gate's batch commits; the next doesn't
            answered_before_commit.extend(task.done() for task in tasks)
            raise OSError("disk I/O error")

    first = asyncio.create_task(writes.run(gate))
    await gate.entered.wait()
    tasks = [asyncio.create_task(writes.run(remembering(k))) for k in "abc"]
    await asyncio.sleep(0)
    event.listen(database.engine.sync_engine, "commit", refuse)
    try:
        gate.open.set()
        assert await first == "gate"
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        event.remove(database.engine.sync_engine, "commit", refuse)

    assert answered_before_commit == [False, False, False]
    assert [type(outcome) for outcome in outcomes] == [OSError, OSError, OSError]
    assert stored_after == []
    assert await claimed(database) == set()
    # The writer goes on with the next batch.
    assert await writes.run(remembering("d")) == "d"
    assert await claimed(database) == {"d"}


@SQLITE_ONLY
async def test_a_write_whose_transaction_is_lost_fails_its_whole_batch(
    database: Database,
) -> None:
    """A write that ends the transaction under the batch (as SQLite does on some errors)
    takes the others down with it rather than let them be committed piecemeal."""
    writes = GroupedWrites(database.sessions, limit=32)

    async def ends_the_transaction(uow: UnitOfWork) -> None:
        connection = await uow.session.connection()
        await connection.exec_driver_sql("ROLLBACK")

    first, tasks = await behind_a_gate(writes, [claim("a"), ends_the_transaction, claim("c")])
    await first
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert await claimed(database) == set()


@SQLITE_ONLY
async def test_a_part_cannot_commit_the_group_itself(database: Database) -> None:
    writes = GroupedWrites(database.sessions, limit=32)

    async def commits(uow: UnitOfWork) -> None:
        await uow.updates.claim("test", "x")
        await uow.commit()

    with pytest.raises(RuntimeError):
        await writes.run(commits)
    assert await claimed(database) == set()


@SQLITE_ONLY
async def test_a_turn_that_fails_gets_its_error_while_the_others_are_answered(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the Conversation: one turn of a batch fails on a constraint; it alone is
    undone and told so, the others are applied, each once."""
    conversation = Conversation(database.sessions, settings)
    route = bot.conversation.route

    async def failing_route(ctx: DialogContext) -> list[Outgoing]:
        if ctx.incoming.text == "/fail":
            ctx.uow.session.add(ProcessedUpdate(platform="terminal", update_key="1"))
            await ctx.uow.session.flush()  # the key "1" is taken: IntegrityError
        return await route(ctx)

    monkeypatch.setattr(bot.conversation, "route", failing_route)
    writes = conversation._writes
    assert writes is not None
    gate = Gate()
    first = asyncio.create_task(writes.run(gate))
    await gate.entered.wait()
    turns = [
        asyncio.create_task(conversation.handle(message(text, update_key=key)))
        for text, key in [("/help", "1"), ("/fail", "2"), ("/help", "3"), ("/help", "1")]
    ]
    for _ in range(10):
        await asyncio.sleep(0)  # every turn reaches the queue
    gate.open.set()
    await first
    helped, failed, helped_again, duplicate = await asyncio.gather(*turns)

    assert failed == [Text(translate("error.internal", "vi"))]
    assert helped and helped == helped_again
    assert duplicate == []  # the same update, applied earlier in the same batch
    async with UnitOfWork(database.sessions) as uow:
        keys = await uow.session.scalars(
            select(ProcessedUpdate.update_key).where(ProcessedUpdate.platform == "terminal")
        )
        assert sorted(keys) == ["1", "3"]
    # The failed turn was undone, so the same update sent again is applied.
    again = await conversation.handle(message("/help", update_key="2"))
    assert again == helped


@SQLITE_ONLY
async def test_an_integrity_error_in_one_turn_leaves_the_session_usable(
    database: Database,
) -> None:
    """After a part's failed flush, the next part of the same transaction works."""
    writes = GroupedWrites(database.sessions, limit=32)

    async def duplicate(uow: UnitOfWork) -> None:
        uow.session.add(ProcessedUpdate(platform="test", update_key="a"))
        await uow.session.flush()

    first, tasks = await behind_a_gate(writes, [claim("a"), duplicate, claim("b")])
    await first
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], IntegrityError)
    assert await claimed(database) == {"a", "b"}


@SQLITE_ONLY
async def test_a_caller_gone_before_its_write_began_leaves_it_out(database: Database) -> None:
    writes = GroupedWrites(database.sessions, limit=32)
    gate = Gate()
    first = asyncio.create_task(writes.run(gate))
    await gate.entered.wait()
    gone = asyncio.create_task(writes.run(claim("gone")))
    stays = asyncio.create_task(writes.run(claim("stays")))
    await asyncio.sleep(0)
    gone.cancel()
    gate.open.set()
    await first
    assert await stays == "stays"
    assert gone.cancelled()
    assert await claimed(database) == {"stays"}


@pytest.mark.parametrize("fails", [False, True], ids=["applied", "undone"])
@SQLITE_ONLY
async def test_a_caller_gone_while_its_write_runs_disturbs_no_other(
    database: Database, fails: bool
) -> None:
    """Once begun, a write runs to its end (applied, or undone if it raises) though its
    caller went away, as if its reply were lost; the writes of its batch are unaffected."""
    writes = GroupedWrites(database.sessions, limit=32)
    gate, inside = Gate(), Gate()

    async def slow(uow: UnitOfWork) -> str:
        await uow.updates.claim("test", "slow")
        await inside(uow)
        if fails:
            raise ValueError("slow")
        return "slow"

    first = asyncio.create_task(writes.run(gate))
    await gate.entered.wait()
    running = asyncio.create_task(writes.run(slow))
    after = asyncio.create_task(writes.run(claim("after")))
    await asyncio.sleep(0)
    gate.open.set()
    await first
    await inside.entered.wait()
    running.cancel()
    await asyncio.sleep(0)
    inside.open.set()

    assert await after == "after"
    assert running.cancelled()
    assert await claimed(database) == ({"after"} if fails else {"slow", "after"})


@SQLITE_ONLY
async def test_a_write_alone_in_its_batch_is_undone_whole_when_it_raises(
    database: Database,
) -> None:
    """A batch of one needs no savepoint; what it raises still undoes it."""
    writes = GroupedWrites(database.sessions, limit=32)
    with pytest.raises(ValueError):
        await writes.run(claim("a", then_fail=True))
    assert await writes.run(claim("b")) == "b"
    assert await claimed(database) == {"b"}


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "grouped"])
@SQLITE_ONLY
async def test_what_a_write_only_adds_is_stored(database: Database, alone: bool) -> None:
    """Objects added to the session and never flushed by the write itself (an audit
    row) are stored with it."""
    writes = GroupedWrites(database.sessions, limit=32)

    async def adds(uow: UnitOfWork) -> None:
        uow.session.add(ProcessedUpdate(platform="test", update_key="added"))

    if alone:
        await writes.run(adds)
    else:
        first, tasks = await behind_a_gate(writes, [adds, claim("other")])
        await first
        await asyncio.gather(*tasks)
    assert "added" in await claimed(database)
