"""`rasoat run` processes of the kill tests, their output read as it comes and checked.

Read as it comes because a pipe nobody reads fills up and then stalls the process writing to
it; checked because a crash is a crash even when the work gets done: every ERROR or CRITICAL
line and every traceback counts.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.test_telegram_e2e import start_rasoat

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


class Rasoat:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.crashes: list[str] = []
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> Rasoat:
        return cls(await start_rasoat(env, *args))

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if is_crash(line):
                self.crashes.append(line)

    async def kill(self) -> None:
        self.process.kill()
        await self.process.wait()
        await self._reading

    async def kill_turns(self) -> bool:
        """SIGKILL to its turn process, if it has one yet (False if not): the bot stops by
        itself, exit code 1, saying why at ERROR (not counted as a crash)."""
        started = children(self.process.pid)
        if not started:
            return False
        os.kill(started[0], signal.SIGKILL)
        await self.process.wait()
        await self._reading
        assert self.process.returncode == 1, self.process.returncode
        self.crashes = [line for line in self.crashes if TURNS_ENDED not in line]
        return True

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
        await self._reading
