"""rasoat works in private chats only: in a group it stores nothing and posts no list.

The collaborator has an interview open, waiting for an answer, when they (or anyone) type in
a group the bot belongs to. Nothing said there may reach their interview, and nothing of the
commune's personal data may be posted there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from telegram import Bot, Update

from bot.admin import create_invites
from bot.channels.telegram import to_incoming
from bot.settings import load_settings
from locales.catalog import translate
from storage.models import Answer, AuditEntry, ProcessedUpdate, Role
from tests.conftest import INVITE_KEY, Database
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.helpers import seed_areas
from tests.interview_driver import HOUSEHOLD_CODE, Collaborator, seed_household
from tests.surfaces import TelegramSurface, telegram_bot

YEAR = datetime.now(UTC).year
PRIVATE_ONLY = translate("error.private_only")


async def stored(database: Database) -> tuple[int, int, int]:
    async with database.sessions() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (Answer, AuditEntry, ProcessedUpdate)
        ]
    return (counts[0] or 0, counts[1] or 0, counts[2] or 0)


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_a_group_gets_one_notice_and_nothing_is_stored(
    database: Database, fake_telegram: FakeTelegram, chat_type: str
) -> None:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    settings = load_settings(
        **database.env(), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake_telegram.base_url
    )
    async with telegram_bot(settings) as application:
        surface = TelegramSurface(fake_telegram, application, user_id=777)
        [invite] = await create_invites(
            database.sessions, Role.COLLABORATOR, "87-MH-A1", days=1, key=INVITE_KEY
        )
        await surface.type(f"/start {invite.code}")
        collab = Collaborator(surface, database.sessions, "telegram", "777")
        # An interview open and waiting for its first answer after the roster check.
        await collab.say("/interview")
        await collab.say(HOUSEHOLD_CODE)
        [pick] = [d for label, d in surface.buttons() if HOUSEHOLD_CODE in label]
        await collab.tap(pick)
        await collab.tap(next(d for _, d in surface.buttons() if d.endswith(":ok")))
        waiting = await collab.current()
        private_before = len(fake_telegram.messages_to(777))
        before = await stored(database)

        group = fake_telegram.group(id=-1001, type=chat_type, title="Ấp 1 - CTV")
        user = surface.user
        await surface.handled_update(await user.send_text("1", chat=group))
        [notice] = fake_telegram.messages_to(group["id"])
        assert notice["text"] == PRIVATE_ONLY

        # The group was told once: a list asked for there is not sent, nor told again.
        await surface.handled_update(await user.send_text("/export", chat=group))
        await surface.handled_update(await user.send_text("/summary", chat=group))
        assert len(fake_telegram.messages_to(group["id"])) == 1
        # A button pressed in the group (here forged) answers the presser alone.
        await surface.handled_update(
            await user.press("v:1", notice["message_id"], force=True, chat=group)
        )
        toast = fake_telegram.calls("answerCallbackQuery")[-1]
        assert toast["text"] == PRIVATE_ONLY[:200]

        assert fake_telegram.calls("sendDocument") == []
        assert fake_telegram.calls("sendPhoto") == []
        assert len(fake_telegram.messages_to(group["id"])) == 1
        assert len(fake_telegram.messages_to(777)) == private_before
        assert await stored(database) == before
        assert await collab.current() == waiting

        # The same "1" in the private chat is an answer, as it should be.
        await collab.say("1")
        assert await collab.current() != waiting
        assert (await stored(database))[0] == before[0] + 1


def chat_update(kind: str, chat: dict[str, object], text: str) -> Update:
    message: dict[str, object] = {"message_id": 1, "date": 0, "chat": chat, "text": text}
    if kind == "message":
        message["from"] = {"id": 777, "is_bot": False, "first_name": "Hoa"}
    return Update.de_json({"update_id": 1, kind: message}, Bot(TOKEN))


@pytest.mark.parametrize(
    ("kind", "chat_type", "private"),
    [
        ("message", "private", True),
        ("message", "group", False),
        ("message", "supergroup", False),
        ("message", "channel", False),
    ],
)
def test_each_chat_type_is_told_apart(kind: str, chat_type: str, private: bool) -> None:
    update = chat_update(
        kind, {"id": -5 if chat_type != "private" else 777, "type": chat_type}, "1"
    )
    incoming = to_incoming(update)
    assert incoming is not None
    assert incoming.private is private


def test_a_channel_post_is_ignored() -> None:
    # A channel post has no sender: nothing to answer, nothing to apply to anyone.
    update = chat_update("channel_post", {"id": -100, "type": "channel", "title": "Xã"}, "/export")
    assert to_incoming(update) is None
