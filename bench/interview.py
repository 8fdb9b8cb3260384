"""Interview answers per second through the real Telegram stack, next to a bare echo bot.

The bots run as python-telegram-bot Applications polling the loopback fake Bot API server
(``tests/fakes/telegram.py``) over real HTTP, with the same polling settings, the same
number of chats and the same observer of "update fully handled". Each chat behaves like a
person: it sends one message, waits until the bot has replied, then sends the next one.

The interview side is ``build_application(settings, runtime)``, i.e. exactly what
``rasoat run`` serves, on a fresh database that keeps the production durability settings
(SQLite: WAL + synchronous=FULL). An answer is counted once the bot has committed it and
sent the next question. Households are answered from a plan computed before the clock
starts, so the driver never runs the questionnaire engine while it is being measured; it
only checks that the bot asks the question the plan expects next.

A third bot, the bare button bot, taps a button and gets the next question: the Bot API
calls of one button answer with nothing behind them. Its rate over the echo bot's is the
best ratio any bot answering buttons could reach, which puts the interview's own cost (the
database and the questionnaire) apart from the cost of talking to Telegram. Last, the same
interviews are handed straight to the Conversation, with no Telegram at all (``direct``).

Usage: ``python -m bench interview [--db sqlite|postgresql|both] [--answers N] [--chats K]
[--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.admin import add_user
from bot.channels.telegram import ALLOWED_UPDATES, build_application
from bot.interview.session import (
    decoded_prefill,
    roster_answers,
    roster_prefill,
    with_household_code,
)
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings, load_settings
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
from storage.db import create_engine
from storage.models import (
    Answer,
    Area,
    Interview,
    InterviewStatus,
    Role,
)
from storage.uow import UnitOfWork
from tests.fakes.telegram import TOKEN, FakeTelegram, FakeUser, Json
from tests.helpers import seed_areas
from tests.interview_driver import (
    HOUSEHOLD_ANSWERS,
    MEMBER_ANSWERS,
    ROSTER_FIELDS,
    scripted_household,
)
from tests.surfaces import ConversationSurface

TARGETS = {"sqlite": 0.8, "postgresql": 0.6}
POSTGRES_URL = os.environ.get(
    "RASOAT_BENCH_POSTGRES_URL",
    os.environ.get("RASOAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
)
VILLAGE = "87-MH-A1"
TIMEZONE = "Asia/Ho_Chi_Minh"
REFERENCE_DATE = "year-end"
FIRST_CHAT = 5001
# The same long-poll settings the end-to-end tests use; both bots get them.
POLLING: dict[str, Any] = {
    "poll_interval": 0,
    "timeout": 1,
    "allowed_updates": list(ALLOWED_UPDATES),
}
REPLY_TIMEOUT = 30.0
BUTTON_DATA = "a"


class BenchError(Exception):
    """The bot did not behave as the plan expects: the figures would be meaningless."""


# -- the plan: what a collaborator answers, computed once before the clock starts --------


@dataclass(frozen=True, slots=True)
class Action:
    """One answer as given in Telegram, and the question it answers."""

    label: str
    kind: str  # "keep" | "pick" | "multi" | "type"
    index: int = 0
    indices: tuple[int, ...] = ()
    text: str = ""


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
    household = scripted_household("PLAN", 0, today.year)
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
        if step.name in ROSTER_FIELDS or step.name in ("category", "member_count"):
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
            action = Action(label, "type", text=typed)
        plan.append(action)
        answers = set_answer(answers, step.path, value)
        answers = drop_irrelevant(form, apply_calculations(form, answers, today=today), today=today)
    return plan


# -- the fake server, seen from the driver ---------------------------------------------


class BenchTelegram(FakeTelegram):
    """The fake server, remembering each chat's latest message so the driver never scans."""

    def __init__(self) -> None:
        super().__init__()
        self.last_text: dict[int, str] = {}
        self.last_keyboard: dict[int, int] = {}

    async def _send(self, method: str, params: Json, content: Json) -> Json:
        message = await super()._send(method, params, content)
        chat_id = int(message["chat"]["id"])
        self.last_text[chat_id] = str(message.get("text", ""))
        if "reply_markup" in message:
            self.last_keyboard[chat_id] = int(message["message_id"])
        return message


class Handled:
    """Tells the driver when the application has finished an update (replies sent).

    A handler in a later group runs only after the bot's own handler returned, which is
    after its replies were delivered: the same signal the end-to-end tests wait for.
    """

    def __init__(self) -> None:
        self.events: dict[int, asyncio.Event] = {}

    def attach(self, application: Application) -> None:
        application.add_handler(TypeHandler(Update, self._observe), group=1)

    async def _observe(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        self.events.setdefault(update.update_id, asyncio.Event()).set()

    async def wait(self, update: Json) -> None:
        update_id = int(update["update_id"])
        event = self.events.setdefault(update_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), REPLY_TIMEOUT)
        except TimeoutError:
            raise BenchError(f"no reply to update {update_id} within {REPLY_TIMEOUT}s") from None
        del self.events[update_id]


@dataclass
class Budget:
    """How many answers (or echoes) are left to give, shared by all chats."""

    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


# -- the interview driver ----------------------------------------------------------------


class TelegramSurface:
    """A collaborator's chat as the fake Bot API server sees it."""

    def __init__(self, fake: BenchTelegram, handled: Handled, user: FakeUser) -> None:
        self.fake, self.handled, self.user = fake, handled, user
        self.chat_id = user.id

    def button_data(self) -> list[str]:
        message = self.fake.message(self.chat_id, self.fake.last_keyboard[self.chat_id])
        keyboard = message["reply_markup"]["inline_keyboard"]
        return [str(button["callback_data"]) for row in keyboard for button in row]

    def shown(self) -> str:
        return self.fake.last_text.get(self.chat_id, "")

    async def press(self, data: str) -> None:
        update = await self.user.press(data, self.fake.last_keyboard[self.chat_id], force=True)
        await self.handled.wait(update)

    async def type(self, text: str) -> None:
        await self.handled.wait(await self.user.send_text(text))


Surface = TelegramSurface | ConversationSurface


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
        await self.surface.type("/interview")
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
            await self.surface.type(action.text)
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
class BaselineChat:
    """A chat with one of the bare baseline bots."""

    fake: BenchTelegram
    handled: Handled
    user: FakeUser
    sent: int = 0

    async def start(self) -> None:
        pass

    async def run(self, budget: Budget) -> None:
        raise NotImplementedError


class EchoChat(BaselineChat):
    async def run(self, budget: Budget) -> None:
        while budget.take():
            self.sent += 1
            words = f"tin nhắn {self.sent}"
            await self.handled.wait(await self.user.send_text(words))
            if self.fake.last_text.get(self.user.id) != words:
                raise BenchError(f"chat {self.user.id}: echo of {words!r} missing")


class ButtonChat(BaselineChat):
    """Taps the one button of the bare button bot's latest question, like an answer."""

    async def start(self) -> None:
        await self.handled.wait(await self.user.send_text("/start"))

    async def run(self, budget: Budget) -> None:
        while budget.take():
            self.sent += 1
            asked = self.fake.last_keyboard[self.user.id]
            await self.handled.wait(await self.user.press(BUTTON_DATA, asked))
            if self.fake.last_keyboard.get(self.user.id) == asked:
                raise BenchError(f"chat {self.user.id}: no new question after tap {self.sent}")


# -- the three bots ----------------------------------------------------------------------


@asynccontextmanager
async def polling(application: Application) -> AsyncIterator[Application]:
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(**POLLING)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


def echo_application(fake: FakeTelegram) -> Application:
    """A bare python-telegram-bot echo bot: PTB's defaults, one handler."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.message is not None
        await context.bot.send_message(update.effective_chat.id, update.message.text or "")

    application = (
        ApplicationBuilder().token(TOKEN).base_url(fake.api_url).base_file_url(fake.file_url)
    ).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    return application


def button_application(fake: FakeTelegram) -> Application:
    """A bare python-telegram-bot bot doing, per tap, exactly the Bot API calls a button
    answer needs (stop the button's spinner, send the next question with its buttons),
    alongside each other as the interview bot does them, and nothing else: no database,
    no questionnaire. No bot answering buttons can be faster than this one."""

    async def question(chat_id: int, bot: Any) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Có", callback_data=BUTTON_DATA)]])
        await bot.send_message(chat_id, "Câu hỏi tiếp theo?", reply_markup=keyboard)

    async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None and update.effective_chat is not None
        answering = asyncio.create_task(update.callback_query.answer())
        await question(update.effective_chat.id, context.bot)
        await answering

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await question(update.effective_chat.id, context.bot)

    application = (
        ApplicationBuilder().token(TOKEN).base_url(fake.api_url).base_file_url(fake.file_url)
    ).build()
    application.add_handler(CallbackQueryHandler(on_tap))
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    return application


async def measure(chats: Sequence[InterviewChat | BaselineChat], total: int) -> float:
    budget = Budget(total)
    started = time.perf_counter()
    await asyncio.gather(*(chat.run(budget) for chat in chats))
    return time.perf_counter() - started


async def baseline_rate(
    bot: Callable[[FakeTelegram], Application],
    chat: type[BaselineChat],
    count: int,
    chat_count: int,
) -> float:
    """Messages (or taps) per second of a bare python-telegram-bot baseline."""
    async with BenchTelegram() as fake:
        handled = Handled()
        application = bot(fake)
        handled.attach(application)
        chats = [
            chat(fake, handled, fake.user(FIRST_CHAT + n, first_name=f"CTV {n}"))
            for n in range(chat_count)
        ]
        async with polling(application):
            for each in chats:
                await each.start()
            await measure(chats, chat_count)  # warm-up: connections, PTB's first calls
            elapsed = await measure(chats, count)
        fake.assert_no_violations()
    return count / elapsed


async def echo_rate(messages: int, chat_count: int) -> float:
    return await baseline_rate(echo_application, EchoChat, messages, chat_count)


async def button_rate(taps: int, chat_count: int) -> float:
    return await baseline_rate(button_application, ButtonChat, taps, chat_count)


# -- the database ------------------------------------------------------------------------


@asynccontextmanager
async def fresh_database(backend: str) -> AsyncIterator[dict[str, str]]:
    """Environment for a new, migrated-at-start database on ``backend``; removed after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rasoat-bench-") as folder:
            yield {"DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}"}
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield {"DATABASE_URL": POSTGRES_URL, "DATABASE_SCHEMA": schema}
        finally:
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


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


async def seed(runtime: Runtime, households: int, chat_ids: Sequence[int]) -> list[int]:
    await seed_areas(runtime.sessions)
    year = datetime.now(runtime.settings.tz).year
    async with UnitOfWork(runtime.sessions) as uow:
        village = await uow.areas.by_code(VILLAGE)
        assert isinstance(village, Area)
        rows = [scripted_household(f"HH-{n:05d}", village.id, year) for n in range(households)]
        uow.session.add_all(rows)
        await uow.commit()
        ids = [row.id for row in rows]
    for chat_id in chat_ids:
        await add_user(
            runtime.sessions,
            platform="telegram",
            platform_user_id=str(chat_id),
            name=f"CTV {chat_id}",
            role=Role.COLLABORATOR,
            area_codes=[VILLAGE],
            locale="vi",
        )
    return ids


async def check_stored(runtime: Runtime, chats: Sequence[InterviewChat]) -> None:
    """Everything the bot acknowledged is in the database."""
    async with runtime.engine.connect() as connection:
        completed = await connection.scalar(
            select(func.count(Interview.id)).where(Interview.status == InterviewStatus.COMPLETED)
        )
        stored = await connection.scalar(select(func.count(Answer.id)))
    finished = sum(chat.finished for chat in chats)
    given = sum(chat.answers for chat in chats)
    if completed != finished or (stored or 0) < given:
        raise BenchError(
            f"acknowledged {given} answers / {finished} interviews, "
            f"stored {stored} answers / {completed} interviews"
        )


async def interview_rate(
    backend: str, answers: int, chat_count: int, plan: Sequence[Action], *, telegram: bool = True
) -> float:
    """Answers per second through Telegram, or (``telegram=False``) straight into the
    Conversation."""
    async with fresh_database(backend) as env, BenchTelegram() as fake:
        settings: Settings = load_settings(
            **env,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=fake.base_url,
            RASOAT_LOCALE="vi",
            RASOAT_TIMEZONE=TIMEZONE,
            # Simulated collaborators answer at machine speed, far past a person's.
            RASOAT_FLOOD_LIMIT=0,
            RASOAT_REFERENCE_DATE=REFERENCE_DATE,
        )
        runtime = await open_runtime(settings)
        try:
            chat_ids = [FIRST_CHAT + n for n in range(chat_count)]
            per_chat = math.ceil(answers / chat_count / len(plan)) + 2
            household_ids = await seed(runtime, per_chat * chat_count, chat_ids)
            surfaces: list[Surface]
            running: AbstractAsyncContextManager[object]
            if telegram:
                handled = Handled()
                application = build_application(settings, runtime)
                handled.attach(application)
                surfaces = [
                    TelegramSurface(fake, handled, fake.user(chat_id, first_name=f"CTV {n}"))
                    for n, chat_id in enumerate(chat_ids)
                ]
                running = polling(application)
            else:
                update_ids = itertools.count(1)
                # As a channel adapter hands messages over, with no Telegram at all: what
                # is left is the bot's own work.
                surfaces = [
                    ConversationSurface(
                        runtime.conversation,
                        str(chat_id),
                        f"CTV {chat_id}",
                        platform="telegram",
                        update_keys=update_ids,
                    )
                    for chat_id in chat_ids
                ]
                running = nullcontext()
            chats = [
                InterviewChat(surface, plan, iter(household_ids[n * per_chat : (n + 1) * per_chat]))
                for n, surface in enumerate(surfaces)
            ]
            async with running:
                for chat in chats:
                    await chat.start()
                # Warm-up: one answer per chat fills the engine's and SQLAlchemy's caches.
                await measure(chats, chat_count)
                elapsed = await measure(chats, answers)
            await check_stored(runtime, chats)
        finally:
            await runtime.close()
        fake.assert_no_violations()
    return answers / elapsed


# -- running and reporting -----------------------------------------------------------------


@dataclass
class Result:
    backend: str
    echo: float
    interview: float
    target: float
    button: float
    direct: float
    """Answers per second straight into the Conversation: no Telegram, no HTTP."""

    @property
    def ratio(self) -> float:
        return self.interview / self.echo

    @property
    def ceiling(self) -> float:
        """The ratio of a bot that answers buttons and does nothing else."""
        return self.button / self.echo

    @property
    def own_cost(self) -> float:
        """Interview answers per bare button tap: what the database and the engine cost."""
        return self.interview / self.button

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target


@dataclass
class Options:
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    answers: int = 600
    chats: int = 6
    skipped: dict[str, str] = field(default_factory=dict)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Interview answers per second vs a bare python-telegram-bot echo bot.",
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--answers", type=int, default=None, help="answers measured (600)")
    parser.add_argument("--chats", type=int, default=6, help="concurrent chats (6)")
    parser.add_argument("--quick", action="store_true", help="200 answers: a rough figure")
    args = parser.parse_args(argv)
    answers = args.answers or (200 if args.quick else 600)
    if answers < 1 or args.chats < 1:
        parser.error("--answers and --chats must be positive")
    backends = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    return Options(backends, answers, args.chats)


def table(results: Sequence[Result], options: Options) -> str:
    lines = [
        f"{options.answers} answers/messages over {options.chats} concurrent chats",
        f"{'database':<11}{'echo msg/s':>12}{'answers/s':>12}{'ratio':>8}{'target':>8}  result"
        f"{'button taps/s':>16}{'ceiling':>9}{'vs button':>11}{'direct/s':>10}",
    ]
    for r in results:
        verdict = "PASS" if r.passed else "FAIL"
        lines.append(
            f"{r.backend:<11}{r.echo:>12.1f}{r.interview:>12.1f}"
            f"{r.ratio:>7.2f}x{r.target:>7.2f}x  {verdict:<6}"
            f"{r.button:>16.1f}{r.ceiling:>8.2f}x{r.own_cost:>10.2f}x{r.direct:>10.1f}"
        )
    for backend, reason in options.skipped.items():
        lines.append(f"{backend:<11}skipped: {reason}")
    if results:
        lines += [
            "ratio = answers/s / echo msg/s, the figure the target is about.",
            "button = a bare python-telegram-bot bot making the Bot API calls of one button",
            "answer (answerCallbackQuery + sendMessage) and nothing else; ceiling = button/echo,",
            "the best ratio any bot answering buttons can reach here; vs button = answers/s /",
            "button taps/s, what the database commit and the questionnaire engine cost;",
            "direct = the same interviews handed straight to the Conversation, no Telegram:",
            "the bot's own work alone.",
        ]
    return "\n".join(lines)


async def run(options: Options, out: TextIO = sys.stdout) -> list[Result]:
    # The bot counts ages at this year's reference date; the plan must see the same ages.
    dates = ReviewDates(ReferenceRule.parse(REFERENCE_DATE), ZoneInfo(TIMEZONE))
    now = datetime.now(UTC)
    today = dates.reference(dates.local_day(now).year, now)
    plan = build_plan(today)
    results = []
    for backend in options.backends:
        if backend == "postgresql" and (reason := await postgres_unavailable()):
            options.skipped[backend] = reason
            continue
        # The baselines run right before and after the interview and each pair is averaged,
        # so a machine that gets busier or quieter meanwhile doesn't tilt the ratios.
        echo = await echo_rate(options.answers, options.chats)
        button = await button_rate(options.answers, options.chats)
        interview = await interview_rate(backend, options.answers, options.chats, plan)
        button += await button_rate(options.answers, options.chats)
        echo += await echo_rate(options.answers, options.chats)
        direct = await interview_rate(backend, options.answers, options.chats, plan, telegram=False)
        results.append(Result(backend, echo / 2, interview, TARGETS[backend], button / 2, direct))
    print(table(results, options), file=out)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    options = parse_options(argv)
    results = asyncio.run(run(options))
    return 0 if all(result.passed for result in results) else 1
