"""The chat turns in a process of their own, beside the channels' (``rasoat run``).

A Python process runs one thread at a time (the interpreter lock). In one process, the
channels' event loop (python-telegram-bot, aiohttp, uvicorn: about what any bot costs) and the
turns (the dialogs, the questionnaire, the database statements: SQLite's writer thread, or
asyncpg's round trips on the loop) take turns on one core, and every person's update waits
behind everyone's. Here the turns run in a child process, on the machine's other core:
:class:`TurnProcess` is a :class:`~bot.conversation.Conversation` whose chat writes (a turn,
the updates stored before their 200, their receipts, the lists shown, the failures counted)
are sent to the child, which applies them with a Conversation of its own, exactly as one
process would.

What crosses is plain data: an :class:`~bot.messages.Incoming` in, the replies out (a
deferred reply is resolved in the child, its status lines sent back as they come). Reads
(``unapplied``, ``shown_list``) stay in the parent, and so do the writes of the outbox
senders and the reminders' sweeps (``Conversation.write``: functions over a Work, which do
not cross a process boundary); on SQLite they share the file's lock with the child's writer
thread, as any other process does.

A receipt (every reply of a turn sent) needs no answer: it rides on the next call to the
child, which writes it before that call, so a person's next turn finds it written (on
PostgreSQL, where that call is the person's next turn, in its transaction:
``Conversation.delivered_first``); one no call takes in RECEIPT_WAIT goes alone. A typed
answer costs two crossings (its update stored, its turn), not three; a pressed one, one (its
turn, which stores the press: ``bot.channels.webhook``).

The wire is a socket pair: frames of a 4-byte length and a pickle. Both ends are rasoat's
own processes, started from the same code: pickle is safe between them, and nowhere else.

If the child dies, every call in flight and every later one raises :class:`TurnProcessGone`
and ``on_lost`` is called: ``rasoat run`` stops, its supervisor starts it again, and what was
stored and not applied is applied at that start. The child ignores SIGINT and SIGTERM (a
Ctrl-C or systemd reaches the whole group): it stops when the parent closes the socket,
after the parent's channels finished the updates in hand; if the parent dies, it reads the
socket's end, finishes the turns in hand (each commits or not, as at any stop) and exits.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import heap
from bot.context import Progress
from bot.conversation import Conversation, Delivered, NotStored, turn_key
from bot.database import open_database
from bot.delivery import harmless
from bot.messages import Incoming, Outgoing
from bot.settings import Settings
from storage.db import in_memory
from storage.repositories import Received

log = logging.getLogger(__name__)

HEADER = struct.Struct("!I")
# The Conversation methods the child runs: every write of a chat turn. The others are this
# process's (LOCAL): reads, the writes of functions over a Work, and closing.
CALLS = frozenset({"handle", "keep", "settle", "show_list", "failed"})
# What rides on the calls: the receipts (Conversation.delivered_first), sent as they come.
RIDING = frozenset({"delivered"})
LOCAL = frozenset({"write", "unapplied", "shown_list", "aclose"})
# How long a receipt waits for a call to ride on before it is sent alone: under load a call
# goes every few milliseconds; a person answers in seconds, and their answer carries it.
RECEIPT_WAIT = 0.02
# The id of a message the child does not answer (receipts alone).
NO_ANSWER = 0
# Starting the child: its imports and the database opened, on a slow, busy machine.
START_TIMEOUT = 120.0
# Stopping it: the turns it has in hand committed (the channels finished theirs first).
STOP_TIMEOUT = 30.0
# How often a stopping child is looked for (os.waitpid).
REAP_EVERY = 0.02


class TurnProcessGone(ConnectionError):
    """The turn process ended: a call in flight may or may not have been applied (an
    update stored is applied at the next start; a turn is applied once)."""


class TurnFailed(Exception):
    """An exception of the child that cannot cross to the parent as itself: its type."""


def frame(message: object) -> bytes:
    body = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at the end of the stream."""
    try:
        header = await reader.readexactly(HEADER.size)
        body = await reader.readexactly(HEADER.unpack(header)[0])
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return pickle.loads(body)


@dataclass(slots=True)
class _Call:
    result: asyncio.Future[Any]
    progress: Progress | None
    # The latest status line being shown, after the ones before it (each edits the same
    # message), and before the replies.
    shown: asyncio.Future[None] | None = None


class TurnProcess(Conversation):
    """A Conversation whose chat writes run in a child process (see the module)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, forked: Forked
    ) -> None:
        super().__init__(sessions, settings)
        self._forked = forked
        # Called once if the child ends before stop(): the process should stop too.
        self.on_lost: Callable[[], None] | None = None
        self._calls: dict[int, _Call] = {}
        self._ids = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None
        self._listening: asyncio.Task[None] | None = None
        self._lost = False
        self._stopping = False
        self._died = False
        # Receipts waiting for a call to ride on, and the timer that sends them alone.
        self._delivered: list[Delivered] = []
        self._send_later: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Hand the child its settings; return once it has opened the database (which the
        parent prepared)."""
        reader, self._writer = await asyncio.open_unix_connection(sock=self._forked.sock)
        self._writer.write(frame(self.settings))
        try:
            ready = await asyncio.wait_for(read_frame(reader), START_TIMEOUT)
        except TimeoutError:
            ready = None
        if ready != "ready":
            await self._end_child()
            raise TurnProcessGone("the turn process did not start (its log says why)")
        self._listening = asyncio.create_task(self._read(reader))
        log.info("chat turns applied in a process of their own (pid %d)", self._forked.pid)

    async def handle(
        self, incoming: Incoming, progress: Progress | None = None, *, in_order: bool = False
    ) -> list[Outgoing]:
        try:
            replies: list[Outgoing] = await self._call(
                "handle", (incoming,), {"in_order": in_order}, progress
            )
        except TurnProcessGone:
            if incoming.payload is not None:
                # Neither stored nor surely applied: its receiver must not say it arrived.
                raise NotStored(TurnProcessGone.__name__) from None
            # The update is stored (kept before the platform was told): the next start
            # applies it, if the child did not; this process is stopping (on_lost).
            log.info("an update was not applied here: the turn process ended")
            return []
        return replies

    async def keep(self, platform: str, updates: Sequence[Received]) -> None:
        await self._call("keep", (platform, list(updates)))

    async def failed(self, platform: str, update_key: str | None) -> int:
        attempts: int = await self._call("failed", (platform, update_key))
        return attempts

    async def settle(self, platform: str, update_keys: list[str]) -> None:
        await self._call("settle", (platform, update_keys))

    async def show_list(
        self, platform: str, user_id: str, keys: dict[str, str], several: bool
    ) -> None:
        await self._call("show_list", (platform, user_id, keys, several))

    async def delivered(self, incoming: Incoming, last_message: int | None = None) -> None:
        """The receipt rides on the next call to the child, which writes it before that
        call (``Conversation.delivered_first``): a person's next turn, if anything, carries
        its own receipt; otherwise it goes alone RECEIPT_WAIT later. Returns at once."""
        if self._lost:
            # As a receipt that can't be written: a question shown twice at worst.
            log.warning("delivery receipt not stored: the turn process ended")
            return
        self._delivered.append((turn_key(incoming), last_message))
        if self._send_later is None:
            self._send_later = asyncio.get_running_loop().call_later(
                RECEIPT_WAIT, self._send_delivered
            )

    async def aclose(self) -> None:
        """Stop the child once it has applied what it has in hand, then this side."""
        self._stopping = True
        # The child writes what it was sent before it ends.
        self._send_delivered()
        await self._end_child()
        await super().aclose()

    async def _call(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> Any:
        if self._lost or self._writer is None:
            raise TurnProcessGone("the turn process is not running")
        call_id = next(self._ids)
        call = _Call(asyncio.get_running_loop().create_future(), progress)
        self._calls[call_id] = call
        try:
            message = (call_id, method, args, kwargs or {}, progress is not None)
            self._writer.write(frame((*message, self._take_delivered())))
            result = await call.result
            if call.shown is not None:
                await call.shown
            return result
        finally:
            del self._calls[call_id]

    def _take_delivered(self) -> list[Delivered]:
        delivered, self._delivered = self._delivered, []
        if self._send_later is not None:
            self._send_later.cancel()
            self._send_later = None
        return delivered

    def _send_delivered(self) -> None:
        """The receipts no call took, in a message of their own (no answer expected)."""
        delivered = self._take_delivered()
        if delivered and not self._lost and self._writer is not None:
            self._writer.write(frame((NO_ANSWER, None, (), {}, False, delivered)))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (message := await read_frame(reader)) is not None:
                call_id, kind, value = message
                call = self._calls.get(call_id)
                if call is None or call.result.done():
                    continue
                if kind == "progress":
                    if call.progress is not None:
                        shown = _show(call.shown, harmless(call.progress), value)
                        call.shown = asyncio.ensure_future(shown)
                elif kind == "ok":
                    call.result.set_result(value)
                else:
                    call.result.set_exception(value)
        except Exception as error:
            log.error("the turn process sent what cannot be read (%s)", type(error).__name__)
        finally:
            self._lose()

    @property
    def lost(self) -> bool:
        """Whether the child ended before it was told to."""
        return self._died

    def _lose(self) -> None:
        self._lost = True
        for call in self._calls.values():
            if not call.result.done():
                call.result.set_exception(TurnProcessGone("the turn process ended"))
        if not self._stopping:
            self._died = True
            log.error("the turn process ended: stopping (what was stored is applied at start)")
            if self.on_lost is not None:
                self.on_lost()

    async def _end_child(self) -> None:
        if self._writer is not None:
            # The end of the stream tells the child to finish and exit.
            self._writer.close()
        else:
            self._forked.sock.close()
        if not await self._forked.ended(STOP_TIMEOUT):
            log.error("the turn process did not stop in %.0f s: killed", STOP_TIMEOUT)
            os.kill(self._forked.pid, signal.SIGKILL)
            await self._forked.ended(STOP_TIMEOUT)
        if self._listening is not None:
            await self._listening


@dataclass(slots=True)
class Forked:
    """The child, forked and waiting for its settings on ``sock``."""

    pid: int
    sock: socket.socket

    async def ended(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the child ended within ``timeout`` seconds (then reaped)."""
        for _ in range(int(timeout / REAP_EVERY) + 1):
            try:
                # WNOHANG: never blocks; the child's end is looked for every REAP_EVERY.
                pid, _status = os.waitpid(self.pid, os.WNOHANG)  # noqa: ASYNC222
            except ChildProcessError:
                return True
            if pid:
                return True
            await asyncio.sleep(REAP_EVERY)
        return False


def fork(settings: Settings, inherited: Iterable[socket.socket] = ()) -> Forked | None:
    """The turn process, forked now, while this process has one thread and no event loop
    (a fork copies only the thread that calls it: a lock another thread held would stay
    held for ever in the child). None, and the turns stay in this process, where
    ``settings`` say so, the database is one only this process sees (in-memory SQLite),
    or it is too late to fork. The child has every module the parent imported, and its
    logging; it closes the ``inherited`` sockets (the channels' listening ones)."""
    if not settings.turn_process or in_memory(settings.database_url):
        return None
    if threading.active_count() > 1:
        log.warning("threads already running: chat turns applied in this process")
        return None
    ours, theirs = socket.socketpair()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        ours.close()
        for sock in inherited:
            sock.close()
        code = 1
        try:
            # Signals to the group are the parent's: it ends this one by closing the socket,
            # once its channels finished the updates in hand (which need this process).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            asyncio.run(serve(theirs))
            code = 0
        except BaseException:
            log.exception("the turn process failed")
        finally:
            logging.shutdown()
            os._exit(code)
    theirs.close()
    return Forked(pid, ours)


async def _show(before: asyncio.Future[None] | None, progress: Progress, text: str) -> None:
    if before is not None:
        await before
    await progress(text)


def portable(error: BaseException) -> BaseException:
    """``error`` as it can cross to the parent: itself, or its type's name."""
    try:
        copy: BaseException = pickle.loads(pickle.dumps(error, pickle.HIGHEST_PROTOCOL))
        return copy
    except Exception:
        return TurnFailed(type(error).__name__)


async def serve(sock: socket.socket) -> None:
    """The child: the parent's calls applied by a Conversation of its own, until the
    parent closes the socket."""
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    settings = await read_frame(reader)
    if settings is None:
        return
    # The parent checked the form, migrated the schema and pruned the ledgers already.
    opened = await open_database(settings, prepare=False)
    conversation = Conversation(opened.sessions, settings)
    # What the turns need loaded, what lives as long as the process frozen (bot.heap).
    heap.settle(settings, turns=True)
    writer.write(frame("ready"))
    try:
        await answer_calls(conversation, reader, writer)
    finally:
        await conversation.aclose()
        await opened.engine.dispose()
        writer.close()


async def answer_calls(
    conversation: Conversation, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Each call read applied at once (different people's turns run together, as in one
    process: the parent sends one person's one at a time), until the end of the stream;
    then the calls in hand finished."""
    in_hand: set[asyncio.Future[None]] = set()
    while (message := await read_frame(reader)) is not None:
        *call, delivered = message
        # Before the call: a person's receipt is written before their next turn, or with it
        # where the call is that turn.
        written = None
        if delivered:
            _, method, args, *_ = call
            turn = args[0] if method == "handle" and args else None
            written = conversation.delivered_first(delivered, turn)
        if written is not None:
            # Written before the end too (the writer stops once its jobs in hand are done).
            in_hand.add(written)
            written.add_done_callback(in_hand.discard)
        if call[0] == NO_ANSWER:
            continue
        task = asyncio.create_task(_answer(conversation, writer, call))
        in_hand.add(task)
        task.add_done_callback(in_hand.discard)
    if in_hand:
        await asyncio.wait(in_hand)


async def _answer(conversation: Conversation, writer: asyncio.StreamWriter, call: Any) -> None:
    call_id, method, args, kwargs, wants_progress = call
    if wants_progress:

        async def progress(text: str) -> None:
            writer.write(frame((call_id, "progress", text)))

        kwargs = {**kwargs, "progress": progress}
    try:
        if method not in CALLS:
            raise TurnFailed(f"no such call: {method}")
        reply = (call_id, "ok", await getattr(conversation, method)(*args, **kwargs))
    except Exception as error:
        reply = (call_id, "error", portable(error))
    try:
        data = frame(reply)
    except Exception as error:
        data = frame((call_id, "error", TurnFailed(type(error).__name__)))
    if not writer.is_closing():
        writer.write(data)
