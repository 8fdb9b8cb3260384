"""Retention: a past review year's personal data deleted, or anonymised for the statistics.

The plan needs names and birth dates while households are followed and reported on; after
that, a commune keeps only what the law and its reports require. ``purge_year`` either
deletes the year's households with everything hanging off them, or keeps their answers and
classifications (so past statistics still add up) with every name, date, free text and
roster copy removed. Either way the audit log keeps that it happened, never what was erased,
and what still points at the year goes too: the numbered lists on people's screens (their
keys name households and interviews by id, which SQLite may give again) and the files
waiting behind download links (an export's names).

Apart from a purge, what serves a moment is forgotten once that moment is long past
(:func:`forget_stale`, in the reminders' periodic sweep): link codes, lists shown, wrong
codes, invites, and the ledgers of updates received and applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.decisions.registration import WRONG_CODES_WINDOW
from bot.links import forget_all
from forms import FieldType, current_form
from forms.codec import SEPARATOR
from storage.models import (
    Answer,
    AuditEntry,
    Classification,
    Household,
    Interview,
    Member,
    MemberFact,
    ShownList,
    SupportAssignment,
    SupportContact,
)
from storage.uow import UnitOfWork, Work

# Answers that identify a person rather than describe a situation.
IDENTIFYING_TYPES = frozenset({FieldType.TEXT, FieldType.DATE})

# A link code lives minutes; kept a day past that, one typed late is still answered as
# expired (or used) rather than as a wrong code counted against the account.
LINK_CODES_KEPT = timedelta(days=1)
# A question left open over weeks of fieldwork still takes its typed number; after that, a
# number typed is taken as text and the dialog shows its question again.
SHOWN_LISTS_KEPT = timedelta(days=30)
# Used or expired, an invite still answers a code typed from an old message or sheet of
# paper as used or expired for three months; the audit log keeps who registered with it.
INVITES_KEPT = timedelta(days=90)
# Long past any redelivery window, short enough that the ledger stays small.
LEDGER_KEEP = timedelta(days=7)


class Purge(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"


@dataclass(frozen=True)
class PurgeResult:
    year: int
    mode: Purge
    households: int
    interviews: int
    applied: bool


def identifying_fields() -> frozenset[str]:
    form = current_form()
    return frozenset(name for name, field in form.fields.items() if field.type in IDENTIFYING_TYPES)


def _identifying(key: str, fields: frozenset[str]) -> bool:
    return key.rsplit(SEPARATOR, 1)[-1] in fields


def scrub(values: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """``values`` (path key -> value) without the identifying answers."""
    return {key: value for key, value in values.items() if not _identifying(key, fields)}


async def purge_year(
    sessions: async_sessionmaker[AsyncSession],
    year: int,
    mode: Purge,
    *,
    apply: bool,
    links_dir: Path | None = None,
) -> PurgeResult:
    """The year's households purged (with ``apply``; else only counted), and the files
    waiting in ``links_dir``."""
    async with UnitOfWork(sessions) as uow:
        session = uow.session
        households = list(
            (await session.scalars(select(Household.id).where(Household.review_year == year))).all()
        )
        interviews = list(
            (
                await session.scalars(
                    select(Interview.id).where(Interview.household_id.in_(households))
                )
            ).all()
        )
        result = PurgeResult(year, mode, len(households), len(interviews), apply)
        if not apply:
            return result
        await _forget_audit_details(session, households, interviews)
        if mode is Purge.DELETE:
            await _delete(session, households, interviews)
        else:
            await _anonymise(session, households, interviews, identifying_fields())
        # Every list, not only the year's: its keys are opaque ids of any dialog's rows.
        await session.execute(delete(ShownList))
        uow.audit.record(
            "year.purged",
            entity="review_year",
            entity_id=year,
            mode=mode.value,
            households=len(households),
            interviews=len(interviews),
        )
        await uow.commit()
    if links_dir is not None:
        await asyncio.to_thread(forget_all, links_dir)
    return result


def forget_stale(work: Work, now: datetime) -> None:
    """What serves a moment long past, forgotten."""
    work.identities.prune(now - LINK_CODES_KEPT)
    work.shown_lists.prune(now - SHOWN_LISTS_KEPT)
    # A wrong code past the window counts towards no lock-out (lifted or not): its name
    # and account id serve nothing more.
    work.registration_failures.prune(now - WRONG_CODES_WINDOW)
    work.invites.prune(now - INVITES_KEPT)
    forget_updates(work, now)


def forget_updates(work: Work, now: datetime) -> None:
    """The updates received and applied long before ``now``, forgotten; one never applied
    is kept for the next start to apply."""
    # The inbox first: the ledger keeps an update's row while the inbox holds the update.
    work.inbox.prune(now - LEDGER_KEEP)
    work.updates.prune(now - LEDGER_KEEP)


async def _forget_audit_details(
    session: AsyncSession, households: list[int], interviews: list[int]
) -> None:
    # Audit rows keep who did what and when; their details (old and new answers, names)
    # go with the data they describe.
    for entity, ids in (("household", households), ("interview", interviews)):
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id.in_(_texts(ids)))
            .values(details={})
        )


def _assignments(households: list[int]) -> Any:
    return select(SupportAssignment.id).where(SupportAssignment.household_id.in_(households))


async def _delete(session: AsyncSession, households: list[int], interviews: list[int]) -> None:
    await session.execute(
        delete(SupportContact).where(SupportContact.assignment_id.in_(_assignments(households)))
    )
    await session.execute(
        delete(SupportAssignment).where(SupportAssignment.household_id.in_(households))
    )
    for table, column in (
        (MemberFact, MemberFact.interview_id),
        (Classification, Classification.interview_id),
        (Answer, Answer.interview_id),
    ):
        await session.execute(delete(table).where(column.in_(interviews)))
    await session.execute(delete(Interview).where(Interview.id.in_(interviews)))
    await session.execute(delete(Member).where(Member.household_id.in_(households)))
    await session.execute(delete(Household).where(Household.id.in_(households)))


async def _anonymise(
    session: AsyncSession,
    households: list[int],
    interviews: list[int],
    fields: frozenset[str],
) -> None:
    # The code is the commune list's key to a family: replaced like the name.
    for household_id in households:
        await session.execute(
            update(Household)
            .where(Household.id == household_id)
            .values(code=f"AN-{household_id}", head_name="", head_name_search="")
        )
    await session.execute(
        update(Member)
        .where(Member.household_id.in_(households))
        .values(full_name="", birth_date=None)
    )
    # The evaluated questionnaire holds the answers too (names included).
    await session.execute(
        update(Interview).where(Interview.id.in_(interviews)).values(prefill={}, plan_state=None)
    )
    answers = await session.scalars(select(Answer).where(Answer.interview_id.in_(interviews)))
    for answer in answers:
        if _identifying(answer.path, fields):
            answer.value = None
    results = await session.scalars(
        select(Classification).where(Classification.interview_id.in_(interviews))
    )
    for result in results:
        result.member_name = None
        result.inputs = scrub(dict(result.inputs or {}), fields)
    # Who was followed and by whom go; the support given (kind, programme, outcome, dates)
    # stays for the reports.
    await session.execute(
        update(SupportAssignment)
        .where(SupportAssignment.household_id.in_(households))
        .values(member_name="", officer_name=None, officer_phone=None)
    )
    await session.execute(
        update(SupportContact)
        .where(SupportContact.assignment_id.in_(_assignments(households)))
        .values(note=None)
    )


def _texts(ids: Iterable[int]) -> list[str]:
    return [str(i) for i in ids]
