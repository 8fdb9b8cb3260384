"""Linking accounts through the platform-neutral Conversation, as a Telegram and a Zalo
account of one person would send: `/lienket`, the code typed on the other, what follows the
person, what is refused and why, and where the outbox reaches them. Both databases."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.admin import create_invites, set_active
from bot.conversation import Conversation
from bot.messages import Choices, CommandMenu, Incoming, Kind, Notice, Outgoing, Text
from bot.settings import Settings
from locales.catalog import translate
from storage.models import AuditEntry, RegistrationFailure, Role, UserIdentity
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.helpers import seed_areas
from tests.interview_driver import seed_household

# A day after the clock of the run: accounts registered with the real clock (a user's
# created_at) come before a link made at NOW, as they do in use. (A fixed date here listed
# the linked account first once the real clock passed it.)
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
TELEGRAM, ZALO = ("telegram", "111"), ("zalo-bot", "6ede9afa")
CODE = re.compile(r"/lienket ([A-Z0-9]{8})")


class Chats:
    """One Conversation on a clock the test moves; each message with an update key of its
    own, and its replies confirmed delivered, as a channel does."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.now = NOW
        self.conversation = Conversation(database.sessions, settings, clock=lambda: self.now)
        self.keys = itertools.count(1)

    async def send(self, account: tuple[str, str], text: str, name: str = "Hoa") -> list[str]:
        platform, user_id = account
        kind, command, args = Incoming.parse_text(text)
        incoming = Incoming(
            platform, user_id, user_id, name, kind, text, command, args, update_key=self.key()
        )
        return await self._handle(incoming)

    async def press(self, account: tuple[str, str], data: str) -> list[str]:
        platform, user_id = account
        incoming = Incoming(
            platform, user_id, user_id, "Hoa", Kind.CHOICE, choice=data, update_key=self.key()
        )
        return await self._handle(incoming)

    def key(self) -> str:
        return str(next(self.keys))

    async def _handle(self, incoming: Incoming) -> list[str]:
        self.replies: list[Outgoing] = await self.conversation.handle(incoming)
        await self.conversation.delivered(incoming)
        return [r.text for r in self.replies if isinstance(r, Text | Choices | Notice)]

    def buttons(self) -> list[tuple[str, str]]:
        lists = [r for r in self.replies if isinstance(r, Choices)]
        return [(c.label, c.data) for c in lists[-1].choices] if lists else []

    async def code(self, account: tuple[str, str] = TELEGRAM) -> str:
        [reply] = await self.send(account, "/lienket")
        found = CODE.search(reply)
        assert found is not None, reply
        return found.group(1)


@pytest.fixture
async def chats(database: Database, settings: Settings) -> Chats:
    await seed_areas(database.sessions)
    return Chats(database, settings)


async def register(chats: Chats, database: Database, account: tuple[str, str], name: str) -> None:
    [invite] = await create_invites(
        database.sessions, Role.COLLABORATOR, "87-MH-A1", days=7, key=INVITE_KEY, now=NOW
    )
    replies = await chats.send(account, f"/start {invite.code}", name)
    assert "cộng tác viên của Ấp 1" in replies[0]


def joined(replies: list[str]) -> str:
    return "\n".join(replies)


async def accounts(database: Database) -> list[tuple[str, str, int]]:
    async with UnitOfWork(database.sessions) as uow:
        rows = await uow.session.execute(
            select(UserIdentity.platform, UserIdentity.platform_user_id, UserIdentity.user_id)
        )
        return sorted((p, a, u) for p, a, u in rows)


async def test_a_zalo_account_linked_by_a_code_is_the_same_person(
    chats: Chats, database: Database
) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    code = await chats.code()
    replies = await chats.send(ZALO, f"/lienket {code.lower()}", "Hoa trên Zalo")
    assert replies[0].startswith(
        "🔗 Đã liên kết: tài khoản Zalo này giờ là của Hoa (cộng tác viên)"
    )
    assert "Bạn dùng được bot trên: Telegram, Zalo." in replies[0]
    # Where the person stands follows: outside an interview, their menu, and the
    # platform's command list for their role.
    assert ("Thông tin của tôi", "cmd:whoami") in chats.buttons()
    assert any(isinstance(reply, CommandMenu) for reply in chats.replies)
    [who] = await chats.send(ZALO, "/whoami")
    assert "Tên: Hoa" in who and "Ấp 1" in who and "Kênh đã liên kết: Telegram, Zalo" in who
    [user_id] = {user for *_, user in await accounts(database)}
    # Registered and linked on the turns' clock, both.
    async with UnitOfWork(database.sessions) as uow:
        linked = await uow.identities.accounts(user_id)
    assert [(a.platform, a.linked_at) for a in linked] == [("telegram", NOW), ("zalo-bot", NOW)]
    assert await accounts(database) == [
        ("telegram", "111", user_id),
        ("zalo-bot", "6ede9afa", user_id),
    ]
    async with database.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "link.code_issued" in actions and "user.linked" in actions
    # Used once: the same code again is refused.
    other = ("zalo-bot", "someone")
    assert await chats.send(other, f"/lienket {code}") == [translate("linking.code_used")]


async def test_on_zalo_the_code_is_typed_after_start_too(chats: Chats, database: Database) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    code = await chats.code()
    replies = await chats.send(ZALO, f"/start {code}")
    assert replies[0].startswith("🔗 Đã liên kết")


async def test_an_interview_in_progress_continues_on_the_linked_account(
    chats: Chats, database: Database
) -> None:
    await seed_household(database.sessions, NOW.year)
    await register(chats, database, TELEGRAM, "Hoa")
    await chats.send(TELEGRAM, "/interview")
    await chats.send(TELEGRAM, "hh-test")
    [pick] = [data for label, data in chats.buttons() if "HH-TEST" in label]
    await chats.press(TELEGRAM, pick)
    [start] = [data for _, data in chats.buttons() if data.endswith(":ok")]
    question = joined(await chats.press(TELEGRAM, start))
    assert "Hộ ở khu vực nào?" in question
    code = await chats.code()
    # The /lienket reply was the last thing Telegram showed; the question comes on Zalo.
    replies = joined(await chats.send(ZALO, f"/lienket {code}"))
    assert "🔗 Đã liên kết" in replies and "Hộ ở khu vực nào?" in replies
    [rural] = [data for label, data in chats.buttons() if "Nông thôn" in label]
    after = joined(await chats.press(ZALO, rural))
    assert "Tường nhà" in after
    # Back on Telegram, text is not taken as an answer to what Telegram's screen showed
    # last: the current question is shown there again.
    replies = await chats.send(TELEGRAM, "Bền chắc")
    assert replies[0] == translate("delivery.shown_again")
    assert "Tường nhà" in joined(replies)


async def test_a_second_account_on_the_same_platform_is_refused_and_nothing_changes(
    chats: Chats, database: Database
) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    code = await chats.code()
    before = await accounts(database)
    replies = await chats.send(("telegram", "222"), f"/lienket {code}")
    assert replies == [translate("linking.platform_taken", platform="Telegram")]
    assert await accounts(database) == before
    # Not counted as a wrong code, and the code still works where it should.
    assert (await chats.send(ZALO, f"/lienket {code}"))[0].startswith("🔗 Đã liên kết")


async def test_an_account_of_someone_else_is_not_taken_over(
    chats: Chats, database: Database
) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    await register(chats, database, ZALO, "Lan")
    code = await chats.code()
    before = await accounts(database)
    replies = await chats.send(ZALO, f"/lienket {code}")
    assert replies == [
        translate("linking.registered_elsewhere", name="Lan", platform="Zalo"),
    ]
    assert await accounts(database) == before
    # Once staff deactivate Lan, the same code moves her account over to Hoa.
    await set_active(database.sessions, "zalo-bot:6ede9afa", active=False)
    assert await chats.send(ZALO, "/whoami") == [translate("fallback.deactivated")]
    replies = await chats.send(ZALO, f"/lienket {code}")
    assert replies[0].startswith("🔗 Đã liên kết: tài khoản Zalo này giờ là của Hoa")
    [who] = await chats.send(ZALO, "/whoami")
    assert "Tên: Hoa" in who
    async with database.sessions() as session:
        moved = await session.scalar(
            select(AuditEntry.details).where(AuditEntry.action == "user.linked")
        )
    assert moved is not None and moved["moved_from"] is not None


async def test_ones_own_code_on_an_account_already_linked(chats: Chats, database: Database) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    code = await chats.code()
    await chats.send(ZALO, f"/lienket {code}")
    again = await chats.code(ZALO)
    assert await chats.send(TELEGRAM, f"/lienket {again}") == [translate("linking.already_yours")]


async def test_codes_expire_and_the_newest_alone_works(chats: Chats, database: Database) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    first = await chats.code()
    second = await chats.code()
    assert await chats.send(ZALO, f"/lienket {first}") == [translate("linking.code_expired")]
    chats.now += timedelta(minutes=10)
    assert await chats.send(ZALO, f"/lienket {second}") == [translate("linking.code_expired")]
    third = await chats.code()
    chats.now += timedelta(minutes=9)
    assert (await chats.send(ZALO, f"/lienket {third}"))[0].startswith("🔗 Đã liên kết")


async def test_guessing_link_codes_locks_the_account_as_for_invites(
    chats: Chats, database: Database
) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    for guess in ("AAAA2222", "BBBB3333", "CCCC4444", "DDDD5555", "EEEE6666"):
        assert await chats.send(ZALO, f"/lienket {guess}") == [translate("linking.code_unknown")]
    code = await chats.code()
    assert await chats.send(ZALO, f"/lienket {code}") == [translate("registration.locked")]
    async with database.sessions() as session:
        count = await session.scalar(select(func.count(RegistrationFailure.id)))
    assert count == 5
    assert len(await accounts(database)) == 1


async def test_a_stranger_is_told_how_to_link(chats: Chats, database: Database) -> None:
    assert await chats.send(ZALO, "/lienket") == [translate("linking.how")]
    assert await chats.send(ZALO, "/link") == [translate("linking.how")]
    # An invite typed with /lienket registers as /start would.
    [invite] = await create_invites(
        database.sessions, Role.SUPERVISOR, "87-MH", days=7, key=INVITE_KEY, now=NOW
    )
    replies = await chats.send(ZALO, f"/lienket {invite.code}", "Lan")
    assert "giám sát viên của Xã Mỹ Hòa" in replies[0]


async def test_the_outbox_reaches_the_person_on_the_account_they_used_last(
    chats: Chats, database: Database
) -> None:
    await register(chats, database, TELEGRAM, "Hoa")
    code = await chats.code()
    chats.now += timedelta(minutes=1)
    await chats.send(ZALO, f"/lienket {code}")
    [(*_, user_id)] = (await accounts(database))[:1]
    async with UnitOfWork(database.sessions) as uow:
        assert (await uow.outbox.reach(user_id))[:2] == ZALO
    chats.now += timedelta(minutes=1)
    await chats.send(TELEGRAM, "/whoami")
    async with UnitOfWork(database.sessions) as uow:
        assert (await uow.outbox.reach(user_id))[:2] == TELEGRAM
