"""`rasoat run` processes of the kill tests, their output read as it comes and checked.

Read as it comes because a pipe nobody reads fills up and then stalls the process writing to
it; checked because a crash is a crash even when the work gets done: every ERROR or CRITICAL
line and every traceback counts.
"""

from __future__ import annotations

import asyncio

from tests.test_telegram_e2e import start_rasoat


def is_crash(line: str) -> bool:
    return line.startswith("Traceback") or " ERROR " in line or " CRITICAL " in line


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

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
        await self._reading
