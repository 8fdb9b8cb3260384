"""`rasoat run` with the chat turns in a process of their own (bot.turn_process): the child
forked at start applies them, ends with the bot, stops the bot if it dies, and ends by itself
if the bot is killed; and the wire between them, its frames, errors and status lines."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import pickle
import signal
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from bot import turn_process
from bot.channels.replay import apply_pending
from bot.conversation import Conversation, Delivered, EarlierFirst
from bot.messages import Incoming, Kind, Outgoing, Text
from bot.settings import Settings
from bot.turn_process import (
    CALLS,
    LOCAL,
    RIDING,
    Forked,
    TurnFailed,
    TurnProcess,
    TurnProcessGone,
    answer_calls,
    frame,
    portable,
    read_frame,
)
from locales.catalog import translate
from storage.models import Role
from storage.repositories import Received
from storage.uow import UnitOfWork
from tests.chaos.forks import children
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram
from tests.helpers import add_terminal_users, message, seed_areas
from tests.test_telegram_e2e import new_invite, run_env, start_rasoat, stop

STARTED = "chat turns applied in a process of their own"


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def until_ended(pid: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        # Another parent's process (reparented): nothing to await but its /proc entry.
        while running(pid):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def registered(database: Database, telegram_id: str) -> list[str]:
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("telegram", telegram_id)
        return [] if user is None else [user.display_name]


async def start_bot(
    database: Database, fake_telegram: FakeTelegram, apart: str
) -> tuple[asyncio.subprocess.Process, list[int]]:
    """`rasoat run` polling, once it polls, and the processes it started."""
    env = {**run_env(database, fake_telegram), "RASOAT_TURN_PROCESS": apart}
    process = await start_rasoat(env)
    try:
        await fake_telegram.wait_for_call("deleteWebhook", timeout=30)
    except BaseException:
        await stop(process)
        raise
    return process, children(process.pid)


async def start_with_child(
    database: Database, fake_telegram: FakeTelegram
) -> tuple[asyncio.subprocess.Process, int]:
    process, [child] = await start_bot(database, fake_telegram, "1")
    return process, child


@pytest.mark.parametrize("apart", ["1", "0"])
async def test_a_turn_is_applied_in_the_child_which_ends_with_the_bot(
    database: Database, fake_telegram: FakeTelegram, apart: str
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COMMUNE_STAFF, "87-MH")
    process, started = await start_bot(database, fake_telegram, apart)
    try:
        await fake_telegram.user(id=444, first_name="Dung").send_command("/start", code)
        welcome, _menu = await fake_telegram.wait_for_messages(444, count=2, timeout=30)
    finally:
        output = await stop(process)
    assert "cán bộ xã của Xã Mỹ Hòa" in welcome["text"]
    assert await registered(database, "444") == ["Dung"]
    assert process.returncode == 0, output
    if apart == "1":
        [child] = started
        assert not running(child)
        assert f"{STARTED} (pid {child})" in output
    else:
        assert started == []
        assert STARTED not in output
    assert "Traceback" not in output, output


async def test_a_child_that_dies_stops_the_bot_which_starts_again(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COMMUNE_STAFF, "87-MH")
    process, child = await start_with_child(database, fake_telegram)
    try:
        os.kill(child, signal.SIGKILL)
        # Sent while the bot stops: not stored, so not confirmed to Telegram either.
        await fake_telegram.user(id=445, first_name="Lan").send_command("/start", code)
        await asyncio.wait_for(process.wait(), 30)
    finally:
        output = await stop(process)
    # Not a stop anyone asked for: a supervisor (systemd's Restart=on-failure) restarts it.
    assert process.returncode == 1, output
    assert translate("cli.turn_process_gone", "vi") in output
    assert "Traceback" not in output, output
    process, child = await start_with_child(database, fake_telegram)
    try:
        welcome, _menu = await fake_telegram.wait_for_messages(445, count=2, timeout=30)
    finally:
        output = await stop(process)
    assert "cán bộ xã" in welcome["text"]
    assert await registered(database, "445") == ["Lan"]
    assert process.returncode == 0, output


async def test_a_killed_bot_leaves_no_child_behind(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    process, child = await start_with_child(database, fake_telegram)
    process.kill()
    await stop(process)
    # The child reads the end of its socket and exits by itself.
    await until_ended(child)


def test_every_coroutine_of_a_conversation_is_sent_to_the_child_or_kept_here() -> None:
    # A new one (a write, say) must be decided on: sent, or this process's own.
    coroutines = {
        name
        for name, member in inspect.getmembers(Conversation, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert coroutines == CALLS | RIDING | LOCAL
    assert not CALLS & LOCAL and not RIDING & (CALLS | LOCAL)
    overridden = {name for name in CALLS | RIDING if name in vars(TurnProcess)}
    assert overridden == CALLS | RIDING


def test_frames_carry_what_was_sent_then_say_the_end() -> None:
    async def read_back() -> list[Any]:
        reader = asyncio.StreamReader()
        for sent in ("ready", (1, "ok", [Text("xin chào")])):
            reader.feed_data(frame(sent))
        reader.feed_eof()
        return [await read_frame(reader) for _ in range(3)]

    assert asyncio.run(read_back()) == ["ready", (1, "ok", [Text("xin chào")]), None]


def test_an_earlier_updates_error_crosses_with_its_updates() -> None:
    updates = [{"update_id": 7, "message": {"text": "2"}}]
    crossed = pickle.loads(pickle.dumps(EarlierFirst(updates)))
    assert isinstance(crossed, EarlierFirst) and crossed.updates == updates


def test_an_error_that_cannot_cross_is_named_by_its_type() -> None:
    class Local(Exception):
        pass

    assert isinstance(portable(ValueError("x")), ValueError)
    crossed = portable(Local("x"))
    assert isinstance(crossed, TurnFailed) and str(crossed) == "Local"


class Scripted(Conversation):
    """A conversation whose turn shows two status lines before its reply, or raises what it
    is given: the wire's side of a turn, without a database."""

    def __init__(self, database: Database, settings: Settings, error: Exception | None = None):
        super().__init__(database.sessions, settings)
        self.error = error

    async def handle(
        self, incoming: Incoming, progress: Any = None, *, in_order: bool = False
    ) -> list[Outgoing]:
        if self.error is not None:
            raise self.error
        for step in ("1/2", "2/2"):
            await progress(step)
            await asyncio.sleep(0.01)
        return [Text(f"xong: {incoming.text}")]


def incoming(text: str) -> Incoming:
    return Incoming("telegram", "9", "9", "Dung", Kind.TEXT, text=text)


async def over_the_wire(
    database: Database, settings: Settings, child: Conversation
) -> tuple[TurnProcess, asyncio.Task[None]]:
    """A TurnProcess talking to ``child`` over a socket pair in this event loop: the child's
    side is the one the forked process runs (answer_calls)."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_unix_connection(sock=theirs)

    async def child_side() -> None:
        try:
            await read_frame(reader)  # the settings
            writer.write(frame("ready"))
            await answer_calls(child, reader, writer)
        finally:
            writer.close()

    task = asyncio.create_task(child_side())
    # No process to reap here: os.waitpid on our own pid says "no such child" at once.
    turns = TurnProcess(database.sessions, settings, Forked(os.getpid(), ours))
    await turns.start()
    return turns, task


@asynccontextmanager
async def wired(
    database: Database, settings: Settings, child: Conversation
) -> AsyncIterator[TurnProcess]:
    """:func:`over_the_wire`, both sides stopped at the end."""
    turns, task = await over_the_wire(database, settings, child)
    try:
        yield turns
    finally:
        await turns.aclose()
        await task


async def test_status_lines_are_shown_before_the_replies(
    database: Database, settings: Settings
) -> None:
    shown: list[str] = []

    async def progress(text: str) -> None:
        if text == "1/2":
            # A slow first edit: the second line still comes after it.
            await asyncio.sleep(0.1)
        shown.append(text)

    async with wired(database, settings, Scripted(database, settings)) as turns:
        replies = await turns.handle(incoming("a"), progress)
        shown.append("replies")
    assert replies == [Text("xong: a")]
    assert shown == ["1/2", "2/2", "replies"]


async def test_errors_of_the_child_are_raised_in_the_parent(
    database: Database, settings: Settings
) -> None:
    updates = [{"update_id": 3}]
    scripted = Scripted(database, settings, EarlierFirst(updates))
    async with wired(database, settings, scripted) as turns:
        with pytest.raises(EarlierFirst) as raised:
            await turns.handle(incoming("b"), in_order=True)
    assert raised.value.updates == updates


async def test_calls_after_the_child_ended_fail_plainly(
    database: Database, settings: Settings
) -> None:
    turns, child = await over_the_wire(database, settings, Scripted(database, settings))
    lost = asyncio.Event()
    turns.on_lost = lost.set
    child.cancel()  # the child's end of the socket closes: as if the process died
    with pytest.raises(asyncio.CancelledError):
        await child
    await asyncio.wait_for(lost.wait(), 10)
    try:
        with pytest.raises(TurnProcessGone):
            await turns.keep("telegram", [Received("8", "9", {"update_id": 8})])
        # A turn stored before is applied at the next start: nothing to say now.
        assert await turns.handle(incoming("c")) == []
        # A receipt that cannot be written costs a question shown twice, never an error.
        await turns.delivered(incoming("c"))
    finally:
        await turns.aclose()
    assert turns.lost


class Recording(Conversation):
    """A conversation that notes, in order, the receipts handed on and the turns applied."""

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__(database.sessions, settings)
        self.events: list[tuple[str, Any]] = []
        self.noted = asyncio.Event()

    def delivered_first(
        self, delivered: Sequence[Delivered], before: Incoming | None = None
    ) -> asyncio.Future[None] | None:
        # With the turn they came before (None: they came alone).
        self.events.append(("receipts", list(delivered), before and before.update_key))
        self.noted.set()
        return None

    async def handle(
        self, incoming: Incoming, progress: Any = None, *, in_order: bool = False
    ) -> list[Outgoing]:
        self.events.append(("turn", incoming.update_key))
        return []


def keyed(key: str) -> Incoming:
    return Incoming("telegram", "9", "9", "Dung", Kind.TEXT, text=key, update_key=key)


async def test_receipts_ride_on_the_next_call_which_comes_after_them(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_process, "RECEIPT_WAIT", 60.0)
    child = Recording(database, settings)
    async with wired(database, settings, child) as turns:
        await turns.delivered(keyed("1"), 41)
        await turns.delivered(keyed("2"))
        # Nothing crossed yet: they wait for a call (a minute here).
        await asyncio.sleep(0.05)
        assert child.events == []
        await turns.handle(keyed("3"))
        await turns.handle(keyed("4"))
    assert child.events == [
        ("receipts", [("telegram:1", 41), ("telegram:2", None)], "3"),
        ("turn", "3"),
        ("turn", "4"),
    ]


async def test_a_receipt_no_call_takes_goes_alone_and_unanswered(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_process, "RECEIPT_WAIT", 0.01)
    child = Recording(database, settings)
    async with wired(database, settings, child) as turns:
        await turns.delivered(keyed("1"), 7)
        await asyncio.wait_for(child.noted.wait(), 10)
        # The child answers calls alone: a turn still gets its own answer after it.
        assert await turns.handle(keyed("2")) == []
    assert child.events == [("receipts", [("telegram:1", 7)], None), ("turn", "2")]


async def test_receipts_still_waiting_are_sent_before_the_child_is_stopped(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_process, "RECEIPT_WAIT", 60.0)
    child = Recording(database, settings)
    async with wired(database, settings, child) as turns:
        await turns.delivered(keyed("1"))
    assert child.events == [("receipts", [("telegram:1", None)], None)]


async def test_receipts_sent_at_the_stop_are_written_before_the_child_ends(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_process, "RECEIPT_WAIT", 60.0)
    await seed_areas(database.sessions)
    await add_terminal_users(database.sessions, {"111": (Role.COLLABORATOR, "87-MH-A1")})
    child = Conversation(database.sessions, settings)
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_unix_connection(sock=theirs)

    async def child_side() -> None:
        # As the forked process does (serve): its Conversation closed once the calls end.
        await read_frame(reader)
        writer.write(frame("ready"))
        try:
            await answer_calls(child, reader, writer)
        finally:
            await child.aclose()
            writer.close()

    task = asyncio.create_task(child_side())
    turns = TurnProcess(database.sessions, settings, Forked(os.getpid(), ours))
    await turns.start()
    asked = message("/interview", update_key="1")
    assert await turns.handle(asked)
    await turns.delivered(asked)
    await turns.aclose()
    await task
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("terminal", "111")
        assert user is not None
        state = await uow.dialogs.get(user)
    assert state is not None and state.asked_at is not None
    assert state.seen_turn == state.asked_at


class Stopping:
    """Where apply_pending looks: whether the turns' process ended (after ``alive`` more)."""

    def __init__(self, alive: int) -> None:
        self.alive = alive

    @property
    def lost(self) -> bool:
        return self.alive <= 0


async def test_a_start_whose_turn_process_ends_leaves_the_rest_stored_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conversation = Stopping(alive=1)
    applied: list[str] = []

    async def apply(update: str) -> None:
        applied.append(update)
        conversation.alive -= 1  # the child died during this one

    with caplog.at_level(logging.INFO):
        count = await apply_pending(cast(Conversation, conversation), ["a", "b", "c"], apply, "x")
    assert count == 3 and applied == ["a"]
    assert "3 x received before a stop not applied: the turn process ended" in caplog.text
    assert "applied now" not in caplog.text


async def test_a_start_says_what_it_applied(caplog: pytest.LogCaptureFixture) -> None:
    applied: list[str] = []

    async def apply(update: str) -> None:
        applied.append(update)

    with caplog.at_level(logging.INFO):
        await apply_pending(cast(Conversation, Stopping(alive=9)), ["a", "b"], apply, "x")
    assert applied == ["a", "b"] and "2 x received before a stop applied now" in caplog.text
