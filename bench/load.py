"""Latency under load: many collaborators answering at once, through webhook workers.

As deployed behind nginx: K real ``rasoat run --webhook`` processes on one PostgreSQL
database, behind one URL that spreads Telegram's requests over them round robin. The fake
Telegram Bot API server, the balancer and the simulated collaborators run in a process of
their own (the *load process*), so that what they cost is not charged to the bot, and the
bot is reached only through its command line, its environment and HTTP.

Each collaborator opens a household (``/interview``, the household's button, "the roster is
right") and answers the interview question by question, pressing the button or typing the
value each question asks for, after a think time (by default 0-20 s, seeded: the pace of a
collaborator asking a household, all 200 at work at once, about 20 updates a second in all),
and only once the bot has answered the previous one; a household done, it opens the next.
``--think 200`` makes them answer within 200 ms instead, which saturates the workers: the
figures are then the capacity (answers per second), the latency a queue. The answers come
from the plan of :mod:`bench.harness`, computed before the clock starts, and each question
the bot asks is checked against it.

The figure is the server-side latency of each action: from the moment the fake Telegram
starts POSTing the update to the webhook, to the bot's first Bot API call answering it in
that chat (``sendMessage``, ``editMessageReplyMarkup``...). Errors are: a webhook that never
answers 2xx (after retries), a reply that is one of the bot's error messages, a question
other than the one expected, no reply within the timeout, a Bot API call the fake refuses,
an ERROR line in a worker's log, and updates delivered but not stored (or stored twice).

Usage: ``python -m bench load [--collaborators N] [--seconds S] [--workers 1,2]
[--think MS] [--quick] [--profile DIR]``. The default run takes about 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from bench.harness import (
    WEBHOOK_PATH,
    BenchError,
    build_plan,
    child_env,
    free_port,
    fresh_database,
    households_needed,
    postgres_unavailable,
    reference_today,
    run_bots,
    seed,
    stored,
)
from storage.db import create_engine
from tests.fakes.telegram import Json

TARGET_P99 = 0.100
FIRST_CHAT = 7001

# A worker under cProfile, counting CPU time only (an await is not time spent): ``python -c
# PROFILED FILE run ...`` writes the profile to FILE when the worker stops.
PROFILED = (
    "import cProfile, sys, time\n"
    "from bot.cli import main\n"
    "profiler = cProfile.Profile(time.process_time)\n"
    "code = profiler.runcall(main, sys.argv[2:])\n"
    "profiler.dump_stats(sys.argv[1])\n"
    "sys.exit(code)\n"
)
# Parts of a worker, by where their code lives (first match wins).
PROFILE_AREAS = (
    ("questionnaire engine (forms, elementpath)", ("/forms/", "/elementpath/", "/xml/")),
    (
        "rasoat, the rest",
        ("/bot/", "/storage/", "/classification/", "/exports/", "/locales/", "/pyxform/"),
    ),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("asyncpg", ("/asyncpg/",)),
    ("python-telegram-bot", ("/telegram/",)),
    (
        "HTTP client (httpx, httpcore, h11, anyio)",
        ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/sniffio/", "urllib/parse", "/ssl.py"),
    ),
    ("webhook server (tornado)", ("/tornado/",)),
    ("event loop, sockets", ("/asyncio/", "selectors.py", "socket", "epoll")),
    ("json", ("/json/", "json")),
)


@dataclass
class Options:
    collaborators: int = 200
    seconds: float = 120.0
    workers: tuple[int, ...] = (1, 2)
    think: float = 20.0
    seed: int = 1
    profile: Path | None = None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench load",
        description="Server-side latency of rasoat webhook workers under many collaborators.",
    )
    parser.add_argument("--collaborators", type=int, default=None, help="at once (200)")
    parser.add_argument("--seconds", type=float, default=None, help="measured, per run (120)")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument(
        "--think", type=float, default=20000, help="think time up to MS (20000: a person's pace)"
    )
    parser.add_argument("--seed", type=int, default=1, help="of the think times (1)")
    parser.add_argument("--quick", action="store_true", help="10 collaborators, 10 s")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile workers into DIR")
    args = parser.parse_args(argv)
    collaborators = args.collaborators or (10 if args.quick else 200)
    seconds = args.seconds or (10.0 if args.quick else 120.0)
    try:
        workers = tuple(int(count) for count in args.workers.split(","))
    except ValueError:
        parser.error("--workers takes counts separated by commas, e.g. 1,2")
    if collaborators < 1 or seconds <= 0 or not workers or min(workers) < 1 or args.think < 0:
        parser.error("--collaborators, --seconds and --workers must be positive")
    return Options(collaborators, seconds, workers, args.think / 1000, args.seed, args.profile)


@dataclass
class Run:
    workers: int
    result: Json
    cpu: dict[str, float] = field(default_factory=dict)
    postgres: dict[str, float] = field(default_factory=dict)
    log_errors: list[str] = field(default_factory=list)
    stored: str = ""

    @property
    def errors(self) -> int:
        return (
            sum(self.result["errors"].values()) + len(self.log_errors) + (1 if self.stored else 0)
        )

    @property
    def rate(self) -> float:
        return float(self.result["answers"]) / float(self.result["elapsed"])

    @property
    def p99(self) -> float:
        return float(self.result["latency"]["p99"])

    @property
    def passed(self) -> bool:
        return self.p99 < TARGET_P99 and self.errors == 0


async def postgres_activity(url: str) -> dict[str, float]:
    """The server's cumulative figures for the database: sessions opened, milliseconds
    spent running statements, transactions committed."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "select sessions, active_time, xact_commit from pg_stat_database "
                        "where datname = current_database()"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return {"sessions": float(row[0]), "active_ms": float(row[1]), "commits": float(row[2])}


async def run_once(options: Options, workers: int, out: TextIO) -> Run:
    plan = build_plan(reference_today())
    per_chat = households_needed(options.seconds, options.think, len(plan))
    async with fresh_database() as url:
        chats = await seed(url, options.collaborators, per_chat, FIRST_CHAT)
        ports = [free_port() for _ in range(workers)]
        config = {
            "bot": "interview",
            "ports": ports,
            "seconds": options.seconds,
            "think": options.think,
            "seed": options.seed,
            "households": chats,
        }
        secret = uuid.uuid4().hex

        def bots(ready: Json) -> list[tuple[list[str], dict[str, str]]]:
            commands = []
            for n, port in enumerate(ports):
                command = [sys.executable, "-m", "bot"]
                if options.profile is not None:
                    options.profile.mkdir(parents=True, exist_ok=True)
                    profile = options.profile / f"worker-{workers}-{n + 1}.prof"
                    command = [sys.executable, "-c", PROFILED, str(profile)]
                command += [
                    "run", "--webhook", "--listen=127.0.0.1", f"--port={port}",
                    f"--path={WEBHOOK_PATH}", f"--secret={secret}",
                    f"--webhook-url={ready['webhook']}",
                ]  # fmt: skip
                commands.append((command, child_env(url, ready["api"])))
            return commands

        measured = await run_bots(config, url, bots, lambda: postgres_activity(url))
        result = measured.result
        run = Run(
            workers,
            result,
            cpu=measured.cpu,
            postgres=measured.probed,
            log_errors=measured.log_errors,
            stored=await stored(url, result),
        )
    if options.profile is not None:
        show_profiles(options.profile, workers, int(run.result["delivered_total"]), out)
    return run


def _area(filename: str, function: str) -> str:
    """Which part of the program a profiled function belongs to."""
    if filename.startswith("<frozen") or function in ("<built-in method marshal.loads>",):
        return "imports (start-up)"
    for area, marks in PROFILE_AREAS:
        if any(mark in filename or mark in function for mark in marks):
            return area
    return "other"


def show_profiles(folder: Path, workers: int, actions: int, out: TextIO) -> None:
    """CPU time of each worker by part of the program, and its busiest functions."""
    import pstats

    for path in sorted(folder.glob(f"worker-{workers}-*.prof")):
        stats = pstats.Stats(str(path))
        areas: Counter[str] = Counter()
        for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
            if filename != "~":
                areas[_area(filename, function)] += row[2]
                continue
            # A built-in (isinstance, dict.get, socket.send...): its time goes to the parts
            # of the program that called it, each its own share.
            for (caller_file, _, caller), calls in row[4].items():
                areas[_area(caller_file, caller) if caller_file != "~" else "other"] += calls[2]
        total = sum(areas.values())
        print(
            f"\n{path}: {total:.1f} s of CPU under cProfile (start-up and warm-up included;"
            " the profiler slows pure-Python code most: read the shares)",
            file=out,
        )
        for area, seconds in areas.most_common():
            share = seconds / total if total else 0.0
            per_action = seconds * 1000 / max(1, actions) * workers
            print(f"  {area:<46}{share:>5.0%}{per_action:>7.1f} ms/action", file=out)
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(12)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def judged_run(runs: Sequence[Run]) -> Run:
    """The run the target is for: two workers (the issue's deployment) if measured, else the
    most workers measured."""
    two = [run for run in runs if run.workers == 2]
    return two[0] if two else max(runs, key=lambda run: run.workers)


def report(runs: Sequence[Run], options: Options) -> str:
    think = f"{options.think * 1000:.0f}"
    lines = [
        f"{options.collaborators} collaborators answering at once for {options.seconds:g} s "
        f"(think time 0-{think} ms) through webhook workers behind one balancer, "
        f"PostgreSQL, {os.cpu_count()} cores",
        f"{'workers':<9}{'actions':>9}{'answers/s':>11}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'errors':>8}  result",
    ]
    judged = judged_run(runs)
    for run in runs:
        r = run.result
        latency = r["latency"]
        verdict = ("PASS" if run.passed else "FAIL") if run is judged else "info"
        lines.append(
            f"{run.workers:<9}{r['actions']:>9}{run.rate:>11.1f}{ms(latency['p50']):>8}"
            f"{ms(latency['p99']):>8}{ms(latency['max']):>8}{run.errors:>8}  {verdict}"
        )
    lines.append(
        f"target: p99 < {ms(TARGET_P99)} ms and no errors with {judged.workers} worker(s) "
        "(the deployment the target is set for; one process's figure is the core's to set)"
    )
    by_count = {run.workers: run for run in runs}
    if 1 in by_count and 2 in by_count and by_count[1].rate:
        ratio = by_count[2].rate / by_count[1].rate
        lines.append(f"2 workers / 1 worker, answers/s: {ratio:.2f}x (information, not a target)")
    lines.append("")
    lines.append(
        "where the time goes, per action: CPU ms of the workers and of the load process; "
        "PostgreSQL's ms running statements (fsync waits included), commits and sessions "
        "opened; the share of the machine's CPU busy, and busy with neither workers nor load "
        "process (PostgreSQL, other programs); ms from POST to the webhook's 200 (the update "
        "stored); the load process's event-loop lag"
    )
    lines.append(
        f"{'workers':<9}{'workers':>9}{'load':>7}{'pg ms':>7}{'commits':>9}"
        f"{'sessions':>10}{'busy':>7}{'others':>8}{'200 p50':>9}{'200 p99':>9}{'lag p99':>9}"
    )
    for run in runs:
        r = run.result
        actions = max(1, int(r["actions"]))
        lines.append(
            f"{run.workers:<9}{run.cpu['workers'] * 1000 / actions:>9.1f}"
            f"{run.cpu['load'] * 1000 / actions:>7.1f}"
            f"{run.postgres['active_ms'] / actions:>7.1f}"
            f"{run.postgres['commits'] / actions:>9.2f}{run.postgres['sessions'] / actions:>10.2f}"
            f"{run.cpu['machine']:>7.0%}{run.cpu['others']:>8.0%}"
            f"{ms(r['ack']['p50']):>9}{ms(r['ack']['p99']):>9}{ms(r['lag']['p99']):>9}"
        )
    for run in runs:
        r = run.result
        notes = []
        if r["errors"]:
            notes.append("errors " + ", ".join(f"{k}: {v}" for k, v in r["errors"].items()))
        if run.log_errors:
            notes.append(f"{len(run.log_errors)} ERROR line(s) in the workers' logs")
        if run.stored:
            notes.append(f"stored: {run.stored}")
        if r["webhook_retries"]:
            notes.append(f"{r['webhook_retries']} webhook answer(s) not 2xx, sent again")
        if r["late_replies"]:
            notes.append(f"{r['late_replies']} message(s) after the bot's turn seemed over")
        if len(r["served"]) > 1:
            notes.append("webhook requests per worker: " + " / ".join(map(str, r["served"])))
        if r["out_of_households"]:
            notes.append(f"{r['out_of_households']} collaborator(s) ran out of households")
        if notes:
            lines.append(f"{run.workers} worker(s): " + "; ".join(notes))
        for example in [*r["examples"], *run.log_errors][:6]:
            lines.append(f"    {example[:300]}")
    return "\n".join(lines)


async def run(options: Options, out: TextIO = sys.stdout) -> list[Run]:
    if reason := await postgres_unavailable():
        raise BenchError(f"the load benchmark needs PostgreSQL: {reason}")
    runs = []
    for workers in options.workers:
        runs.append(await run_once(options, workers, out))
    print(report(runs, options), file=out)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(argv)
    runs = asyncio.run(run(options))
    return 0 if judged_run(runs).passed else 1
