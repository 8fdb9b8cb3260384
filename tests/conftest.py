"""Shared fixtures: a migrated database on each backend, and the settings that point at it.

Every storage-touching test runs twice, on SQLite and on PostgreSQL. PostgreSQL tests get a
schema of their own, so they can run in any order and leave nothing behind. Without a
PostgreSQL server they are skipped (and the run says so), unless RASOAT_REQUIRE_POSTGRES=1,
as in CI, where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import bot.conversation
from bot.context import DialogContext
from bot.messages import Outgoing
from bot.settings import Settings, load_settings
from storage.db import create_engine, session_factory, upgrade

pytest_plugins = ["tests.fakes.telegram", "tests.fakes.zalo_bot", "tests.fakes.zalo_oa"]

# Property tests explore new random cases on a developer's machine; CI (HYPOTHESIS_PROFILE=ci,
# set by .ci/run) replays the same pseudo-random ones every run, so that a case found once is
# fixed on purpose, not discovered by whichever commit happens to land next.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Scripted users answer far faster than people, and would trip the per-person flood limit;
# tests of the limit itself set it (tests/test_odd_input.py).
os.environ.setdefault("RASOAT_FLOOD_LIMIT", "0")
# Scripted people type at once; the kill tests, which check the reading time, set it.
os.environ.setdefault("RASOAT_READING_TIME", "0")
# The server key invites are hashed under; set here so no test writes a key file into the
# working copy, and so invites made by a test match what its bot checks.
TEST_SERVER_KEY = "test-server-key-0123456789abcdef-0123456789"
os.environ.setdefault("RASOAT_SECRET_KEY", TEST_SERVER_KEY)
INVITE_KEY = os.environ["RASOAT_SECRET_KEY"].encode()
# What rasoat remembers between commands (the form's check, bot.form_check) goes to a
# folder of this run, not to the working copy's data/.
if "RASOAT_CACHE_DIR" not in os.environ:
    os.environ["RASOAT_CACHE_DIR"] = tempfile.mkdtemp(prefix="rasoat-test-cache-")
    atexit.register(shutil.rmtree, os.environ["RASOAT_CACHE_DIR"], ignore_errors=True)

POSTGRES_URL = os.environ.get(
    "RASOAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("RASOAT_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")
# The print check needs LibreOffice and poppler, which not every machine has: it runs only
# through `make print-check`, so that `make test` passes on a bare clone with nothing skipped.
PRINT_CHECK = os.environ.get("RASOAT_PRINT_CHECK") == "1"
# The kill tests restart the bot dozens of times (minutes): they run through `make chaos`.
CHAOS = os.environ.get("RASOAT_CHAOS") == "1"
collect_ignore = [name for name, wanted in (("print", PRINT_CHECK), ("chaos", CHAOS)) if not wanted]

_postgres_state: dict[str, Any] = {}


POSTGRES_SKIPPED = "PostgreSQL is not available"


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
    # Under pytest-xdist the probe ran in the workers: their skips tell this process.
    skipped = any(
        POSTGRES_SKIPPED in str(report.longrepr)
        for report in terminalreporter.stats.get("skipped", [])
    )
    if _postgres_state.get("ok") is False or skipped:
        error = _postgres_state.get("error")
        terminalreporter.write_line(
            f"PostgreSQL was SKIPPED: no server at {POSTGRES_URL}"
            + (f" ({error})" if error else "")
            + ". Only SQLite was tested.",
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


# For a test about one backend only: it runs on that one instead of being skipped on the
# other (a bare clone's run must skip nothing but PostgreSQL when there is no server).
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def require_backend(name: str) -> str:
    """``name``, or skip the test (fail it under RASOAT_REQUIRE_POSTGRES=1) without a
    PostgreSQL server."""
    if name == "postgresql" and not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable: {_postgres_state.get('error')}")
        pytest.skip(POSTGRES_SKIPPED)
    return name


@asynccontextmanager
async def open_database(backend: str, folder: Path) -> AsyncIterator[Database]:
    """A migrated database of its own: a SQLite file in ``folder``, or a fresh PostgreSQL
    schema dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'rasoat.db'}"
        engine = create_engine(url)
        try:
            await upgrade(engine)
            yield Database(backend, url, engine, session_factory(engine))
        finally:
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


# A message the dialogs fail on, every time, under the ``failing`` fixture.
POISON = "hộ của bà Kín"


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug: the dialogs raise on one message (POISON), every time."""
    route = bot.conversation.route

    def failing_route(ctx: DialogContext) -> list[Outgoing]:
        if ctx.incoming.text == POISON:
            raise RuntimeError("a bug")
        return route(ctx)

    monkeypatch.setattr(bot.conversation, "route", failing_route)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return require_backend(str(request.param))


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with open_database(backend, tmp_path) as database:
        yield database


def database_settings(database: Database, **overrides: str) -> Settings:
    return load_settings(
        **database.env(),
        TELEGRAM_BOT_TOKEN="123456:TEST-TOKEN",
        RASOAT_LOCALE="vi",
        **overrides,
    )


@pytest.fixture
def settings(database: Database) -> Settings:
    return database_settings(database)


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
        "RASOAT_REFERENCE_DATE",
        "WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
