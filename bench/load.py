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
from the plan of :mod:`bench.interview`, computed before the clock starts, and each question
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
import contextlib
import contextvars
import json
import math
import os
import random
import re
import socket
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.interview import (
    POSTGRES_URL,
    REFERENCE_DATE,
    TIMEZONE,
    BenchError,
    BenchTelegram,
    Budget,
    Handled,
    InterviewChat,
    TelegramSurface,
    build_plan,
    postgres_unavailable,
)
from bot.admin import add_user
from classification import ReferenceRule, ReviewDates
from locales.catalog import catalog
from storage.db import create_engine, session_factory, upgrade
from storage.models import Area, Interview, InterviewStatus, ProcessedUpdate, Role
from storage.uow import UnitOfWork
from tests.fakes.balancer import Balancer
from tests.fakes.telegram import TOKEN, Json
from tests.helpers import seed_areas
from tests.interview_driver import scripted_household

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99 = 0.100
COMMUNE = "87-MH"
FIRST_CHAT = 7001
WEBHOOK_PATH = "telegram"
# Telegram's default: at most this many webhook requests in flight at once, all chats
# together (PTB's run_webhook asks for the same).
MAX_CONNECTIONS = 40
# A webhook answered with anything but 2xx is POSTed again, this many times in all.
WEBHOOK_ATTEMPTS = 5
WEBHOOK_RETRY_DELAY = 0.2
REPLY_TIMEOUT = 30.0
# Updates a household takes beyond its answers: the household's button and "the roster is
# right" (the toggles of the questions with several choices are left out: the number of
# households seeded errs on the generous side).
EXTRA_UPDATES_PER_HOUSEHOLD = 2
# The bot's texts that mean something went wrong (first locale: the collaborators speak it).
ERROR_KEYS = (
    "error.internal",
    "error.database_unavailable",
    "error.too_fast",
    "delivery.reply_lost",
    "delivery.file_lost",
    "fallback.stale_button",
    "fallback.idle_text",
    "fallback.unknown_command",
    "registration.unknown_user",
    "interview.stale",
    "interview.taken",
    "scope.refused",
)
LOCALE = "vi"
SETTLE_TIMEOUT = 60.0
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


class ReplyTimeout(BenchError):
    """The bot did not answer an action within REPLY_TIMEOUT."""


class ErrorReply(BenchError):
    """The bot answered with one of its error messages."""


class WebhookFailed(BenchError):
    """The webhook never answered 2xx."""


class OutOfHouseholds(BenchError):
    """A collaborator answered every household seeded for it (the run was too long)."""


def reference_today() -> date:
    """The day the bot counts ages at this year (as :func:`bench.interview.run`)."""
    dates = ReviewDates(ReferenceRule.parse(REFERENCE_DATE), ZoneInfo(TIMEZONE))
    now = datetime.now(UTC)
    return dates.reference(dates.local_day(now).year, now)


def error_fragments(locale: str = LOCALE) -> dict[str, str]:
    """For each error message, its longest piece of fixed text (between placeholders)."""
    texts = catalog(locale)
    fragments = {}
    for key in ERROR_KEYS:
        if template := texts.get(key):
            pieces = (piece.strip() for piece in re.split(r"\{[^}]*\}", template))
            fragments[key] = max(pieces, key=len)
    return fragments


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (sorted or not); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": percentile(values, 0.50),
        "p99": percentile(values, 0.99),
        "max": max(values, default=0.0),
        "mean": sum(values) / len(values) if values else 0.0,
    }


# == the load process: fake Telegram + balancer + collaborators ===========================

# When the request being handled reached the fake (set per request, read by _dispatch).
_ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("arrived", default=0.0)


def _chat_of(update: Json) -> int | None:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    if "callback_query" in update:
        query = update["callback_query"]
        return int(query["message"]["chat"]["id"]) if "message" in query else None
    return None


class LoadTelegram(BenchTelegram):
    """The fake Bot API as Telegram serves a webhook under load, timing the bot's answers.

    Updates are POSTed to the webhook concurrently, up to the ``max_connections`` the bot
    asked for, one at a time per chat. For each action it records when the POST started,
    when the 2xx came back, and when the bot's first Bot API call for that chat arrived;
    and it tells the collaborator when the bot's turn is over: a message with buttons, an
    edit of the buttons, or a question that waits for typed text (``typed_labels``).
    """

    def __init__(self, typed_labels: Sequence[str]) -> None:
        super().__init__()
        self.webhook_retry_delay = WEBHOOK_RETRY_DELAY
        self.typed_labels = tuple(typed_labels)
        self.fragments = error_fragments()
        self.measuring = False
        self.latencies: list[float] = []
        self.acks: list[float] = []
        self.actions = 0
        self.delivered = 0
        self.webhook_retries = 0
        self.late_replies = 0
        self._in_flight: set[int] = set()
        self._busy_chats: set[int] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        # chat -> (update_id, POST started, measured?) until the bot's first call there
        self._first_reply: dict[int, tuple[int, float, bool]] = {}
        # chat -> the update the bot is answering there; callback query -> its chat
        self._answering: dict[int, int] = {}
        self._query_chats: dict[str, int] = {}
        self._outcomes: dict[int, asyncio.Future[None]] = {}

    # -- delivery ------------------------------------------------------------------------

    async def _webhook_worker(self) -> None:
        slots = asyncio.Semaphore(int(self._webhook.get("max_connections", MAX_CONNECTIONS)))
        while True:
            await slots.acquire()
            try:
                await self._wait_quietly(lambda: self._ready() is not None)
            except BaseException:
                slots.release()
                raise
            queued = self._ready()
            assert queued is not None
            chat = _chat_of(queued.update)
            self._in_flight.add(queued.update_id)
            if chat is not None:
                self._busy_chats.add(chat)
            task = asyncio.create_task(self._deliver(queued.update, chat, slots))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    def _ready(self) -> Any:
        for queued in self._deliverable():
            if queued.update_id in self._in_flight:
                continue
            chat = _chat_of(queued.update)
            if chat is None or chat not in self._busy_chats:
                return queued
        return None

    async def _deliver(self, update: Json, chat: int | None, slots: asyncio.Semaphore) -> None:
        update_id = int(update["update_id"])
        try:
            started = time.perf_counter()
            if chat is not None:
                self._first_reply[chat] = (update_id, started, self.measuring)
                self._answering[chat] = update_id
                if "callback_query" in update:
                    self._query_chats[str(update["callback_query"]["id"])] = chat
            if self.measuring:
                self.actions += 1
            status = 0
            for _attempt in range(WEBHOOK_ATTEMPTS):
                status = await self._post_webhook(update, self._webhook.get("secret_token"))
                if 200 <= status < 300:
                    break
                self.webhook_retries += 1
                await asyncio.sleep(self.webhook_retry_delay)
            if 200 <= status < 300:
                self.delivered += 1
                if self.measuring:
                    self.acks.append(time.perf_counter() - started)
            else:
                failed = WebhookFailed(
                    f"update {update_id}: the webhook answered {status} {WEBHOOK_ATTEMPTS} times"
                )
                if chat is not None and self._answering.get(chat) == update_id:
                    del self._answering[chat]
                self._settle(update_id, failed)
            self._queue = [q for q in self._queue if q.update_id != update_id]
        finally:
            self._in_flight.discard(update_id)
            if chat is not None:
                self._busy_chats.discard(chat)
            slots.release()
            await self._notify()

    # -- the bot's calls -----------------------------------------------------------------

    async def _handle_api(self, request: Any) -> Any:
        _ARRIVED.set(time.perf_counter())
        return await super()._handle_api(request)

    async def _dispatch(self, method: str, params: Json) -> Any:
        if "chat_id" in params and method != "setMyCommands":
            with contextlib.suppress(TypeError, ValueError):
                first = self._first_reply.pop(int(params["chat_id"]), None)
                if first is not None and first[2]:
                    self.latencies.append(_ARRIVED.get() - first[1])
        return await super()._dispatch(method, params)

    async def _send(self, method: str, params: Json, content: Json) -> Json:
        message = await super()._send(method, params, content)
        chat = int(message["chat"]["id"])
        self._replied(chat, str(message.get("text", "")), "reply_markup" in message)
        return message

    def _edit(self, params: Json, content: Json) -> Json | bool:
        result = super()._edit(params, content)
        if "chat_id" in params:
            self._replied(int(params["chat_id"]), str(content.get("text", "")), True)
        return result

    def _api_answerCallbackQuery(self, params: Json) -> bool:
        chat = self._query_chats.pop(str(params["callback_query_id"]), None)
        notice = str(params.get("text") or "")
        if chat is not None and (key := self._error_in(notice)):
            self._settle_chat(chat, ErrorReply(f"chat {chat}: the bot said {key}: {notice!r}"))
        return super()._api_answerCallbackQuery(params)

    def _error_in(self, text: str) -> str | None:
        return next((key for key, piece in self.fragments.items() if piece in text), None)

    def _replied(self, chat: int, text: str, actionable: bool) -> None:
        if chat not in self._answering:
            self.late_replies += 1
            return
        if key := self._error_in(text):
            self._settle_chat(chat, ErrorReply(f"chat {chat}: the bot said {key}: {text!r}"))
        elif actionable or any(label in text for label in self.typed_labels):
            self._settle_chat(chat, None)

    # -- outcomes, as the collaborators wait for them --------------------------------------

    def _outcome(self, update_id: int) -> asyncio.Future[None]:
        if update_id not in self._outcomes:
            self._outcomes[update_id] = asyncio.get_running_loop().create_future()
        return self._outcomes[update_id]

    def _settle_chat(self, chat: int, error: BenchError | None) -> None:
        self._settle(self._answering.pop(chat), error)

    def _settle(self, update_id: int, error: BenchError | None) -> None:
        outcome = self._outcome(update_id)
        if outcome.done():
            return
        if error is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(error)

    async def answered(self, update: Json) -> None:
        """Until the bot's turn answering ``update`` is over; raises what went wrong."""
        update_id = int(update["update_id"])
        try:
            await asyncio.wait_for(self._outcome(update_id), REPLY_TIMEOUT)
        except TimeoutError:
            raise ReplyTimeout(
                f"update {update_id}: no complete reply within {REPLY_TIMEOUT:.0f} s"
            ) from None
        finally:
            self._outcomes.pop(update_id, None)


class Replied(Handled):
    """:class:`bench.interview.Handled` for a bot in another process: its turn is over
    when the fake server has seen it (:meth:`LoadTelegram.answered`)."""

    def __init__(self, fake: LoadTelegram) -> None:
        super().__init__()
        self.fake = fake

    async def wait(self, update: Json) -> None:
        await self.fake.answered(update)


class ThinkingSurface(TelegramSurface):
    """A collaborator's chat, with a moment to read and tap before each action."""

    def __init__(self, fake: LoadTelegram, user: Any, think: float, rng: random.Random) -> None:
        super().__init__(fake, Replied(fake), user)
        self.think, self.rng = think, rng

    async def press(self, data: str) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, self.think))
        await super().press(data)

    async def type(self, text: str) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, self.think))
        await super().type(text)


@dataclass
class Until(Budget):
    """Answers may be given until ``deadline`` (perf_counter), however many."""

    deadline: float = 0.0

    def take(self) -> bool:
        return time.perf_counter() < self.deadline


def households(ids: Sequence[int]) -> Iterator[int]:
    yield from ids
    raise OutOfHouseholds("every household seeded for this collaborator was answered")


@dataclass
class Collaborator:
    chat: InterviewChat
    error: BenchError | None = None
    failure: str = ""

    async def guarded(self, work: Coroutine[Any, Any, None]) -> None:
        if self.error is not None or self.failure:
            work.close()
            return
        try:
            await work
        except BenchError as error:
            self.error = error
        except Exception as error:  # the driver met something it does not know
            self.failure = f"{type(error).__name__}: {error}"


async def watch_lag(samples: list[float], period: float = 0.01) -> None:
    """How late this process's event loop wakes up: the load process's own congestion."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(period)
        samples.append(time.perf_counter() - before - period)


async def wait_for_port(port: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return


def say(kind: str, payload: Any = None) -> None:
    """One line to the orchestrator."""
    print(kind if payload is None else f"{kind} {json.dumps(payload)}", flush=True)


async def drive(config: Json, stdin: asyncio.StreamReader) -> None:
    """The load process: serve the fake Bot API and the balancer, wait for the workers,
    run the collaborators, report."""
    plan = build_plan(reference_today())
    typed = [action.label for action in plan if action.kind == "type"]
    ports = [int(port) for port in config["ports"]]
    fake = LoadTelegram(typed)
    async with fake, Balancer() as balancer:
        say("READY", {"api": fake.base_url, "webhook": f"{balancer.url}/{WEBHOOK_PATH}"})
        for _ in ports:
            await fake.wait_for_call("setWebhook", timeout=SETTLE_TIMEOUT)
        for port in ports:
            await wait_for_port(port)
            balancer.add(f"http://127.0.0.1:{port}")
        collaborators = [
            Collaborator(
                InterviewChat(
                    ThinkingSurface(
                        fake,
                        fake.user(int(chat_id), first_name=f"CTV {n}"),
                        float(config["think"]),
                        random.Random(int(config["seed"]) * 100_003 + n),
                    ),
                    plan,
                    households(ids),
                )
            )
            for n, (chat_id, ids) in enumerate(config["households"])
        ]
        # Before the clock: the household list, the first household open, one answer each
        # (connections made, the workers' caches filled).
        await asyncio.gather(*(c.guarded(c.chat.start()) for c in collaborators))
        await asyncio.gather(*(c.guarded(c.chat.answer()) for c in collaborators))
        answers_before = sum(c.chat.answers for c in collaborators)
        finished_before = sum(c.chat.finished for c in collaborators)

        lag: list[float] = []
        watcher = asyncio.create_task(watch_lag(lag))
        say("MEASURING")
        cpu, started = time.process_time(), time.perf_counter()
        fake.measuring = True
        deadline = Until(0, started + float(config["seconds"]))
        await asyncio.gather(*(c.guarded(c.chat.run(deadline)) for c in collaborators))
        fake.measuring = False
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        watcher.cancel()

        errors: Counter[str] = Counter()
        examples: list[str] = []
        out_of_households = 0
        for c in collaborators:
            if isinstance(c.error, OutOfHouseholds):
                out_of_households += 1
            elif c.error is not None or c.failure:
                kind = type(c.error).__name__ if c.error is not None else "driver"
                errors["mismatch" if kind == "BenchError" else kind] += 1
                examples.append(str(c.error) if c.error is not None else c.failure)
        if fake.violations:
            errors["bot request refused by the spec"] += len(fake.violations)
            examples += fake.violations[:3]
        if fake.api_errors:
            errors["Bot API error"] += len(fake.api_errors)
            examples += [f"{m}: {code} {text}" for m, code, text in fake.api_errors[:3]]
        say(
            "RESULT",
            {
                "elapsed": elapsed,
                "actions": fake.actions,
                "answers": sum(c.chat.answers for c in collaborators) - answers_before,
                "households": sum(c.chat.finished for c in collaborators) - finished_before,
                "finished_total": sum(c.chat.finished for c in collaborators),
                "delivered_total": fake.delivered,
                "latency": summary(fake.latencies),
                "ack": summary(fake.acks),
                "lag": summary(lag),
                "cpu": cpu,
                "errors": dict(errors),
                "examples": examples[:6],
                "webhook_retries": fake.webhook_retries,
                "late_replies": fake.late_replies,
                "out_of_households": out_of_households,
                "served": [balancer.served[url] for url in balancer.backends],
                "passed_over": balancer.passed_over,
            },
        )
        # Serve on until the orchestrator has stopped the workers (it closes stdin).
        while await stdin.readline():
            pass


async def drive_main() -> int:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    await drive(config, stdin)
    return 0


# == the orchestrator ======================================================================


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


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new PostgreSQL database on the benchmark's server; dropped afterwards."""
    name = f"rasoat_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def households_needed(options: Options, answers_per_household: int) -> int:
    """Per collaborator: as many as it could answer were the bot instant, and two more."""
    per_action = max(options.think / 2, 0.005)
    updates = answers_per_household + EXTRA_UPDATES_PER_HOUSEHOLD
    return math.ceil(options.seconds / (updates * per_action)) + 2


async def seed(url: str, options: Options, per_chat: int) -> list[tuple[int, list[int]]]:
    """Migrate; one village per collaborator, with its households; the collaborators."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        await seed_areas(sessions)
        year = datetime.now(ZoneInfo(TIMEZONE)).year
        async with UnitOfWork(sessions) as uow:
            commune = await uow.areas.by_code(COMMUNE)
            assert isinstance(commune, Area)
            villages = [
                Area(code=f"{COMMUNE}-L{n:03d}", name=f"Ấp L{n}", level="ấp", parent_id=commune.id)
                for n in range(options.collaborators)
            ]
            uow.session.add_all(villages)
            await uow.session.flush()
            rows = [
                [
                    scripted_household(f"HH-{n:03d}-{k:03d}", village.id, year)
                    for k in range(per_chat)
                ]
                for n, village in enumerate(villages)
            ]
            uow.session.add_all([row for village_rows in rows for row in village_rows])
            await uow.commit()
            plan = [
                (FIRST_CHAT + n, [row.id for row in village_rows])
                for n, village_rows in enumerate(rows)
            ]
        for n, village in enumerate(villages):
            await add_user(
                sessions,
                platform="telegram",
                platform_user_id=str(FIRST_CHAT + n),
                name=f"CTV {n}",
                role=Role.COLLABORATOR,
                area_codes=[village.code],
                locale=LOCALE,
            )
        return plan
    finally:
        await engine.dispose()


async def stored(url: str, result: Json) -> str:
    """Every update delivered is applied once, every household finished is stored: or what
    is not."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            applied = await connection.scalar(
                select(func.count()).select_from(ProcessedUpdate)
                .where(ProcessedUpdate.platform == "telegram")
            )  # fmt: skip
            completed = await connection.scalar(
                select(func.count(Interview.id)).where(
                    Interview.status == InterviewStatus.COMPLETED
                )
            )
    finally:
        await engine.dispose()
    problems = []
    if applied != result["delivered_total"]:
        problems.append(f"{result['delivered_total']} updates delivered, {applied} applied")
    if completed != result["finished_total"]:
        problems.append(f"{result['finished_total']} households finished, {completed} stored")
    return "; ".join(problems)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Output:
    """A child process's output, read as it comes (a full pipe would stall the child)."""

    def __init__(self, stream: asyncio.StreamReader | None, name: str) -> None:
        self.name = name
        self.tail: deque[str] = deque(maxlen=40)
        self.errors: list[str] = []
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.task = asyncio.create_task(self._read(stream)) if stream else None

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            decoded = line.decode(errors="replace").rstrip()
            self.tail.append(decoded)
            if " ERROR " in decoded or " CRITICAL " in decoded or decoded.startswith("Traceback"):
                self.errors.append(f"{self.name}: {decoded}")
            await self.lines.put(decoded)

    def dump(self) -> str:
        return "\n".join(f"  {self.name}| {line}" for line in self.tail)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far (Linux /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def child_env(url: str, api: str) -> dict[str, str]:
    unset = ("TELEGRAM_", "DATABASE", "WEBHOOK")
    env = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
    env.update(
        DATABASE_URL=url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api,
        RASOAT_SECRET_KEY=os.environ.get("RASOAT_SECRET_KEY", "load-bench-" + "k" * 40),
        RASOAT_LOCALE=LOCALE,
        RASOAT_TIMEZONE=TIMEZONE,
        RASOAT_REFERENCE_DATE=REFERENCE_DATE,
        # Simulated collaborators answer far faster than people: no flood limit, and typed
        # answers are taken however soon they follow their question (see RASOAT_READING_TIME).
        RASOAT_FLOOD_LIMIT="0",
        RASOAT_READING_TIME="0",
    )
    return env


async def next_line(output: Output, prefix: str, processes: Sequence[Any], timeout: float) -> str:  # noqa: ASYNC109
    """The load process's next line starting with ``prefix``; fails if a child exits first."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                line = await asyncio.wait_for(output.lines.get(), 0.5)
            except TimeoutError:
                gone = [p.returncode for p in processes if p.returncode is not None]
                if gone:
                    raise BenchError(f"a process exited early (code {gone[0]})") from None
                continue
            if line.startswith(prefix):
                return line[len(prefix) :].strip()


async def stop_process(process: Any, output: Output) -> None:
    if process.returncode is None:
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
    if output.task is not None:
        await output.task


async def run_once(options: Options, workers: int, out: TextIO) -> Run:
    plan = build_plan(reference_today())
    per_chat = households_needed(options, len(plan))
    async with fresh_database() as url:
        chats = await seed(url, options, per_chat)
        ports = [free_port() for _ in range(workers)]
        load = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench", "load", "--drive",
            cwd=ROOT, env=child_env(url, ""),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        load_output = Output(load.stdout, "load")
        processes: list[Any] = [load]
        outputs = [load_output]
        try:
            assert load.stdin is not None
            config = {
                "ports": ports,
                "seconds": options.seconds,
                "think": options.think,
                "seed": options.seed,
                "households": chats,
            }
            load.stdin.write(json.dumps(config).encode() + b"\n")
            await load.stdin.drain()
            ready = json.loads(await next_line(load_output, "READY", processes, SETTLE_TIMEOUT))
            secret = uuid.uuid4().hex
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
                worker = await asyncio.create_subprocess_exec(
                    *command,
                    cwd=ROOT,
                    env=child_env(url, ready["api"]),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                processes.append(worker)
                outputs.append(Output(worker.stdout, f"worker {n + 1}"))
            await next_line(load_output, "MEASURING", processes, 600)
            before = [cpu_seconds(p.pid) for p in processes]
            pg_before, machine_before = await postgres_activity(url), machine_busy()
            timeout = options.seconds + 600
            result = json.loads(await next_line(load_output, "RESULT", processes, timeout))
            after = [cpu_seconds(p.pid) for p in processes]
            pg_after, machine_after = await postgres_activity(url), machine_busy()
        except BaseException:
            for output in outputs:
                print(output.dump(), file=sys.stderr)
            raise
        finally:
            for process, output in zip(processes[1:], outputs[1:], strict=True):
                await stop_process(process, output)
            if load.stdin is not None:
                load.stdin.close()
            await stop_process(load, load_output)
        spent = [b - a for a, b in zip(before, after, strict=True)]
        # The whole machine's CPU time (all cores): the share busy, and the share busy with
        # neither the workers nor the load process (PostgreSQL, and any other program).
        total = (machine_after[1] - machine_before[1]) / os.sysconf("SC_CLK_TCK")
        busy = (machine_after[0] - machine_before[0]) / os.sysconf("SC_CLK_TCK")
        cpu = {"workers": sum(spent[1:]), "load": spent[0]}
        cpu["others"] = max(0.0, busy - cpu["workers"] - cpu["load"]) / total if total else 0.0
        cpu["machine"] = busy / total if total else 0.0
        run = Run(
            workers,
            result,
            cpu=cpu,
            postgres={key: pg_after[key] - pg_before[key] for key in pg_after},
            log_errors=[e for output in outputs for e in output.errors],
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
    if argv == ["--drive"]:
        return asyncio.run(drive_main())
    options = parse_options(argv)
    runs = asyncio.run(run(options))
    return 0 if judged_run(runs).passed else 1
