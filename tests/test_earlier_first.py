"""An update tried again after its sender's earlier ones (EarlierFirst, bot.channels.in_order)
is one update: it counts once towards its sender's flood limit, and it reopens a Zalo OA
window once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bot.channels.in_order import in_order
from bot.channels.zalo_oa import PLATFORM, update_key
from bot.conversation import Conversation
from bot.messages import Incoming, Outgoing, Text
from bot.settings import load_settings
from locales.catalog import translate
from storage.models import Role
from storage.repositories import Received
from storage.uow import UnitOfWork
from tests.conftest import POSTGRESQL_ONLY, Database
from tests.fakes.zalo_oa import FakeZaloOa
from tests.helpers import add_terminal_users, message, seed_areas
from tests.surfaces import OaSurface
from tests.test_zalo_oa_e2e import USER, collaborator_invited, oa_bot, oa_settings

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def keep(database: Database, platform: str, key: str, sender: str, raw: Any) -> None:
    """An update another worker stored and never applied."""
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep(platform, [Received(key, sender, raw)])
        await uow.commit()


@POSTGRESQL_ONLY
async def test_an_update_tried_again_after_earlier_ones_counts_once_towards_the_flood_limit(
    database: Database,
) -> None:
    await seed_areas(database.sessions)
    await add_terminal_users(database.sessions, {"c1": (Role.COLLABORATOR, "87-MH-A1")})
    # Two messages within the window pass: the held one and the one received here.
    settings = load_settings(**database.env(), RASOAT_FLOOD_LIMIT="2")
    conversation = Conversation(database.sessions, settings, clock=lambda: NOW)
    held = message("/whoami", user_id="c1", update_key="1")
    await keep(database, "terminal", "1", "c1", {})
    await keep(database, "terminal", "2", "c1", {})
    replies: list[list[Outgoing]] = []

    async def apply(incoming: Incoming, first: bool) -> None:
        replies.append(await conversation.handle(incoming, in_order=first))

    async def read(payloads: list[dict[str, Any]]) -> list[Incoming]:
        assert len(payloads) == 1
        return [held]

    await in_order(apply, message("/whoami", user_id="c1", update_key="2"), read)
    texts = [[reply.text for reply in turn if isinstance(reply, Text)] for turn in replies]
    assert len(texts) == 2
    assert all("Vai trò: cộng tác viên" in "\n".join(turn) for turn in texts)
    assert translate("error.too_fast") not in [text for turn in texts for text in turn]


@POSTGRESQL_ONLY
async def test_a_zalo_oa_event_tried_again_after_earlier_ones_reopens_the_window_once(
    database: Database, fake_oa: FakeZaloOa
) -> None:
    clock, registration = await collaborator_invited(database, fake_oa)
    async with oa_bot(oa_settings(database, fake_oa), fake_oa, clock) as channel:
        collaborator = OaSurface(fake_oa, channel, USER)
        await collaborator.type(registration)
        reopened: list[str] = []
        reopen: Callable[[Incoming], Awaitable[int]] = channel.reopen_window

        async def counted(incoming: Incoming) -> int:
            reopened.append(str(incoming.update_key))
            return await reopen(incoming)

        channel.reopen_window = counted  # type: ignore[method-assign]
        held = fake_oa.event(USER, "/whoami")
        key = update_key(held)
        assert key is not None
        await keep(database, PLATFORM, key, USER, held)
        replies = await collaborator.type("/whoami")
    # The held /whoami, then the one sent: both answered, the window reopened once.
    assert sum("Vai trò: cộng tác viên" in reply for reply in replies) == 2
    assert len(reopened) == 1
