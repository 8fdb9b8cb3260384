"""When typed text may answer a question the person never saw (bot.conversation.unseen)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.conversation import Conversation, GroupCommit, turn_key, unseen
from bot.messages import Choices, Incoming, Kind, Outgoing, Text
from bot.settings import Settings
from locales.catalog import translate
from storage.models import DialogState, Role
from storage.repositories import Receipt
from storage.uow import UnitOfWork
from tests.conftest import POISON, POSTGRESQL_ONLY, Database
from tests.helpers import add_person, add_terminal_users, message, seed_areas

SENT_OUT = datetime(2026, 12, 4, 9, 30, 15, 600_000, tzinfo=UTC)


ASKED = SENT_OUT - timedelta(seconds=1)


def state(
    seen_turn: datetime | None = ASKED,
    seen_at: datetime | None = SENT_OUT,
    seen_message: int | None = None,
    asked_at: datetime | None = ASKED,
) -> DialogState:
    return DialogState(
        user_id=1,
        dialog="interview",
        state={},
        asked_at=asked_at,
        seen_turn=seen_turn,
        seen_at=seen_at,
        seen_message=seen_message,
    )


def typed(sent_at: datetime | None, number: int | None = None) -> Incoming:
    return Incoming(
        "telegram", "7", "7", "Hoa", Kind.TEXT, text="2", sent_at=sent_at, message_number=number
    )


def unseen_at(state: DialogState, incoming: Incoming) -> bool:
    """``unseen`` a minute after the replies went out: reading time is not in question."""
    return unseen(state, incoming, SENT_OUT + timedelta(minutes=1))


def test_replies_not_confirmed_sent_are_unseen_whenever_the_text_was_typed() -> None:
    # The latest turn's receipt never came: the newest message is an older turn's, or none.
    earlier = ASKED - timedelta(seconds=30)
    assert unseen_at(state(seen_turn=earlier), typed(SENT_OUT + timedelta(hours=1), 99))
    assert unseen_at(state(seen_turn=None, seen_at=None), typed(None))


def test_older_replies_that_arrived_last_are_unseen_ones() -> None:
    # Another worker's reply to an earlier turn came after this turn's: the newest message
    # in the chat asks an older question, whatever the numbers and times say.
    older = ASKED - timedelta(milliseconds=5)
    assert unseen_at(state(seen_turn=older, seen_message=41), typed(SENT_OUT, 42))


@pytest.mark.parametrize(
    ("sent_at", "expected"),
    [
        # Stamped a second (or more) before the replies went out: typed before seeing them.
        (datetime(2026, 12, 4, 9, 30, 14, tzinfo=UTC), True),
        (datetime(2026, 12, 4, 9, 29, 0, tzinfo=UTC), True),
        # The same second, or later: taken as an answer.
        (datetime(2026, 12, 4, 9, 30, 15, tzinfo=UTC), False),
        (datetime(2026, 12, 4, 9, 30, 16, tzinfo=UTC), False),
        # A platform without timestamps: only the confirmation counts.
        (None, False),
    ],
)
def test_text_stamped_before_the_replies_went_out_is_unseen(
    sent_at: datetime | None, expected: bool
) -> None:
    assert unseen_at(state(), typed(sent_at)) is expected


@pytest.mark.parametrize(("number", "expected"), [(40, True), (41, False), (42, False)])
def test_where_messages_are_numbered_the_number_tells_exactly(number: int, expected: bool) -> None:
    # The question went out as message 41: message 40 was typed before it arrived, even
    # within the same second; 42 after, even if the platform's clock said otherwise.
    late = SENT_OUT + timedelta(seconds=5)
    early = SENT_OUT - timedelta(seconds=5)
    assert unseen_at(state(seen_message=41), typed(late, number)) is expected
    assert unseen_at(state(seen_message=41), typed(early, number)) is expected


@pytest.mark.parametrize(("after", "expected"), [(0.2, True), (0.99, True), (1.0, False)])
def test_text_sooner_than_one_can_read_the_question_is_not_its_answer(
    after: float, expected: bool
) -> None:
    # Typed before the question reached the phone, received just after it was sent (the
    # numbers cannot tell: the question went first): someone retyping after a silence.
    now = SENT_OUT + timedelta(seconds=after)
    second = timedelta(seconds=1)
    assert unseen(state(seen_message=41), typed(SENT_OUT, 42), now, second) is expected
    # A button names its question: pressed however soon, it is not in doubt.
    pressed = Incoming("telegram", "7", "7", "Hoa", Kind.CHOICE, choice="a:1:2:0")
    assert not unseen(state(seen_message=41), pressed, now, second)
    # Turned off (RASOAT_READING_TIME=0): only the numbers tell.
    assert not unseen(state(seen_message=41), typed(SENT_OUT, 42), now)


def test_nothing_asked_yet_is_nothing_unseen() -> None:
    assert not unseen_at(state(seen_turn=None, seen_at=None, asked_at=None), typed(SENT_OUT))


async def test_receipts_arriving_during_a_write_go_together_in_the_next() -> None:
    writes: list[list[str]] = []
    release = asyncio.Event()

    async def write(items: list[str]) -> None:
        writes.append(items)
        if len(writes) == 1:
            await release.wait()

    commit = GroupCommit(write)
    first = asyncio.create_task(commit.add("a"))
    await asyncio.sleep(0)
    others = [asyncio.create_task(commit.add(item)) for item in "bcd"]
    await asyncio.sleep(0)
    assert not first.done()
    release.set()
    await asyncio.gather(first, *others)
    assert writes == [["a"], ["b", "c", "d"]]


async def test_a_failed_write_fails_each_of_its_receipts_and_no_later_one() -> None:
    calls = 0

    async def write(items: list[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")

    commit = GroupCommit(write)
    with pytest.raises(ConnectionError):
        await commit.add("a")
    await commit.add("b")
    assert calls == 2


async def test_a_late_receipt_of_an_older_message_does_not_hide_a_newer_one(
    database: Database,
) -> None:
    await seed_areas(database.sessions)
    added = await add_person(database.sessions, "telegram", "71", "Hoa")
    user_id = added.id
    first, second = ASKED, ASKED + timedelta(seconds=2)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.get(user_id)
        assert user is not None
        await uow.dialogs.set(user, "interview", {})
        await uow.commit()

    async def receive(*receipts: Receipt) -> DialogState:
        async with UnitOfWork(database.sessions) as uow:
            await uow.dialogs.seen(receipts, SENT_OUT)
            await uow.commit()
        return await stored_state(database, user_id)

    # Message 12 (the second turn's) was confirmed first, then 11 (the first's), late.
    row = await receive(Receipt(user_id, second, 12))
    row = await receive(Receipt(user_id, first, 11))
    assert (row.seen_turn, row.seen_message) == (second, 12)
    # A later message of the first turn (another worker's, sent late) is the newest.
    row = await receive(Receipt(user_id, first, 13))
    assert (row.seen_turn, row.seen_message) == (first, 13)
    # Unnumbered (a platform without ordered ids): the later turn wins, whatever the order.
    row = await receive(Receipt(user_id, second + timedelta(seconds=5), None))
    row = await receive(Receipt(user_id, second, None))
    assert row.seen_turn == second + timedelta(seconds=5)


@pytest.mark.parametrize("receipt", ["none", "apart", "with the turn"])
async def test_a_receipt_handed_on_first_is_written_before_the_persons_next_turn(
    database: Database, settings: Settings, receipt: str
) -> None:
    # The turn process's child gets a receipt with the call that follows it, often the
    # person's next turn, and answers nothing for it: the turn must find it written.
    await seed_areas(database.sessions)
    await add_terminal_users(database.sessions, {"111": (Role.COLLABORATOR, "87-MH-A1")})
    conversation = Conversation(database.sessions, settings)
    try:
        asked = message("/interview", update_key="1")
        assert await conversation.handle(asked)
        following = message("hh-test", update_key="2")
        if receipt != "none":
            before = following if receipt == "with the turn" else None
            conversation.delivered_first([(turn_key(asked), None)], before)
        replies = await conversation.handle(following)
    finally:
        conversation.close()
    texts = [reply.text for reply in replies if isinstance(reply, Text | Choices)]
    # Without it, the text is not taken: the question may never have been seen.
    assert (translate("delivery.not_taken") in texts) is (receipt == "none")


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements run on ``database`` meanwhile."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def stored_state(database: Database, user_id: int) -> DialogState:
    async with database.sessions() as session:
        row = await session.get(DialogState, user_id)
        assert row is not None
        return row


@dataclass
class Asked:
    """An's interview asked: the conversation, the update, An's user id, its asked_at."""

    conversation: Conversation
    update: Incoming
    user_id: int
    at: datetime


async def interview_asked(database: Database, settings: Settings, *others: str) -> Asked:
    """An (terminal user 111) asked the interview's first question; ``others`` registered."""
    await seed_areas(database.sessions)
    people = {person: (Role.COLLABORATOR, "87-MH-A1") for person in ("111", *others)}
    user_id = (await add_terminal_users(database.sessions, people))["111"]
    conversation = Conversation(database.sessions, settings)
    update = message("/interview", update_key="1")
    assert await conversation.handle(update)
    at = (await stored_state(database, user_id)).asked_at
    assert at is not None
    return Asked(conversation, update, user_id, at)


def not_taken(replies: list[Outgoing]) -> bool:
    """Whether typed text was not taken as an answer: its question may not have been seen."""
    texts = [reply.text for reply in replies if isinstance(reply, Text | Choices)]
    return translate("delivery.not_taken") in texts


@POSTGRESQL_ONLY
async def test_a_receipt_handed_on_with_its_persons_next_turn_is_written_by_that_turn(
    database: Database, settings: Settings
) -> None:
    # PostgreSQL: no statement of its own (a round trip and a WAL flush), no wait before
    # the turn; the turn's one UPDATE of the person's row carries it.
    an = await interview_asked(database, settings)
    following = message("hh-test", update_key="2")
    assert an.conversation.delivered_first([(turn_key(an.update), 31)], following) is None
    with statements(database) as run:
        assert not not_taken(await an.conversation.handle(following))
    [update] = [sql for sql in run if sql.startswith("UPDATE dialog_states")]
    assert "seen_turn" in update and "asked_at" in update
    row = await stored_state(database, an.user_id)
    assert (row.seen_turn, row.seen_message) == (an.at, 31)
    assert row.asked_at is not None and row.asked_at > an.at


@POSTGRESQL_ONLY
@pytest.mark.parametrize("carrier", ["a duplicate", "a failing turn"])
async def test_a_receipt_whose_turn_does_not_apply_is_written_apart(
    database: Database, settings: Settings, failing: None, carrier: str
) -> None:
    an = await interview_asked(database, settings)
    carrying = (
        message("/interview", update_key="1")
        if carrier == "a duplicate"
        else message(POISON, update_key="2")
    )
    an.conversation.delivered_first([(turn_key(an.update), None)], carrying)
    await an.conversation.handle(carrying)
    # The person's next turn waits for it, and finds it written.
    assert not not_taken(await an.conversation.handle(message("hh-test", update_key="3")))
    assert (await stored_state(database, an.user_id)).seen_turn == an.at


@POSTGRESQL_ONLY
async def test_a_receipt_handed_on_with_someone_elses_turn_is_written_apart(
    database: Database, settings: Settings
) -> None:
    an = await interview_asked(database, settings, "222")
    binh = message("/help", user_id="222", update_key="2")
    written = an.conversation.delivered_first([(turn_key(an.update), None)], binh)
    assert written is not None
    await asyncio.wait_for(written, 10)
    assert (await stored_state(database, an.user_id)).seen_turn == an.at
    assert await an.conversation.handle(binh)


@POSTGRESQL_ONLY
async def test_a_receipt_held_up_holds_up_its_persons_next_turn_and_no_one_elses(
    database: Database, settings: Settings
) -> None:
    # The receipt's UPDATE waits for a row lock another connection holds: Binh's turn goes
    # on meanwhile; An's next turn waits for it, and then finds it written.
    await seed_areas(database.sessions)
    people = {"111": (Role.COLLABORATOR, "87-MH-A1"), "222": (Role.COLLABORATOR, "87-MH-A1")}
    await add_terminal_users(database.sessions, people)
    conversation = Conversation(database.sessions, settings)
    asked = message("/interview", update_key="1")
    assert await conversation.handle(asked)
    async with database.engine.connect() as other:
        transaction = await other.begin()
        await other.execute(text("SELECT * FROM dialog_states FOR UPDATE"))
        conversation.delivered_first([(turn_key(asked), None)])
        binh = await asyncio.wait_for(
            conversation.handle(message("/help", user_id="222", update_key="2")), 10
        )
        assert binh
        an = asyncio.create_task(conversation.handle(message("hh-test", update_key="3")))
        await asyncio.sleep(0.3)
        assert not an.done()
        await transaction.rollback()
    texts = [r.text for r in await an if isinstance(r, Text | Choices)]
    assert translate("delivery.not_taken") not in texts
