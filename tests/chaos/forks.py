"""`rasoat` commands forked by the zygote (tests/chaos/zygote.py), the processes of the kill
tests: each starts in milliseconds (an import of rasoat takes 1.5 s of CPU, and a kill test
starts twenty processes), is killed with SIGKILL like any process, and its output is read as
it comes and checked.

Read as it comes because a pipe nobody reads fills up and then stalls the process writing to
it; checked because a crash is a crash even when the work gets done: every ERROR or CRITICAL
line and every traceback counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tests.test_telegram_e2e import ROOT

# How long a fork may take to connect back (it does in milliseconds), and to stop.
CONNECT_WITHIN = 15.0
STOP_WITHIN = 30.0
# What `rasoat run` logs, at ERROR, when its turn process dies (bot.turn_process): expected
# after kill_turns, a crash anywhere else.
TURNS_ENDED = "the turn process ended"


def is_crash(line: str) -> bool:
    return line.startswith("Traceback") or " ERROR " in line or " CRITICAL " in line


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


class Forked:
    """One command: its pid, what it said so far, and how it ended."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.pid = 0
        self.output: list[str] = []
        self.crashes: list[str] = []
        self.connected = asyncio.Event()
        self.ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reading: asyncio.Task[None] | None = None

    def attach(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pid = pid
        self._reading = asyncio.create_task(self._read(reader, writer))
        self.connected.set()

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async for raw in reader:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if is_crash(line):
                self.crashes.append(line)
        writer.close()

    async def finished(self) -> int:
        """Its exit code (-9 if killed), once it ended and all it said was read."""
        code = await self.ended
        if self._reading is not None:
            await self._reading
        return code

    async def kill(self) -> None:
        """SIGKILL: no goodbye."""
        if not self.ended.done():
            os.kill(self.pid, signal.SIGKILL)
        await self.finished()

    async def kill_turns(self) -> bool:
        """SIGKILL to its turn process, if it has one yet (False if not): the bot stops by
        itself, exit code 1, saying why at ERROR (not counted as a crash)."""
        started = children(self.pid)
        if not started:
            return False
        os.kill(started[0], signal.SIGKILL)
        code = await self.finished()
        assert code == 1, code
        self.crashes = [line for line in self.crashes if TURNS_ENDED not in line]
        return True

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it (SIGKILL if it is still there after
        STOP_WITHIN)."""
        if not self.ended.done():
            os.kill(self.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.ended), STOP_WITHIN)
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
        await self.finished()


class Forks:
    """The zygote and the commands it forked, all stopped at exit."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[Forked] = []
        # What the zygote said that was not an exit (an import error, say).
        self.said: list[str] = []
        self._waiting: dict[int, Forked] = {}
        self._by_pid: dict[int, Forked] = {}
        self._exits: dict[int, int] = {}
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Forks:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE"))}
        self._zygote = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.chaos.zygote",
            str(port),
            env={**env, **self.env},
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._listening = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._ready.wait(), 60)
        except TimeoutError:
            raise AssertionError("\n".join(["the zygote did not start:", *self.said])) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        for forked in self.started:
            if forked.connected.is_set():
                await forked.stop()
        assert self._zygote.stdin is not None
        self._zygote.stdin.close()
        await self._zygote.wait()
        await self._listening
        self._server.close()
        await self._server.wait_closed()

    async def start(self, *args: str, env: dict[str, str] | None = None) -> Forked:
        """`rasoat ARGS`, ``env`` added to the zygote's, running once this returns."""
        forked = Forked(len(self.started) + 1)
        self.started.append(forked)
        self._waiting[forked.number] = forked
        order = json.dumps({"id": forked.number, "args": args, "env": env or {}})
        assert self._zygote.stdin is not None
        self._zygote.stdin.write(f"{order}\n".encode())
        await asyncio.wait_for(forked.connected.wait(), CONNECT_WITHIN)
        return forked

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, pid = (int(word) for word in (await reader.readline()).split())
        forked = self._waiting.pop(number)
        self._by_pid[pid] = forked
        forked.attach(pid, reader, writer)
        if pid in self._exits:
            forked.ended.set_result(self._exits.pop(pid))

    async def _listen(self) -> None:
        assert self._zygote.stdout is not None
        async for raw in self._zygote.stdout:
            line = raw.decode(errors="replace").rstrip()
            try:
                notice = json.loads(line)
            except ValueError:
                self.said.append(line)
                continue
            if "ready" in notice:
                self._ready.set()
            elif "exited" in notice:
                pid, code = int(notice["exited"]), int(notice["code"])
                forked = self._by_pid.get(pid)
                if forked is None:
                    self._exits[pid] = code
                else:
                    forked.ended.set_result(code)
            else:
                self.said.append(line)
