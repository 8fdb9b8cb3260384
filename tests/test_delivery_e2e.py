"""The bot against a Bot API server in trouble: each failing method, and what the user gets.

Every test makes one method of the fake fail (an HTTP 500, or a garbled answer the client
cannot parse, which is not a Telegram error) and checks that the rest of the turn still goes
out and that the user is told how to get back what was lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url, select
from telegram import Bot

from bot.admin import create_invites
from bot.channels.telegram import StatusMessage
from bot.runtime import open_runtime
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import Answer, InboxUpdate, InterviewStatus, Role
from storage.repositories import Received
from tests.conftest import INVITE_KEY, POSTGRES_URL, POSTGRESQL_ONLY, Database
from tests.exports.data import Planned, insert_households
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram import TOKEN, Failure, FakeTelegram
from tests.helpers import seed_areas
from tests.interview_driver import Collaborator, at_field, seed_household
from tests.surfaces import TelegramSurface, TerminalSurface, telegram_bot
from tests.test_reports_e2e import documents
from tests.test_telegram_e2e import (
    free_port,
    inbox_keys,
    new_invite,
    run_env,
    start_rasoat,
    start_webhook,
    stop,
    text_update,
    wait_for_port,
)

YEAR = datetime.now(UTC).year
LOST = translate("delivery.reply_lost", command="/tiep")


def _settings(database: Database, fake: FakeTelegram) -> Settings:
    return load_settings(**database.env(), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.base_url)


def _keyboard(message: dict[str, object]) -> list[str]:
    markup = message.get("reply_markup")
    assert isinstance(markup, dict), message
    return [button["callback_data"] for row in markup["inline_keyboard"] for button in row]


@asynccontextmanager
async def household_opened(
    database: Database, fake: FakeTelegram, chat: int
) -> AsyncIterator[tuple[Collaborator, TelegramSurface]]:
    """A collaborator registered over Telegram, with the scripted household's roster shown."""
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    async with telegram_bot(_settings(database, fake)) as application:
        surface = TelegramSurface(fake, application, user_id=chat)
        await surface.type(f"/start {await new_invite(database, Role.COLLABORATOR, '87-MH-A1')}")
        collab = Collaborator(surface, database.sessions, "telegram", str(chat))
        await collab.say("/interview")
        await collab.say("hh-test")
        [pick] = [data for label, data in surface.buttons() if "HH-TEST" in label.upper()]
        await collab.tap(pick)
        yield collab, surface


async def test_a_lost_reply_never_takes_the_rest_of_the_turn(
    database: Database, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    chat = 778
    async with household_opened(database, fake_telegram, chat) as (collab, surface):
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        await collab.say("/back")  # to the category, which the confirmed roster answered
        first = await collab.question()

        # A reply before the question fails (500): the question still comes, then the notice.
        fake_telegram.fail(
            "sendMessage", how=Failure.ERROR_500, when=lambda params: "reply_markup" not in params
        )
        replies = await collab.say("/back")  # "this is the first question", then the question
        *_, question_message, notice = fake_telegram.messages_to(chat)
        assert first.label.get("vi") in question_message["text"]
        marked = question_message["reply_markup"]["inline_keyboard"][0][0]["text"]
        assert marked.startswith("✔ ")  # the roster's value, marked
        assert replies[-1] == LOST and _keyboard(notice) == ["cmd:tiep"]

        # The question after an answer is lost (a garbled answer: not a Telegram error).
        fake_telegram.fail(
            "sendMessage", how=Failure.GARBLED, when=lambda params: "reply_markup" in params
        )
        caplog.clear()
        caplog.set_level(logging.WARNING, logger="bot.delivery")
        await collab.tap(_keyboard(question_message)[0])  # the notice came after the question
        notice = fake_telegram.messages_to(chat)[-1]
        assert notice["text"] == LOST and _keyboard(notice) == ["cmd:tiep"]
        # The answer is stored all the same: the interview has moved on.
        question = await collab.question()
        assert question.path != first.path
        [line] = [r.getMessage() for r in caplog.records if r.name == "bot.delivery"]
        assert "(choices)" in line and "sendMessage failed: NotAMessage" in line
        assert question.label.get("vi") not in line and TOKEN not in line

        # The notice's button shows the question again, and its buttons answer it.
        shown = await collab.tap("cmd:tiep")
        assert question.label.get("vi") in "\n".join(shown)
        await collab.answer_one()
        following = await collab.question()
        assert following.path != question.path
        # Typed, /tiep does the same as the button.
        assert following.label.get("vi") in "\n".join(await collab.say("/tiep"))
        fake_telegram.assert_no_violations()


async def test_tiep_in_the_terminal(database: Database, tmp_path: Path) -> None:
    """The way back works without buttons: /tiep shows the current question, or the menu."""
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    runtime = await open_runtime(load_settings(**database.env()))
    try:
        surface = TerminalSurface(runtime, "hoa", tmp_path)
        [invite] = await create_invites(
            database.sessions, Role.COLLABORATOR, "87-MH-A1", days=1, key=INVITE_KEY
        )
        await surface.type(f"/start {invite.code}")
        menu = "\n".join(await surface.type("/tiep"))
        assert "Danh mục chính (cộng tác viên)" in menu
        collab = Collaborator(surface, database.sessions, "terminal", "hoa")
        await collab.say("/interview")
        await collab.say("hh-test")
        [pick] = [data for label, data in surface.buttons() if "HH-TEST" in label.upper()]
        roster = "\n".join(await collab.tap(pick))
        assert "\n".join(await collab.say("/tiep")) == roster
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        await collab.answer_until(at_field("area_type"))
        question = await collab.question()
        again = "\n".join(await collab.say("/tiep"))
        assert question.label.get("vi") in again
        await collab.give(question, "rural")
        assert (await collab.question()).path != question.path
        help_text = "\n".join(await surface.type("/help"))
        assert "/tiep — " + translate("command.tiep") in help_text
    finally:
        await runtime.close()


async def _reports_bot_user(
    database: Database, fake: FakeTelegram, application: object, chat: int
) -> TelegramSurface:
    surface = TelegramSurface(fake, application, user_id=chat)  # type: ignore[arg-type]
    [code] = await create_invites(
        database.sessions, Role.SUPERVISOR, "87-MH-A1", days=1, key=INVITE_KEY
    )
    await surface.type(f"/start {code.code}")
    return surface


async def _seed_interviews(database: Database) -> None:
    await seed_areas(database.sessions)
    done = InterviewStatus.COMPLETED
    await insert_households(
        database.sessions,
        YEAR,
        [
            Planned("HH-001", "87-MH-A1", 0, done, None),
            Planned("HH-002", "87-MH-A1", 1, done, None),
        ],
    )


async def test_an_export_goes_on_when_its_status_line_fails(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await _seed_interviews(database)
    chat = 902
    async with telegram_bot(_settings(database, fake_telegram)) as application:
        supervisor = await _reports_bot_user(database, fake_telegram, application, chat)

        # The status line cannot be shown at all: the export goes on and the file comes.
        fake_telegram.fail(
            "sendMessage",
            times=None,
            how=Failure.GARBLED,
            when=lambda params: params["text"].startswith("Đang xuất"),
        )
        replies = await supervisor.type("/export")
        assert translate("error.internal") not in replies
        assert len(documents(fake_telegram, chat)) == 1


async def test_a_lost_export_file_is_offered_again(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await _seed_interviews(database)
    chat = 904
    async with telegram_bot(_settings(database, fake_telegram)) as application:
        supervisor = await _reports_bot_user(database, fake_telegram, application, chat)
        # The file is refused: the status says so instead of "80%", and the user is told
        # how to get the file again, which then works.
        fake_telegram.fail("sendDocument", how=Failure.ERROR_500)
        replies = await supervisor.type("/export csv")
        [filename] = [file.filename for file in documents(fake_telegram, chat)]
        assert replies[-1] == translate("delivery.file_lost", file=filename, command="/export csv")
        [status] = [m for m in fake_telegram.messages_to(chat) if "Đang xuất" in m.get("text", "")][
            -1:
        ]
        shown = fake_telegram.message(chat, status["message_id"])["text"]
        assert shown == translate("delivery.status_failed")
        await supervisor.type("/export csv")
        assert fake_telegram.messages_to(chat)[-1]["method"] == "sendDocument"

        # Without a failure, the status line ends at 100%.
        [status] = [m for m in fake_telegram.messages_to(chat) if "Đang xuất" in m.get("text", "")][
            -1:
        ]
        shown = fake_telegram.message(chat, status["message_id"])["text"]
        assert shown == translate("exports.progress", percent=100)


async def test_a_lost_chart_is_offered_again(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await _seed_interviews(database)
    chat = 903
    async with telegram_bot(_settings(database, fake_telegram)) as application:
        supervisor = await _reports_bot_user(database, fake_telegram, application, chat)
        fake_telegram.fail("sendPhoto", how=Failure.ERROR_500)
        replies = await supervisor.type("/summary")
        assert "a) Tổng số hộ nghèo" in replies[0]
        again = f"/summary 87-MH-A1 {YEAR}"
        filename = f"viec-lam-87-MH-A1-{YEAR}.png"
        assert replies[-1] == translate("delivery.file_lost", file=filename, command=again)
        await supervisor.type(again)
        chart = fake_telegram.messages_to(chat)[-1]
        assert chart["method"] == "sendPhoto"
        assert chart["photo"].content.startswith(b"\x89PNG")


async def test_rasoat_run_starts_when_the_command_menu_fails(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    await seed_areas(database.sessions)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    fake_telegram.fail("setMyCommands", how=Failure.ERROR_500)
    env = run_env(database, fake_telegram)
    process = await start_rasoat(env)
    try:
        await fake_telegram.wait_for_call("deleteWebhook", timeout=20)
        await fake_telegram.user(id=445, first_name="Giang").send_command("/start", code)
        welcome, _menu = await fake_telegram.wait_for_messages(445, count=2, timeout=20)
        assert "cộng tác viên của Ấp 1" in welcome["text"]
        # Set again in the background, a moment later.
        while not fake_telegram.command_menu():
            await fake_telegram.wait_for_call("setMyCommands", timeout=20)
        assert [c["command"] for c in fake_telegram.command_menu()] == ["start", "help"]
    finally:
        output = await stop(process)
    assert "Traceback" not in output
    [warning] = [line for line in output.splitlines() if "command menu not set" in line]
    assert "setMyCommands" in warning and "WARNING" in warning
    assert TOKEN not in output


async def test_an_edit_that_changes_nothing_is_no_failure(fake_telegram: FakeTelegram) -> None:
    # Telegram refuses to edit a message into what it already shows ("message is not
    # modified"); the same status twice must not count as a lost reply.
    fake_telegram.user(id=903)
    async with Bot(TOKEN, base_url=f"{fake_telegram.base_url}/bot") as bot:
        status = StatusMessage(bot, 903)
        await status.show("Đang xuất… 40%")
        await status.show("Đang xuất… 40%")
        await status.show("Đang xuất… 60%")
    [sent] = fake_telegram.messages_to(903)
    assert fake_telegram.message(903, sent["message_id"])["text"] == "Đang xuất… 60%"
    assert [e for e in fake_telegram.api_errors if "not modified" in str(e)]


async def test_an_update_the_library_cannot_read_is_skipped_and_others_served(
    database: Database, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    # An update python-telegram-bot fails to parse (here a poll missing its required
    # fields, as a new Telegram field would do) used to stall polling for everyone, and each
    # retry logged the update with the sender's name and text.
    await seed_areas(database.sessions)
    async with telegram_bot(_settings(database, fake_telegram)):
        secret = "Bí Mật Nguyễn"
        await fake_telegram.push_update(
            {
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 904, "type": "private", "first_name": secret},
                    "from": {"id": 904, "is_bot": False, "first_name": secret},
                    "poll": {"id": "p1", "question": secret},
                }
            }
        )
        await fake_telegram.user(id=905, first_name="Hà").send_text("chào")
        [reply] = await fake_telegram.wait_for_messages(905, timeout=10)
        assert reply["text"] == translate("registration.unknown_user")
        assert fake_telegram.pending_updates == []
    assert secret not in caplog.text
    assert "could not be read (TypeError) and was skipped" in caplog.text


async def test_an_update_stored_but_not_applied_is_applied_at_the_next_start(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    # The state a kill -9 leaves: the update is in the inbox (Telegram has forgotten it),
    # no turn applied it. The next start applies it before polling.
    await seed_areas(database.sessions)
    settings = _settings(database, fake_telegram)
    runtime = await open_runtime(settings)
    user = fake_telegram.user(id=906, first_name="Khoa")
    payload = {
        "update_id": 77001,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": user.chat(),
            "from": user.as_dict(),
            "text": "chào bot",
        },
    }
    # Stored as the webhook received it, before python-telegram-bot refused to read it: it
    # must not stop the start, nor the update after it, nor reach the log.
    unreadable = {"update_id": 77000, "poll": {"id": "p1", "question": "Hộ Lê Văn Kín?"}}
    try:
        await runtime.conversation.keep(
            "telegram", [Received("77000", None, unreadable), Received("77001", None, payload)]
        )
    finally:
        await runtime.close()
    env = run_env(database, fake_telegram)
    process = await start_rasoat(env)
    try:
        [reply] = await fake_telegram.wait_for_messages(906, timeout=30)
    finally:
        output = await stop(process)
    assert reply["text"] == translate("registration.unknown_user")
    assert "stored update 77000 could not be read (TypeError)" in output
    assert "Lê Văn Kín" not in output
    runtime = await open_runtime(settings)
    try:
        assert await runtime.conversation.unapplied("telegram") == []  # not tried again
    finally:
        await runtime.close()


async def test_a_webhook_update_is_stored_before_telegram_is_answered(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    # rasoat's webhook server answers 200 once the update is stored, so a crash after the
    # 200 cannot lose it.
    await seed_areas(database.sessions)
    port = free_port()
    env = run_env(database, fake_telegram)
    url = f"http://127.0.0.1:{port}/hook"
    process = await start_rasoat(
        env, "--webhook", f"--port={port}", "--path=hook", "--secret=s3cret", f"--webhook-url={url}"
    )
    user = fake_telegram.user(id=907, first_name="Lan")
    update = {
        "update_id": 88001,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": user.chat(),
            "from": user.as_dict(),
            "text": "chào",
        },
    }
    try:
        await fake_telegram.wait_for_call("setWebhook", timeout=20)
        await wait_for_port(port)
        assert await fake_telegram.deliver_webhook(update, secret="s3cret") == 200
        async with database.sessions() as session:
            stored = await session.scalar(
                select(InboxUpdate.payload).where(InboxUpdate.update_key == "88001")
            )
        assert stored is not None and stored["message"]["text"] == "chào"
        [reply] = await fake_telegram.wait_for_messages(907, timeout=20)
        assert reply["text"] == translate("registration.unknown_user")
    finally:
        await stop(process)


@POSTGRESQL_ONLY
async def test_a_webhook_update_is_not_acknowledged_while_the_database_is_away(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    """No 200 for an update that is not stored: Telegram keeps it and sends it again, and
    once the database is back it is taken and answered."""
    await seed_areas(database.sessions)
    target = make_url(POSTGRES_URL)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        through_proxy = target.set(host="127.0.0.1", port=proxy.port)
        process, _port = await start_webhook(
            database,
            fake_telegram,
            DATABASE_URL=through_proxy.render_as_string(hide_password=False),
        )
        user = fake_telegram.user(id=951, first_name="Phúc")
        update = text_update(user, 95001, "chào Phúc")
        try:
            proxy.cut()
            assert await fake_telegram.deliver_webhook(update) == 500
            assert await inbox_keys(database) == []
            proxy.restore()
            # As Telegram does: the same update again, until it is taken.
            async with asyncio.timeout(20):
                while (status := await fake_telegram.deliver_webhook(update)) != 200:
                    assert status == 500
                    await asyncio.sleep(0.2)
            assert await inbox_keys(database) == ["95001"]
            [reply] = await fake_telegram.wait_for_messages(951, timeout=20)
            assert reply["text"] == translate("registration.unknown_user")
        finally:
            output = await stop(process)
    assert "update 95001 could not be stored" in output
    assert "chào Phúc" not in output and TOKEN not in output


async def _stored(database: Database) -> dict[str, object]:
    async with database.sessions() as session:
        rows = await session.execute(select(Answer.path, Answer.value))
        return {path: value for path, value in rows.all()}


SHOWN_AGAIN = translate("delivery.shown_again")
WALL = "Tường nhà làm bằng vật liệu gì?"
COLUMN = "Cột nhà (khung nhà) làm bằng vật liệu gì?"


async def test_a_retyped_answer_never_lands_on_a_question_not_shown(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    # The question after "2" (walls: not durable) is lost on the way. The collaborator, who
    # sees nothing, types "2" again: it must not become the answer to the columns question,
    # which they never saw; that question is shown, and then their answer to it is taken.
    chat = 779
    async with household_opened(database, fake_telegram, chat) as (collab, surface):
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        await collab.answer_until(at_field("house_wall"))
        assert WALL in fake_telegram.messages_to(chat)[-1]["text"]

        fake_telegram.fail("sendMessage", how=Failure.GARBLED, when=lambda p: COLUMN in p["text"])
        await collab.say("2")
        assert (await _stored(database)).get("house_wall") == "not_durable"

        replies = await collab.say("2")
        assert "house_column" not in await _stored(database)
        assert replies[0] == SHOWN_AGAIN and COLUMN in replies[-1]

        await collab.say("1")
        stored = await _stored(database)
        assert stored["house_wall"] == "not_durable" and stored["house_column"] == "durable"
        # Delivered this time: the next typed answer is taken at once.
        assert SHOWN_AGAIN not in await collab.say("2")
        assert (await _stored(database))["house_roof"] == "not_durable"


async def test_pressing_a_spent_button_shows_the_question_that_never_came(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    chat = 780
    async with household_opened(database, fake_telegram, chat) as (collab, surface):
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        await collab.answer_until(at_field("house_wall"))
        wall = fake_telegram.messages_to(chat)[-1]
        not_durable = _keyboard(wall)[1]

        fake_telegram.fail("sendMessage", how=Failure.GARBLED, when=lambda p: COLUMN in p["text"])
        await collab.tap(not_durable)
        # Pressed again, the spent button brings the question that was lost.
        replies = await collab.tap(not_durable)
        assert COLUMN in "\n".join(replies)
        assert translate("interview.stale") in replies
        assert (await _stored(database)).get("house_wall") == "not_durable"
        assert "house_column" not in await _stored(database)
        # A spent button pressed when nothing was lost only says so.
        column = fake_telegram.messages_to(chat)[-1]
        await collab.tap(_keyboard(column)[0])
        assert await collab.tap(_keyboard(column)[0]) == [translate("interview.stale")]


async def test_a_confirmed_roster_whose_next_question_was_lost_shows_it_when_pressed_again(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    # Any spent button, not only an answer's: the roster's "correct, start" pressed again.
    chat = 781
    first = "Hộ ở khu vực nào?"
    async with household_opened(database, fake_telegram, chat) as (collab, surface):
        confirm = next(d for _, d in surface.buttons() if d.endswith(":ok"))
        fake_telegram.fail("sendMessage", how=Failure.GARBLED, when=lambda p: first in p["text"])
        assert first not in "\n".join(await collab.tap(confirm))
        replies = await collab.tap(confirm)
        assert translate("interview.stale") in replies and first in "\n".join(replies)


async def test_a_lost_end_of_interview_is_said_again_at_the_next_message(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    # The last answer was stored and the interview finished, but "finished" never arrived:
    # what the collaborator types next is not taken for anything, and they are told.
    chat = 782
    finished = translate("interview.finished", household="HH-TEST · Nguyễn Văn Hùng")
    async with household_opened(database, fake_telegram, chat) as (collab, surface):
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        fake_telegram.fail("sendMessage", how=Failure.GARBLED, when=lambda p: finished in p["text"])
        await collab.finish()
        assert finished not in [m.get("text") for m in fake_telegram.messages_to(chat)]
        replies = await collab.say("2")
        assert replies[:2] == [translate("delivery.not_taken"), finished]
        # Seen now: the next text is a search as usual, nothing said about a lost reply.
        assert translate("delivery.not_taken") not in await collab.say("2")
