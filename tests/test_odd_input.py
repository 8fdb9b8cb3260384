"""Odd characters people (or their phones) send never crash a turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.conversation import Conversation
from bot.flood import FloodGate, Verdict
from bot.messages import Choices, Notice, Text, without_controls
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import ProcessedUpdate, Role
from tests.conftest import Database
from tests.helpers import add_terminal_users, message, press, seed_areas

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
INTERNAL = translate("error.internal")


def said(replies: list) -> str:
    return "\n".join(r.text for r in replies if isinstance(r, Text | Choices | Notice))


def test_controls_are_removed_but_lines_and_tabs_kept() -> None:
    assert without_controls("Nguy\x00ễn\x07 Văn\r\nA\tB\x7f") == "Nguyễn Văn\nA\tB"


@pytest.fixture
async def conversation(database: Database, settings: Settings) -> Conversation:
    await seed_areas(database.sessions)
    await add_terminal_users(
        database.sessions,
        {"c1": (Role.COLLABORATOR, "87-MH-A1"), "k1": (Role.COMMUNE_STAFF, "87-MH")},
    )
    return Conversation(database.sessions, settings, clock=lambda: NOW)


async def test_a_nul_byte_in_a_search_or_a_command_is_harmless(
    conversation: Conversation,
) -> None:
    # PostgreSQL refuses NUL in text ("invalid byte sequence"): a stray one from a phone's
    # keyboard must not turn a search into an internal error.
    await conversation.handle(message("/interview", user_id="c1"))
    search = await conversation.handle(message("nguy\x00en", user_id="c1"))
    assert INTERNAL not in said(search) and said(search)
    for text in ("/export \x00", "/summary 87-MH\x00", "/start \x00ABC"):
        replies = await conversation.handle(message(text, user_id="k1"))
        assert INTERNAL not in said(replies) and said(replies), text
    pressed = await conversation.handle(press("h:\x00", user_id="c1"))
    assert INTERNAL not in said(pressed)


async def test_a_stranger_named_with_a_nul_byte_is_answered(conversation: Conversation) -> None:
    replies = await conversation.handle(message("/start ABCD2345", user_id="s9", name="A\x00n"))
    assert said(replies) == translate("registration.code_unknown")


def test_the_flood_gate_drops_past_the_limit_and_forgives_after_the_window() -> None:
    gate = FloodGate(limit=3)
    start = NOW
    verdicts = [gate.check("a", start + timedelta(seconds=i / 10)) for i in range(6)]
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    # Someone else is not slowed down by it.
    assert gate.check("b", start) is Verdict.ALLOW
    # Ten seconds after the first three, the person is heard again, and warned again later.
    later = start + timedelta(seconds=10, milliseconds=300)
    assert [gate.check("a", later) for _ in range(4)] == [Verdict.ALLOW] * 3 + [Verdict.WARN]


async def test_a_flood_of_messages_is_answered_once_and_costs_no_writes(
    database: Database,
) -> None:
    await seed_areas(database.sessions)
    settings = load_settings(**database.env(), RASOAT_FLOOD_LIMIT="20")
    conversation = Conversation(database.sessions, settings, clock=lambda: NOW)
    keys = iter(range(1, 100))
    replies = [
        said(await conversation.handle(message("xin chào", update_key=str(next(keys)))))
        for _ in range(25)
    ]
    assert replies[:20] == [translate("registration.unknown_user")] * 20
    assert replies[20:] == [translate("error.too_fast"), "", "", "", ""]
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 20
