"""Registration, help, menus and fallbacks through the platform-neutral Conversation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.admin import create_invites, locked_chats, unlock_chats
from bot.conversation import Conversation
from bot.messages import Choices, CommandMenu, Incoming, Kind, Notice, Text
from bot.settings import Settings, load_settings
from locales.catalog import translate
from storage.models import AuditEntry, Invite, Role, User
from tests.conftest import INVITE_KEY, Database
from tests.helpers import message, press, seed_areas
from tests.test_settings_and_cli import rasoat

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
async def conversation(database: Database, settings: Settings) -> Conversation:
    await seed_areas(database.sessions)
    return Conversation(database.sessions, settings, clock=lambda: NOW)


async def invite(database: Database, role: Role = Role.COLLABORATOR, area: str = "87-MH-A1") -> str:
    [created] = await create_invites(database.sessions, role, area, days=7, now=NOW, key=INVITE_KEY)
    return created.code


def texts(replies: list) -> str:
    return "\n".join(r.text for r in replies if isinstance(r, Text | Choices | Notice))


async def count_users(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(User.id))) or 0)


async def test_unknown_user_gets_explanation_and_nothing_else(
    conversation: Conversation, database: Database
) -> None:
    for text in ("xin chào", "/help", "/summary", "/start"):
        replies = await conversation.handle(message(text))
        assert [type(r) for r in replies] == [Text]
        assert replies[0].text == translate("registration.unknown_user")
    assert await count_users(database) == 0


async def test_register_with_code_binds_role_and_area(
    conversation: Conversation, database: Database
) -> None:
    code = await invite(database, Role.SUPERVISOR, "87-MH")
    replies = await conversation.handle(message(f"/start {code.lower()[:4]}-{code[4:]}"))
    assert "giám sát viên của Xã Mỹ Hòa" in replies[0].text
    menu = next(r for r in replies if isinstance(r, Choices))
    assert {c.data for c in menu.choices} == {
        "cmd:summary",
        "cmd:export",
        "cmd:report",
        "cmd:doithoai",
        "cmd:theodoi",
        "cmd:whoami",
        "cmd:help",
    }
    assert any(isinstance(r, CommandMenu) for r in replies)
    async with database.sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None and user.role is Role.SUPERVISOR
        assert [a.code for a in user.areas] == ["87-MH"]
        actions = (await session.scalars(select(AuditEntry.action))).all()
        assert "user.registered" in actions


async def test_code_is_one_time(conversation: Conversation, database: Database) -> None:
    code = await invite(database)
    await conversation.handle(message(f"/start {code}", user_id="1"))
    replies = await conversation.handle(message(f"/start {code}", user_id="2"))
    assert texts(replies) == translate("registration.code_used")
    assert await count_users(database) == 1


async def test_wrong_and_expired_codes(database: Database, settings: Settings) -> None:
    await seed_areas(database.sessions)
    code = await invite(database)
    late = Conversation(database.sessions, settings, clock=lambda: NOW + timedelta(days=8))
    assert texts(await late.handle(message(f"/start {code}"))) == translate(
        "registration.code_expired"
    )
    assert texts(await late.handle(message("/start ZZZZZZZZ"))) == translate(
        "registration.code_unknown"
    )
    assert await count_users(database) == 0


async def test_help_differs_by_role(conversation: Conversation, database: Database) -> None:
    for user_id, role in (("1", Role.COLLABORATOR), ("2", Role.SUPERVISOR)):
        code = await invite(database, role, "87-MH")
        await conversation.handle(message(f"/start {code}", user_id=user_id))
    first = texts(await conversation.handle(message("/help", user_id="1")))
    second = texts(await conversation.handle(message("/help", user_id="2")))
    assert first.startswith(translate("help.intro.collaborator"))
    assert second.startswith(translate("help.intro.supervisor"))
    assert "/whoami" in first and "/start" not in first


async def test_fallbacks_never_silent(conversation: Conversation, database: Database) -> None:
    code = await invite(database)
    await conversation.handle(message(f"/start {code}"))
    unknown = texts(await conversation.handle(message("/khongco")))
    assert unknown == translate("fallback.unknown_command", command="khongco")
    sticker = Incoming("terminal", "111", "111", "An", Kind.UNSUPPORTED, content_type="sticker")
    assert texts(await conversation.handle(sticker)) == translate("fallback.unsupported")
    assert "quá dài" in texts(await conversation.handle(message("a" * 5000)))
    stale = await conversation.handle(press("q9:zz"))
    assert stale == [Notice(translate("fallback.stale_button"))]
    menu_press = await conversation.handle(press("cmd:whoami"))
    assert "Ấp 1 (87-MH-A1)" in texts(menu_press)


async def test_duplicate_update_is_applied_once(
    conversation: Conversation, database: Database
) -> None:
    code = await invite(database)
    first = await conversation.handle(message(f"/start {code}", update_key="42"))
    again = await conversation.handle(message(f"/start {code}", update_key="42"))
    assert first and again == []
    assert await count_users(database) == 1


async def test_failed_handler_rolls_back_and_says_so(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_areas(database.sessions)
    code = await invite(database)
    conversation = Conversation(database.sessions, settings, clock=lambda: NOW)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    from storage.repositories import UserRepository

    monkeypatch.setattr(UserRepository, "bind_chat", broken)
    replies = await conversation.handle(message(f"/start {code}", update_key="7"))
    assert texts(replies) == translate("error.internal")
    assert await count_users(database) == 0
    monkeypatch.undo()
    # The update was not marked as processed, so its redelivery now succeeds.
    replies = await conversation.handle(message(f"/start {code}", update_key="7"))
    assert "cộng tác viên" in texts(replies)
    assert await count_users(database) == 1


async def test_forged_button_data_is_refused(
    conversation: Conversation, database: Database
) -> None:
    code = await invite(database)
    await conversation.handle(message(f"/start {code}"))
    for forged in ("a:999:0:0", "h:999", "h:abc", "r:1:rm:0", "x:5:yes", "t:1:0:99", "zz:1"):
        replies = await conversation.handle(press(forged))
        assert all(isinstance(r, Notice | Text) for r in replies), forged
        assert replies, forged


async def test_a_code_registers_one_person_even_when_sent_at_the_same_moment(
    conversation: Conversation, database: Database
) -> None:
    # Three people given the same code (a photo of it passed round) send /start together. On
    # PostgreSQL their transactions run side by side: the code must still register one.
    for trial in range(5):
        code = await invite(database)
        senders = [f"race-{trial}-{n}" for n in range(3)]
        replies = await asyncio.gather(
            *(conversation.handle(message(f"/start {code}", user_id=s)) for s in senders)
        )
        welcomed = [
            s for s, r in zip(senders, replies, strict=True) if "Bạn đã đăng ký là" in texts(r)
        ]
        refused = [
            s
            for s, r in zip(senders, replies, strict=True)
            if texts(r) == translate("registration.code_used")
        ]
        assert len(welcomed) == 1, replies
        assert sorted(welcomed + refused) == sorted(senders)
    assert await count_users(database) == 5


async def test_codes_are_stored_under_the_server_key(
    database: Database, settings: Settings
) -> None:
    await seed_areas(database.sessions)
    code = await invite(database)
    async with database.sessions() as session:
        [stored] = (await session.scalars(select(Invite.code_hash))).all()
    # Neither the code nor its plain SHA-256 (a few GPU minutes from the code) is kept.
    assert code not in stored
    assert stored != hashlib.sha256(code.encode()).hexdigest()
    assert stored == hmac.new(INVITE_KEY, code.encode(), hashlib.sha256).hexdigest()
    # Under another key the same code is unknown: the key is what makes it valid.
    other = load_settings(**database.env(), RASOAT_SECRET_KEY="another-key-" + "x" * 32)
    elsewhere = Conversation(database.sessions, other, clock=lambda: NOW)
    replies = await elsewhere.handle(message(f"/start {code}"))
    assert texts(replies) == translate("registration.code_unknown")


async def test_guessing_codes_locks_the_chat_until_staff_lift_it(
    conversation: Conversation,
    database: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = await invite(database)
    guesses = [f"GUESS{n:03d}" for n in range(5)]
    with caplog.at_level(logging.DEBUG):
        for guess in guesses:
            replies = await conversation.handle(message(f"/start {guess}", user_id="9"))
            assert texts(replies) == translate("registration.code_unknown")
        # Now even the right code is refused from this chat, and not spent.
        replies = await conversation.handle(message(f"/start {code}", user_id="9"))
    assert texts(replies) == translate("registration.locked")
    assert not any(guess in record.getMessage() for guess in guesses for record in caplog.records)
    assert code not in caplog.text
    # Someone else is not affected by this chat's guesses.
    other = await invite(database)
    assert "Bạn đã đăng ký là" in texts(
        await conversation.handle(message(f"/start {other}", user_id="8"))
    )

    assert [chat.who for chat in await locked_chats(database.sessions, NOW)] == ["terminal:9"]
    assert await unlock_chats(database.sessions, "terminal:9", NOW) == 5
    assert await locked_chats(database.sessions, NOW) == []
    replies = await conversation.handle(message(f"/start {code}", user_id="9"))
    assert "Bạn đã đăng ký là" in texts(replies)


async def test_a_day_later_the_lock_is_gone(database: Database, settings: Settings) -> None:
    await seed_areas(database.sessions)
    code = await invite(database)
    for n in range(5):
        await Conversation(database.sessions, settings, clock=lambda: NOW).handle(
            message(f"/start WRONG{n:03d}", user_id="9")
        )
    tomorrow = Conversation(database.sessions, settings, clock=lambda: NOW + timedelta(days=1))
    assert "Bạn đã đăng ký là" in texts(
        await tomorrow.handle(message(f"/start {code}", user_id="9"))
    )


async def test_staff_list_and_lift_lock_outs_from_the_command_line(
    database: Database, settings: Settings
) -> None:
    # The command judges "within a day" by the real clock: so does this conversation.
    conversation = Conversation(database.sessions, settings)
    for n in range(5):
        await conversation.handle(message(f"/start WRONG{n:03d}", user_id="9", name="Kẻ Đoán"))
    listed = rasoat("invites", "unlock", env=database.env())
    assert listed.returncode == 0, listed.stderr
    assert "terminal:9" in listed.stdout and "Kẻ Đoán" in listed.stdout
    assert "rasoat invites unlock --all" in listed.stdout
    lifted = rasoat("invites", "unlock", "terminal:9", env=database.env())
    assert lifted.returncode == 0 and translate("cli.unlocked", count=5) in lifted.stdout
    again = rasoat("invites", "unlock", env=database.env())
    assert translate("cli.none_locked") in again.stdout
    wrong = rasoat("invites", "unlock", "chín", env=database.env())
    assert wrong.returncode == 2 and "telegram:12345" in wrong.stderr
