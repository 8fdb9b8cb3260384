"""The print check runs on SQLite only: it is about the files, not the database."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "sqlite"
