"""Waiting out a platform's rate limit, and waits a stop cuts short: shared by the channels
whose platform says nothing of how long to wait (Zalo's 429 carries no ``retry_after``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

log = logging.getLogger(__name__)

# Zalo's 429 says nothing of how long to wait: these waits, then the call's error stands.
RATE_LIMIT_WAITS = (1.0, 2.0, 4.0)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


async def patiently(
    call: Callable[[], Awaitable[T]],
    rate_limited: Callable[[Exception], bool],
    sleep: Sleep,
    waits: Sequence[float] = RATE_LIMIT_WAITS,
) -> T:
    """``call()``, made again after each of ``waits`` while it fails ``rate_limited``;
    past them (or on any other error) its error is raised."""
    for wait in (*waits, None):
        try:
            return await call()
        except Exception as error:
            if wait is None or not rate_limited(error):
                raise
            log.info("rate limit: sending again in %.0f s", wait)
            await sleep(wait)
    raise AssertionError("unreachable")


async def wait_or_stop(stop: asyncio.Event, seconds: float, sleep: Sleep) -> None:
    """``sleep(seconds)``, cut short by ``stop``."""
    pause = asyncio.ensure_future(sleep(seconds))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({pause, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pause, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
