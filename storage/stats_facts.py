"""Keeping ``member_facts`` (one row per interviewed member) in step with the answers.

The statistics need three answers per member (age, working capacity, employment status).
Pivoting them out of the answer rows at report time costs a scan of every answer of the
area; projecting them when an answer is stored costs one indexed read per answer. Both
writers of answers call in here, inside their own transaction:

* the chat, after each recorded answer: :func:`refresh_member_facts`;
* the questionnaire importer, after writing its answer rows: :func:`write_member_facts`.

:func:`rebuild_member_facts` recomputes everything from the answers (after an upgrade, or
to verify the projection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Answer, Interview
from storage.repositories import FactRow, MemberFactRepository
from storage.uow import UnitOfWork, Work

MEMBERS = "members"
FIELDS = ("age", "labour_capacity", "employment_status")
# Members without working capacity are not asked their employment status; the district
# report counts them under this status.
UNABLE = "unable"
# Interviews per query when reading answers back: well under the bind-parameter limits.
BATCH = 1000


def project_members(rows: Mapping[str, Any]) -> list[FactRow]:
    """The members of one interview from its stored answers ({path: JSON value}).

    A member exists when any answer of it exists; values that are missing or unusable are
    None, so an interview in progress projects what is known so far.
    """
    members: dict[int, dict[str, Any]] = {}
    for path, value in rows.items():
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != MEMBERS or not parts[1].isdigit():
            continue
        fields = members.setdefault(int(parts[1]), {})
        if parts[2] in FIELDS:
            fields[parts[2]] = value
    return [_fact(index, members[index]) for index in sorted(members)]


def _fact(index: int, fields: Mapping[str, Any]) -> FactRow:
    capacity = _choice(fields.get("labour_capacity"))
    status = _choice(fields.get("employment_status"))
    if capacity == "no":
        status = UNABLE
    return (index, _age(fields.get("age")), capacity, status)


def _choice(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _age(value: Any) -> int | None:
    # The form's calculate stores a number, but a hand-edited import may hold "42".
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def refresh_member_facts(
    work: Work,
    interview: Interview,
    answers: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
) -> bool:
    """Bring the interview's facts in line with ``answers`` (all its stored answers, as
    {path: JSON value}, e.g. ``flatten(session.answers)``); returns whether it wrote.

    ``previous``: the answers the stored facts were last brought in line with (the rows
    this transaction started from). When both project the same members there is nothing
    to write, which is known without reading the facts back; most answers are like that.
    """
    if previous is not None:
        prefix = MEMBERS + "/"
        changed = {key for key in answers.keys() ^ previous.keys() if key.startswith(prefix)}
        changed.update(
            key
            for key, value in answers.items()
            if key.startswith(prefix) and key in previous and previous[key] != value
        )
        if not changed:
            return False
    facts = project_members(answers)
    if previous is not None and project_members(previous) == facts:
        return False
    return MemberFactRepository(work.session).replace(interview.id, facts)


async def write_member_facts(
    session: AsyncSession, interviews: Iterable[tuple[int, Mapping[str, Any]]]
) -> int:
    """Bulk: replace the facts of each (interview id, its stored answers); returns how many
    member rows were written."""
    items = [(interview_id, project_members(rows)) for interview_id, rows in interviews]
    return await session.run_sync(lambda sync: MemberFactRepository(sync).replace_many(items))


async def refresh_member_facts_for(uow: UnitOfWork, interview_ids: Sequence[int]) -> int:
    """Recompute the facts of ``interview_ids`` from their stored answers (for writers that
    insert answer rows in bulk, e.g. the questionnaire import's ``after_write``); returns
    the number of member rows written."""
    total = 0
    ids = list(dict.fromkeys(interview_ids))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows: dict[int, dict[str, Any]] = {interview_id: {} for interview_id in chunk}
        query = select(Answer.interview_id, Answer.path, Answer.value).where(
            Answer.interview_id.in_(chunk), Answer.path.like(f"{MEMBERS}/%")
        )
        for interview_id, path, value in await uow.session.execute(query):
            rows[interview_id][path] = value
        total += await write_member_facts(uow.session, rows.items())
    return total


async def rebuild_member_facts(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Recompute every interview's facts from its answers, in one transaction (after an
    upgrade, or to check the projection); returns the number of member rows written."""
    async with UnitOfWork(sessions) as uow:
        ids = list(await uow.session.scalars(select(Interview.id).order_by(Interview.id)))
        total = await refresh_member_facts_for(uow, ids)
        uow.audit.record("member_facts.rebuilt", entity="member_facts", members=total)
        await uow.commit()
    return total


__all__ = [
    "project_members",
    "rebuild_member_facts",
    "refresh_member_facts",
    "refresh_member_facts_for",
    "write_member_facts",
]
