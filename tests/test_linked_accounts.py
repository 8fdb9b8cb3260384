"""One person, several accounts, in storage: accounts found through user_identities, link
codes, a chat binding per platform and the one used last, the migration's backfill, and one
person's turns taking turns whichever account they come from. Both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.admin import AdminError
from bot.conversation import Conversation
from bot.dialogs.interview import OPEN_INTERVIEW
from storage.db import upgrade
from storage.models import ChatBinding, LinkCode, Role, User, UserIdentity
from storage.repositories import UpdateLedger
from storage.uow import UnitOfWork, Work
from tests.conftest import INVITE_KEY, POSTGRESQL_ONLY, Database, database_settings
from tests.helpers import add_person, downgrade, seed_areas

# A day after the clock of the run: accounts registered with the real clock (a user's
# created_at) come before a link made at NOW, as they do in use. (A fixed date here listed
# the linked account first once the real clock passed it.)
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


async def person(database: Database, platform: str = "telegram", account: str = "111") -> int:
    await seed_areas(database.sessions)
    user = await add_person(database.sessions, platform, account, "Hoa")
    return user.id


async def linked(database: Database, state: dict[str, object]) -> int:
    """Hoa, on Telegram and Zalo, in the dialog state ``state``."""
    hoa = await person(database)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.get(hoa)
        assert user is not None
        await uow.dialogs.set(user, "idle", state)
        await uow.identities.attach(hoa, "zalo-bot", "6ede9afa", NOW)
        await uow.commit()
    return hoa


async def test_a_linked_account_finds_the_same_person_with_their_dialog_state(
    database: Database,
) -> None:
    hoa = await linked(database, {"interview_id": 5})
    async with UnitOfWork(database.sessions) as uow:
        read = await uow.users.for_turn("zalo-bot", "6ede9afa", OPEN_INTERVIEW)
        found, state = read.user, read.state
        assert found is not None and found.id == hoa
        assert [area.code for area in found.areas] == ["87-MH-A1"]
        assert state is not None and state.state == {"interview_id": 5}
        by_id = await uow.users.by_platform_id("zalo-bot", "6ede9afa")
        assert by_id is not None and by_id.id == hoa
        accounts = await uow.identities.accounts(hoa)
        assert [(a.platform, a.platform_user_id) for a in accounts] == [
            ("telegram", "111"),
            ("zalo-bot", "6ede9afa"),
        ]
        assert await uow.users.by_platform_id("zalo-bot", "111") is None


async def test_a_person_has_one_account_per_platform(database: Database) -> None:
    hoa = await person(database)
    async with UnitOfWork(database.sessions) as uow:
        with pytest.raises(IntegrityError):
            await uow.identities.attach(hoa, "telegram", "222", NOW)


async def test_an_account_of_a_deactivated_person_moves_and_their_history_stays(
    database: Database,
) -> None:
    hoa = await person(database)
    old = await add_person(database.sessions, "zalo-bot", "6ede9afa", "Hoa (Zalo)")
    async with UnitOfWork(database.sessions) as uow:
        await uow.identities.attach(hoa, "zalo-bot", "6ede9afa", NOW)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        found = await uow.users.by_platform_id("zalo-bot", "6ede9afa")
        assert found is not None and found.id == hoa
        # The old person's row is untouched: their registration, their answers' authorship.
        stale = await uow.users.get(old.id)
        assert stale is not None and stale.platform_user_id == "6ede9afa"
        assert await uow.identities.accounts(old.id) == []
    # Nobody can be added again on an account that belongs to someone.
    with pytest.raises(AdminError):
        await add_person(database.sessions, "zalo-bot", "6ede9afa", "X")


async def test_link_codes_are_kept_hashed_the_newest_alone_works_and_once(
    database: Database,
) -> None:
    hoa = await person(database)
    later = NOW + timedelta(minutes=10)
    async with UnitOfWork(database.sessions) as uow:
        await uow.identities.issue(hoa, "AAAA2222", INVITE_KEY, NOW, later)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        await uow.identities.issue(hoa, "BBBB3333", INVITE_KEY, NOW + timedelta(minutes=1), later)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        hashes = list(await uow.session.scalars(select(LinkCode.code_hash)))
        assert len(hashes) == 2 and not {"AAAA2222", "BBBB3333"} & set(hashes)
        first = await uow.identities.code("AAAA2222", INVITE_KEY)
        assert first is not None and first.expires_at == NOW + timedelta(minutes=1)
        assert await uow.identities.code("AAAA2222", b"another server key") is None
        newest = await uow.identities.code("BBBB3333", INVITE_KEY)
        assert newest is not None and newest.user_id == hoa and newest.expires_at == later
        assert await uow.identities.claim(newest, NOW)
        assert not await uow.identities.claim(newest, NOW)


async def test_the_outbox_reaches_a_person_where_they_were_last_asked_something(
    database: Database,
) -> None:
    hoa = await person(database)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.get(hoa)
        assert user is not None
        # Added from the command line, never in a chat: their own account.
        assert await uow.outbox.reach(hoa) == ("telegram", "111", False)
        await uow.users.bind_chat(user, "telegram", "111", NOW)
        await uow.users.bind_chat(user, "zalo-bot", "6ede9afa", NOW + timedelta(hours=1))
        assert await uow.outbox.reach(hoa) == ("zalo-bot", "6ede9afa", False)
        await uow.users.bind_chat(user, "telegram", "111", NOW + timedelta(hours=2))
        assert await uow.outbox.reach(hoa) == ("telegram", "111", False)
        await uow.commit()


async def test_a_block_closes_that_binding_only_and_writing_there_reopens_it(
    database: Database,
) -> None:
    hoa = await person(database)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.get(hoa)
        assert user is not None
        await uow.users.bind_chat(user, "zalo-bot", "6ede9afa", NOW)
        await uow.users.bind_chat(user, "telegram", "111", NOW + timedelta(hours=1))
        await uow.outbox.enqueue(hoa, {"text": "một"}, "one", NOW, NOW)
        await uow.outbox.enqueue(hoa, {"text": "hai"}, "two", NOW, NOW)
        assert await uow.outbox.block(hoa, NOW + timedelta(hours=2), "telegram")
        assert not await uow.outbox.block(hoa, NOW + timedelta(hours=2), "telegram")
        # The pending ones on Telegram failed with it; the next goes to Zalo.
        assert (await uow.outbox.counts()).failed == 2
        assert await uow.outbox.reach(hoa) == ("zalo-bot", "6ede9afa", False)
        await uow.outbox.enqueue(hoa, {"text": "ba"}, "three", NOW, NOW)
        assert await uow.outbox.block(hoa, NOW + timedelta(hours=3), "zalo-bot")
        # Blocked everywhere: kept as failed, on the binding blocked last.
        assert await uow.outbox.reach(hoa) == ("zalo-bot", "6ede9afa", True)
        await uow.users.bind_chat(user, "telegram", "111", NOW + timedelta(hours=4))
        assert await uow.outbox.reach(hoa) == ("telegram", "111", False)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        bindings = {
            b.platform: b.active
            for b in await uow.session.scalars(
                select(ChatBinding).where(ChatBinding.user_id == hoa)
            )
        }
        assert bindings == {"telegram": True, "zalo-bot": False}


async def test_where_a_person_was_asked_last_is_kept_with_the_turn(database: Database) -> None:
    hoa = await person(database)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.get(hoa)
        assert user is not None
        await uow.dialogs.set(user, "idle", {})
        assert await uow.dialogs.mark_asked(user, NOW, "zalo-bot")
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        state = (await uow.users.for_turn("telegram", "111", OPEN_INTERVIEW)).state
        assert state is not None and (state.asked_on, state.asked_at) == ("zalo-bot", NOW)


async def test_the_migration_gives_every_person_their_own_account_and_binding(
    database: Database,
) -> None:
    await seed_areas(database.sessions)
    await downgrade(database.engine, "0013")
    async with database.engine.begin() as connection:
        for number, platform in ((1, "telegram"), (2, "zalo-bot")):
            await connection.execute(
                text(
                    "INSERT INTO users (id, platform, platform_user_id, display_name, role, "
                    "locale, active, created_at) VALUES (:id, :platform, :account, 'A', "
                    "'collaborator', 'vi', true, :at)"
                ),
                {"id": number, "platform": platform, "account": f"u{number}", "at": NOW},
            )
        await connection.execute(
            text("INSERT INTO chat_bindings (user_id, chat_id, active) VALUES (2, 'c2', false)")
        )
    await upgrade(database.engine)
    async with UnitOfWork(database.sessions) as uow:
        identities = await uow.session.execute(
            select(UserIdentity.platform, UserIdentity.platform_user_id, UserIdentity.user_id)
        )
        assert sorted(identities) == [("telegram", "u1", 1), ("zalo-bot", "u2", 2)]
        [binding] = await uow.session.scalars(select(ChatBinding))
        assert (binding.user_id, binding.platform, binding.chat_id, binding.active) == (
            2,
            "zalo-bot",
            "c2",
            False,
        )
        found = await uow.users.by_platform_id("zalo-bot", "u2")
        assert found is not None and found.id == 2


async def test_a_user_added_in_code_is_found_by_the_account_they_registered_with(
    database: Database,
) -> None:
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.add(
            User(platform="terminal", platform_user_id="hoa", display_name="Hoa", role=Role.ADMIN)
        )
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        found = await uow.users.by_platform_id("terminal", "hoa")
        assert found is not None and found.id == user.id


# -- one person's turns, one at a time -------------------------------------------------------


def bump(platform: str, account: str) -> object:
    """A turn's first steps over a counter kept in the dialog state: hold the sender, read
    the person and their state, write it back one more."""

    def job(work: Work) -> None:
        work.updates.hold_sender(platform, account)
        read = work.users.for_turn(platform, account, OPEN_INTERVIEW)
        user, state = read.user, read.state
        assert user is not None and state is not None
        work.dialogs.set(user, "idle", {"n": int(state.state.get("n", 0)) + 1})

    return job


async def test_turns_of_one_persons_two_accounts_at_once_lose_nothing(
    database: Database,
) -> None:
    await linked(database, {"n": 0})
    conversation = Conversation(database.sessions, database_settings(database))
    accounts = [("telegram", "111"), ("zalo-bot", "6ede9afa")]
    try:
        await asyncio.gather(
            *(conversation.write(bump(*accounts[turn % 2])) for turn in range(24))  # type: ignore[arg-type]
        )
    finally:
        conversation.close()
    async with UnitOfWork(database.sessions) as uow:
        state = (await uow.users.for_turn("telegram", "111", OPEN_INTERVIEW)).state
        assert state is not None and state.state == {"n": 24}


async def _waiting_on_a_lock(database: Database, pid: int) -> bool:
    async with database.engine.connect() as probe:
        waiting = await probe.scalar(
            text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"), {"pid": pid}
        )
    return bool(waiting)


@POSTGRESQL_ONLY
async def test_on_postgresql_an_account_waits_while_another_of_the_person_holds_the_turn(
    database: Database,
) -> None:
    await linked(database, {})
    async with database.sessions() as first, database.sessions() as second:
        await first.run_sync(lambda s: UpdateLedger(s).hold_sender("telegram", "111"))
        pid = int(await second.scalar(text("SELECT pg_backend_pid()")))
        # Someone else entirely is not held up.
        async with database.sessions() as stranger:
            await stranger.run_sync(lambda s: UpdateLedger(s).hold_sender("zalo-bot", "nobody"))
        held = asyncio.create_task(
            second.run_sync(lambda s: UpdateLedger(s).hold_sender("zalo-bot", "6ede9afa"))
        )
        for _ in range(10_000):
            if await _waiting_on_a_lock(database, pid):
                break
        assert await _waiting_on_a_lock(database, pid)
        assert not held.done()
        await first.commit()
        await asyncio.wait_for(held, 10)
        await second.commit()
