"""What the benchmarks that drive a bot process share: the answer plan, the simulated chats,
the *load process* (fake Telegram Bot API + balancer + simulated people, in a process of its
own) and the orchestrator's handling of child processes and databases.

The load process is ``python -m bench.harness``: it reads one JSON line of configuration on
stdin, prints ``READY {"api": ..., "webhook": ...}`` once the fake server and the balancer
listen, waits for the bot processes (each calls ``setWebhook``, then listens on its port),
warms them up, prints ``MEASURING``, runs the chats for the configured time and prints
``RESULT {...}``; it serves on until its stdin is closed, so the bots can stop cleanly.

Latency is server side: from the moment the fake starts POSTing an update to the webhook,
to the bot's first Bot API call in that chat (``answerCallbackQuery``, ``sendMessage``...).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import math
import os
import random
import re
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.admin import add_user
from bot.interview.session import (
    decoded_prefill,
    roster_answers,
    roster_prefill,
    with_household_code,
)
from classification import ReferenceRule, ReviewDates
from forms import (
    Done,
    FieldType,
    Invalid,
    Question,
    apply_calculations,
    current_form,
    drop_irrelevant,
    next_step,
    parse_answer,
    set_answer,
)
from locales.catalog import catalog
from storage.db import create_engine, session_factory, upgrade
from storage.models import Area, Household, Interview, InterviewStatus, ProcessedUpdate, Role
from storage.uow import UnitOfWork
from tests.fakes.balancer import Balancer
from tests.fakes.telegram import IN_WEBHOOK_ANSWER, TOKEN, FakeTelegram, FakeUser, Json
from tests.helpers import seed_areas
from tests.interview_driver import (
    HOUSEHOLD_ANSWERS,
    MEMBER_ANSWERS,
    ROSTER_FIELDS,
    scripted_household,
)

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "RASOAT_BENCH_POSTGRES_URL",
    os.environ.get("RASOAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
)
TIMEZONE = "Asia/Ho_Chi_Minh"
REFERENCE_DATE = "year-end"
LOCALE = "vi"
COMMUNE = "87-MH"
SECRET_KEY = os.environ.get("RASOAT_SECRET_KEY", "load-bench-" + "k" * 40)
WEBHOOK_PATH = "telegram"
# Telegram's default: at most this many webhook requests in flight at once, all chats
# together (rasoat's webhook asks for the same).
MAX_CONNECTIONS = 40
# A webhook answered with anything but 2xx is POSTed again, this many times in all.
WEBHOOK_ATTEMPTS = 5
WEBHOOK_RETRY_DELAY = 0.2
REPLY_TIMEOUT = 30.0
SETTLE_TIMEOUT = 60.0
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
# What the latency of an action is filed under: a button, or the kind of value typed.
BUTTON = "button"
TYPED_KINDS = {
    FieldType.INTEGER: "number",
    FieldType.DECIMAL: "number",
    FieldType.DATE: "date",
}
# The bare bots' button (bench/bots.py) and what a chat with the echo bot sends.
BUTTON_DATA = "a"


class BenchError(Exception):
    """The bot did not behave as the plan expects: the figures would be meaningless."""


class ReplyTimeout(BenchError):
    """The bot did not answer an action within REPLY_TIMEOUT."""


class ErrorReply(BenchError):
    """The bot answered with one of its error messages."""


class WebhookFailed(BenchError):
    """The webhook never answered 2xx."""


class OutOfHouseholds(BenchError):
    """A collaborator answered every household seeded for it (the run was too long)."""


# -- the plan: what a collaborator answers, computed once before the clock starts --------


@dataclass(frozen=True, slots=True)
class Action:
    """One answer as given in Telegram, and the question it answers."""

    label: str
    kind: str  # "keep" | "pick" | "multi" | "type"
    index: int = 0
    indices: tuple[int, ...] = ()
    text: str = ""
    typed: str = "text"  # for "type": number | date | text

    @property
    def latency_kind(self) -> str:
        return self.typed if self.kind == "type" else BUTTON


# The commune's list lacks the head of household's birth date in the benchmark's households,
# so every interview also asks for it: a date typed, measured apart like numbers and text.
UNLISTED_BIRTH = 0
UNLISTED_ANSWERS = {"birth_known": "full_date", "birth_date": "11/06/1974"}


def bench_household(code: str, area_id: int, year: int) -> Household:
    """The scripted household, without the birth date of its first member."""
    household = scripted_household(code, area_id, year)
    household.members[UNLISTED_BIRTH].birth_date = None
    return household


def _wanted(question: Question) -> Any:
    if question.path[0] == "members":
        return MEMBER_ANSWERS[int(question.path[1])].get(question.name)
    return HOUSEHOLD_ANSWERS.get(question.name)


def build_plan(today: date) -> list[Action]:
    """Every answer of the scripted household, in the order the bot will ask for them.

    Same choices as ``tests/interview_driver.py``: the confirmed roster answers its own
    questions (any still asked is confirmed with the "keep" button), the rest comes from
    the scripted answers.
    """
    form = current_form()
    household = bench_household("PLAN", 0, today.year)
    roster = roster_prefill(household)
    prefill = decoded_prefill(form, roster)
    # The chat answers the household code itself, from the household picked.
    answers: dict[str, Any] = with_household_code(form, {}, household)
    for path, value in roster_answers(form, roster):
        answers = set_answer(answers, path, value)
    answers = drop_irrelevant(form, apply_calculations(form, answers, today=today), today=today)
    plan: list[Action] = []
    while not isinstance(step := next_step(form, answers, today=today, prefill=prefill), Done):
        label = step.label.get("vi")
        codes = [choice.name for choice in step.choices]
        unlisted = step.path[:2] == ("members", UNLISTED_BIRTH) and step.name in UNLISTED_ANSWERS
        if unlisted and step.type is FieldType.SELECT_ONE:
            value = UNLISTED_ANSWERS[step.name]
            action = Action(label, "pick", index=codes.index(value))
        elif unlisted:
            typed = UNLISTED_ANSWERS[step.name]
            parsed = parse_answer(step, typed)
            assert not isinstance(parsed, Invalid), (step.path, typed)
            value = parsed.value
            action = Action(label, "type", text=typed, typed=TYPED_KINDS.get(step.type, "text"))
        elif step.name in ROSTER_FIELDS or step.name in ("category", "member_count"):
            value = step.value if step.value is not None else step.default
            action = Action(label, "keep")
        elif step.type is FieldType.SELECT_ONE:
            value = _wanted(step)
            action = Action(label, "pick", index=codes.index(value))
        elif step.type is FieldType.SELECT_MULTIPLE:
            value = [code for code in codes if code in _wanted(step)]
            action = Action(label, "multi", indices=tuple(codes.index(c) for c in value))
        else:
            typed = str(_wanted(step))
            parsed = parse_answer(step, typed)
            assert not isinstance(parsed, Invalid), (step.path, typed)
            value = parsed.value
            action = Action(label, "type", text=typed, typed=TYPED_KINDS.get(step.type, "text"))
        plan.append(action)
        answers = set_answer(answers, step.path, value)
        answers = drop_irrelevant(form, apply_calculations(form, answers, today=today), today=today)
    return plan


def reference_today() -> date:
    """The day the bot counts ages at this year: the plan must see the same ages."""
    dates = ReviewDates(ReferenceRule.parse(REFERENCE_DATE), ZoneInfo(TIMEZONE))
    now = datetime.now(UTC)
    return dates.reference(dates.local_day(now).year, now)


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


def error_fragments(locale: str = LOCALE) -> dict[str, str]:
    """For each error message, its longest piece of fixed text (between placeholders)."""
    texts = catalog(locale)
    fragments = {}
    for key in ERROR_KEYS:
        if template := texts.get(key):
            pieces = (piece.strip() for piece in re.split(r"\{[^}]*\}", template))
            fragments[key] = max(pieces, key=len)
    return fragments


# -- the chats ---------------------------------------------------------------------------


@dataclass
class Budget:
    """How many answers (or echoes) are left to give, shared by all chats."""

    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass
class Until(Budget):
    """Answers may be given until ``deadline`` (perf_counter), however many."""

    deadline: float = 0.0

    def take(self) -> bool:
        return time.perf_counter() < self.deadline


class Surface(Protocol):
    """Where a simulated collaborator talks to the bot: each action returns once the bot's
    turn answering it is over."""

    chat_id: Any

    def button_data(self) -> list[str]: ...

    def shown(self) -> str: ...

    async def press(self, data: str) -> None: ...

    async def type(self, text: str, kind: str = "text") -> None: ...


@dataclass
class InterviewChat:
    surface: Surface
    plan: Sequence[Action]
    households: Iterator[int]
    position: int = 0
    finished: int = 0
    answers: int = 0

    def _button(self, verb: str, index: int | None = None) -> str:
        buttons = self.surface.button_data()
        for data in buttons:
            parts = data.split(":")
            if parts[0] == verb and (index is None or parts[-1] == str(index)):
                return data
        raise BenchError(f"chat {self.surface.chat_id}: no {verb}:{index} button in {buttons}")

    def _expect(self, label: str) -> None:
        shown = self.surface.shown()
        if label not in shown:
            raise BenchError(
                f"chat {self.surface.chat_id}: expected {label!r}, the bot said {shown!r}"
            )

    async def start(self) -> None:
        """The household list, then the first household (before the clock starts)."""
        await self.surface.type("/interview", "command")
        await self.open_next()

    async def open_next(self) -> None:
        """Pick the next household from the list and confirm its roster."""
        await self.surface.press(f"h:{next(self.households)}")
        await self.surface.press(self._button("r", None).rsplit(":", 1)[0] + ":ok")
        self.position = 0
        self._expect(self.plan[0].label)

    async def answer(self) -> None:
        action = self.plan[self.position]
        if action.kind == "keep":
            await self.surface.press(self._button("k"))
        elif action.kind == "pick":
            await self.surface.press(self._button("a", action.index))
        elif action.kind == "multi":
            for index in action.indices:
                await self.surface.press(self._button("t", index))
            await self.surface.press(self._button("d"))
        else:
            await self.surface.type(action.text, action.typed)
        self.answers += 1
        self.position += 1
        if self.position < len(self.plan):
            self._expect(self.plan[self.position].label)
        else:
            self.finished += 1

    async def run(self, budget: Budget) -> None:
        while budget.take():
            if self.position >= len(self.plan):
                await self.open_next()
            await self.answer()


@dataclass
class EchoChat:
    """A chat with the bare echo bot: a message, its echo, the next message."""

    surface: TelegramSurface
    answers: int = 0
    finished: int = 0

    async def start(self) -> None:
        pass

    async def answer(self) -> None:
        words = f"tin nhắn {self.answers + 1}"
        await self.surface.type(words)
        if self.surface.shown() != words:
            raise BenchError(f"chat {self.surface.chat_id}: echo of {words!r} missing")
        self.answers += 1

    async def run(self, budget: Budget) -> None:
        while budget.take():
            await self.answer()


@dataclass
class ButtonChat(EchoChat):
    """Taps the one button of the bare button bot's latest question, like an answer."""

    async def start(self) -> None:
        await self.surface.type("/start", "command")

    async def answer(self) -> None:
        asked = self.surface.fake.last_keyboard.get(self.surface.chat_id)
        await self.surface.press(BUTTON_DATA)
        if self.surface.fake.last_keyboard.get(self.surface.chat_id) == asked:
            raise BenchError(f"chat {self.surface.chat_id}: no new question after a tap")
        self.answers += 1


Chat = InterviewChat | EchoChat


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


class LoadTelegram(FakeTelegram):
    """The fake Bot API as Telegram serves a webhook under load, timing the bot's answers.

    Updates are POSTed to the webhook concurrently, up to the ``max_connections`` the bot
    asked for, one at a time per chat. For each action it records when the POST started,
    when the 2xx came back, and when the bot's first Bot API call for that chat arrived,
    filed under the kind of action (``expect_kind``); and it tells the chat when the bot's
    turn is over: a message with buttons, an edit of the buttons, a question that waits
    for typed text (``typed_labels``), or, with ``any_reply`` (the bare bots), any message.
    """

    def __init__(self, typed_labels: Sequence[str], *, any_reply: bool = False) -> None:
        super().__init__()
        self.webhook_retry_delay = WEBHOOK_RETRY_DELAY
        self.typed_labels = tuple(typed_labels)
        self.any_reply = any_reply
        self.fragments = error_fragments()
        self.measuring = False
        self.last_text: dict[int, str] = {}
        self.last_keyboard: dict[int, int] = {}
        self.latencies: dict[str, list[float]] = {}
        self.acks: list[float] = []
        self.actions = 0
        self.delivered = 0
        # Bot API calls by method while measuring: what an answer costs in round trips.
        self.calls_made: Counter[str] = Counter()
        # Requests the webhook's answers carried (bot.channels.button_answers): made, but
        # no HTTP request of the bot's.
        self.in_answers: Counter[str] = Counter()
        self.webhook_retries = 0
        self.late_replies = 0
        self._kinds: dict[int, str] = {}
        self._in_flight: set[int] = set()
        self._busy_chats: set[int] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        # chat -> (kind, POST started, measured?) until the bot's first call there
        self._first_reply: dict[int, tuple[str, float, bool]] = {}
        # chat -> the update the bot is answering there; callback query -> its chat
        self._answering: dict[int, int] = {}
        self._query_chats: dict[str, int] = {}
        self._outcomes: dict[int, asyncio.Future[None]] = {}

    def expect_kind(self, chat: int, kind: str) -> None:
        """The chat's next update is an action of this kind (its latency is filed so)."""
        self._kinds[chat] = kind

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
                kind = self._kinds.pop(chat, BUTTON if "callback_query" in update else "text")
                self._first_reply[chat] = (kind, started, self.measuring)
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

    async def posts_answered(self) -> None:
        """Until every update POSTed has had its answer: a chat goes on once it has its
        reply, and the 200 of a press comes with its turn's answer, alongside the replies
        (bot.channels.button_answers), so a last POST may still be open."""
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=REPLY_TIMEOUT)

    # -- the bot's calls -----------------------------------------------------------------

    async def _handle_api(self, request: Any) -> Any:
        _ARRIVED.set(time.perf_counter())
        return await super()._handle_api(request)

    async def _dispatch(self, method: str, params: Json) -> Any:
        if self.measuring:
            (self.in_answers if IN_WEBHOOK_ANSWER.get() else self.calls_made)[method] += 1
        if "chat_id" in params and method != "setMyCommands":
            with contextlib.suppress(TypeError, ValueError):
                first = self._first_reply.pop(int(params["chat_id"]), None)
                if first is not None and first[2]:
                    kind, started, _measured = first
                    self.latencies.setdefault(kind, []).append(_ARRIVED.get() - started)
        return await super()._dispatch(method, params)

    async def _send(self, method: str, params: Json, content: Json) -> Json:
        message = await super()._send(method, params, content)
        chat = int(message["chat"]["id"])
        self.last_text[chat] = str(message.get("text", ""))
        if "reply_markup" in message:
            self.last_keyboard[chat] = int(message["message_id"])
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
        elif self.any_reply or actionable or any(label in text for label in self.typed_labels):
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


class TelegramSurface:
    """A collaborator's chat as the fake Bot API server sees it, with a moment to read and
    tap before each action (up to ``think`` seconds, uniformly; 0: none)."""

    def __init__(self, fake: LoadTelegram, user: FakeUser, think: float, rng: random.Random):
        self.fake, self.user = fake, user
        self.chat_id = user.id
        self.think, self.rng = think, rng

    def button_data(self) -> list[str]:
        message = self.fake.message(self.chat_id, self.fake.last_keyboard[self.chat_id])
        keyboard = message["reply_markup"]["inline_keyboard"]
        return [str(button["callback_data"]) for row in keyboard for button in row]

    def shown(self) -> str:
        return self.fake.last_text.get(self.chat_id, "")

    async def _pause(self) -> None:
        if self.think:
            await asyncio.sleep(self.rng.uniform(0.0, self.think))

    async def press(self, data: str) -> None:
        await self._pause()
        self.fake.expect_kind(self.chat_id, BUTTON)
        update = await self.user.press(data, self.fake.last_keyboard[self.chat_id], force=True)
        await self.fake.answered(update)

    async def type(self, text: str, kind: str = "text") -> None:
        await self._pause()
        self.fake.expect_kind(self.chat_id, kind)
        await self.fake.answered(await self.user.send_text(text))


def households(ids: Sequence[int]) -> Iterator[int]:
    yield from ids
    raise OutOfHouseholds("every household seeded for this collaborator was answered")


@dataclass
class Collaborator:
    chat: Chat
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


def _chats(config: Json, fake: LoadTelegram, plan: Sequence[Action]) -> list[Collaborator]:
    bot = config.get("bot", "interview")
    collaborators = []
    for n, (chat_id, ids) in enumerate(config["households"]):
        surface = TelegramSurface(
            fake,
            fake.user(int(chat_id), first_name=f"CTV {n}"),
            float(config["think"]),
            random.Random(int(config["seed"]) * 100_003 + n),
        )
        chat: Chat
        if bot == "interview":
            chat = InterviewChat(surface, plan, households(ids))
        else:
            chat = ButtonChat(surface) if bot == "button" else EchoChat(surface)
        collaborators.append(Collaborator(chat))
    return collaborators


async def drive(config: Json, stdin: asyncio.StreamReader) -> None:
    """The load process: serve the fake Bot API and the balancer, wait for the bots, run
    the chats, report.

    ``config``: ``ports`` (the bots'), ``seconds`` (measured), ``think`` (seconds, the
    longest pause before an action), ``seed`` (of the pauses), ``households`` (a list of
    ``[chat_id, [household ids]]``, one per chat) and ``bot``: ``interview`` (the plan's
    answers, each question checked), ``button`` or ``echo`` (the bare bots of
    :mod:`bench.bots`).
    """
    plan = build_plan(reference_today())
    typed = [action.label for action in plan if action.kind == "type"]
    ports = [int(port) for port in config["ports"]]
    fake = LoadTelegram(typed, any_reply=config.get("bot", "interview") != "interview")
    async with fake, Balancer() as balancer:
        say("READY", {"api": fake.base_url, "webhook": f"{balancer.url}/{WEBHOOK_PATH}"})
        for _ in ports:
            await fake.wait_for_call("setWebhook", timeout=SETTLE_TIMEOUT)
        for port in ports:
            await wait_for_port(port)
            balancer.add(f"http://127.0.0.1:{port}")
        collaborators = _chats(config, fake, plan)
        # Before the clock: the household list, the first household open, one answer each
        # (connections made, the bots' caches filled).
        await asyncio.gather(*(c.guarded(c.chat.start()) for c in collaborators))
        await asyncio.gather(*(c.guarded(c.chat.answer()) for c in collaborators))
        answers_before = sum(c.chat.answers for c in collaborators)
        finished_before = sum(c.chat.finished for c in collaborators)

        lag: list[float] = []
        watcher = asyncio.create_task(watch_lag(lag))
        # The instrument must not stop itself: a full collection of this process's heap
        # (100-140 ms, once or twice a minute) held back every arrival it was stamping, and
        # was the latency run's max and much of its p99. Frozen and paused while measuring.
        gc.collect()
        gc.freeze()
        gc.disable()
        say("MEASURING")
        cpu, started = time.process_time(), time.perf_counter()
        fake.measuring = True
        deadline = Until(0, started + float(config["seconds"]))
        try:
            await asyncio.gather(*(c.guarded(c.chat.run(deadline)) for c in collaborators))
        finally:
            gc.enable()
        fake.measuring = False
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        watcher.cancel()
        await fake.posts_answered()

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
        every = [value for values in fake.latencies.values() for value in values]
        say(
            "RESULT",
            {
                "elapsed": elapsed,
                "actions": fake.actions,
                "answers": sum(c.chat.answers for c in collaborators) - answers_before,
                "households": sum(c.chat.finished for c in collaborators) - finished_before,
                "finished_total": sum(c.chat.finished for c in collaborators),
                "delivered_total": fake.delivered,
                "latency": summary(every),
                "latency_by_kind": {k: summary(v) for k, v in sorted(fake.latencies.items())},
                "ack": summary(fake.acks),
                "lag": summary(lag),
                "cpu": cpu,
                "errors": dict(errors),
                "examples": examples[:6],
                "calls": dict(fake.calls_made),
                "in_answers": dict(fake.in_answers),
                "webhook_retries": fake.webhook_retries,
                "late_replies": fake.late_replies,
                "out_of_households": out_of_households,
                "served": [balancer.served[url] for url in balancer.backends],
                "passed_over": balancer.passed_over,
            },
        )
        # Serve on until the orchestrator has stopped the bots (it closes stdin).
        while await stdin.readline():
            pass


async def drive_main() -> int:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    await drive(config, stdin)
    return 0


# == the orchestrator's side ==============================================================


def households_needed(seconds: float, think: float, answers_per_household: int) -> int:
    """Per collaborator: as many as it could answer were the bot instant, and two more."""
    per_action = max(think / 2, 0.005)
    updates = answers_per_household + EXTRA_UPDATES_PER_HOUSEHOLD
    return math.ceil(seconds / (updates * per_action)) + 2


async def postgres_unavailable() -> str | None:
    engine = create_engine(POSTGRES_URL)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("select 1"))
        return None
    except Exception as error:  # any failure means "not usable here"
        return f"no server at {POSTGRES_URL} ({type(error).__name__})"
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(backend: str = "postgresql") -> AsyncIterator[str]:
    """The URL of a new, empty database (a file in a temporary folder for SQLite, a new
    database on the benchmark's server for PostgreSQL); removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rasoat-bench-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        return
    name = f"rasoat_bench_{uuid.uuid4().hex[:10]}"
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


async def seed(
    url: str, collaborators: int, per_chat: int, first_chat: int
) -> list[tuple[int, list[int]]]:
    """Migrate; one village per collaborator, with its households; the collaborators.
    Returns ``[chat id, [household ids]]`` per collaborator."""
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
                for n in range(collaborators)
            ]
            uow.session.add_all(villages)
            await uow.session.flush()
            rows = [
                [bench_household(f"HH-{n:03d}-{k:03d}", village.id, year) for k in range(per_chat)]
                for n, village in enumerate(villages)
            ]
            uow.session.add_all([row for village_rows in rows for row in village_rows])
            await uow.commit()
            plan = [
                (first_chat + n, [row.id for row in village_rows])
                for n, village_rows in enumerate(rows)
            ]
        for n, village in enumerate(villages):
            await add_user(
                sessions,
                platform="telegram",
                platform_user_id=str(first_chat + n),
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
    """User + system CPU time so far of a process and of the processes it started, running
    (rasoat's turn process: bot.turn_process) (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in started)


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time so far of each thread of a process, by thread id (the main
    thread's is the process id), and of each thread of the processes it started (rasoat's
    turn process: bot.turn_process), by their ids too."""
    spent: dict[int, float] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        started = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return spent
    for child in started:
        spent.update(thread_cpu_seconds(int(child)))
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return spent


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
        RASOAT_SECRET_KEY=SECRET_KEY,
        RASOAT_LOCALE=LOCALE,
        RASOAT_TIMEZONE=TIMEZONE,
        RASOAT_REFERENCE_DATE=REFERENCE_DATE,
        # Simulated collaborators answer far faster than people: no flood limit, and typed
        # answers are taken however soon they follow their question (see RASOAT_READING_TIME).
        RASOAT_FLOOD_LIMIT="0",
        RASOAT_READING_TIME="0",
    )
    return env


LINE_LIMIT = 1 << 24
"""The longest line read from the load process, whose RESULT is one line of JSON of any
length: asyncio's default is 64 KiB."""


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
                if output.task is not None and output.task.done():
                    # Its reader failed (a line longer than the stream's limit) or met the
                    # end: no line will come, so say so rather than wait out the timeout.
                    error = output.task.exception()
                    why = "its output ended" if error is None else f"output unreadable: {error!r}"
                    raise BenchError(f"{output.name}: {why}") from None
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


async def start_load_process(config: Json, url: str) -> tuple[Any, Output]:
    """The load process (``python -m bench.harness``), given its configuration."""
    load = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.harness",
        cwd=ROOT, env=child_env(url, ""),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=LINE_LIMIT,
    )  # fmt: skip
    assert load.stdin is not None
    load.stdin.write(json.dumps(config).encode() + b"\n")
    await load.stdin.drain()
    return load, Output(load.stdout, "load")


async def start_child(command: Sequence[str], env: dict[str, str], name: str) -> tuple[Any, Output]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return process, Output(process.stdout, name)


@dataclass
class Measured:
    """What the load process reported, and what the processes cost meanwhile."""

    result: Json
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the bots and of the load process while measuring; the shares of the
    machine's CPU busy, and busy with neither (a database server, other programs)."""
    probed: dict[str, float] = field(default_factory=dict)
    log_errors: list[str] = field(default_factory=list)
    threads: list[tuple[float, float]] = field(default_factory=list)
    """Per bot process, CPU seconds while measuring of its main thread (the event loop) and
    of all its other threads (SQLite's writer, the executor's)."""


BotCommands = Callable[[Json], Sequence[tuple[Sequence[str], dict[str, str]]]]


async def run_bots(
    config: Json,
    url: str,
    bots: BotCommands,
    probe: Callable[[], Awaitable[dict[str, float]]] | None = None,
) -> Measured:
    """Start the load process with ``config``, then the bot processes ``bots(ready)`` gives
    (command, environment) for the load process's READY payload; wait for its RESULT; stop
    them all. ``probe`` is read before and after the measured time (its difference kept)."""
    load, load_output = await start_load_process(config, url)
    processes: list[Any] = [load]
    outputs = [load_output]
    try:
        ready = json.loads(await next_line(load_output, "READY", processes, SETTLE_TIMEOUT))
        for n, (command, env) in enumerate(bots(ready)):
            process, output = await start_child(command, env, f"bot {n + 1}")
            processes.append(process)
            outputs.append(output)
        await next_line(load_output, "MEASURING", processes, 600)
        before = [cpu_seconds(p.pid) for p in processes]
        threads_before = [thread_cpu_seconds(p.pid) for p in processes[1:]]
        probed_before, machine_before = await probe() if probe else {}, machine_busy()
        timeout = float(config["seconds"]) + 600
        result = json.loads(await next_line(load_output, "RESULT", processes, timeout))
        after = [cpu_seconds(p.pid) for p in processes]
        threads_after = [thread_cpu_seconds(p.pid) for p in processes[1:]]
        probed_after, machine_after = await probe() if probe else {}, machine_busy()
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
    # neither the bots nor the load process (a database server, any other program).
    total = (machine_after[1] - machine_before[1]) / os.sysconf("SC_CLK_TCK")
    busy = (machine_after[0] - machine_before[0]) / os.sysconf("SC_CLK_TCK")
    cpu = {"workers": sum(spent[1:]), "load": spent[0]}
    cpu["others"] = max(0.0, busy - cpu["workers"] - cpu["load"]) / total if total else 0.0
    cpu["machine"] = busy / total if total else 0.0
    threads = []
    for process, start, end in zip(processes[1:], threads_before, threads_after, strict=True):
        spent_by = {tid: seconds - start.get(tid, 0.0) for tid, seconds in end.items()}
        main = spent_by.pop(process.pid, 0.0)
        threads.append((main, sum(spent_by.values())))
    return Measured(
        result,
        cpu,
        {key: probed_after[key] - probed_before[key] for key in probed_after},
        [e for output in outputs for e in output.errors],
        threads,
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(drive_main()))
