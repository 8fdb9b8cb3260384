"""The interview benchmark: the real bot as a process of its own, driven over HTTP by a load
process, next to bare python-telegram-bot bots driven identically; the bot's own work with
no Telegram; and the latency 200 collaborators see.

For each database (SQLite with WAL + ``synchronous=FULL``, as in production; PostgreSQL):

1. **Throughput.** ``rasoat run --webhook`` (one process, a fresh database) and the bare
   *button* bot of :mod:`bench.bots` (answerCallbackQuery + sendMessage per tap, one
   sendMessage per typed text, no database), each driven by the load process
   (:mod:`bench.harness`: the fake Bot API posting updates to the bot's webhook, and the
   simulated chats) with the same number of chats answering as fast as they can, each
   waiting for the reply to its answer before giving the next. Answers per second, and
   their ratio (the button bot is measured before and after the bot and averaged, so a
   machine getting busier or quieter meanwhile tilts nothing). The bare echo bot's rate is
   printed for reference.
2. **Direct.** The same interviews handed to ``Conversation.handle`` in this process, no
   Telegram, many chats at once, each answer committed, each turn's delivery receipt written
   (``Conversation.delivered``) as the Telegram channel does once the replies are sent.
3. **Latency.** 200 collaborators, each answering after a pause of 0-4 s (one answer every
   2 s on average: about 100 answers a second in all) for a fixed time, against one
   ``rasoat run --webhook`` process. Server side: from the moment the fake starts POSTing
   the update to the bot's first Bot API call in that chat; p50 and p99 over all actions,
   then for button presses and for typed numbers, dates and text apart.

The bots are reached by webhook, as deployed (behind a reverse proxy; see the README): a
webhook is also where server-side latency has a clear start, the POST of the update.
Answers come from a plan computed before the clock starts (:func:`bench.harness.build_plan`)
and each question the bot asks is checked against it; a mismatch, an error message, an
ERROR in a bot's log or an update not stored once makes the figure invalid (FAIL).

Under the throughput table, "where an answer's time goes": per answer of each throughput
run, the CPU of the bot's event-loop thread and of its other threads and processes
(SQLite's writer; the turn process, ``bot.turn_process``), of the load process, the Bot
API calls the fake received and the requests the webhook's answers carried (a press
answered in the 200, ``bot.channels.button_answers``), and the p50 from the POST to the
webhook's 200 (the update stored; for a press, its turn's answer too) and to the bot's
first Bot API call, and the share of the machine's CPU busy during the run (a bot that
leaves it well under the button bot's share waits on its own hops, not on the CPU).

``--profile DIR`` runs the throughput run's ``rasoat run`` under cProfile in every thread
(``DIR/main.prof``, ``DIR/thread-N.prof``; read them with :mod:`pstats`) and counts its SQL
statements, transactions and COMMITs per update (SQLAlchemy's events), printed with the
rest: the profiler slows the bot down, so that run's figures are not the benchmark's. It
profiles one process: the run's turns are kept in it (``RASOAT_TURN_PROCESS=0``).

Usage: ``python -m bench interview [--db sqlite|postgresql|both] [--quick] [--chats K]
[--seconds S] [--latency-seconds S] [--collaborators N] [--profile DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bench.harness import (
    BUTTON,
    LOCALE,
    REFERENCE_DATE,
    SECRET_KEY,
    TIMEZONE,
    WEBHOOK_PATH,
    Action,
    BenchError,
    Budget,
    ErrorReply,
    InterviewChat,
    Measured,
    build_plan,
    child_env,
    error_fragments,
    free_port,
    fresh_database,
    households,
    households_needed,
    postgres_unavailable,
    reference_today,
    run_bots,
    seed,
    stored,
)
from bot import heap
from bot.conversation import Conversation
from bot.messages import Choices, Incoming, Kind, Notice, Text
from bot.runtime import open_runtime
from bot.settings import Settings, load_settings
from tests.fakes.telegram import TOKEN, Json

TARGET_RATIO = 0.75
TARGET_DIRECT = {"sqlite": 1000.0}
TARGET_P99 = 0.050
FIRST_CHAT = 5001
LATENCY_KINDS = (BUTTON, "number", "date", "text")
RASOAT_WEBHOOK = ("bot", "run", "--webhook", "--listen=127.0.0.1")
# ``python -c PROFILED DIR rasoat-arguments...``: rasoat's command line under cProfile in every
# thread, its SQL statements, transactions and COMMITs counted; all written to DIR at exit.
PROFILED = """
import cProfile, collections, json, signal, sys, threading
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.engine import Engine
from bot.cli import main
folder = Path(sys.argv[1])
counts = collections.Counter()
def statement(conn, cursor, statement, parameters, context, executemany):
    words = statement.split(None, 3)
    verb = words[0].upper()
    target = {"INSERT": 2, "DELETE": 2, "UPDATE": 1}.get(verb)
    counts[verb if target is None else f"{verb} {words[target]}"] += 1
event.listen(Engine, "before_cursor_execute", statement)
def ended(name):
    # On an AUTOCOMMIT connection (rasoat's writes of one statement) a transaction's
    # BEGIN and COMMIT are SQLAlchemy's alone: nothing goes to the server.
    def count(conn):
        alone = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        counts.update([f"{name} (autocommit)" if alone else name])
    return count
event.listen(Engine, "begin", ended("transactions"))
event.listen(Engine, "commit", ended("COMMITs"))
event.listen(Engine, "rollback", ended("ROLLBACKs"))
threads = []
def start(*_):
    profile = cProfile.Profile()
    threads.append(profile)
    profile.enable()
threading.setprofile(start)
# The SIGTERM that stops the bot ends it through the files below, not past them.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
profile = cProfile.Profile()
try:
    profile.runcall(main, sys.argv[2:])
finally:
    threading.setprofile(None)
    profile.dump_stats(folder / "main.prof")
    for n, thread in enumerate(threads):
        thread.create_stats()
        thread.dump_stats(folder / f"thread-{n}.prof")
    (folder / "statements.json").write_text(json.dumps(counts))
"""


# -- the figures of one run ----------------------------------------------------------------


@dataclass
class Phase:
    """One measured run of the load process against one bot."""

    measured: Measured
    problems: list[str] = field(default_factory=list)

    @property
    def result(self) -> Json:
        return self.measured.result

    @property
    def rate(self) -> float:
        elapsed = float(self.result["elapsed"])
        return float(self.result["answers"]) / elapsed if elapsed else 0.0

    @property
    def calls(self) -> float:
        """Bot API calls (HTTP requests of the bot's) per answer."""
        return sum(self.result.get("calls", {}).values()) / max(1, int(self.result["answers"]))

    @property
    def in_answers(self) -> float:
        """Requests carried by the webhook's answers per answer (no HTTP request of their
        own: bot.channels.button_answers)."""
        carried = self.result.get("in_answers", {})
        return sum(carried.values()) / max(1, int(self.result["answers"]))

    def per_answer(self) -> str:
        """The run's costs per answer: CPU ms of the bot's event-loop thread, of its other
        threads and of the load process, Bot API calls; then p50 ms to the 200 and to the
        first reply; then the share of the machine's CPU busy meanwhile."""
        answers = max(1, int(self.result["answers"]))
        loop, others = self.measured.threads[0] if self.measured.threads else (0.0, 0.0)
        return (
            f"{loop * 1000 / answers:>8.2f}{others * 1000 / answers:>8.2f}"
            f"{self.measured.cpu.get('load', 0.0) * 1000 / answers:>7.2f}{self.calls:>7.2f}"
            f"{self.in_answers:>7.2f}"
            f"{ms(self.result['ack']['p50']):>7}{ms(self.result['latency']['p50']):>7}"
            f"{busy_percent(self.measured.cpu.get('machine', 0.0)):>7}"
        )

    def errors(self) -> list[str]:
        r = self.result
        found = [f"{kind}: {count}" for kind, count in r["errors"].items()]
        found += [f"    {example[:300]}" for example in r["examples"]]
        found += self.measured.log_errors[:6]
        found += self.problems
        if r["out_of_households"]:
            found.append(f"{r['out_of_households']} chat(s) ran out of households")
        return found


@dataclass
class Result:
    backend: str
    echo: Phase
    buttons: tuple[Phase, Phase]
    interview: Phase
    direct: float
    latency: Phase
    durable: Phase

    @property
    def button(self) -> float:
        return sum(phase.rate for phase in self.buttons) / len(self.buttons)

    @property
    def ratio(self) -> float:
        return self.interview.rate / self.button if self.button else 0.0

    @property
    def floor(self) -> float:
        """The durable button bot over the button bot: what storing before answering costs
        with nothing else, the best ratio a bot keeping that promise can reach here."""
        return self.durable.rate / self.button if self.button else 0.0

    @property
    def ceiling(self) -> float:
        """The floor scaled to the Bot API calls an interview answer takes (the households
        opened and the toggles of a question with several choices are updates of their
        own): about the ratio a bot keeping the promise reaches on this interview when
        everything else it does costs nothing. A bot's loop costs about the same per call,
        so a ratio above it is out of reach here, whatever the turn costs."""
        if not self.interview.calls:
            return 0.0
        return self.floor * self.durable.calls / self.interview.calls

    @property
    def p99(self) -> float:
        return float(self.latency.result["latency"]["p99"])

    def checks(self) -> list[tuple[str, str, str, bool]]:
        """(what, measured, target, passed) for each target, on this database."""
        valid = not (self.interview.errors() or any(b.errors() for b in self.buttons))
        rows = [
            (
                "answers/s vs bare button bot",
                f"{shown_ratio(self.ratio)}x",
                f">= {TARGET_RATIO:.2f}x",
                valid and self.ratio >= TARGET_RATIO,
            )
        ]
        if (direct_target := TARGET_DIRECT.get(self.backend)) is not None:
            rows.append(
                (
                    "direct answers/s",
                    f"{self.direct:.0f}",
                    f">= {direct_target:.0f}",
                    self.direct >= direct_target,
                )
            )
        rows.append(
            (
                "p99 latency",
                f"{self.p99 * 1000:.0f} ms",
                f"< {TARGET_P99 * 1000:.0f} ms",
                not self.latency.errors() and self.p99 < TARGET_P99,
            )
        )
        return rows

    @property
    def passed(self) -> bool:
        return all(passed for *_, passed in self.checks())


@dataclass
class Options:
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    chats: int = 8
    seconds: float = 15.0
    direct_answers: int = 3000
    direct_chats: int = 50
    collaborators: int = 200
    latency_seconds: float = 60.0
    think: float = 4.0
    seed: int = 1
    skipped: dict[str, str] = field(default_factory=dict)
    profile: Path | None = None
    statements: dict[str, dict[str, int]] = field(default_factory=dict)


def busy_percent(share: float) -> str:
    """A share of the machine's CPU as a whole percentage."""
    return f"{round(share * 100)}%"


def quick() -> Options:
    """A small run, to see that everything works: its figures mean little."""
    return Options(
        chats=3,
        seconds=2.0,
        direct_answers=60,
        direct_chats=3,
        collaborators=10,
        latency_seconds=4.0,
    )


# -- the phases ------------------------------------------------------------------------------


def _webhook_command(module: Sequence[str], port: int, secret: str, ready: Json) -> list[str]:
    return [
        sys.executable, "-m", *module, "--webhook-url", ready["webhook"],
        f"--port={port}", f"--path={WEBHOOK_PATH}", f"--secret={secret}",
    ]  # fmt: skip


async def baseline(kind: str, options: Options, backend: str = "") -> Phase:
    """Taps (``button``, ``durable`` on ``backend``) or messages (``echo``) per second of a
    bare bot of bench.bots."""
    if kind == "durable":
        async with fresh_database(backend) as url:
            db = "sqlite" if backend == "sqlite" else url
            return await _baseline(kind, options, ("--db", db))
    return await _baseline(kind, options, ())


async def _baseline(kind: str, options: Options, extra: Sequence[str]) -> Phase:
    port, secret = free_port(), uuid.uuid4().hex
    config = {
        # The load process drives the durable bot as it drives the button bot.
        "bot": "button" if kind == "durable" else kind,
        "ports": [port],
        "seconds": options.seconds,
        "think": 0.0,
        "seed": options.seed,
        "households": [[FIRST_CHAT + n, []] for n in range(options.chats)],
    }

    def bots(ready: Json) -> list[tuple[list[str], dict[str, str]]]:
        command = _webhook_command(("bench.bots", kind), port, secret, ready)
        return [([*command, *extra], child_env("", ready["api"]))]

    return Phase(await run_bots(config, "", bots))


async def through_telegram(
    backend: str,
    plan: Sequence[Action],
    chats: int,
    seconds: float,
    think: float,
    seed_: int,
    profile: Path | None = None,
) -> Phase:
    """``rasoat run --webhook`` on a fresh database, ``chats`` collaborators answering with
    pauses of up to ``think`` seconds, for ``seconds``; under :data:`PROFILED` into the
    folder ``profile`` if one is given."""
    per_chat = households_needed(seconds, think, len(plan))
    async with fresh_database(backend) as url:
        households_ = await seed(url, chats, per_chat, FIRST_CHAT)
        port, secret = free_port(), uuid.uuid4().hex
        config = {
            "bot": "interview",
            "ports": [port],
            "seconds": seconds,
            "think": think,
            "seed": seed_,
            "households": households_,
        }

        def bots(ready: Json) -> list[tuple[list[str], dict[str, str]]]:
            command = _webhook_command(RASOAT_WEBHOOK, port, secret, ready)
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                # python -m bot ARGS -> python -c PROFILED DIR ARGS
                command = [sys.executable, "-c", PROFILED, str(profile), *command[3:]]
                # One process to profile: its turns kept in it.
                return [(command, child_env(url, ready["api"]) | {"RASOAT_TURN_PROCESS": "0"})]
            return [(command, child_env(url, ready["api"]))]

        measured = await run_bots(config, url, bots)
        problem = await stored(url, measured.result)
    return Phase(measured, [f"stored: {problem}"] if problem else [])


class DirectSurface:
    """A registered Telegram user's chat handed straight to the Conversation, as the
    Telegram channel hands it over: each update with its own key, its replies' receipt
    written once they are "sent" (here: at once)."""

    def __init__(self, conversation: Conversation, chat_id: int, keys: Iterator[int]) -> None:
        self.conversation = conversation
        self.chat_id = chat_id
        self.keys = keys
        self.fragments = error_fragments()
        self.last_buttons: list[str] = []
        self.last_text = ""
        self.updates = 0

    def button_data(self) -> list[str]:
        return list(self.last_buttons)

    def shown(self) -> str:
        return self.last_text

    async def _send(self, incoming: Incoming) -> None:
        self.updates += 1
        replies = await self.conversation.handle(incoming)
        for reply in replies:
            if isinstance(reply, Choices):
                self.last_buttons = [choice.data for choice in reply.choices]
            # An edit (a toggle) changes the buttons of the message on screen, not its text.
            if isinstance(reply, Text) or (isinstance(reply, Choices) and not reply.edit):
                self.last_text = reply.text
            if isinstance(reply, Text | Choices | Notice):
                for key, piece in self.fragments.items():
                    if piece in reply.text:
                        raise ErrorReply(f"chat {self.chat_id}: the bot said {key}: {reply.text!r}")
        await self.conversation.delivered(incoming)

    def _incoming(self, kind: Kind, **fields: Any) -> Incoming:
        return Incoming(
            platform="telegram",
            user_id=str(self.chat_id),
            chat_id=str(self.chat_id),
            display_name=f"CTV {self.chat_id}",
            kind=kind,
            update_key=str(next(self.keys)),
            **fields,
        )

    async def press(self, data: str) -> None:
        await self._send(self._incoming(Kind.CHOICE, choice=data))

    async def type(self, text: str, kind: str = "text") -> None:
        parsed, command, args = Incoming.parse_text(text)
        await self._send(self._incoming(parsed, text=text, command=command, args=args))


def direct_settings(url: str) -> Settings:
    """The bot's settings on ``url`` for answers handed straight to the Conversation: the
    load process's, with no flood limit and no reading time (the simulated chats answer
    at once)."""
    return load_settings(
        DATABASE_URL=url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        RASOAT_SECRET_KEY=SECRET_KEY,
        RASOAT_LOCALE=LOCALE,
        RASOAT_TIMEZONE=TIMEZONE,
        RASOAT_REFERENCE_DATE=REFERENCE_DATE,
        RASOAT_FLOOD_LIMIT=0,
        RASOAT_READING_TIME=0,
    )


async def direct_rate(backend: str, plan: Sequence[Action], options: Options) -> tuple[float, str]:
    """Answers per second straight into the Conversation, and what was not stored."""
    answers, chat_count = options.direct_answers, options.direct_chats
    per_chat = -(-answers // (chat_count * len(plan))) + 2
    async with fresh_database(backend) as url:
        seeded = await seed(url, chat_count, per_chat, FIRST_CHAT)
        settings = direct_settings(url)
        runtime = await open_runtime(settings)
        try:
            keys = itertools.count(1)
            surfaces = [DirectSurface(runtime.conversation, chat, keys) for chat, _ in seeded]
            chats = [
                InterviewChat(surface, plan, households(ids))
                for surface, (_, ids) in zip(surfaces, seeded, strict=True)
            ]
            await asyncio.gather(*(chat.start() for chat in chats))
            # Warm-up: one answer per chat fills the engine's and SQLAlchemy's caches.
            await asyncio.gather(*(chat.answer() for chat in chats))
            # As a started bot's process does (without it, full collections walking the
            # started heap again and again cost `direct` about 7% that no bot pays).
            heap.settle(settings, turns=True)
            budget = Budget(answers)
            started = time.perf_counter()
            await asyncio.gather(*(chat.run(budget) for chat in chats))
            elapsed = time.perf_counter() - started
        finally:
            await runtime.close()
        sent = {
            "delivered_total": sum(surface.updates for surface in surfaces),
            "finished_total": sum(chat.finished for chat in chats),
        }
        problem = await stored(url, sent)
    return answers / elapsed, problem


async def measure(backend: str, plan: Sequence[Action], options: Options) -> Result:
    echo = await baseline("echo", options)
    before = await baseline("button", options)
    interview = await through_telegram(
        backend, plan, options.chats, options.seconds, 0.0, options.seed
    )
    if options.profile is not None:
        folder = options.profile / backend
        profiled = await through_telegram(
            backend, plan, options.chats, options.seconds, 0.0, options.seed, folder
        )
        counts = json.loads((folder / "statements.json").read_text())
        counts["updates"] = int(profiled.result["delivered_total"])
        options.statements[backend] = counts
    after = await baseline("button", options)
    durable = await baseline("durable", options, backend)
    direct, problem = await direct_rate(backend, plan, options)
    if problem:
        raise BenchError(f"direct, {backend}: {problem}")
    latency = await through_telegram(
        backend,
        plan,
        options.collaborators,
        options.latency_seconds,
        options.think,
        options.seed,
    )
    return Result(backend, echo, (before, after), interview, direct, latency, durable)


# -- the report ------------------------------------------------------------------------------


def shown_ratio(ratio: float) -> str:
    """A ratio to two decimals, rounded down: 0.7485 shows as 0.74, not as a 0.75 that fails
    its target of 0.75 (the epsilon: 0.29 * 100 is 28.999999999999996 in binary)."""
    return f"{math.floor(ratio * 100 + 1e-9) / 100:.2f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def load_average() -> str:
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def report(results: Sequence[Result], options: Options) -> str:
    lines = [
        f"{os.cpu_count()} cores, load average {load_average()} (1/5/15 min) at the end: the "
        "load process, the bots and the database share this machine",
        "",
        f"throughput: {options.chats} chats answering as fast as they can (each waits for "
        f"the reply) for {options.seconds:g} s, webhook, one process per bot",
        f"{'database':<12}{'echo msg/s':>11}{'button/s':>10}{'answers/s':>11}{'updates/s':>11}"
        f"{'ratio':>8}{'direct/s':>10}{'durable/s':>11}{'floor':>7}{'ceiling':>9}",
    ]
    for r in results:
        updates = float(r.interview.result["actions"]) / float(r.interview.result["elapsed"])
        lines.append(
            f"{r.backend:<12}{r.echo.rate:>11.1f}{r.button:>10.1f}{r.interview.rate:>11.1f}"
            f"{updates:>11.1f}{shown_ratio(r.ratio):>7}x{r.direct:>10.1f}{r.durable.rate:>11.1f}"
            f"{r.floor:>6.2f}x{r.ceiling:>8.2f}x"
        )
    lines += [
        "",
        "where an answer's time goes, per answer of each throughput run: CPU ms of the bot's",
        "event-loop thread, of its other threads and processes (SQLite's writer, the turn",
        "process), and of the load process;",
        "Bot API calls (the bot's HTTP requests) and requests carried in the webhook's 200s",
        "(a button press answered there); p50 ms from the update's POST to the webhook's 200",
        "and to the first reply; busy: the machine's CPU busy meanwhile, both cores (a bot",
        "that leaves it well under the button bot's was waiting on its own hops, not on CPU)",
        f"{'database':<12}{'bot':<10}{'loop':>8}{'others':>8}{'load':>7}{'calls':>7}"
        f"{'in 200':>7}{'200':>7}{'reply':>7}{'busy':>7}",
    ]
    for r in results:
        for n, (name, phase) in enumerate(
            (("button", r.buttons[0]), ("rasoat", r.interview), ("durable", r.durable))
        ):
            head = r.backend if n == 0 else ""
            lines.append(f"{head:<12}{name:<10}{phase.per_answer()}")
    for backend, counts in options.statements.items():
        updates = max(1, counts.pop("updates"))
        shown = ", ".join(
            f"{name} {count / updates:.2f}"
            for name, count in sorted(counts.items(), key=lambda item: -item[1])
            if count / updates >= 0.05
        )
        lines.append(f"{backend}: per update under --profile: {shown}")
    lines += [
        "",
        "ratio = answers/s / button/s (the bare button bot: the Bot API calls of an answer and",
        "nothing else; averaged over a run before and one after the bot's); updates/s counts",
        "the bot's every update (households opened, toggles); echo msg/s is for reference;",
        f"direct = {options.direct_answers} answers handed to Conversation.handle by "
        f"{options.direct_chats} chats at once, no Telegram, each committed;",
        "durable = the button bot committing each update, with the answer a press carries,",
        "before its 200 and so before its reply, nothing else (bench/bots.py); floor =",
        "durable/s / button/s, the best ratio any bot that stores before it answers reaches",
        "on this machine; ceiling = floor x the durable bot's Bot API calls per answer / the",
        "interview's: the best ratio on this interview of a bot whose turn costs nothing",
        "beyond storing (an estimate: the bots' event loops cost about the same per call).",
        "",
        f"latency: {options.collaborators} collaborators, one action every "
        f"{options.think / 2:g} s on average (pause 0-{options.think:g} s), "
        f"{options.latency_seconds:g} s, one `rasoat run --webhook` process; server side, from "
        "the update's POST to the bot's first Bot API call in that chat",
        f"{'database':<12}{'actions':<9}{'kind':>8}{'count':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}",
    ]
    for r in results:
        latency = r.latency.result
        rate = float(latency["actions"]) / float(latency["elapsed"] or 1)
        rows = [("all", latency["latency"])] + [
            (kind, latency["latency_by_kind"][kind])
            for kind in LATENCY_KINDS
            if kind in latency["latency_by_kind"]
        ]
        for n, (kind, figures) in enumerate(rows):
            head = f"{r.backend:<12}{f'{rate:.0f}/s':<9}" if n == 0 else " " * 21
            lines.append(
                f"{head}{kind:>8}{figures['count']:>8}{ms(figures['p50']):>8}"
                f"{ms(figures['p99']):>8}{ms(figures['max']):>8}"
            )
        if lag := latency.get("lag"):
            # What the figures may carry of the instrument's own delays (bench.harness).
            lines.append(
                f"{'':<21}{'the load process waking late':>28}: p99 {ms(lag['p99'])} ms, "
                f"max {ms(lag['max'])} ms"
            )
    for backend, reason in options.skipped.items():
        lines.append(f"{backend:<12}skipped: {reason}")
    for r in results:
        phases = [
            ("echo bot", r.echo),
            ("button bot", r.buttons[0]),
            ("interview", r.interview),
            ("button bot (after)", r.buttons[1]),
            ("durable button bot", r.durable),
            ("latency", r.latency),
        ]
        for name, phase in phases:
            if errors := phase.errors():
                lines.append(f"{r.backend}, {name}: the figure is not valid:")
                lines += [f"    {error}" for error in errors[:8]]
    lines += ["", "targets:"]
    for r in results:
        for what, measured, target, passed in r.checks():
            verdict = "PASS" if passed else "FAIL"
            lines.append(f"{r.backend:<12}{what:<32}{measured:>10}  {target:<10}{verdict}")
    verdict = "PASS" if results and all(r.passed for r in results) else "FAIL"
    lines.append(f"overall: {verdict}")
    return "\n".join(lines)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench interview",
        description="The real bot against bare python-telegram-bot bots; direct; latency.",
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a small run: a smoke test")
    parser.add_argument("--chats", type=int, help="chats of the throughput runs (8)")
    parser.add_argument("--seconds", type=float, help="of each throughput run (15)")
    parser.add_argument("--collaborators", type=int, help="of the latency run (200)")
    parser.add_argument("--latency-seconds", type=float, help="of the latency run (60)")
    parser.add_argument(
        "--profile", type=Path, help="also profile the bot's throughput run into DIR"
    )
    args = parser.parse_args(argv)
    options = quick() if args.quick else Options()
    for name in ("chats", "seconds", "collaborators", "latency_seconds"):
        if (value := getattr(args, name)) is not None:
            if value <= 0:
                parser.error(f"--{name.replace('_', '-')} must be positive")
            setattr(options, name, value)
    options.backends = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    options.profile = args.profile
    return options


async def run(options: Options, out: TextIO = sys.stdout) -> list[Result]:
    # Before any clock starts: what each question's answer is (the bot counts ages at this
    # year's reference date, and so does the plan).
    plan = build_plan(reference_today())
    results = []
    for backend in options.backends:
        if backend == "postgresql" and (reason := await postgres_unavailable()):
            options.skipped[backend] = reason
            continue
        results.append(await measure(backend, plan, options))
    print(report(results, options), file=out)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    options = parse_options(argv)
    results = asyncio.run(run(options))
    return 0 if results and all(result.passed for result in results) else 1
