"""Households of an export scope, read from the database in batches.

The ordered list of household ids is read first (a few bytes per household); then each
batch of ids is fetched with its interview, answers and current classification rows in four
plain queries. Memory is bounded by the batch size whatever the size of the area, and the
same code runs on SQLite and PostgreSQL (no server-side cursor that SQLite lacks).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Answer,
    Area,
    Classification,
    Household,
    Interview,
    InterviewStatus,
    Meeting,
    MeetingInvitation,
    SupportAssignment,
    User,
)

BATCH_SIZE = 500
MEMBERS = "members"
NOT_STARTED = "not_started"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which households an export holds: an area subtree, a year, maybe one collaborator's."""

    area_ids: frozenset[int]
    year: int
    # Set for a collaborator, who sees only the households they interviewed.
    collaborator_id: int | None = None


@dataclass(slots=True)
class Result:
    """One current classification row, as the export needs it."""

    outcome: str
    group: str | None
    deprived: list[str]
    rule_set: str
    details: dict[str, Any]


@dataclass(slots=True)
class HouseholdRecord:
    id: int
    code: str
    head_name: str
    category: str
    village_code: str
    village_name: str
    # "completed", "in_progress" or "not_started".
    status: str = NOT_STARTED
    completed_at: datetime | None = None
    source: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    members: dict[int, dict[str, Any]] = field(default_factory=dict)
    result: Result | None = None
    member_results: dict[int, Result] = field(default_factory=dict)
    # The latest policy dialogue whose outcome was recorded for the household: present or
    # not, the needs voiced (support_needs codes) and the note.
    meeting_attended: bool | None = None
    meeting_needs: list[str] = field(default_factory=list)
    meeting_note: str | None = None
    # The responsible officer of each member who has one: name and phone (section II.2).
    officers: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def member_indices(self) -> list[int]:
        return sorted(set(self.members) | set(self.member_results))


async def household_ids(session: AsyncSession, selection: Selection) -> list[int]:
    """Every household of the selection, by village code then household code."""
    query = (
        select(Household.id)
        .join(Area, Area.id == Household.area_id)
        .where(Household.area_id.in_(sorted(selection.area_ids)))
        .where(Household.review_year == selection.year)
        .order_by(Area.code, Household.code, Household.id)
    )
    if selection.collaborator_id is not None:
        query = query.where(
            exists().where(
                Interview.household_id == Household.id,
                Interview.collaborator_id == selection.collaborator_id,
                Interview.status != InterviewStatus.CANCELLED,
            )
        )
    return list((await session.scalars(query)).all())


def batches(ids: Sequence[int], size: int = BATCH_SIZE) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def records(
    session: AsyncSession,
    ids: Sequence[int],
    selection: Selection,
    *,
    batch_size: int = BATCH_SIZE,
) -> AsyncIterator[list[HouseholdRecord]]:
    """The households of ``ids``, in that order, one batch at a time."""
    for batch in batches(ids, batch_size):
        yield await load_batch(session, batch, selection)


async def load_batch(
    session: AsyncSession, batch: Sequence[int], selection: Selection
) -> list[HouseholdRecord]:
    wanted = list(batch)
    found = await _households(session, wanted)
    interviews = await _interviews(session, wanted, selection.collaborator_id)
    by_interview: dict[int, HouseholdRecord] = {}
    for household_id, (interview_id, status, completed_at, source) in interviews.items():
        record = found.get(household_id)
        if record is None:
            continue
        record.status, record.completed_at, record.source = status, completed_at, source
        if status == InterviewStatus.COMPLETED.value:
            by_interview[interview_id] = record
    if by_interview:
        await _answers(session, by_interview)
        await _results(session, by_interview)
        await _officers(session, found)
    await _meetings(session, found)
    return [found[household_id] for household_id in wanted if household_id in found]


async def _meetings(session: AsyncSession, found: dict[int, HouseholdRecord]) -> None:
    if not found:
        return
    rows = await session.execute(
        select(
            MeetingInvitation.household_id,
            MeetingInvitation.attended,
            MeetingInvitation.needs,
            MeetingInvitation.needs_note,
        )
        .join(Meeting, Meeting.id == MeetingInvitation.meeting_id)
        .where(
            MeetingInvitation.household_id.in_(list(found)),
            MeetingInvitation.attended.is_not(None),
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    # Ordered by date: the latest recorded dialogue is the one kept.
    for household_id, attended, needs, note in rows:
        record = found[household_id]
        record.meeting_attended, record.meeting_needs = attended, list(needs or [])
        record.meeting_note = note


async def _households(session: AsyncSession, ids: list[int]) -> dict[int, HouseholdRecord]:
    rows = await session.execute(
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Household.category,
            Area.code,
            Area.name,
        )
        .join(Area, Area.id == Household.area_id)
        .where(Household.id.in_(ids))
    )
    return {
        hid: HouseholdRecord(hid, code, head, _value(category), village_code, village_name)
        for hid, code, head, category, village_code, village_name in rows
    }


async def _interviews(
    session: AsyncSession, ids: list[int], collaborator_id: int | None
) -> dict[int, tuple[int, str, datetime | None, str | None]]:
    """Each household's interview to export: its last completed one, else the open one."""
    query = select(
        Interview.household_id,
        Interview.id,
        Interview.status,
        Interview.completed_at,
        Interview.source,
    ).where(Interview.household_id.in_(ids), Interview.status != InterviewStatus.CANCELLED)
    if collaborator_id is not None:
        query = query.where(Interview.collaborator_id == collaborator_id)
    chosen: dict[int, tuple[int, str, datetime | None, str | None]] = {}
    for household_id, interview_id, status, completed_at, source in await session.execute(query):
        status_value = _value(status)
        current = chosen.get(household_id)
        if current is None or _rank(status_value, interview_id) > _rank(current[1], current[0]):
            chosen[household_id] = (interview_id, status_value, completed_at, source)
    return chosen


def _rank(status: str, interview_id: int) -> tuple[bool, int]:
    return status == InterviewStatus.COMPLETED.value, interview_id


async def _answers(session: AsyncSession, by_interview: dict[int, HouseholdRecord]) -> None:
    # The JSON text, decoded here: answers are mostly short strings, which a slice reads
    # several times faster than json.loads (the answer rows are most of an export's reading).
    rows = await session.execute(
        select(Answer.interview_id, Answer.path, cast(Answer.value, Text)).where(
            Answer.interview_id.in_(list(by_interview))
        )
    )
    for interview_id, path, text in rows:
        value = _decode(text)
        record = by_interview[interview_id]
        if "/" not in path:
            record.answers[path] = value
            continue
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == MEMBERS and parts[1].isdigit():
            record.members.setdefault(int(parts[1]), {})[parts[2]] = value


async def _results(session: AsyncSession, by_interview: dict[int, HouseholdRecord]) -> None:
    rows = await session.execute(
        select(
            Classification.interview_id,
            Classification.member_index,
            Classification.outcome,
            Classification.group,
            Classification.deprived,
            Classification.rule_set,
            Classification.details,
        ).where(
            Classification.interview_id.in_(list(by_interview)),
            Classification.current.is_(True),
        )
    )
    for interview_id, member_index, outcome, group, deprived, rule_set, details in rows:
        result = Result(outcome, group, list(deprived or []), rule_set, dict(details or {}))
        record = by_interview[interview_id]
        if member_index is None:
            record.result = result
        else:
            record.member_results[member_index] = result


async def _officers(session: AsyncSession, found: dict[int, HouseholdRecord]) -> None:
    rows = await session.execute(
        select(
            SupportAssignment.household_id,
            SupportAssignment.member_index,
            SupportAssignment.officer_name,
            SupportAssignment.officer_phone,
            User.display_name,
        )
        .outerjoin(User, User.id == SupportAssignment.officer_user_id)
        .where(
            SupportAssignment.household_id.in_(list(found)),
            SupportAssignment.ended_at.is_(None),
        )
    )
    for household_id, member_index, name, phone, user_name in rows:
        found[household_id].officers[member_index] = (user_name or name or "", phone)


def _decode(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    if len(text) > 1 and text[0] == '"' and text[-1] == '"' and "\\" not in text:
        return text[1:-1]
    return json.loads(text)


def _value(value: Any) -> str:
    return str(getattr(value, "value", value))
