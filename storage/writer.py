"""SQLite's one writer: a thread that owns a synchronous connection (datasette's write
thread).

A chat turn is one synchronous function over a :class:`~storage.uow.Work`: its reads and
writes cross to this thread once, where they run back to back on a connection nobody else
uses, instead of crossing to a driver's thread for each statement. Turns that arrive while
one batch is being applied make the next batch: one transaction, one COMMIT (one fsync) for
all. The jobs of a batch run back to back, without a savepoint each (a SAVEPOINT and its
RELEASE cost a statement each, for a job that almost never fails); if one raises, the whole
transaction is rolled back and the batch is run again in a new one, each job in a savepoint
of its own this time, so that the one that raises is undone alone and the others are
stored (a job is a function of what the database holds, so running it again is running it
once). No caller learns its outcome before that COMMIT succeeded, and if it fails, every
caller of the batch gets the error: nothing is promised before it is durable. Long reads
and the wait for another process's write lock happen here, never on the event loop.

The transaction begins with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe for
pysqlite: the driver's own transaction handling off, the BEGIN issued by rasoat), so the
write lock is taken before anything is read and a read never has to be redone as a write.
The writer issues it itself once its session has the connection, rather than from the
engine's ``begin`` event: a connection event listener makes SQLAlchemy dispatch the
events of every statement (before and after it, each empty), about a fifth of what a
statement costs it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from storage.repositories import CONNECTION
from storage.uow import Work

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Work], Any]


class TransactionLost(Exception):
    """SQLite ended the transaction by itself (disk full, I/O error): nothing of the batch
    can be committed any more."""


class _JobRaised(Exception):
    """A job of a batch run without savepoints raised: the batch is run again with them."""


@dataclass(slots=True)
class _Failed:
    error: Exception


# A batch handed to the writer thread: its jobs, and where to tell their outcomes (the
# loop and future of the caller); None stops the thread.
_Request = tuple[list[Job], asyncio.AbstractEventLoop, "asyncio.Future[list[Any]]"] | None


def _settle(done: asyncio.Future[list[Any]], outcomes: Any, error: BaseException | None) -> None:
    """On the event loop: a batch's outcomes told to the drain awaiting them."""
    if done.cancelled():
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(outcomes)


def sync_engine(url: str, pragmas: Callable[[Any, Any], None]) -> Engine:
    """A synchronous engine on the SQLite file of the aiosqlite ``url``, for one thread."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    # One connection, used by the writer thread alone.
    engine = create_sync_engine(
        sync_url,
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, record: Any) -> None:
        pragmas(dbapi_connection, record)
        # The driver begins nothing by itself: the writer does, IMMEDIATE (see _transaction).
        dbapi_connection.isolation_level = None

    return engine


class Writer:
    def __init__(self, engine: Engine, limit: int) -> None:
        self.engine = engine
        self._limit = limit
        # A thread of its own, fed by a queue and answering with call_soon_threadsafe: an
        # executor's futures, chained to the loop's, cost a write more than its COMMIT.
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._waiting: deque[tuple[Job, asyncio.Future[Any]]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        # The writer thread's connection (see _kept_connection), opened at its first batch.
        self._open: Connection | None = None

    async def run(self, job: Callable[[Work], T]) -> T:
        """What ``job`` returns once the transaction it ran in has committed; if it raises,
        nothing of it is stored and the caller gets its error. A caller that goes away
        before its job began leaves it out; once begun, the job is applied all the same,
        like a transaction whose reply is lost on the way."""
        return await self.ask(job)

    def ask(self, job: Callable[[Work], T]) -> asyncio.Future[T]:
        """:meth:`run`, asked now: the job comes after every job asked before this call and
        before every job asked after it, whoever awaits what. Done once committed."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                count = min(self._limit, len(self._waiting))
                batch = [self._waiting.popleft() for _ in range(count)]
                live = [(job, done) for job, done in batch if not done.cancelled()]
                if not live:
                    continue
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._serve, name="sqlite-writer", daemon=True
                    )
                    self._thread.start()
                applied: asyncio.Future[list[Any]] = loop.create_future()
                self._requests.put(([job for job, _ in live], loop, applied))
                try:
                    outcomes = await applied
                except Exception as error:
                    # Nothing of the batch is stored: every caller is told.
                    for _, done in live:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for (_, done), outcome in zip(live, outcomes, strict=True):
                    if done.done():
                        continue
                    if isinstance(outcome, _Failed):
                        done.set_exception(outcome.error)
                    else:
                        done.set_result(outcome)
        finally:
            # Stopped (the loop is closing): nobody may wait for a write that never comes.
            while self._waiting:
                self._waiting.popleft()[1].cancel()

    def _serve(self) -> None:
        """The writer thread: each batch applied, its outcomes told to its loop."""
        while (request := self._requests.get()) is not None:
            jobs, loop, done = request
            outcomes: list[Any] | None = None
            error: BaseException | None = None
            try:
                outcomes = self._apply(jobs)
            except BaseException as raised:
                error = raised
            try:
                loop.call_soon_threadsafe(_settle, done, outcomes, error)
            except RuntimeError:
                # The loop closed meanwhile: nobody waits for this batch any more.
                log.warning("a write batch ended after its event loop closed")
        self._dispose()

    def _apply(self, jobs: list[Job]) -> list[Any]:
        """On the writer thread: the jobs in one transaction, committed."""
        if len(jobs) > 1:
            try:
                return self._transaction(jobs, savepoints=False)
            except _JobRaised:
                # Rolled back: again, each job undone alone if it raises.
                pass
        return self._transaction(jobs, savepoints=len(jobs) > 1)

    def _kept_connection(self) -> Connection:
        """The thread's one connection, kept open between transactions: checking it out of
        the pool and back, with a session of its own, cost more than a turn's statements."""
        connection = self._open
        if connection is None or connection.closed or connection.invalidated:
            connection = self._open = self.engine.connect()
        return connection

    def _transaction(self, jobs: list[Job], savepoints: bool) -> list[Any]:
        connection = self._kept_connection()
        try:
            # Committed when the block ends (rolled back if it raises); the session joins
            # the transaction and never commits it.
            with connection.begin():
                # BEGIN IMMEDIATE now: the write lock is this batch's before any job runs.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                with Session(
                    bind=connection, expire_on_commit=False, info={CONNECTION: connection}
                ) as session:
                    raw = connection.connection.driver_connection
                    return self._jobs(session, raw, jobs, savepoints)
        except BaseException:
            # Given back to the pool, whose reset rolls back whatever of the transaction a
            # failed COMMIT or ROLLBACK left open: the next batch begins on a clean one.
            self._open = None
            connection.close()
            raise

    def _jobs(self, session: Session, raw: Any, jobs: list[Job], savepoints: bool) -> list[Any]:
        outcomes: list[Any] = []
        for job in jobs:
            # Each job starts with nothing loaded, as in a transaction of its own, and what
            # one handed out is never expired by a later one's undoing (a turn on plain rows
            # loads no object: nothing to forget).
            if session.identity_map or session.new:
                session.expunge_all()
            work = Work(session)
            if not savepoints:
                try:
                    outcome = job(work)
                    # What the job only added is written here: that too may fail.
                    session.flush()
                except Exception as error:
                    if len(jobs) == 1:
                        # The only job: the whole transaction is undone, its error told.
                        raise
                    raise _JobRaised() from error
                self._check(raw)
                outcomes.append(outcome)
                continue
            savepoint = session.begin_nested()
            # The SAVEPOINT now: the session emits it when it first needs the connection,
            # and the job's Core statements bypass the session (see CONNECTION).
            session.connection()
            try:
                outcome = job(work)
                savepoint.commit()
                outcomes.append(outcome)
            except Exception as error:
                try:
                    savepoint.rollback()
                except Exception as lost:
                    raise TransactionLost() from lost
                self._check(raw)
                outcomes.append(_Failed(error))
            self._check(raw)
        return outcomes

    @staticmethod
    def _check(raw: Any) -> None:
        # SQLite rolls a whole transaction back by itself on some errors (disk full, I/O);
        # the next savepoint would then begin a transaction of its own, and the COMMIT
        # would store that one alone.
        if not getattr(raw, "in_transaction", True):
            raise TransactionLost()

    def close(self) -> None:
        """Stops the writer thread once the batches handed to it are applied."""
        thread, self._thread = self._thread, None
        if thread is None:
            self._dispose()
            return
        self._requests.put(None)
        thread.join()

    def _dispose(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None
        self.engine.dispose()
