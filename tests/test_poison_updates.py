"""An update whose application raises every time: told once, tried a few times, then kept
but left alone at each start, for an operator to see (`rasoat inbox`) and retry.

Each "start" here is what a channel does when it starts: bot_api.replay (or a Zalo
channel's replay), every stored update not applied handed to the Conversation in the order
received. A Zalo event that fails before it reaches the Conversation counts the same.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.channels import bot_api, zalo_bot
from bot.cli_admin import inbox
from bot.conversation import Conversation
from bot.messages import Outgoing, Text
from bot.runtime import runtime
from bot.settings import Settings
from locales.catalog import translate
from storage.models import InboxUpdate, ProcessedUpdate
from storage.repositories import APPLY_ATTEMPTS, Received
from storage.uow import UnitOfWork
from tests.conftest import POISON, POSTGRESQL_ONLY, Database
from tests.fakes.zalo_bot import TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import message, seed_areas

NAME = "Nguyễn Thị Kín"


def payload(update_id: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "text": text}


class Chat:
    """The person's side: every reply the bot sent, by update id."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.replies: list[tuple[int, list[Outgoing]]] = []

    async def receive(self, raw: dict[str, Any]) -> None:
        """As a channel receives an update: stored first, then applied."""
        key = str(raw["update_id"])
        await self.conversation.keep("telegram", [Received(key, "9", raw)])
        await self.apply(raw)

    async def apply(self, raw: dict[str, Any]) -> None:
        incoming = message(
            raw["text"],
            user_id="9",
            name=NAME,
            update_key=str(raw["update_id"]),
            platform="telegram",
        )
        self.replies.append((raw["update_id"], await self.conversation.handle(incoming)))

    async def start(self) -> int:
        return await bot_api.replay(self.conversation, lambda raw: raw, self.apply)


async def stored(database: Database) -> list[tuple[str, int]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(InboxUpdate.update_key, InboxUpdate.attempts).order_by(InboxUpdate.id)
        )
        return [(key, attempts) for key, attempts in rows]


async def applied(database: Database) -> list[str]:
    async with database.sessions() as session:
        return sorted(await session.scalars(select(ProcessedUpdate.update_key)))


async def test_a_failing_update_is_told_once_tried_a_few_times_then_kept_and_left_alone(
    database: Database,
    settings: Settings,
    failing: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed_areas(database.sessions)
    conversation = Conversation(database.sessions, settings)
    chat = Chat(conversation)
    caplog.set_level(logging.INFO)
    try:
        await chat.receive(payload(501, POISON))
        await chat.receive(payload(502, "/help"))
        starts = [await chat.start() for _ in range(APPLY_ATTEMPTS + 2)]
    finally:
        conversation.close()

    # Tried at the first starts only, until it had failed APPLY_ATTEMPTS times in all.
    assert starts == [1] * (APPLY_ATTEMPTS - 1) + [0, 0, 0]
    error = [Text(translate("error.internal", "vi"))]
    poison = [replies for update, replies in chat.replies if update == 501]
    # The person was told once, at the first failure; the starts stay quiet.
    assert poison == [error] + [[]] * (APPLY_ATTEMPTS - 1)
    # Kept, never marked applied; the message after it was applied once.
    assert await stored(database) == [("501", APPLY_ATTEMPTS), ("502", 0)]
    assert await applied(database) == ["502"]
    [helped] = [replies for update, replies in chat.replies if update == 502]
    assert helped
    # Said to the operator by platform and update id, nothing of the person.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"update telegram:501 failed {APPLY_ATTEMPTS} times" in logged
    assert NAME not in logged and "Kín" not in logged


async def test_the_inbox_command_lists_it_and_gives_it_one_more_try(
    database: Database,
    settings: Settings,
    failing: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await seed_areas(database.sessions)
    conversation = Conversation(database.sessions, settings)
    chat = Chat(conversation)
    now = datetime.now(UTC)
    try:
        await chat.receive(payload(601, POISON))
        for _ in range(APPLY_ATTEMPTS - 1):
            await chat.start()
        capsys.readouterr()

        assert await inbox(database.sessions, settings, argparse.Namespace(retry=False), now) == 1
        listed = capsys.readouterr().out
        assert "  telegram:601  (" in listed
        assert listed.startswith(
            translate("inbox.given_up", "vi", count=1, attempts=APPLY_ATTEMPTS)
        )
        assert POISON not in listed and NAME not in listed

        # Once fixed, one more try at the next start: applied once, and answered.
        monkeypatch.undo()
        assert await inbox(database.sessions, settings, argparse.Namespace(retry=True), now) == 0
        assert capsys.readouterr().out.strip() == translate("inbox.retry", "vi", count=1)
        assert await chat.start() == 1
        assert chat.replies[-1][0] == 601 and chat.replies[-1][1]
        assert chat.replies[-1][1] != [Text(translate("error.internal", "vi"))]
        assert await applied(database) == ["601"]
        assert await chat.start() == 0
        assert await inbox(database.sessions, settings, argparse.Namespace(retry=False), now) == 0
        assert capsys.readouterr().out.strip() == translate("inbox.none_given_up", "vi")
    finally:
        conversation.close()


async def test_a_zalo_event_that_cannot_be_read_is_tried_a_few_times_then_kept_and_left_alone(
    database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """It fails before its turn (its date is past any calendar): each failure counts as a
    turn's would, so it is not read again at every start for ever."""
    await seed_areas(database.sessions)
    event = FakeZaloBot().event("zb-9", POISON, name=NAME)
    event["message"]["date"] = 10**20
    key = zalo_bot.update_key(event)
    caplog.set_level(logging.INFO)
    async with runtime(settings) as opened, httpx.AsyncClient() as client:

        def channel() -> zalo_bot.ZaloBotChannel:
            # Never called: nothing is sent to a sender whose event cannot be read.
            api = zalo_bot.ZaloBotApi("http://127.0.0.1:9", ZALO_TOKEN, client)
            return zalo_bot.ZaloBotChannel(opened, api)

        # Received: stored, then read in the sender's turn.
        receiving = channel()
        assert await receiving.keep(event) == key
        await receiving.apply(event)
        # Each start replays what was stored and not applied.
        starts = [await channel().replay() for _ in range(APPLY_ATTEMPTS)]

    assert starts == [1] * (APPLY_ATTEMPTS - 1) + [0]
    assert await stored(database) == [(key, APPLY_ATTEMPTS)]
    assert await applied(database) == []
    async with UnitOfWork(database.sessions) as uow:
        assert [up.update_key for up in await uow.inbox.given_up(zalo_bot.PLATFORM)] == [key]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"update {zalo_bot.PLATFORM}:{key} failed {APPLY_ATTEMPTS} times" in logged
    assert NAME not in logged and POISON not in logged


@POSTGRESQL_ONLY
async def test_a_zalo_event_that_cannot_be_read_holds_back_none_of_its_senders_later_ones(
    database: Database, settings: Settings, fake_zalo: FakeZaloBot
) -> None:
    """Where several workers share the database, a person's later event applies their
    earlier ones first (bot.channels.in_order): one of those that cannot be read is counted
    and passed over, not a wall every later message of theirs stops at."""
    await seed_areas(database.sessions)
    poison = fake_zalo.event("zb-9", POISON, name=NAME)
    poison["message"]["date"] = 10**20
    later = fake_zalo.event("zb-9", "/help", name=NAME)
    async with runtime(settings) as opened, httpx.AsyncClient() as client:
        api = zalo_bot.ZaloBotApi(fake_zalo.base_url, ZALO_TOKEN, client)
        channel = zalo_bot.ZaloBotChannel(opened, api)
        # Another worker stored it and died before reading it.
        await channel.keep(poison)
        assert await channel.keep(later) is not None
        await channel.apply(later)
    assert await stored(database) == [
        (zalo_bot.update_key(poison), 1),
        (zalo_bot.update_key(later), 0),
    ]
    assert await applied(database) == [zalo_bot.update_key(later)]
    assert fake_zalo.messages_to("zb-9")
