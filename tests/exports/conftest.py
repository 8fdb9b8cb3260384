"""A commune with interviewed households and one user per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.conversation import Conversation
from bot.settings import Settings
from storage.models import InterviewStatus, Role
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.helpers import add_person, seed_areas

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
YEAR = 2026
REVIEWERS = frozenset({Role.SUPERVISOR, Role.COMMUNE_STAFF, Role.ADMIN})


@dataclass(frozen=True)
class Commune:
    conversation: Conversation
    # platform user ids, by role name
    collaborator: str = "c1"
    other_collaborator: str = "c2"
    supervisor: str = "s1"
    staff: str = "k1"
    admin: str = "a1"
    collaborator_id: int = 0


async def _user(database: Database, user_id: str, role: Role, area: str) -> int:
    user = await add_person(database.sessions, "terminal", user_id, f"User {user_id}", role, area)
    return user.id


@pytest.fixture
async def commune(database: Database, settings: Settings) -> Commune:
    """Village A1: households 1-3 by collaborator c1, 4 by c2, 5 in progress (c1), 6 not
    interviewed. Village A2: households 7-8, imported (no collaborator)."""
    await seed_areas(database.sessions)
    c1 = await _user(database, "c1", Role.COLLABORATOR, "87-MH-A1")
    c2 = await _user(database, "c2", Role.COLLABORATOR, "87-MH-A1")
    await _user(database, "s1", Role.SUPERVISOR, "87-MH-A2")
    await _user(database, "k1", Role.COMMUNE_STAFF, "87-MH")
    await _user(database, "a1", Role.ADMIN, "87")
    done = InterviewStatus.COMPLETED
    planned = [
        Planned("HH-001", "87-MH-A1", 0, done, c1),
        Planned("HH-002", "87-MH-A1", 1, done, c1),
        Planned("HH-003", "87-MH-A1", 0, done, c1),
        Planned("HH-004", "87-MH-A1", 1, done, c2),
        Planned("HH-005", "87-MH-A1", 0, InterviewStatus.IN_PROGRESS, c1),
        Planned("HH-006", "87-MH-A1", 0, None, None),
        Planned("HH-007", "87-MH-A2", 0, done, None),
        Planned("HH-008", "87-MH-A2", 1, done, None),
    ]
    await insert_households(database.sessions, YEAR, planned)
    conversation = Conversation(database.sessions, settings, clock=lambda: NOW)
    return Commune(conversation, collaborator_id=c1)
