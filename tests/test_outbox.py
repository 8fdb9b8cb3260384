"""The outbox and its sender, on both databases, pushing through the fake Bot API over HTTP.

Time is a virtual clock the sender waits on (waiting moves it), shared with the fake's
limits: nothing sleeps, and 600 messages at 30 a second take no real 20 seconds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.channels.telegram import TelegramPush
from bot.conversation import Conversation
from bot.decisions.pacing import Limits
from bot.messages import Choice, Choices, Text
from bot.outbox import LEASE, OutboxSender
from bot.push import Pushable, PushResult, decode, encode
from locales.catalog import translate
from storage.db import create_engine, session_factory
from storage.leader import PostgresLeader
from storage.models import ChatBinding, OutboxMessage, Role
from storage.uow import UnitOfWork
from tests.conftest import POSTGRESQL_ONLY, Database, database_settings
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.helpers import add_person, message, seed_areas

START = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
SUPERVISOR = 9001


class VirtualClock:
    def __init__(self) -> None:
        self.moment = START

    def now(self) -> datetime:
        return self.moment

    def seconds(self) -> float:
        return self.moment.timestamp()

    def advance(self, delta: timedelta) -> None:
        self.moment += delta

    async def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)


class VirtualAlarm:
    """Waiting moves the clock to the moment waited for, at once."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.woken = False

    async def wait(self, until: datetime) -> None:
        if self.woken:
            self.woken = False
        elif until > self.clock.moment:
            self.clock.moment = until
        await asyncio.sleep(0)

    def wake(self) -> None:
        self.woken = True


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{fake_telegram.base_url}/bot") as bot:
        yield bot


async def people(database: Database, chats: range) -> dict[int, int]:
    """Collaborators of Ấp 1 reachable in ``chats`` (Telegram ids), and a supervisor of the
    commune; {chat: user id}."""
    await seed_areas(database.sessions)
    ids: dict[int, int] = {}
    for chat, role, area in [
        *((chat, Role.COLLABORATOR, "87-MH-A1") for chat in chats),
        (SUPERVISOR, Role.SUPERVISOR, "87-MH"),
    ]:
        user = await add_person(
            database.sessions, "telegram", str(chat), f"Người {chat}", role, area
        )
        async with UnitOfWork(database.sessions) as uow:
            await uow.users.bind_chat(user, "telegram", str(chat), START)
            await uow.commit()
        ids[chat] = user.id
    return ids


async def enqueue(
    database: Database, user_id: int, text: str, key: str, at: datetime = START
) -> bool:
    async with UnitOfWork(database.sessions) as uow:
        stored = await uow.outbox.enqueue(user_id, encode(Text(text)), key, at, START)
        await uow.commit()
    return stored


async def one_each(database: Database, chats: range, text: str) -> dict[int, int]:
    """A message ``"{text} {chat}"`` to each of ``chats`` (people made for them)."""
    ids = await people(database, chats)
    for chat in chats:
        await enqueue(database, ids[chat], f"{text} {chat}", f"{text}:{chat}")
    return ids


def limited(fake: FakeTelegram) -> VirtualClock:
    """A virtual clock the fake keeps Telegram's limits on (30 a second, 1 a second a chat)."""
    clock = VirtualClock()
    fake.enforce_limits(30, 1.0, clock=clock.seconds)
    return clock


def sender(database: Database, bot: Bot, clock: VirtualClock, **options: object) -> OutboxSender:
    return OutboxSender(
        database.sessions,
        TelegramPush(bot),
        clock=clock,
        alarm=VirtualAlarm(clock),
        sleep=clock.sleep,
        **options,  # type: ignore[arg-type]
    )


async def rows(database: Database) -> list[OutboxMessage]:
    async with UnitOfWork(database.sessions) as uow:
        found = list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        # Kept as loaded: the unit of work's rollback at exit would expire them.
        uow.session.expunge_all()
        return found


def delivered(fake: FakeTelegram) -> Counter[tuple[int, str]]:
    return Counter((m["chat_id"], m["text"]) for m in fake.sent if m["method"] == "sendMessage")


def test_messages_travel_as_json_and_back() -> None:
    choices = Choices("Mời họp", (Choice("Đã mời", "inv:1"), Choice("Chưa", "inv:0")), columns=2)
    assert decode(encode(choices)) == choices
    assert decode(encode(Text("Nhắc"))) == Text("Nhắc")


async def test_a_message_enqueued_in_a_transaction_that_rolls_back_is_never_sent(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    async with UnitOfWork(database.sessions) as uow:
        await uow.outbox.enqueue(ids[1001], encode(Text("Nhắc")), "r:1", START, START)
        # No commit: the change that called for the message did not happen.
    clock = VirtualClock()
    assert await sender(database, bot, clock).send_due() == 0
    assert await rows(database) == []
    assert fake_telegram.sent == []


async def test_the_same_dedupe_key_twice_is_one_row_and_one_message(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    assert await enqueue(database, ids[1001], "Nhắc họp", "meeting:7:1d")
    assert not await enqueue(database, ids[1001], "Nhắc họp (lần 2)", "meeting:7:1d")
    async with UnitOfWork(database.sessions) as uow:
        # Twice in one transaction too.
        assert await uow.outbox.enqueue(ids[1001], encode(Text("A")), "k", START, START)
        assert not await uow.outbox.enqueue(ids[1001], encode(Text("B")), "k", START, START)
        await uow.commit()
    assert [row.message["text"] for row in await rows(database)] == ["Nhắc họp", "A"]
    assert await sender(database, bot, VirtualClock()).send_due() == 2
    assert delivered(fake_telegram) == Counter({(1001, "Nhắc họp"): 1, (1001, "A"): 1})


async def test_a_message_waits_for_its_time(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    await enqueue(database, ids[1001], "Sáng mai họp", "r:1", START + timedelta(hours=6))
    clock = VirtualClock()
    outbox = sender(database, bot, clock)
    assert await outbox.send_due() == 0
    clock.advance(timedelta(hours=6))
    assert await outbox.send_due() == 1
    assert delivered(fake_telegram) == Counter({(1001, "Sáng mai họp"): 1})
    [row] = await rows(database)
    assert row.sent_at == START + timedelta(hours=6) and row.attempts == 1


async def test_buttons_reach_the_chat(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    message = Choices("Hộ H01", (Choice("Đã mời", "inv:1"),))
    async with UnitOfWork(database.sessions) as uow:
        await uow.outbox.enqueue(ids[1001], encode(message), "r:1", START, START)
        await uow.commit()
    await sender(database, bot, VirtualClock()).send_due()
    [sent] = fake_telegram.messages_to(1001)
    assert sent["reply_markup"]["inline_keyboard"] == [
        [{"text": "Đã mời", "callback_data": "inv:1"}]
    ]


async def test_a_restart_between_enqueue_and_send_sends_it_once(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1003))
    await enqueue(database, ids[1001], "Trước khi dừng", "r:1")
    await database.engine.dispose()
    # Another process, started later, on the same database.
    engine = create_engine(database.url, schema=database.schema)
    try:
        sessions = session_factory(engine)
        clock = VirtualClock()
        clock.advance(timedelta(days=1))
        outbox = OutboxSender(
            sessions, TelegramPush(bot), clock=clock, alarm=VirtualAlarm(clock), worker="new"
        )
        assert await outbox.send_due() == 1
        assert await outbox.send_due() == 0
    finally:
        await engine.dispose()
    assert delivered(fake_telegram) == Counter({(1001, "Trước khi dừng"): 1})


async def test_a_claim_of_a_sender_that_died_runs_out(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    await enqueue(database, ids[1001], "Nhắc", "r:1")
    async with UnitOfWork(database.sessions) as uow:
        assert len(await uow.outbox.claim("dead", START, LEASE, 10)) == 1
        await uow.commit()
    clock = VirtualClock()
    outbox = sender(database, bot, clock)
    assert await outbox.send_due() == 0
    clock.advance(LEASE)
    assert await outbox.send_due() == 1
    assert delivered(fake_telegram) == Counter({(1001, "Nhắc"): 1})
    [row] = await rows(database)
    assert row.attempts == 2 and row.claimed_by is None


@POSTGRESQL_ONLY
async def test_two_senders_drain_one_outbox_exactly_once(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    chats = range(2001, 2121)
    await one_each(database, chats, "Tin")
    second = create_engine(database.url, schema=database.schema)
    try:
        clock = VirtualClock()
        one = sender(database, bot, clock, worker="one", batch=7)
        two = OutboxSender(
            session_factory(second),
            TelegramPush(bot),
            clock=clock,
            alarm=VirtualAlarm(clock),
            worker="two",
            batch=7,
        )
        counts = await asyncio.gather(one.send_due(), two.send_due())
    finally:
        await second.dispose()
    assert sum(counts) == len(chats)
    assert delivered(fake_telegram) == Counter({(chat, f"Tin {chat}"): 1 for chat in chats})
    assert all(row.sent_at is not None for row in await rows(database))


@POSTGRESQL_ONLY
async def test_one_process_pushes_on_postgresql(database: Database) -> None:
    second = create_engine(database.url, schema=database.schema)
    first_leader, second_leader = PostgresLeader(database.engine), PostgresLeader(second)
    try:
        assert await first_leader.hold()
        assert not await second_leader.hold()
        assert await first_leader.hold()
        await first_leader.release()
        assert await second_leader.hold()
        assert not await first_leader.hold()
    finally:
        await first_leader.release()
        await second_leader.release()
        await second.dispose()


async def test_flood_control_waits_retry_after_and_sends(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1003))
    await enqueue(database, ids[1001], "Một", "r:1")
    await enqueue(database, ids[1002], "Hai", "r:2")
    fake_telegram.user(id=1001).flood(messages=1, retry_after=3)
    clock = VirtualClock()
    assert await sender(database, bot, clock).send_due() == 3
    assert delivered(fake_telegram) == Counter({(1001, "Một"): 1, (1002, "Hai"): 1})
    assert [e[1] for e in fake_telegram.api_errors] == [429]
    # Nothing went during the pause Telegram asked for.
    assert clock.now() >= START + timedelta(seconds=3)
    first, second = await rows(database)
    assert first.sent_at is not None and first.sent_at >= START + timedelta(seconds=3)
    assert second.sent_at is not None and second.sent_at >= START + timedelta(seconds=3)
    # Flood control is not the message's fault.
    assert first.attempts == 1


async def test_a_user_who_blocked_the_bot_is_not_tried_again_and_the_supervisor_is_told(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    await enqueue(database, ids[1001], "Nhắc một", "r:1")
    await enqueue(database, ids[1001], "Nhắc hai", "r:2")
    fake_telegram.user(id=1001).block()
    clock = VirtualClock()
    await sender(database, bot, clock).send_due()
    async with UnitOfWork(database.sessions) as uow:
        binding = await uow.session.get(ChatBinding, (ids[1001], "telegram"))
        assert binding is not None
        assert not binding.active and binding.blocked_at == START
    # One 403, not one per message.
    assert [e[1] for e in fake_telegram.api_errors] == [403]
    [note] = fake_telegram.messages_to(SUPERVISOR)
    assert note["text"] == translate("outbox.blocked_note", "vi", name="Người 1001", areas="Ấp 1")
    first, second, _note = await rows(database)
    assert first.failure == second.failure == "blocked"
    # Later messages to them are kept as undelivered, and not tried.
    assert await enqueue(database, ids[1001], "Nhắc ba", "r:3")
    assert await sender(database, bot, clock).send_due() == 0
    assert fake_telegram.messages_to(1001) == []
    async with UnitOfWork(database.sessions) as uow:
        counts = await uow.outbox.counts()
    assert (counts.pending, counts.sent, counts.failed) == (0, 1, 3)


async def test_pacing_keeps_within_the_bot_apis_limits(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    chats = range(3001, 3061)
    ids = await one_each(database, chats, "Một")
    for chat in chats[:30]:
        await enqueue(database, ids[chat], f"Hai {chat}", f"b:{chat}")
    clock = limited(fake_telegram)
    assert await sender(database, bot, clock).send_due() == 90
    assert fake_telegram.rate_limited == 0
    assert delivered(fake_telegram) == Counter(
        [(chat, f"Một {chat}") for chat in chats] + [(chat, f"Hai {chat}") for chat in chats[:30]]
    )
    # Evenly spaced at the full rate: 30 in each 1.002 s (a second and the margin), so 89
    # gaps of 33.4 ms.
    assert clock.now() - START == pytest.approx(
        timedelta(seconds=89 * 1.002 / 30), abs=timedelta(milliseconds=1)
    )


async def test_without_pacing_the_fake_refuses(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    """The check above can fail: pushed faster than the limits, the fake answers 429."""
    chats = range(3001, 3041)
    await one_each(database, chats, "Một")
    clock = limited(fake_telegram)
    await sender(database, bot, clock, limits=Limits(per_second=1000)).send_due()
    assert fake_telegram.rate_limited > 0
    # ...and nothing is lost: each went once, after the wait.
    assert delivered(fake_telegram) == Counter({(chat, f"Một {chat}"): 1 for chat in chats})


async def test_interactive_replies_take_slots_of_the_broadcast_and_nothing_is_refused(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    chats = range(3001, 3061)
    await one_each(database, chats, "Tin")
    clock = limited(fake_telegram)
    waits: list[float] = []

    class Answering(TelegramPush):
        """After every third push, a collaborator's question is answered, as the Telegram
        channel sends a reply: through the sender, which gives it a slot."""

        async def push(self, chat_id: str, message: Pushable) -> PushResult:
            result = await super().push(chat_id, message)
            if len(fake_telegram.sent) % 4 == 3:
                chat = 5001 + len(waits)
                asked = clock.now()
                async with outbox.replying(str(chat)):
                    waits.append((clock.now() - asked).total_seconds())
                    await bot.send_message(chat, "Câu hỏi tiếp theo")
            return result

    outbox = OutboxSender(
        database.sessions,
        Answering(bot),
        clock=clock,
        alarm=VirtualAlarm(clock),
        sleep=clock.sleep,
    )
    assert await outbox.send_due() == 60
    assert fake_telegram.rate_limited == 0
    assert len(fake_telegram.sent) == 80
    # Asked just after a push took its slot, each reply waits for the next one (33.4 ms:
    # 30 slots in 1.002 s), not for the pushes still waiting...
    assert waits == pytest.approx([1.002 / 30] * 20, abs=2e-6)
    # ...and the outbox takes the slots the replies leave: 80 messages in as many slots, but
    # for the two the replies' waits cost (a push counts until its answer came back, and
    # here that was after its reply).
    assert clock.now() - START <= timedelta(seconds=81 * 1.002 / 30 + 1e-6)


async def test_replies_alone_never_wait_and_the_outbox_gives_way_to_them(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    await enqueue(database, ids[1001], "Nhắc", "r:1")
    clock = limited(fake_telegram)
    outbox = sender(database, bot, clock)
    # A second's worth of replies to 30 people answering at once: none waits.
    for chat in range(5001, 5031):
        async with outbox.replying(str(chat)):
            await bot.send_message(chat, "Câu hỏi tiếp theo")
    assert clock.now() == START
    assert await outbox.send_due() == 1
    assert fake_telegram.rate_limited == 0
    # The push waited until the replies' second (and the margin) was over.
    assert clock.now() - START == pytest.approx(
        timedelta(seconds=1.002), abs=timedelta(milliseconds=1)
    )


async def test_the_sender_loop_sends_what_is_enqueued_and_stops(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1003))
    await enqueue(database, ids[1001], "Có sẵn", "r:1")
    clock = VirtualClock()
    outbox = sender(database, bot, clock)
    running = asyncio.create_task(outbox.run())
    await fake_telegram.wait_for_messages(1001)
    async with UnitOfWork(database.sessions) as uow:
        await uow.outbox.enqueue(ids[1002], encode(Text("Mới")), "r:2", clock.now(), clock.now())
        await uow.commit()
    outbox.wake()
    [new] = await fake_telegram.wait_for_messages(1002)
    assert new["text"] == "Mới"
    outbox.stop()
    await asyncio.wait_for(running, 5)
    assert delivered(fake_telegram) == Counter({(1001, "Có sẵn"): 1, (1002, "Mới"): 1})


async def test_start_after_unblocking_reopens_the_chat(
    database: Database, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    ids = await people(database, range(1001, 1002))
    fake_telegram.user(id=1001).block()
    await enqueue(database, ids[1001], "Trước", "r:1")
    clock = VirtualClock()
    await sender(database, bot, clock).send_due()
    fake_telegram.user(id=1001).block(False)
    conversation = Conversation(database.sessions, database_settings(database))
    await conversation.handle(message("/start", user_id="1001", platform="telegram"))
    await enqueue(database, ids[1001], "Sau", "r:2")
    await sender(database, bot, clock).send_due()
    assert [m["text"] for m in fake_telegram.messages_to(1001)] == ["Sau"]
