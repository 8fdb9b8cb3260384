"""rasoat's dialogs mounted in a team's own aiogram bot, over real HTTP to the fake Bot API.

The host is an aiogram Dispatcher with a handler of its own (``/ping``, and its own
buttons) included before rasoat's router, polling the fake server as a team would run it
(one update at a time, so each is stored before Telegram hears it arrived), with the bot's
default parse mode set to HTML, as many teams do. Nothing of rasoat's is mocked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy import select

from bot.channels.aiogram_router import dialog_button, rasoat_router, to_incoming
from bot.messages import Choice, Choices, Text
from bot.push import encode
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import InboxUpdate, Role
from storage.repositories import Received
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.helpers import seed_areas
from tests.interview_driver import seed_household
from tests.surfaces import TelegramSurface
from tests.test_interview_e2e import interview_with_a_restart
from tests.test_outbox import SUPERVISOR, people
from tests.test_reports_e2e import documents, interviewed_commune
from tests.test_telegram_e2e import new_invite, text_update

YEAR = datetime.now(UTC).year
WEBHOOK_SECRET = "team-webhook-secret"


def host_router() -> Router:
    """The team's own handlers: a command and a button of theirs."""
    router = Router(name="host")

    @router.message(Command("ping"))
    async def ping(message: Message) -> None:
        await message.answer("<b>pong</b>")

    @router.callback_query(F.data.startswith("host:"))
    async def host_button(query: CallbackQuery) -> None:
        await query.answer("host button")

    return router


def team_bot(fake: FakeTelegram) -> Bot:
    """The team's Bot, pointed at the fake, with HTML as its default parse mode."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def team_dispatcher(runtime: Runtime, started: asyncio.Event) -> Dispatcher:
    """The team's Dispatcher: their handlers, then rasoat's router; ``started`` is set at
    the end of its startup (router by router in the order included: after rasoat's, which
    applies what a stop interrupted)."""
    dispatcher = Dispatcher()
    dispatcher.include_router(host_router())
    dispatcher.include_router(rasoat_router(runtime))
    last = Router(name="last")

    @last.startup()
    async def ready() -> None:
        started.set()

    dispatcher.include_router(last)
    return dispatcher


@asynccontextmanager
async def aiogram_bot(settings: Settings, fake: FakeTelegram) -> AsyncIterator[Dispatcher]:
    """A team's aiogram bot with rasoat's router mounted, polling the fake one update at a
    time: what a restart makes anew (a new runtime, dispatcher and bot; nothing kept in
    memory)."""
    runtime = await open_runtime(settings)
    started = asyncio.Event()
    dispatcher = team_dispatcher(runtime, started)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            team_bot(fake), polling_timeout=1, handle_as_tasks=False, handle_signals=False
        )
    )
    try:
        async with asyncio.timeout(10):
            await started.wait()
        yield dispatcher
    finally:
        await dispatcher.stop_polling()
        await polling
        await runtime.close()


@asynccontextmanager
async def aiogram_webhook(settings: Settings, fake: FakeTelegram) -> AsyncIterator[Dispatcher]:
    """The same bot served by aiogram's own webhook server (aiohttp) on a free port, each
    update handled before its answer (``handle_in_background=False``)."""
    runtime = await open_runtime(settings)
    started = asyncio.Event()
    dispatcher = team_dispatcher(runtime, started)
    bot = team_bot(fake)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token=WEBHOOK_SECRET, handle_in_background=False
    ).register(app, path="/hook")
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()
        async with asyncio.timeout(10):
            await started.wait()
        await bot.set_webhook(
            f"http://127.0.0.1:{runner.addresses[0][1]}/hook",
            secret_token=WEBHOOK_SECRET,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )
        yield dispatcher
    finally:
        await runner.cleanup()
        await bot.session.close()
        await runtime.close()


@asynccontextmanager
async def talking(
    database: Database, fake: FakeTelegram, user_id: int
) -> AsyncIterator[AiogramSurface]:
    """A user of the team's bot, which runs meanwhile."""
    async with aiogram_bot(bot_settings(database, fake), fake) as dispatcher:
        yield AiogramSurface(fake, dispatcher, user_id=user_id)


@asynccontextmanager
async def collaborator(
    database: Database, fake: FakeTelegram, user_id: int
) -> AsyncIterator[tuple[AiogramSurface, list[str]]]:
    """A collaborator of Ấp 1 registering through the team's bot: the user and the replies
    to their ``/start CODE``."""
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    async with talking(database, fake, user_id) as user:
        yield user, await user.type(f"/start {code}")


class AiogramSurface(TelegramSurface):
    """A Telegram user talking to the team's aiogram bot through the fake Bot API; each
    action waits until the Dispatcher has finished with its update."""

    def attach(self, dispatcher: Any) -> None:
        async def observe(
            handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
            event: TelegramObject,
            data: dict[str, Any],
        ) -> Any:
            try:
                return await handler(event, data)
            finally:
                assert isinstance(event, Update)
                self.handled.setdefault(event.update_id, asyncio.Event()).set()

        dispatcher.update.outer_middleware(observe)


def bot_settings(database: Database, fake: FakeTelegram) -> Settings:
    return load_settings(**database.env(), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.base_url)


async def inbox_keys(database: Database) -> list[str]:
    async with database.sessions() as session:
        return list((await session.scalars(select(InboxUpdate.update_key))).all())


async def test_registration_beside_the_hosts_own_handlers(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    async with collaborator(database, fake_telegram, 111) as (user, (welcome, _menu)):
        assert "cộng tác viên của Ấp 1" in welcome
        buttons = [data for _, data in user.buttons()]
        assert buttons[0] == "cmd:interview" and {"cmd:whoami", "cmd:help"} <= set(buttons)
        scoped = [c for c in fake_telegram.calls("setMyCommands") if "scope" in c]
        names = [c["command"] for c in scoped[-1]["commands"]]
        assert scoped[-1]["scope"] == {"type": "chat", "chat_id": 111}
        assert names[0] == "interview" and {"back", "review", "tiep", "help"} <= set(names)

        [who] = await user.press("cmd:whoami")
        assert "Vai trò: cộng tác viên" in who
        [help_text] = await user.type("/help")
        assert help_text.startswith(translate("help.intro.collaborator"))

        # The team's own command and button are theirs: rasoat neither answers nor stores them.
        stored = await inbox_keys(database)
        assert await user.type("/ping") == ["<b>pong</b>"]
        assert await user.press("host:1") == ["host button"]
        assert await inbox_keys(database) == stored

    # rasoat's texts are plain, whatever the host's default parse mode.
    rasoat_texts = [m for m in fake_telegram.messages_to(111) if m["text"] != "<b>pong</b>"]
    assert rasoat_texts and all("parse_mode" not in m for m in rasoat_texts)
    [pong] = [m for m in fake_telegram.messages_to(111) if m["text"] == "<b>pong</b>"]
    assert pong["parse_mode"] == "HTML"


async def test_rasoat_takes_only_its_own_buttons_and_private_chats(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    assert dialog_button("h:12") and dialog_button("a:3:1")
    assert not dialog_button("host:1") and not dialog_button("h") and not dialog_button("")
    async with collaborator(database, fake_telegram, 112) as (user, _registered):
        stored, sent = await inbox_keys(database), len(fake_telegram.sent)
        # Data rasoat never sends (a command it does not have, a prefix of nobody's) is
        # left to the routers after it.
        assert await user.press("cmd:no_such_command") == []
        assert await user.press("zz:1") == []
        group = fake_telegram.group(-1001)
        await user.handled_update(await user.user.send_text("chào cả nhóm", chat=group))
        assert len(fake_telegram.sent) == sent
        assert await inbox_keys(database) == stored


async def test_a_sticker_is_no_answer(database: Database, fake_telegram: FakeTelegram) -> None:
    async with collaborator(database, fake_telegram, 113) as (user, _registered):
        update = await user.user.send_sticker()
        await user.handled_update(update)
    assert fake_telegram.messages_to(113)[-1]["text"] == translate("fallback.unsupported")
    incoming = to_incoming(Update.model_validate(update))
    assert incoming is not None and incoming.content_type == "sticker"


async def test_a_duplicated_update_is_applied_once(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    async with collaborator(database, fake_telegram, 333) as (user, registered):
        assert len(registered) == 2
        assert await user.replay_last() == []
        [who] = await user.type("/whoami")
        assert "Vai trò" in who
    # Stored once, applied once.
    assert len(await inbox_keys(database)) == 2


async def test_a_webhook_update_is_stored_and_answered_before_its_200(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    user = fake_telegram.user(id=951, first_name="Tâm")
    update = text_update(user, 95001, f"/start {code}")
    async with aiogram_webhook(bot_settings(database, fake_telegram), fake_telegram):
        assert await fake_telegram.deliver_webhook(update, secret="wrong") == 401
        assert await inbox_keys(database) == []
        assert await fake_telegram.deliver_webhook(update) == 200
        # By the time Telegram hears it arrived, it is stored and answered.
        assert await inbox_keys(database) == ["95001"]
        welcome, _menu = fake_telegram.messages_to(951)
        assert "cộng tác viên của Ấp 1" in welcome["text"]
        # Telegram sends it again (its 200 lost on the way): applied once.
        assert await fake_telegram.deliver_webhook(update) == 200
        assert len(fake_telegram.messages_to(951)) == 2


async def test_an_update_stored_but_not_applied_is_applied_at_startup(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    # What a process killed between storing an update and its turn leaves behind.
    await seed_areas(database.sessions)
    settings = bot_settings(database, fake_telegram)
    user = fake_telegram.user(id=906, first_name="Khoa")
    payload = text_update(user, 77001, "chào bot")
    runtime = await open_runtime(settings)
    try:
        await runtime.conversation.keep("telegram", [Received("77001", "906", payload)])
    finally:
        await runtime.close()
    async with aiogram_bot(settings, fake_telegram):
        [reply] = await fake_telegram.wait_for_messages(906, timeout=10)
    assert reply["text"] == translate("registration.unknown_user")
    runtime = await open_runtime(settings)
    try:
        assert await runtime.conversation.unapplied("telegram") == []
    finally:
        await runtime.close()


async def test_the_outbox_goes_through_the_hosts_bot(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    """What rasoat sends on its own (here, messages that fell due while the bot was down)
    goes out through the team's bot once its Dispatcher has started: buttons kept, a
    person who blocked the bot reported to the supervisor."""
    ids = await people(database, range(1001, 1003))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    invited = Choices("Nhắc: hộ HH-001", (Choice("Đã mời", "mi:1"),))
    async with UnitOfWork(database.sessions) as uow:
        await uow.outbox.enqueue(ids[1001], encode(invited), "r:1001", yesterday, yesterday)
        await uow.outbox.enqueue(ids[1002], encode(Text("Nhắc")), "r:1002", yesterday, yesterday)
        await uow.commit()
    fake_telegram.user(id=1002).block()
    async with aiogram_bot(bot_settings(database, fake_telegram), fake_telegram):
        [reminder] = await fake_telegram.wait_for_messages(1001, timeout=10)
        [note] = await fake_telegram.wait_for_messages(SUPERVISOR, timeout=10)
    assert reminder["text"] == "Nhắc: hộ HH-001" and "parse_mode" not in reminder
    assert reminder["reply_markup"]["inline_keyboard"] == [
        [{"text": "Đã mời", "callback_data": "mi:1"}]
    ]
    assert note["text"] == translate("outbox.blocked_note", "vi", name="Người 1002", areas="Ấp 1")
    async with UnitOfWork(database.sessions) as uow:
        counts = await uow.outbox.counts()
    assert (counts.pending, counts.sent, counts.failed) == (0, 2, 1)


async def test_summary_chart_and_export_through_the_hosts_bot(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await interviewed_commune(database)
    code = await new_invite(database, Role.SUPERVISOR, "87-MH-A1")
    async with talking(database, fake_telegram, 901) as supervisor:
        await supervisor.type(f"/start {code}")
        replies = "\n".join(await supervisor.type("/summary"))
        assert "a) Tổng số hộ nghèo" in replies
        [chart] = documents(fake_telegram, 901, "sendPhoto")
        assert chart.content.startswith(b"\x89PNG")
        await supervisor.type("/export")
        [workbook] = documents(fake_telegram, 901)
        assert workbook.filename.endswith(".xlsx") and workbook.content.startswith(b"PK")


async def test_full_interview_through_the_aiogram_router(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    await interview_with_a_restart(
        database,
        partial(aiogram_bot, bot_settings(database, fake_telegram), fake_telegram),
        partial(AiogramSurface, fake_telegram, user_id=777),
        "telegram",
        "777",
    )
    # Toggles edited the keyboard in place instead of sending new messages.
    assert fake_telegram.calls("editMessageReplyMarkup")
