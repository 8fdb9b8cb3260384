"""The push benchmark's load process: the fake Bot API enforcing Telegram's limits, the
simulated collaborators, and the count of the broadcast as it arrives.

``python -m bench.push_load`` reads one JSON line of configuration on stdin (that of
:func:`bench.harness.drive`, plus ``broadcast``: ``[first chat, count]``, ``chat_burst``, and
``seconds``: the longest the collaborators answer while waiting for the broadcast), prints
``READY``, ``MEASURING`` (the orchestrator then enqueues the broadcast) and ``RESULT``. The
collaborators' latency is counted from the first broadcast message to the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from typing import Any

from bench.harness import (
    SETTLE_TIMEOUT,
    WEBHOOK_PATH,
    LoadTelegram,
    Until,
    _chats,
    build_plan,
    reference_today,
    say,
    summary,
    wait_for_port,
)
from tests.fakes.balancer import Balancer
from tests.fakes.telegram import FakeTelegram, Json


class BroadcastTelegram(LoadTelegram):
    def __init__(self, typed_labels: list[str], first: int, count: int) -> None:
        super().__init__(typed_labels)
        self.broadcast = range(first, first + count)
        self.received: Counter[int] = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.done = asyncio.Event()
        # Messages to the collaborators while the broadcast was going.
        self.replies = 0
        # 429s given to the broadcast, and to the collaborators' replies.
        self.refused: Counter[str] = Counter()
        # When each message within the limits was let through (the limits' clock).
        self.accepted: list[float] = []

    def _check_limits(self, chat_id: int) -> None:
        try:
            super()._check_limits(chat_id)
        except Exception:
            self.refused["broadcast" if chat_id in self.broadcast else "replies"] += 1
            raise
        self.accepted.append(time.monotonic())

    def tightest(self, per_second: int) -> float | None:
        """The shortest time ``per_second + 1`` messages let through took: a second or more
        (else the last would have been refused); how far above a second it is, is what the
        bot's pacing kept in hand."""
        times = self.accepted
        spans = [b - a for a, b in zip(times, times[per_second:], strict=False)]
        return min(spans, default=None)

    async def _send(self, method: str, params: Json, content: Json) -> Json:
        chat = int(params["chat_id"])
        if chat not in self.broadcast:
            message = await super()._send(method, params, content)
            if self.measuring:
                self.replies += 1
            return message
        # Not a reply to anyone: none of the collaborators' bookkeeping.
        message = await FakeTelegram._send(self, method, params, content)
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
            self.measuring = True
        self.last_at = now
        self.received[chat] += 1
        if len(self.received) == len(self.broadcast):
            self.measuring = False
            self.done.set()
        return message


async def drive(config: Json, stdin: asyncio.StreamReader) -> None:
    plan = build_plan(reference_today())
    typed = [action.label for action in plan if action.kind == "type"]
    first, count = config["broadcast"]
    fake = BroadcastTelegram(typed, int(first), int(count))
    fake.enforce_limits(30, 1.0, chat_burst=int(config["chat_burst"]))
    async with fake, Balancer() as balancer:
        say("READY", {"api": fake.base_url, "webhook": f"{balancer.url}/{WEBHOOK_PATH}"})
        await fake.wait_for_call("setWebhook", timeout=SETTLE_TIMEOUT)
        port = int(config["ports"][0])
        await wait_for_port(port)
        balancer.add(f"http://127.0.0.1:{port}")
        collaborators = _chats(config, fake, plan)
        await asyncio.gather(*(c.guarded(c.chat.start()) for c in collaborators))
        await asyncio.gather(*(c.guarded(c.chat.answer()) for c in collaborators))
        refused_before = fake.rate_limited
        say("MEASURING")
        deadline = Until(0, time.perf_counter() + float(config["seconds"]))

        async def until_broadcast_done() -> None:
            await fake.done.wait()
            deadline.deadline = 0.0

        watcher = asyncio.create_task(until_broadcast_done())
        await asyncio.gather(*(c.guarded(c.chat.run(deadline)) for c in collaborators))
        watcher.cancel()
        if not fake.done.is_set():
            # The collaborators' time is up: give the broadcast a last chance to finish.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fake.done.wait(), 60)
        errors = [str(c.error or c.failure) for c in collaborators if c.error or c.failure]
        span = (fake.last_at or 0.0) - (fake.first_at or 0.0)
        every = [value for values in fake.latencies.values() for value in values]
        result: dict[str, Any] = {
            "received": len(fake.received),
            "messages": sum(fake.received.values()),
            "duplicated": sum(n - 1 for n in fake.received.values()),
            "lost": len(fake.broadcast) - len(fake.received),
            "span": span,
            "rate": (sum(fake.received.values()) - 1) / span if span > 0 else 0.0,
            "replies": fake.replies,
            "refused": fake.rate_limited - refused_before,
            "refused_by_kind": dict(fake.refused),
            "tightest": fake.tightest(30),
            "latency": summary(every),
            "actions": len(every),
            "errors": errors[:5],
            "api_errors": [f"{m}: {c} {t}" for m, c, t in fake.api_errors[:5]],
        }
        say("RESULT", result)
        while await stdin.readline():
            pass


async def drive_main() -> int:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    await drive(config, stdin)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(drive_main()))
