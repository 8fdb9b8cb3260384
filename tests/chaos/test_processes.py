"""The kill tests' processes count what they should as crashes."""

from __future__ import annotations

import asyncio
import socket

from tests.chaos.forks import Forked

OUTPUT = """2026-12-04 10:00:00 INFO bot.channels.telegram: started
2026-12-04 10:00:01 WARNING bot.delivery: reply 1 of 2 (text) of update 7 not delivered
2026-12-04 10:00:02 ERROR bot.conversation: failed to handle an update
Traceback (most recent call last):
2026-12-04 10:00:03 CRITICAL telegram.ext.Application: stopped
"""


async def test_error_lines_and_tracebacks_count_as_crashes_and_nothing_else() -> None:
    # What a forked command writes reaches the test over a socket (tests/chaos/zygote.py).
    ours, theirs = socket.socketpair()
    with theirs:
        theirs.sendall(OUTPUT.encode())
    reader, writer = await asyncio.open_connection(sock=ours)
    process = Forked(1)
    process.attach(0, reader, writer)
    process.ended.set_result(0)
    assert await process.finished() == 0
    assert process.output == OUTPUT.splitlines()
    assert [line.split(" ")[2] for line in process.crashes if line[0].isdigit()] == [
        "ERROR",
        "CRITICAL",
    ]
    assert sum(line.startswith("Traceback") for line in process.crashes) == 1
