"""Schema and storage behaviour that must be the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.pool import QueuePool

from storage.db import current_revision, upgrade
from storage.models import InboxUpdate, User
from storage.repositories import Received
from storage.text import fold
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.helpers import downgrade, seed_areas


async def test_migrations_reach_head_and_are_rerunnable(database: Database) -> None:
    revision = await current_revision(database.engine)
    assert revision is not None
    await upgrade(database.engine)
    assert await current_revision(database.engine) == revision


async def test_sqlite_runs_in_wal_mode(database: Database) -> None:
    if database.backend != "sqlite":
        return
    async with database.engine.connect() as connection:
        mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    assert mode == "wal"


async def test_area_subtree_any_depth(database: Database) -> None:
    await seed_areas(database.sessions)
    async with UnitOfWork(database.sessions) as uow:
        commune = await uow.areas.by_code("87-MH")
        assert commune is not None
        ids = await uow.areas.subtree_ids([commune.id])
        codes = {area.code for area in await uow.areas.all() if area.id in ids}
        assert codes == {"87-MH", "87-MH-A1", "87-MH-A2"}
        village = await uow.areas.by_code("87-MH-A2")
        assert village is not None
        assert [a.code for a in await uow.areas.path(village)] == ["87", "87-MH", "87-MH-A2"]


async def test_update_ledger_claims_once(database: Database) -> None:
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.updates.claim("telegram", "1")
        assert not await uow.updates.claim("telegram", "1")
        assert await uow.updates.claim("zalo", "1")
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        assert not await uow.updates.claim("telegram", "1")


async def test_the_migration_marks_applied_the_stored_updates_the_ledger_holds(
    database: Database,
) -> None:
    await downgrade(database.engine, "0016")
    async with database.engine.begin() as connection:
        for key in ("1", "2"):
            await connection.execute(
                text(
                    "INSERT INTO inbox_updates (platform, update_key, sender, payload,"
                    " received_at, attempts) VALUES ('telegram', :key, '111', '{}', :at, 0)"
                ),
                {"key": key, "at": datetime(2026, 12, 6, tzinfo=UTC)},
            )
        await connection.execute(
            text(
                "INSERT INTO processed_updates (platform, update_key, processed_at)"
                " VALUES ('telegram', '1', :at)"
            ),
            {"at": datetime(2026, 12, 6, tzinfo=UTC)},
        )
    await upgrade(database.engine)
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.inbox.unapplied("telegram") == [{}]
        applied = await uow.session.execute(
            select(InboxUpdate.update_key, InboxUpdate.applied).order_by(InboxUpdate.update_key)
        )
        assert applied.all() == [("1", True), ("2", False)]


async def test_a_claim_marks_the_stored_update_applied(database: Database) -> None:
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", [Received(k, "111", {"k": k}) for k in ("1", "2", "3")])
        await uow.updates.hold_and_claim("telegram", "111", "1")
        await uow.updates.claim("telegram", "2")
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.inbox.unapplied("telegram") == [{"k": "3"}]
        applied = await uow.session.execute(
            select(InboxUpdate.update_key).where(InboxUpdate.applied)
        )
        assert sorted(applied.scalars()) == ["1", "2"]


async def test_datetimes_come_back_aware(database: Database) -> None:
    await seed_areas(database.sessions)
    moment = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.add(
            User(
                platform="t",
                platform_user_id="1",
                display_name="A",
                role="collaborator",  # type: ignore[arg-type]
                created_at=moment,
            )
        )
        await uow.commit()
        user_id = user.id
    async with UnitOfWork(database.sessions) as uow:
        loaded = await uow.users.get(user_id)
        assert loaded is not None and loaded.created_at == moment


def test_fold() -> None:
    assert fold("  Nguyễn  Văn Ánh ") == "nguyen van anh"
    assert fold("ĐẶNG Thị Đào") == "dang thi dao"


async def test_migrations_match_the_models(database: Database) -> None:
    """A model change without its migration would pass on a fresh test schema but break
    every existing deployment; autogenerate's diff catches it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_update_ledger_forgets_old_updates(database: Database) -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.updates.claim("telegram", "old")
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        await uow.updates.prune(now + timedelta(days=400))
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.updates.claim("telegram", "old")


async def test_the_ledger_keeps_an_update_the_inbox_still_holds(database: Database) -> None:
    later = datetime.now(UTC) + timedelta(days=400)
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", [Received("7", "9", {"update_id": 7})])
        assert await uow.updates.claim("telegram", "7")
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        await uow.updates.prune(later)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        # Applied once, it is not applied again at the next start.
        assert await uow.inbox.unapplied("telegram") == []
        await uow.inbox.prune(later)
        await uow.updates.prune(later)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.updates.claim("telegram", "7")


async def test_a_unit_of_work_keeps_what_it_committed_and_gives_its_connection_back(
    database: Database,
) -> None:
    """Left without a commit, its writes are rolled back; committed, they stay, and a read
    after the commit is a transaction of its own; either way the connection goes back."""
    pool = database.engine.sync_engine.pool
    assert isinstance(pool, QueuePool)

    def update(key: int) -> list[Received]:
        return [Received(str(key), "9", {"update_id": key})]

    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", update(1))
        await uow.commit()
    assert pool.checkedout() == 0
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", update(2))
    assert pool.checkedout() == 0
    async with UnitOfWork(database.sessions) as uow:
        await uow.inbox.keep("telegram", update(3))
        await uow.commit()
        assert await uow.inbox.unapplied("telegram") == [{"update_id": 1}, {"update_id": 3}]
    assert pool.checkedout() == 0
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.inbox.unapplied("telegram") == [{"update_id": 1}, {"update_id": 3}]
    assert pool.checkedout() == 0
