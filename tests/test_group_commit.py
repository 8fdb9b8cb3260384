"""SQLite's writer thread (storage.writer): a turn's reads and writes are one function run
there; jobs that arrive while one batch is being applied share the next, with one COMMIT
(run again each in a savepoint when one raises); nobody learns an outcome before it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError

import bot.conversation
from bot.context import DialogContext
from bot.conversation import Conversation
from bot.messages import Outgoing, Text
from bot.settings import Settings
from locales.catalog import translate
from storage.db import sqlite_writer
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWork, Work
from storage.writer import Writer
from tests.conftest import SQLITE_ONLY, Database
from tests.helpers import message

Job = Callable[[Work], Any]


class Gate:
    """A job that holds its batch open on the writer thread until the test lets it go, so
    that the jobs submitted meanwhile are known to make up the next batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self, work: Work) -> str:
        self.entered.set()
        assert self.open.wait(30)
        return "gate"

    async def reached(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 30)


@pytest.fixture
async def writer(database: Database) -> Any:
    made = sqlite_writer(database.engine, 32)
    assert made is not None
    yield made
    made.close()


def bounded(database: Database, limit: int) -> Writer:
    made = sqlite_writer(database.engine, limit)
    assert made is not None
    return made


@contextmanager
def counted_commits(engine: Engine) -> Iterator[list[object]]:
    commits: list[object] = []

    def count(connection: Any) -> None:
        commits.append(connection)

    event.listen(engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", count)


def claim(key: str, *, then_fail: bool = False) -> Job:
    def job(work: Work) -> str:
        assert work.updates.claim("test", key)
        if then_fail:
            raise ValueError(key)
        return key

    return job


async def claimed(database: Database) -> set[str]:
    async with UnitOfWork(database.sessions) as uow:
        rows = await uow.session.scalars(
            select(ProcessedUpdate.update_key).where(ProcessedUpdate.platform == "test")
        )
        return set(rows)


async def behind_a_gate(
    writer: Writer, jobs: list[Job]
) -> tuple[asyncio.Task[Any], list[asyncio.Task[Any]]]:
    """``jobs`` submitted while a first batch is held open: they form the second."""
    gate = Gate()
    first = asyncio.create_task(writer.run(gate))
    await gate.reached()
    tasks = [asyncio.create_task(writer.run(job)) for job in jobs]
    await asyncio.sleep(0)  # every one of them is queued
    gate.open.set()
    return first, tasks


@SQLITE_ONLY
async def test_jobs_arriving_together_share_one_commit(writer: Writer, database: Database) -> None:
    order: list[int] = []

    def step(number: int) -> Job:
        def job(work: Work) -> int:
            work.updates.claim("test", str(number))
            order.append(number)
            return number

        return job

    with counted_commits(writer.engine) as commits:
        first, tasks = await behind_a_gate(writer, [step(n) for n in range(10)])
        assert await first == "gate"
        assert [await task for task in tasks] == list(range(10))

    assert len(commits) == 2  # the gate's batch, then the ten others together
    assert order == list(range(10))  # in the order they arrived
    assert await claimed(database) == {str(n) for n in range(10)}


@SQLITE_ONLY
async def test_a_job_asked_runs_before_any_asked_after_it_whoever_awaits(writer: Writer) -> None:
    order: list[str] = []

    def step(name: str) -> Job:
        return lambda work: order.append(name)

    # A task that will run a job is made first, but it starts only at the loop's next
    # pass: the job asked meanwhile is asked first, and applied first (a receipt before its
    # person's next turn, bot.conversation.Conversation.delivered_first).
    turn = asyncio.ensure_future(writer.run(step("turn")))
    asked = writer.ask(step("receipt"))
    await turn
    await asked
    assert order == ["receipt", "turn"]


@SQLITE_ONLY
async def test_jobs_run_on_the_writer_thread(writer: Writer) -> None:
    threads = await writer.run(lambda work: threading.current_thread().name)
    assert threads.startswith("sqlite-writer")
    assert threading.current_thread().name != threads


@SQLITE_ONLY
async def test_a_batch_is_bounded(database: Database) -> None:
    writer = bounded(database, 4)
    try:
        with counted_commits(writer.engine) as commits:
            first, tasks = await behind_a_gate(writer, [claim(str(n)) for n in range(10)])
            await first
            await asyncio.gather(*tasks)
        assert len(commits) == 1 + 3  # the gate's, then 4 + 4 + 2
    finally:
        writer.close()


@SQLITE_ONLY
async def test_a_job_that_raises_is_undone_alone(writer: Writer, database: Database) -> None:
    with counted_commits(writer.engine) as commits:
        first, tasks = await behind_a_gate(
            writer, [claim("a"), claim("b", then_fail=True), claim("c")]
        )
        await first
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert outcomes[0] == "a"
    assert outcomes[2] == "c"
    assert isinstance(outcomes[1], ValueError)
    assert len(commits) == 2
    assert await claimed(database) == {"a", "c"}


@SQLITE_ONLY
async def test_a_batch_whose_jobs_all_succeed_takes_no_savepoint(
    writer: Writer, database: Database
) -> None:
    """Savepoints are for the rare batch one of whose jobs raises: the others pay none."""
    statements: list[str] = []

    def seen(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    event.listen(writer.engine, "before_cursor_execute", seen)
    try:
        first, tasks = await behind_a_gate(writer, [claim("a"), claim("b"), claim("c")])
        await first
        assert await asyncio.gather(*tasks) == ["a", "b", "c"]
    finally:
        event.remove(writer.engine, "before_cursor_execute", seen)

    assert statements  # the claims were seen
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    assert await claimed(database) == {"a", "b", "c"}


@SQLITE_ONLY
async def test_a_failed_commit_fails_every_job_of_its_batch(
    writer: Writer, database: Database
) -> None:
    """No caller is told its job is stored before the COMMIT that stores it succeeded."""
    gate = Gate()
    commits: list[object] = []
    answered_before_commit: list[bool] = []

    def refuse(connection: Any) -> None:
        commits.append(connection)
        if len(commits) > 1:  # the gate's batch commits; the next doesn't
            answered_before_commit.extend(task.done() for task in tasks)
            raise OSError("disk I/O error")

    first = asyncio.create_task(writer.run(gate))
    await gate.reached()
    tasks = [asyncio.create_task(writer.run(claim(k))) for k in "abc"]
    await asyncio.sleep(0)
    event.listen(writer.engine, "commit", refuse)
    try:
        gate.open.set()
        assert await first == "gate"
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        event.remove(writer.engine, "commit", refuse)

    assert answered_before_commit == [False, False, False]
    assert [type(outcome) for outcome in outcomes] == [OSError, OSError, OSError]
    assert await claimed(database) == set()
    # The writer goes on with the next batch.
    assert await writer.run(claim("d")) == "d"
    assert await claimed(database) == {"d"}


@SQLITE_ONLY
async def test_a_job_whose_transaction_is_lost_fails_its_whole_batch(
    writer: Writer, database: Database
) -> None:
    """A job that ends the transaction under the batch (as SQLite does on some errors)
    takes the others down with it rather than let them be committed piecemeal."""

    def ends_the_transaction(work: Work) -> None:
        work.session.connection().exec_driver_sql("ROLLBACK")

    first, tasks = await behind_a_gate(writer, [claim("a"), ends_the_transaction, claim("c")])
    await first
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert [isinstance(outcome, Exception) for outcome in outcomes] == [True, True, True]
    assert await claimed(database) == set()


@SQLITE_ONLY
async def test_a_turn_that_fails_gets_its_error_while_the_others_are_answered(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the Conversation: one turn of a batch fails on a constraint; it alone is
    undone and told so, the others are applied, each once."""
    conversation = Conversation(database.sessions, settings)
    route = bot.conversation.route

    def failing_route(ctx: DialogContext) -> list[Outgoing]:
        if ctx.incoming.text == "/fail":
            ctx.uow.session.add(ProcessedUpdate(platform="terminal", update_key="1"))
            ctx.uow.session.flush()  # the key "1" is taken: IntegrityError
        return route(ctx)

    monkeypatch.setattr(bot.conversation, "route", failing_route)
    writer = conversation.writer
    assert writer is not None
    gate = Gate()
    first = asyncio.create_task(writer.run(gate))
    await gate.reached()
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
    assert helped
    assert helped == helped_again
    assert duplicate == []  # the same update, applied earlier in the same batch
    async with UnitOfWork(database.sessions) as uow:
        keys = await uow.session.scalars(
            select(ProcessedUpdate.update_key).where(ProcessedUpdate.platform == "terminal")
        )
        assert sorted(keys) == ["1", "3"]
    # The failed turn was undone, so the same update sent again is applied.
    again = await conversation.handle(message("/help", update_key="2"))
    assert again == helped
    conversation.close()


@SQLITE_ONLY
async def test_an_integrity_error_in_one_job_leaves_the_session_usable(
    writer: Writer, database: Database
) -> None:
    """After a job's failed flush, the next job of the same transaction works."""

    def duplicate(work: Work) -> None:
        work.session.add(ProcessedUpdate(platform="test", update_key="a"))
        work.session.flush()

    first, tasks = await behind_a_gate(writer, [claim("a"), duplicate, claim("b")])
    await first
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert outcomes[0] == "a"
    assert outcomes[2] == "b"
    assert isinstance(outcomes[1], IntegrityError)
    assert await claimed(database) == {"a", "b"}


@SQLITE_ONLY
async def test_a_caller_gone_before_its_job_began_leaves_it_out(
    writer: Writer, database: Database
) -> None:
    gate = Gate()
    first = asyncio.create_task(writer.run(gate))
    await gate.reached()
    gone = asyncio.create_task(writer.run(claim("gone")))
    stays = asyncio.create_task(writer.run(claim("stays")))
    await asyncio.sleep(0)
    gone.cancel()
    gate.open.set()
    await first
    assert await stays == "stays"
    assert gone.cancelled()
    assert await claimed(database) == {"stays"}


@pytest.mark.parametrize("fails", [False, True], ids=["applied", "undone"])
@SQLITE_ONLY
async def test_a_caller_gone_while_its_job_runs_disturbs_no_other(
    writer: Writer, database: Database, fails: bool
) -> None:
    """Once begun, a job runs to its end (applied, or undone if it raises) though its
    caller went away, as if its reply were lost; the jobs of its batch are unaffected."""
    gate, inside = Gate(), Gate()

    def slow(work: Work) -> str:
        work.updates.claim("test", "slow")
        inside(work)
        if fails:
            raise ValueError("slow")
        return "slow"

    first = asyncio.create_task(writer.run(gate))
    await gate.reached()
    running = asyncio.create_task(writer.run(slow))
    after = asyncio.create_task(writer.run(claim("after")))
    await asyncio.sleep(0)
    gate.open.set()
    await first
    await inside.reached()
    running.cancel()
    await asyncio.sleep(0)
    inside.open.set()

    assert await after == "after"
    assert running.cancelled()
    assert await claimed(database) == ({"after"} if fails else {"slow", "after"})


@SQLITE_ONLY
async def test_a_job_alone_in_its_batch_is_undone_whole_when_it_raises(
    writer: Writer, database: Database
) -> None:
    """A batch of one needs no savepoint; what it raises still undoes it."""
    with pytest.raises(ValueError):
        await writer.run(claim("a", then_fail=True))
    assert await writer.run(claim("b")) == "b"
    assert await claimed(database) == {"b"}


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "grouped"])
@SQLITE_ONLY
async def test_what_a_job_only_adds_is_stored(
    writer: Writer, database: Database, alone: bool
) -> None:
    """Objects added to the session and never flushed by the job itself (an audit row)
    are stored with it."""

    def adds(work: Work) -> None:
        work.session.add(ProcessedUpdate(platform="test", update_key="added"))

    if alone:
        await writer.run(adds)
    else:
        first, tasks = await behind_a_gate(writer, [adds, claim("other")])
        await first
        await asyncio.gather(*tasks)
    assert "added" in await claimed(database)


@SQLITE_ONLY
async def test_the_write_lock_is_taken_before_anything_is_read(
    writer: Writer, database: Database
) -> None:
    """BEGIN IMMEDIATE: while a batch runs, another connection cannot begin a write, so a
    read of the batch is never made stale by another writer."""
    gate = Gate()
    first = asyncio.create_task(writer.run(gate))
    await gate.reached()
    try:
        async with database.engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(Exception, match="locked"):
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        gate.open.set()
        await first


@SQLITE_ONLY
async def test_a_job_whose_additions_fail_when_written_is_undone_alone(
    writer: Writer, database: Database
) -> None:
    """A job that only adds a row which its savepoint's flush refuses (a duplicate key) gets
    that error; the jobs around it are stored."""

    def adds_a_duplicate(work: Work) -> str:
        work.session.add(ProcessedUpdate(platform="test", update_key="a"))
        return "never"

    first, tasks = await behind_a_gate(writer, [claim("a"), adds_a_duplicate, claim("b")])
    await first
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert outcomes[0] == "a"
    assert outcomes[2] == "b"
    assert isinstance(outcomes[1], IntegrityError)
    assert await claimed(database) == {"a", "b"}
