"""An update handed to its turn not stored yet (``Incoming.payload``: a button press a webhook
received on a shared database) is stored by the turn, in the turn's own transaction, or by
the Conversation wherever no turn stores it; where it cannot be, the caller is told
(NotStored) and must not tell the platform it arrived.

Each case reads the inbox and the ledger as the database holds them: the update's payload
as received, whether it is marked applied, how often it failed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation import Conversation, NotStored
from bot.messages import Incoming, Text
from bot.settings import Settings
from bot.turn_process import TurnProcess, TurnProcessGone
from locales.catalog import translate
from storage.models import InboxUpdate, ProcessedUpdate
from storage.repositories import Received
from tests.conftest import POISON, Database
from tests.helpers import message, seed_areas

NAME = "Trần Thị Nhận"


def received(update_id: int, text: str) -> tuple[Incoming, dict[str, Any]]:
    """A person's message as a channel hands it over unstored: the Incoming and its payload."""
    raw = {"update_id": update_id, "message": {"text": text, "from": {"first_name": NAME}}}
    incoming = message(text, user_id="9", name=NAME, update_key=str(update_id), platform="telegram")
    return replace(incoming, payload=raw), raw


async def inbox(database: Database) -> dict[str, tuple[dict[str, Any], bool, int]]:
    """Each stored update by key: its payload, whether applied, its failed attempts."""
    async with database.sessions() as session:
        rows = await session.execute(
            select(
                InboxUpdate.update_key,
                InboxUpdate.payload,
                InboxUpdate.applied,
                InboxUpdate.attempts,
            )
        )
        return {key: (payload, applied, attempts) for key, payload, applied, attempts in rows}


async def ledger(database: Database) -> list[str]:
    async with database.sessions() as session:
        return sorted(await session.scalars(select(ProcessedUpdate.update_key)))


@pytest.fixture
async def conversation(database: Database, settings: Settings) -> Any:
    await seed_areas(database.sessions)
    conversation = Conversation(database.sessions, settings)
    try:
        yield conversation
    finally:
        conversation.close()


async def test_a_turn_stores_the_update_it_applies(
    database: Database, conversation: Conversation
) -> None:
    incoming, raw = received(801, "/help")
    replies = await conversation.handle(incoming)
    assert replies
    assert await inbox(database) == {"801": (raw, True, 0)}
    assert await ledger(database) == ["801"]


async def test_the_same_update_again_is_stored_and_applied_once(
    database: Database, conversation: Conversation
) -> None:
    incoming, raw = received(802, "/help")
    assert await conversation.handle(incoming)
    assert await conversation.handle(incoming) == []
    assert await inbox(database) == {"802": (raw, True, 0)}
    assert await ledger(database) == ["802"]


async def test_an_update_its_receiver_stored_meanwhile_is_marked_applied(
    database: Database, conversation: Conversation
) -> None:
    """The webhook stores a press itself when its turn is slow; the turn, coming after,
    applies it once and leaves one row, applied."""
    incoming, raw = received(803, "/help")
    await conversation.keep("telegram", [Received("803", "9", raw)])
    assert await inbox(database) == {"803": (raw, False, 0)}
    assert await conversation.handle(incoming)
    assert await inbox(database) == {"803": (raw, True, 0)}
    assert await ledger(database) == ["803"]


async def test_a_turn_that_fails_leaves_its_update_stored_and_counted(
    database: Database, conversation: Conversation, failing: None
) -> None:
    """Rolled back with the turn, the update is stored after it, its failure counted: it
    is applied again at the next start, as one stored before its turn would be."""
    incoming, raw = received(804, POISON)
    assert await conversation.handle(incoming) == [Text(translate("error.internal", "vi"))]
    assert await inbox(database) == {"804": (raw, False, 1)}
    assert await ledger(database) == []
    assert await conversation.unapplied("telegram") == [raw]


async def test_an_update_over_the_flood_limit_is_stored_though_not_applied(
    database: Database, settings: Settings
) -> None:
    await seed_areas(database.sessions)
    conversation = Conversation(database.sessions, settings.model_copy(update={"flood_limit": 1}))
    try:
        first, _ = received(805, "/help")
        second, raw = received(806, "/help")
        assert await conversation.handle(first)
        await conversation.handle(second)
    finally:
        conversation.close()
    stored = await inbox(database)
    assert stored["806"] == (raw, False, 0)
    assert await ledger(database) == ["805"]


async def test_a_group_message_is_stored_as_received_and_nothing_else(
    database: Database, conversation: Conversation
) -> None:
    incoming, raw = received(807, "1")
    group = replace(incoming, private=False, chat_id="-1001")
    assert await conversation.handle(group) == [Text(translate("error.private_only", "vi"))]
    assert await inbox(database) == {"807": (raw, False, 0)}
    assert await ledger(database) == []


async def test_an_update_that_cannot_be_stored_is_said_not_stored(
    database: Database,
    conversation: Conversation,
    failing: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The turn failed and the store after it too (the database went away): NotStored,
    naming the error's type alone, never what the person sent."""

    async def refused(platform: str, updates: list[Received]) -> None:
        raise ConnectionRefusedError(f"refused {NAME}")

    monkeypatch.setattr(conversation, "keep", refused)
    incoming, _raw = received(808, POISON)
    with pytest.raises(NotStored) as raised:
        await conversation.handle(incoming)
    assert str(raised.value) == "ConnectionRefusedError"
    assert await inbox(database) == {}


async def test_a_turn_process_gone_before_it_stored_the_update_says_not_stored(
    database: Database, settings: Settings
) -> None:
    """Its child ended mid-turn: the update may be neither applied nor stored. One stored
    before its turn is applied at the next start, as ever: no error for it."""

    class Gone(TurnProcess):
        def __init__(self) -> None:
            Conversation.__init__(self, database.sessions, settings)

        async def _call(self, *args: Any, **kwargs: Any) -> Any:
            raise TurnProcessGone("the turn process is not running")

    gone = Gone()
    try:
        incoming, _raw = received(809, "/help")
        with pytest.raises(NotStored):
            await gone.handle(incoming)
        assert await gone.handle(replace(incoming, payload=None)) == []
    finally:
        gone.close()
