"""A chat turn's first statements, each doing the work of two (issue #11): the sender's lock
with the ledger's claim, and the person with their open interview. What each pair
guaranteed apart, the one statement still does: the lock is waited for before the claim,
what the previous holder of the lock committed is seen, the interview read is locked, and
nothing is read for a deactivated person or from a dialog state damaged by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text, update

from bot.conversation import Conversation
from bot.decisions.interview import INTERVIEW_KEY
from bot.dialogs.interview import OPEN_INTERVIEW
from bot.interview.session import start_interview
from bot.messages import Text
from storage.models import DialogState, Household, User
from storage.repositories import Received, UpdateLedger, UserRepository
from storage.uow import UnitOfWork, Work
from tests.conftest import POSTGRESQL_ONLY, Database, database_settings
from tests.helpers import add_person, message, seed_areas
from tests.interview_driver import HOUSEHOLD_CODE, seed_household
from tests.test_interview_e2e import YEAR

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


async def hoa(database: Database) -> int:
    """Hoa, a collaborator on Telegram (111) and on Zalo (6ede9afa)."""
    await seed_areas(database.sessions)
    user = await add_person(database.sessions, "telegram", "111", "Hoa")
    async with UnitOfWork(database.sessions) as uow:
        await uow.identities.attach(user.id, "zalo-bot", "6ede9afa", NOW)
        await uow.commit()
    return user.id


async def in_interview(database: Database, state: dict[str, object] | None = None) -> int:
    """Hoa in the interview dialog of an interview opened for her (its id), or with the
    dialog state ``state`` naming it (``{}``: as the cursor stores it)."""
    user_id = await hoa(database)
    household_id = await seed_household(database.sessions, YEAR)
    async with UnitOfWork(database.sessions) as uow:
        household = await uow.session.get(Household, household_id)
        user = await uow.users.get(user_id)
        assert household is not None and user is not None
        interview = await uow.run(lambda work: start_interview(work, household, user, NOW))
        stored = state if state is not None else {INTERVIEW_KEY: interview.id, "mode": "ask"}
        await uow.dialogs.set(user, OPEN_INTERVIEW.dialog, stored)
        await uow.commit()
        return interview.id


async def _waits_on_a_lock(database: Database, pid: int) -> bool:
    """Whether the backend ``pid`` is waiting for a lock, asked until it is (or long enough
    for any test run to show it: the waiting statement was sent before)."""
    async with database.engine.connect() as probe:
        for _ in range(10_000):
            waiting = await probe.scalar(
                text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                {"pid": pid},
            )
            if waiting:
                return True
    return False


@POSTGRESQL_ONLY
async def test_a_claim_waits_for_the_persons_lock_and_then_sees_the_update_applied(
    database: Database,
) -> None:
    await hoa(database)
    async with database.sessions() as first, database.sessions() as second:
        claimed = await first.run_sync(
            lambda s: UpdateLedger(s).hold_and_claim("telegram", "111", "1")
        )
        assert claimed
        pid = int(await second.scalar(text("SELECT pg_backend_pid()")))
        # Another update of the same person, from their other account: held up by the lock
        # (the ledger alone would let it through, its key being another).
        other = asyncio.create_task(
            second.run_sync(lambda s: UpdateLedger(s).hold_and_claim("zalo-bot", "6ede9afa", "9"))
        )
        assert await _waits_on_a_lock(database, pid)
        assert not other.done()
        await first.commit()
        assert await asyncio.wait_for(other, 10)
        # The first update again, redelivered to this worker: applied already.
        again = await second.run_sync(
            lambda s: UpdateLedger(s).hold_and_claim("telegram", "111", "1")
        )
        assert not again
        await second.commit()


@POSTGRESQL_ONLY
async def test_a_worker_waiting_for_the_lock_holds_nothing_of_the_update_it_waits_with(
    database: Database,
) -> None:
    """Worker A holds Hoa when worker B is handed her update 1 (a redelivery): B waits for
    the lock without having marked the inbox's row, so A, handed update 1 too, marks it,
    claims it and commits, and B then finds it applied (marked first, B would hold the row
    A waits for while waiting for A's lock: a deadlock)."""
    await hoa(database)
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", [Received("1", "111", {"update_id": 1})])
        await uow.commit()
    async with database.sessions() as first, database.sessions() as second:
        await first.run_sync(lambda s: UpdateLedger(s).hold_sender("telegram", "111"))
        pid = int(await second.scalar(text("SELECT pg_backend_pid()")))
        other = asyncio.create_task(
            second.run_sync(lambda s: UpdateLedger(s).hold_and_claim("telegram", "111", "1"))
        )
        assert await _waits_on_a_lock(database, pid)
        # In a deadlock PostgreSQL would end one of the two with an error (after its
        # deadlock_timeout): B's, found first, and `other` would raise.
        claimed = first.run_sync(lambda s: UpdateLedger(s).hold_and_claim("telegram", "111", "1"))
        assert await asyncio.wait_for(claimed, 10)
        await first.commit()
        assert not await asyncio.wait_for(other, 10)
        await second.commit()
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.inbox.unapplied("telegram") == []


@POSTGRESQL_ONLY
async def test_in_order_sees_as_applied_an_earlier_update_the_lock_holder_applied(
    database: Database,
) -> None:
    """Worker A applies Hoa's update 1 while worker B receives her update 2, asked to keep
    the order: B waits for A's lock, and then finds update 1 applied, not waiting for it."""
    await hoa(database)
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep(
            "telegram", [Received(key, "111", {"update_id": key}) for key in ("1", "2")]
        )
        await uow.commit()
    conversation = Conversation(database.sessions, database_settings(database))
    async with database.sessions() as first:
        await first.run_sync(lambda s: UpdateLedger(s).hold_and_claim("telegram", "111", "1"))
        waiting_before = await _count_lock_waits(database)
        second = asyncio.create_task(
            conversation.handle(
                message("/whoami", user_id="111", update_key="2", platform="telegram"),
                in_order=True,
            )
        )
        while await _count_lock_waits(database) == waiting_before:
            assert not second.done(), second.result()
        await first.commit()
    # EarlierFirst, if raised, comes out here.
    replies = await asyncio.wait_for(second, 10)
    assert any(isinstance(reply, Text) for reply in replies)
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.inbox.unapplied("telegram") == []


async def _count_lock_waits(database: Database) -> int:
    async with database.engine.connect() as probe:
        return int(await probe.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


@POSTGRESQL_ONLY
async def test_the_interview_read_with_the_person_is_locked_until_commit(
    database: Database,
) -> None:
    interview_id = await in_interview(database)
    async with database.sessions() as first, database.sessions() as second:
        read = await first.run_sync(
            lambda s: UserRepository(s).for_turn("telegram", "111", OPEN_INTERVIEW)
        )
        assert read.interview is not None and read.interview.id == interview_id
        pid = int(await second.scalar(text("SELECT pg_backend_pid()")))
        other = asyncio.create_task(
            second.execute(
                text("SELECT id FROM interviews WHERE id = :id FOR UPDATE"), {"id": interview_id}
            )
        )
        assert await _waits_on_a_lock(database, pid)
        assert not other.done()
        await first.commit()
        await asyncio.wait_for(other, 10)
        await second.commit()


async def test_the_open_interview_comes_with_the_person_and_stays_as_changed(
    database: Database,
) -> None:
    interview_id = await in_interview(database)
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.users.for_turn("zalo-bot", "6ede9afa", OPEN_INTERVIEW)
        assert read.user is not None and read.state is not None
        assert read.interview is not None and read.interview.id == interview_id
        assert read.interview.household.code == HOUSEHOLD_CODE
        uow.interviews.remember(read.interview)
        moved = await uow.interviews.change(read.interview, step=7)
        # Handed back as this transaction changed it, not as it was read.
        assert await uow.interviews.get_for_update(interview_id) == moved
        assert moved.step == 7
        await uow.commit()


@pytest.mark.parametrize(
    "named",
    ["abc", 1.5, 99_999_999_999, None, [1]],
    ids=["text", "fraction", "huge", "null", "list"],
)
async def test_a_state_damaged_by_hand_reads_no_interview_and_fails_nothing(
    database: Database, named: object
) -> None:
    await in_interview(database, {INTERVIEW_KEY: named})
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.users.for_turn("telegram", "111", OPEN_INTERVIEW)
        assert read.user is not None and read.state is not None
        assert read.interview is None


async def test_no_interview_is_read_in_another_dialog(database: Database) -> None:
    interview_id = await in_interview(database)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("telegram", "111")
        assert user is not None
        await uow.dialogs.set(user, "households", {INTERVIEW_KEY: interview_id})
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.users.for_turn("telegram", "111", OPEN_INTERVIEW)
        assert read.state is not None and read.interview is None


async def test_no_interview_is_read_for_a_deactivated_person(database: Database) -> None:
    """A deactivated person's turn (a link code typed from their account may take another
    person's lock after it) holds no interview's row."""
    await in_interview(database)
    async with UnitOfWork(database.sessions) as uow:
        await uow.session.execute(update(User).values(active=False))
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.users.for_turn("telegram", "111", OPEN_INTERVIEW)
        assert read.user is not None and not read.user.active
        assert read.state is not None and read.interview is None


async def test_a_turn_moving_the_dialog_and_marking_it_asked_writes_the_row_once(
    database: Database,
) -> None:
    user_id = await hoa(database)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.get(user_id)
        assert user is not None
        await uow.dialogs.set(user, "idle", {})
        await uow.commit()
    sent: list[str] = []

    # The listener's other arguments are not read (see tests/test_ledger_plans.py).
    def seen(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("UPDATE DIALOG_STATES"):
            sent.append(args[2])

    def turn(work: Work) -> None:
        person = work.users.get(user_id)
        assert person is not None
        work.dialogs.hold_writes()
        work.dialogs.set(person, "households", {"page": 2})
        # Read back as changed, before it is written.
        state = work.dialogs.get(person)
        assert state is not None and state.state == {"page": 2}
        work.dialogs.mark_asked(person, NOW, "zalo-bot")
        work.dialogs.write_held()

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with UnitOfWork(database.sessions) as uow:
            await uow.run(turn)
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(sent) == 1
    async with UnitOfWork(database.sessions) as uow:
        stored = await uow.session.get(DialogState, user_id)
        assert stored is not None
        assert (stored.dialog, stored.state, stored.asked_at, stored.asked_on) == (
            "households",
            {"page": 2},
            NOW,
            "zalo-bot",
        )
