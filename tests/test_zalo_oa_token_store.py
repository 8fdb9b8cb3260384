"""The token pairs' table on both databases: one current pair, a refresh stored with the
use of the pair before it, one process refreshing at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.uow import UnitOfWork
from tests.conftest import Database

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)


async def test_a_refresh_replaces_the_pair_in_one_transaction(database: Database) -> None:
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.zalo_oa_tokens.current() is None
        first = await uow.zalo_oa_tokens.set(
            "access-1", "refresh-1", NOW + timedelta(hours=25), NOW + timedelta(days=90), NOW
        )
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.zalo_oa_tokens.begin_refresh(first.id, "w1", NOW, LEASE)
        await uow.commit()
    # Rolled back: the old pair is still the current one, its lease still held.
    async with UnitOfWork(database.sessions) as uow:
        await uow.zalo_oa_tokens.refreshed(
            first.id, "access-2", "refresh-2", NOW + timedelta(hours=50), NOW, NOW
        )
    async with UnitOfWork(database.sessions) as uow:
        current = await uow.zalo_oa_tokens.current()
        assert current is not None and current.refresh_token == "refresh-1"
        assert current.refreshing_until == NOW + LEASE
        second = await uow.zalo_oa_tokens.refreshed(
            first.id, "access-2", "refresh-2", NOW + timedelta(hours=50), NOW, NOW
        )
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        current = await uow.zalo_oa_tokens.current()
        assert current == second
        assert (current.access_token, current.refresh_token, current.source) == (
            "access-2",
            "refresh-2",
            "refresh",
        )
        # The spent pair can never be refreshed again.
        assert not await uow.zalo_oa_tokens.begin_refresh(first.id, "w1", NOW + LEASE * 2, LEASE)


async def test_one_process_refreshes_at_a_time_until_its_lease_runs_out(
    database: Database,
) -> None:
    async with UnitOfWork(database.sessions) as uow:
        token = await uow.zalo_oa_tokens.set("a", "r", NOW, NOW + timedelta(days=90), NOW)
        assert await uow.zalo_oa_tokens.begin_refresh(token.id, "w1", NOW, LEASE)
        assert not await uow.zalo_oa_tokens.begin_refresh(token.id, "w2", NOW, LEASE)
        # A lease left by a process that died runs out.
        assert await uow.zalo_oa_tokens.begin_refresh(token.id, "w2", NOW + LEASE, LEASE)
        await uow.zalo_oa_tokens.abandon(token.id)
        assert await uow.zalo_oa_tokens.begin_refresh(token.id, "w3", NOW + LEASE, LEASE)
        await uow.zalo_oa_tokens.refused(token.id, NOW + LEASE)
        refused = await uow.zalo_oa_tokens.current()
        assert refused is not None and refused.refused_at == NOW + LEASE
        assert refused.refreshing_until is None
        # The operator's new pair replaces every other.
        fresh = await uow.zalo_oa_tokens.set("a2", "r2", NOW, NOW + timedelta(days=90), NOW)
        assert await uow.zalo_oa_tokens.current() == fresh
        assert fresh.refused_at is None
        await uow.commit()
