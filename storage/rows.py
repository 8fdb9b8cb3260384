"""Plain rows of what a chat turn reads on every message: the person, their dialog state,
and the interview with its household.

A turn reads them with SQLAlchemy Core statements built once, and writes back only the
columns that changed (see :mod:`storage.repositories`): the ORM's identity map, change
tracking and flush cost more CPU than SQLite takes to run the statements, and the SQLite
writer thread's CPU is what bounds a chat's answers per second. A row is frozen: a change
is an UPDATE, which hands back the row as it now stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, inspect, select
from sqlalchemy.engine import Row

from storage.models import (
    Area,
    DialogState,
    Household,
    HouseholdCategory,
    Interview,
    InterviewStatus,
    Role,
    User,
    UserArea,
)

DIALOG_STATES: Table = DialogState.__table__  # type: ignore[assignment]
INTERVIEWS: Table = Interview.__table__  # type: ignore[assignment]
HOUSEHOLDS: Table = Household.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
AREAS: Table = Area.__table__  # type: ignore[assignment]
USER_AREAS: Table = UserArea.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class AreaRow:
    """An area a person works in (see :class:`storage.models.Area`)."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    total_households: int | None


AREA_COLUMNS = [AREAS.c[name] for name in AreaRow.__slots__]


@dataclass(frozen=True, slots=True)
class UserRow:
    """A registered person as a chat turn reads them, with their areas (see
    :class:`storage.models.User`)."""

    id: int
    platform: str
    platform_user_id: str
    display_name: str
    role: Role
    locale: str
    active: bool
    created_at: datetime
    areas: tuple[AreaRow, ...]


# The columns of a UserRow but its areas, in its order.
USER_COLUMNS = [USERS.c[name] for name in UserRow.__slots__[:-1]]


def user_row(rows: Sequence[Row[Any]]) -> UserRow:
    """The person of ``rows`` (USER_COLUMNS first, AREA_COLUMNS last), one row an area of
    theirs, or one without any."""
    count = len(AREA_COLUMNS)
    areas = tuple(AreaRow(*row[-count:]) for row in rows if row[-count] is not None)
    values: list[Any] = [*rows[0][: len(USER_COLUMNS)], areas]
    return UserRow(*values)


# A person as a dialog sees them: read by the turn, or just registered or linked (an
# object of the session).
Person = User | UserRow


@dataclass(frozen=True, slots=True)
class DialogStateRow:
    """A person's dialog state (see :class:`storage.models.DialogState`)."""

    user_id: int
    dialog: str
    state: dict[str, Any]
    asked_at: datetime | None
    seen_turn: datetime | None
    seen_message: int | None
    seen_at: datetime | None
    asked_on: str | None
    updated_at: datetime


# The columns of a DialogStateRow, in its order (a SELECT lists them so).
DIALOG_STATE_COLUMNS = [DIALOG_STATES.c[name] for name in DialogStateRow.__slots__]


def dialog_state_row(row: Row[Any] | tuple[Any, ...], start: int = 0) -> DialogStateRow | None:
    """The dialog state in ``row`` from position ``start`` (as DIALOG_STATE_COLUMNS), None
    where an outer join found none."""
    values = tuple(row[start : start + len(DIALOG_STATE_COLUMNS)])
    return None if values[0] is None else DialogStateRow(*values)


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    """What an interview shows of its household."""

    id: int
    code: str
    review_year: int
    area_id: int
    head_name: str
    category: HouseholdCategory

    @classmethod
    def of(cls, household: Household) -> HouseholdRow:
        return cls(*(getattr(household, name) for name in cls.__slots__))


HOUSEHOLD_COLUMNS = [HOUSEHOLDS.c[name] for name in HouseholdRow.__slots__]


@dataclass(frozen=True, slots=True)
class InterviewRow:
    """An interview as a chat turn reads it (see :class:`storage.models.Interview`), with
    its household."""

    id: int
    household_id: int
    collaborator_id: int | None
    form_id: str
    form_version: str
    status: InterviewStatus
    step: int
    prefill: dict[str, Any]
    plan_state: dict[str, Any] | None
    source: str
    started_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    household: HouseholdRow

    @classmethod
    def of(cls, interview: Interview) -> InterviewRow:
        """The row of an interview loaded as an object; its questionnaire state only if it
        was loaded (it is deferred)."""
        deferred = {"plan_state"} & inspect(interview).unloaded
        values: dict[str, Any] = {
            name: None if name in deferred else getattr(interview, name) for name in INTERVIEW_NAMES
        }
        return cls(**values, household=HouseholdRow.of(interview.household))


# The columns of an InterviewRow but its household, in its order.
INTERVIEW_NAMES = InterviewRow.__slots__[:-1]
INTERVIEW_COLUMNS = [INTERVIEWS.c[name] for name in INTERVIEW_NAMES]


def interview_select() -> Any:
    """SELECT of an InterviewRow's columns and its household's, in their order."""
    return select(*INTERVIEW_COLUMNS, *HOUSEHOLD_COLUMNS).join_from(
        INTERVIEWS, HOUSEHOLDS, HOUSEHOLDS.c.id == INTERVIEWS.c.household_id
    )


def interview_row(row: Row[Any]) -> InterviewRow:
    count = len(INTERVIEW_COLUMNS)
    values: list[Any] = [*row[:count], HouseholdRow(*row[count:])]
    return InterviewRow(*values)
