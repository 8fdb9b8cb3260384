"""The plain facts a periodic report is computed from (section III.9 of the plan).

Filled by :class:`storage.reports.ReportRepository`; read by the pure
:mod:`bot.decisions.reports`. Kept apart from the query so the core never reaches the
database driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class PersonFact:
    """A member on a support list of the area, and whether someone follows them up."""

    household_id: int
    member_index: int
    village_id: int
    group: str
    assigned: bool


@dataclass(frozen=True, slots=True)
class ContactFact:
    """One contact or support recorded in the period (codes of classification/followup.toml)."""

    household_id: int
    member_index: int
    village_id: int
    group: str
    day: date
    kind: str
    programme: str | None
    outcome: str


@dataclass(frozen=True, slots=True)
class MeetingFact:
    """A policy dialogue of the area in the period, not cancelled; invited and attended
    count the area's households only."""

    meeting_id: int
    starts_at: datetime
    place: str
    invited: int
    attended: int


@dataclass(frozen=True, slots=True)
class ReportFacts:
    area_code: str
    area_name: str
    review_year: int
    # Village id -> name, for every village of the area (those with nothing show zeros).
    villages: dict[int, str] = field(default_factory=dict)
    people: tuple[PersonFact, ...] = ()
    contacts: tuple[ContactFact, ...] = ()
    meetings: tuple[MeetingFact, ...] = ()
