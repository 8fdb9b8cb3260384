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
from storage.rows import InterviewRow
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
    interview: Interview | InterviewRow,
    answers: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    changed: Iterable[str] | None = None,
) -> bool:
    """Bring the interview's facts in line with ``answers`` (all its stored answers, as
    {path: JSON value}, e.g. ``flatten(session.answers)``); returns whether it wrote.

    ``previous``: the answers the stored facts were last brought in line with (the rows
    this transaction started from); ``changed``: the keys written or deleted since (all
    those that differ, by default). Only the members those keys belong to are projected
    again, and written when their facts differ: one answer touches one member at most,
    and most answers change no fact, which is known without reading the facts back.
    """
    if previous is None:
        return MemberFactRepository(work.session).replace(interview.id, project_members(answers))
    if changed is None:
        differ = answers.keys() ^ previous.keys()
        differ |= {key for key, value in answers.items() if previous.get(key, value) != value}
        changed = differ
    touched = sorted(_members(changed))
    before = [_member_fact(previous, index) for index in touched]
    after = [_member_fact(answers, index) for index in touched]
    if before == after:
        return False
    facts = [fact for fact in after if fact is not None]
    MemberFactRepository(work.session).replace_members(interview.id, touched, facts)
    return True


def _members(keys: Iterable[str]) -> set[int]:
    """The members these answer keys belong to."""
    found = set()
    for key in keys:
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == MEMBERS and parts[1].isdigit():
            found.add(int(parts[1]))
    return found


def _member_fact(rows: Mapping[str, Any], index: int) -> FactRow | None:
    """Member ``index``'s facts in ``rows`` (as :func:`project_members` gives them), None
    when no answer of theirs is there."""
    prefix = f"{MEMBERS}/{index}/"
    fields = {name: rows[prefix + name] for name in FIELDS if prefix + name in rows}
    if not fields and not any(
        key.startswith(prefix) and "/" not in key[len(prefix) :] for key in rows
    ):
        return None
    return _fact(index, fields)


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
