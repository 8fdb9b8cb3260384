"""Database fixtures for the import tests, on top of the shared ``database`` fixture.

``tests/conftest.py`` already migrates a fresh database per test on SQLite and on
PostgreSQL (own schema, skipped without a server unless RASOAT_REQUIRE_POSTGRES=1);
these two names are what the import tests ask for, and can move there as they are.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Database


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "large: a full-size file (tens of thousands of rows); deselect with -m 'not large'",
    )


@pytest.fixture
def database_url(database: Database) -> str:
    """The URL of the per-test database (PostgreSQL: its schema is set on the engine)."""
    return database.url


@pytest.fixture
def sessions(database: Database) -> async_sessionmaker[AsyncSession]:
    return database.sessions
