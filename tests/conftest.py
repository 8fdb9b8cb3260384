"""Shared fixtures: a migrated database on each backend, and the settings that point at it.

Every storage-touching test runs twice, on SQLite and on PostgreSQL. PostgreSQL tests get a
schema of their own, so they can run in any order and leave nothing behind. Without a
PostgreSQL server they are skipped (and the run says so), unless RASOAT_REQUIRE_POSTGRES=1,
as in CI, where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings, load_settings
from storage.db import create_engine, session_factory, upgrade

pytest_plugins = ["tests.fakes.telegram"]

POSTGRES_URL = os.environ.get(
    "RASOAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("RASOAT_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")
# The print check needs LibreOffice and poppler, which not every machine has: it runs only
# through `make print-check`, so that `make test` passes on a bare clone with nothing skipped.
PRINT_CHECK = os.environ.get("RASOAT_PRINT_CHECK") == "1"
collect_ignore = [] if PRINT_CHECK else ["print"]

_postgres_state: dict[str, Any] = {}


def postgres_available() -> bool:
    if "ok" not in _postgres_state:

        async def probe() -> bool:
            engine = create_engine(POSTGRES_URL)
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("select 1"))
                return True
            except Exception as error:  # any failure means "not usable here"
                _postgres_state["error"] = repr(error)
                return False
            finally:
                await engine.dispose()

        _postgres_state["ok"] = asyncio.run(probe())
    return bool(_postgres_state["ok"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _postgres_state.get("ok") is False:
        terminalreporter.write_line(
            "PostgreSQL was SKIPPED: no server at "
            f"{POSTGRES_URL} ({_postgres_state.get('error')}). Only SQLite was tested.",
            yellow=True,
            bold=True,
        )


@dataclass
class Database:
    backend: str
    # The URL a separate process (the real `rasoat` command) can use.
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # For PostgreSQL: the schema to put on the search path of other connections.
    schema: str | None = None

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that must see this same database."""
        env = {"DATABASE_URL": self.url}
        if self.schema:
            env["DATABASE_SCHEMA"] = self.schema
        return env


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "postgresql" and not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable: {_postgres_state.get('error')}")
        pytest.skip("PostgreSQL is not available")
    return name


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'rasoat.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        yield Database(backend, url, engine, session_factory(engine))
        await engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, schema=schema)
    try:
        await upgrade(engine)
        yield Database(backend, POSTGRES_URL, engine, session_factory(engine), schema)
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
def settings(database: Database) -> Settings:
    return load_settings(
        **database.env(),
        TELEGRAM_BOT_TOKEN="123456:TEST-TOKEN",
        RASOAT_LOCALE="vi",
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No stray configuration from the developer's shell or .env leaks into a test."""
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_URL",
        "TELEGRAM_BOT_USERNAME",
        "DATABASE_URL",
        "RASOAT_LOCALE",
        "RASOAT_TIMEZONE",
        "WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
