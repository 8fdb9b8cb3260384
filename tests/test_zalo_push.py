"""Messages the bot sends on its own, to people on Zalo Bot: the outbox sender pushing
through the real Zalo channel to the fake Bot Platform over loopback HTTP, on a clock the
test moves (nothing sleeps). Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.channels.zalo_bot import PLATFORM, ZaloBotChannel, open_channel
from bot.channels.zalo_push import ZaloBotPush
from bot.channels.zalo_webhook import polling
from bot.meetings_cli import add_meeting
from bot.messages import Text
from bot.outbox import OutboxSender
from bot.push import encode
from bot.reminders import ReminderScheduler
from bot.settings import Settings
from locales.catalog import translate
from storage.models import (
    ChatBinding,
    Household,
    MeetingInvitation,
    OutboxMessage,
    Role,
)
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import add_person, add_poor_households, seed_areas
from tests.surfaces import ZaloSurface
from tests.test_outbox import VirtualAlarm, VirtualClock
from tests.test_zalo_bot_e2e import Waits, new_invite, zalo_settings

COLLABORATOR = "0a1b2c3d4e5f60718293"
VN = timedelta(hours=7)


@asynccontextmanager
async def zalo(settings: Settings) -> AsyncIterator[ZaloBotChannel]:
    """A process of the channel (polling the fake): a new one knows nothing in memory."""
    async with open_channel(settings, sleep=Waits()) as channel, polling(channel, None, seconds=1):
        yield channel


def sender(channel: ZaloBotChannel, clock: VirtualClock, name: str) -> OutboxSender:
    """The process's outbox sender, as bot.service starts it, on the test's clock."""
    runtime = channel.runtime
    return OutboxSender(
        runtime.sessions,
        ZaloBotPush(channel),
        write=runtime.conversation.write,
        clock=clock,
        alarm=VirtualAlarm(clock),
        worker=name,
    )


async def register(fake: FakeZaloBot, channel: ZaloBotChannel, database: Database) -> int:
    surface = ZaloSurface(fake, channel, COLLABORATOR)
    code = await new_invite(database, Role.COLLABORATOR, "87-MH-A1")
    replies = await surface.type(f"/start {code}")
    assert any("cộng tác viên của Ấp 1" in reply for reply in replies), replies
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id(PLATFORM, COLLABORATOR)
        assert user is not None
        return user.id


async def invited(database: Database) -> list[str]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(Household.code)
            .join(MeetingInvitation, MeetingInvitation.household_id == Household.id)
            .where(MeetingInvitation.invited_at.is_not(None))
            .order_by(Household.code)
        )
        return list(rows.scalars())


async def test_a_meeting_reminder_reaches_a_zalo_collaborator_as_a_numbered_list(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    await seed_areas(database.sessions)
    await add_poor_households(database.sessions)
    settings = zalo_settings(database, fake_zalo)
    day = (datetime.now(UTC) + VN + timedelta(days=10)).date()
    starts_at = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    clock = VirtualClock()
    async with zalo(settings) as channel:
        await register(fake_zalo, channel, database)
        said = await add_meeting(
            database.sessions,
            settings,
            when=f"{day:%d/%m/%Y} 08:00",
            place="Hội trường UBND xã",
            villages="87-MH-A1",
            categories="poor",
            now=datetime.now(UTC),
        )
        assert "2" in said
        seen = len(fake_zalo.messages_to(COLLABORATOR))

        # Three days before: the sweep writes the reminder, the sender pushes it to Zalo.
        clock.moment = starts_at - timedelta(days=3)
        outbox = sender(channel, clock, "first")
        reminders = ReminderScheduler(
            channel.runtime.conversation.write,
            settings,
            wake=outbox.wake,
            clock=clock,
            alarm=VirtualAlarm(clock),
        )
        assert await reminders.sweep() == 1
        assert await outbox.send_due() == 1
        [reminder] = fake_zalo.messages_to(COLLABORATOR)[seen:]
        assert "Hội trường UBND xã" in reminder
        lines = reminder.split("\n")
        assert "1. Đã mời: A1-01 · Nguyễn Văn An" in lines
        assert "2. Đã mời: A1-02 · Trần Thị Bé" in lines

        # The collaborator types the number of the first: it is marked invited.
        surface = ZaloSurface(fake_zalo, channel, COLLABORATOR)
        assert await surface.type("1") == [translate("meetings.invited_ok", code="A1-01")]
        assert await invited(database) == ["A1-01"]

    # After a restart (nothing in memory), the second's number still picks what was shown.
    async with zalo(settings) as channel:
        surface.attach(channel)
        assert await surface.type("2") == [translate("meetings.invited_ok", code="A1-02")]
    assert await invited(database) == ["A1-01", "A1-02"]
    assert fake_zalo.errors == []


async def outbox_rows(database: Database) -> list[OutboxMessage]:
    async with UnitOfWork(database.sessions) as uow:
        found = list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        uow.session.expunge_all()
        return found


@asynccontextmanager
async def registered(
    database: Database, fake: FakeZaloBot
) -> AsyncIterator[tuple[ZaloBotChannel, int]]:
    """The channel, and the collaborator who registered on it by a typed code."""
    await seed_areas(database.sessions)
    async with zalo(zalo_settings(database, fake)) as channel:
        yield channel, await register(fake, channel, database)


async def enqueue(database: Database, user_id: int, text: str, at: datetime) -> None:
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.outbox.enqueue(user_id, encode(Text(text)), text, at, at)
        await uow.commit()


async def test_zalos_429_pauses_the_outbox_a_bounded_while_then_the_message_goes(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    clock = VirtualClock()
    async with registered(database, fake_zalo) as (channel, user):
        seen = len(fake_zalo.messages_to(COLLABORATOR))
        await enqueue(database, user, "Nhắc: họp thôn tối nay", clock.now())
        fake_zalo.fail("sendMessage", 429, 429)
        outbox = sender(channel, clock, "one")

        # 429 has no retry_after: a pause of 2 s, then twice as long while Zalo refuses.
        start = clock.now()
        assert await outbox.send_due() == 1
        [row] = await outbox_rows(database)
        assert row.sent_at is None and row.not_before == start + timedelta(seconds=2)
        clock.advance(timedelta(seconds=2))
        assert await outbox.send_due() == 1
        [row] = await outbox_rows(database)
        assert row.not_before == start + timedelta(seconds=6)
        # Flood control is not the message's fault: no attempt counted against it.
        assert row.attempts == 0
        clock.advance(timedelta(seconds=4))
        assert await outbox.send_due() == 1
        assert fake_zalo.messages_to(COLLABORATOR)[seen:] == ["Nhắc: họp thôn tối nay"]
        [row] = await outbox_rows(database)
        assert row.sent_at == clock.now()
    assert fake_zalo.errors == [("sendMessage", 429), ("sendMessage", 429)]


async def test_zalos_403_is_tried_again_later_not_a_blocked_person(
    database: Database, fake_zalo: FakeZaloBot
) -> None:
    clock = VirtualClock()
    async with registered(database, fake_zalo) as (channel, user):
        await add_person(
            database.sessions,
            PLATFORM,
            "supervisor0000000000",
            "Giám sát",
            Role.SUPERVISOR,
            "87-MH",
        )
        await enqueue(database, user, "Nhắc: nộp phiếu", clock.now())
        fake_zalo.fail("sendMessage", 403)
        outbox = sender(channel, clock, "one")
        assert await outbox.send_due() == 1
        [row] = await outbox_rows(database)
        assert row.failed_at is None and row.sent_at is None
        assert row.not_before == clock.now() + timedelta(seconds=30)
        async with database.sessions() as session:
            binding = await session.get(ChatBinding, (user, "zalo-bot"))
            assert binding is not None and binding.active
        clock.advance(timedelta(seconds=30))
        assert await outbox.send_due() == 1
        assert fake_zalo.messages_to(COLLABORATOR)[-1] == "Nhắc: nộp phiếu"
    # Nobody was told of a block: the only message in the outbox is the reminder.
    assert [r.dedupe_key for r in await outbox_rows(database)] == ["Nhắc: nộp phiếu"]


async def test_each_platforms_sender_claims_its_own_peoples_messages(database: Database) -> None:
    await seed_areas(database.sessions)
    ids = {}
    for platform, person in (("telegram", "111"), (PLATFORM, COLLABORATOR)):
        user = await add_person(database.sessions, platform, person, person)
        ids[platform] = user.id
    now = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    await enqueue(database, ids[PLATFORM], "cho Zalo", now)
    await enqueue(database, ids["telegram"], "cho Telegram", now + timedelta(minutes=1))
    async with UnitOfWork(database.sessions) as uow:
        # Telegram's sender never takes the Zalo message, nor wakes for it.
        assert await uow.outbox.next_due("telegram") == now + timedelta(minutes=1)
        later = now + timedelta(minutes=5)
        [claimed] = await uow.outbox.claim("t", later, timedelta(minutes=2), 10, "telegram")
        assert claimed.platform == "telegram" and claimed.message == {"text": "cho Telegram"}
        [claimed] = await uow.outbox.claim("z", later, timedelta(minutes=2), 10, PLATFORM)
        assert claimed.platform == PLATFORM and claimed.chat_id == COLLABORATOR
        await uow.commit()
