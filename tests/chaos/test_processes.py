"""The kill tests' process wrapper counts what it should as crashes."""

from __future__ import annotations

import asyncio
import sys

from tests.chaos.processes import Rasoat

OUTPUT = """2026-12-04 10:00:00 INFO bot.channels.telegram: started
2026-12-04 10:00:01 WARNING bot.delivery: reply 1 of 2 (text) of update 7 not delivered
2026-12-04 10:00:02 ERROR bot.conversation: failed to handle an update
Traceback (most recent call last):
2026-12-04 10:00:03 CRITICAL telegram.ext.Application: stopped
"""


async def test_error_lines_and_tracebacks_count_as_crashes_and_nothing_else() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"import sys; sys.stdout.write({OUTPUT!r})",
        stdout=asyncio.subprocess.PIPE,
    )
    rasoat = Rasoat(process)
    await process.wait()
    await rasoat.stop()
    assert [line.split(" ")[2] for line in rasoat.crashes if line[0].isdigit()] == [
        "ERROR",
        "CRITICAL",
    ]
    assert sum(line.startswith("Traceback") for line in rasoat.crashes) == 1
