"""Engine creation and schema migration for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from storage.models import Base
from storage.writer import Writer, sync_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# PostgreSQL: the connections an engine keeps open once opened, and the most it opens. A
# transaction that finds them all in use waits for one, in turn, instead of opening another.
# SQLAlchemy's default (5 kept, up to 10 more opened when busy and each closed as soon as it
# is given back) opened and closed 10-20 connections a second in the turn process under the
# interview benchmark's load: each a server process forked and its caches filled, and
# every statement prepared again (asyncpg's cache is per connection): about 40% of the
# server's CPU per answer, and the turns waited behind it (bench/README.md).
POSTGRES_POOL = {"pool_size": 20, "max_overflow": 0}


def create_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``; ``schema`` (PostgreSQL) keeps several instances in one database."""
    # A failed statement's error message would otherwise quote its parameters (names, birth
    # dates, answers) into whatever log or traceback shows it.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        # Stock aiosqlite: every statement runs on the connection's own thread, so neither
        # a long read nor SQLite's wait for another process's write lock (busy_timeout)
        # ever holds up the event loop.
        if in_memory(url):
            # One database per connection: the engine keeps a single one, lent to one
            # transaction at a time (the others wait for it without blocking the loop).
            kwargs.setdefault("poolclass", AsyncAdaptedQueuePool)
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
        else:
            _ensure_sqlite_folder(url)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if schema:
        kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})["search_path"] = (
            schema
        )
    if "poolclass" not in kwargs:
        for name, value in POSTGRES_POOL.items():
            kwargs.setdefault(name, value)
    # No pool_pre_ping: a connection lost to a server restart is retried by the
    # conversation (bot.conversation._reconnecting) instead of pinged before every turn.
    return create_async_engine(url, **kwargs)


def in_memory(url: str) -> bool:
    """Whether the SQLite ``url`` names a private in-memory database."""
    return make_url(url).database in (None, "", ":memory:")


def _ensure_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    path = parsed.database
    # A URI filename (``?uri=true``) is SQLite's to read, options and all.
    if path and not parsed.query.get("uri"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The database holds personal data: created readable by its owner only. SQLite
        # gives its -wal and -shm files the database file's permissions.
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the exporter read while the bot writes; synchronous=FULL keeps
    # "committed before the bot replies" true across a power cut, not just a crash.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def sqlite_writer(engine: AsyncEngine | None, limit: int) -> Writer | None:
    """The writer thread for the SQLite file ``engine`` opens (see storage.writer); None
    for an in-memory database, which only the engine's one connection sees: its writes go
    through that connection like any other."""
    if engine is None or in_memory(engine.url.render_as_string(hide_password=False)):
        return None
    return Writer(
        sync_engine(engine.url.render_as_string(hide_password=False), _sqlite_pragmas), limit
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call at every start."""
    async with engine.begin() as connection:
        await connection.run_sync(_run_upgrade, revision)


def _run_upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


__all__ = [
    "Base",
    "create_engine",
    "current_revision",
    "session_factory",
    "sqlite_writer",
    "upgrade",
]
