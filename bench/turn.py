"""Where the CPU of one chat turn goes: the interview answered straight into
``Conversation.handle`` (as ``direct`` in :mod:`bench.interview`), one chat, one answer
after another, each committed and its receipt written; with ``--chats N``, N chats at once
sharing the answers (as ``direct``'s 50 do: SQLite's writer applies the turns that arrive
together in one transaction).

    python -m bench.turn [--db sqlite|postgresql] [--answers N] [--chats N] [--profile]
                         [--top K] [--sort tottime|cumulative]

Prints the process's CPU time per answer (every thread's: the event loop's and SQLite's
writer thread's; not the PostgreSQL server's) and wall time per answer. ``--profile`` runs
the answers under cProfile, in every thread of the process, and prints the ``--top``
functions (the profiler slows everything down about twice; compare its figures with each
other, not with a run without it).

For a count that a busy machine does not blur, run it under callgrind with ``--callgrind``:
the counts are zeroed before the measured answers and dumped after them (with
``callgrind_control``), into a file of their own (``.1`` after the output file's name), whose
total divided by the answers is the instructions per answer (every thread's)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/turn.out \\
        python -m bench.turn --answers 50 --callgrind
    callgrind_annotate /tmp/turn.out.1 | head -40

(about 3 minutes, most of it the start-up under valgrind). Information only: no target;
the targets are :mod:`bench.interview`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import logging
import os
import pstats
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.harness import (
    InterviewChat,
    build_plan,
    fresh_database,
    households,
    postgres_unavailable,
    reference_today,
    seed,
)
from bench.interview import FIRST_CHAT, DirectSurface, direct_settings
from bot import heap
from bot.runtime import open_runtime


@dataclass
class Figures:
    answers: int
    user: float
    system: float
    wall: float

    @property
    def cpu(self) -> float:
        return self.user + self.system


class ThreadProfiles:
    """cProfile in every thread started while it is installed (the writer thread starts at
    the first write) and in this one."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.main = cProfile.Profile()

    def _start(self, *_: Any) -> None:
        # A new thread's first event: from now on its own profiler records it.
        profile = cProfile.Profile()
        self.profiles.append(profile)
        profile.enable()

    def install(self) -> None:
        threading.setprofile(self._start)

    def stats(self) -> pstats.Stats:
        threading.setprofile(None)  # type: ignore[arg-type]
        out = pstats.Stats(self.main, stream=io.StringIO())
        for profile in self.profiles:
            profile.create_stats()
            out.add(profile)
        return out


def callgrind(command: str) -> None:
    """A command to the callgrind running this process: zero its counts, or dump them."""
    subprocess.run(
        ["callgrind_control", command, str(os.getpid())], check=True, stdout=subprocess.DEVNULL
    )


async def measure(
    backend: str,
    answers: int,
    profiles: ThreadProfiles | None,
    instructions: bool = False,
    chats: int = 1,
) -> Figures:
    plan = build_plan(reference_today())
    per_chat = answers // (chats * len(plan)) + 3
    async with fresh_database(backend) as url:
        seeded = await seed(url, chats, per_chat, FIRST_CHAT)
        settings = direct_settings(url)
        if profiles is not None:
            profiles.install()
        runtime = await open_runtime(settings)
        try:
            keys = itertools.count(1)
            interviews = [
                InterviewChat(
                    DirectSurface(runtime.conversation, chat, keys), plan, households(ids)
                )
                for chat, ids in seeded
            ]
            # Warm-up: one household answered through fills every cache.
            await asyncio.gather(*(warm(interview, len(plan)) for interview in interviews))
            heap.settle(settings, turns=True)
            if profiles is not None:
                profiles.main.enable()
            if instructions:
                callgrind("--zero")
            before, wall = os.times(), time.perf_counter()
            # (One chat's answers are awaited straight, as they always were: no task.)
            if chats == 1:
                await answer(interviews[0], len(plan), answers)
            else:
                await asyncio.gather(
                    *(answer(interview, len(plan), answers // chats) for interview in interviews)
                )
            after, wall = os.times(), time.perf_counter() - wall
            if instructions:
                callgrind("--dump")
            if profiles is not None:
                profiles.main.disable()
        finally:
            await runtime.close()
    answered = answers // chats * chats
    return Figures(answered, after.user - before.user, after.system - before.system, wall)


async def warm(interview: InterviewChat, questions: int) -> None:
    await interview.start()
    while interview.position < questions:
        await interview.answer()
    await interview.open_next()


async def answer(interview: InterviewChat, questions: int, answers: int) -> None:
    for _ in range(answers):
        if interview.position >= questions:
            await interview.open_next()
        await interview.answer()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.turn", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--chats", type=int, default=1, help="answering at once")
    parser.add_argument("--profile", action="store_true", help="under cProfile, every thread")
    parser.add_argument(
        "--callgrind", action="store_true", help="running under callgrind: collect the answers'"
    )
    parser.add_argument("--save", help="write the profile (pstats) to this file too")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    async def run() -> Figures | None:
        if args.db == "postgresql" and (reason := await postgres_unavailable()):
            print(f"postgresql skipped: {reason}")
            return None
        return await measure(args.db, args.answers, profiles, args.callgrind, args.chats)

    profiles = ThreadProfiles() if args.profile else None
    figures = asyncio.run(run())
    if figures is None:
        return 1
    per = 1000 / figures.answers
    print(
        f"{args.db}: {figures.answers} answers, {args.chats} chat(s); per answer: "
        f"CPU {figures.cpu * per:.2f} ms (user {figures.user * per:.2f}, system "
        f"{figures.system * per:.2f}), wall {figures.wall * per:.2f} ms"
        + (" (under cProfile)" if profiles else "")
    )
    if profiles is not None:
        stats = profiles.stats()
        if args.save:
            stats.dump_stats(args.save)
        stats.stream = sys.stdout  # type: ignore[attr-defined]
        stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
