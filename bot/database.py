"""Opens the database a command works on: the form checked against the code, the schema
migrated, the ledgers pruned. ``bot.runtime`` adds the Conversation the chat needs; the
administration commands open this alone, without the dialogs' modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.form_check import check_form
from bot.retention import forget_updates
from bot.settings import Settings
from classification.vocabulary import (
    HOUSEHOLD_CHOICES,
    FormField,
    VocabularyError,
    mismatches,
)
from forms import Form, current_form
from storage.db import create_engine, session_factory, upgrade
from storage.models import HouseholdCategory
from storage.uow import UnitOfWork

BUNDLED_FORM_FILE = "forms/household.xlsx"


Sessions = async_sessionmaker[AsyncSession]


@dataclass(slots=True)
class Database:
    engine: AsyncEngine
    sessions: Sessions


def check_vocabulary(form: Form, form_file: str = BUNDLED_FORM_FILE) -> None:
    """Refuses a form whose field names or choice codes are not the ones the rules, the
    database's categories and the exports were written for, naming the file to fix."""
    fields = {
        name: FormField(
            str(field.type),
            tuple(c.name for c in form.choices.get(field.list_name, ())) if field.list_name else (),
            field.repeats,
        )
        for name, field in form.fields.items()
    }
    problems = mismatches(fields, form_file)
    categories = [category.value for category in HouseholdCategory]
    problems += [
        f"storage/models.py: HouseholdCategory {code!r} is not a choice of 'category' in "
        f"{form_file}"
        for code in categories
        if code not in fields.get("category", FormField("")).codes
    ]
    problems += [
        f"{form_file}: choice {code!r} of 'category' is missing from HouseholdCategory in "
        "storage/models.py"
        for code in HOUSEHOLD_CHOICES["category"]
        if code not in categories
    ]
    if problems:
        raise VocabularyError(problems)


async def open_database(
    settings: Settings, *, prepare: bool = True, **engine_kwargs: Any
) -> Database:
    """The database, checked and migrated; without ``prepare``, only opened (for a process
    whose parent prepared it: bot.turn_process)."""
    if prepare:
        # Before anything is opened: a form edited in Excel that no longer matches the code
        # is refused at start, not discovered as "missing" answers in every classification.
        # Read only if it, or the code, changed since it last passed (bot.form_check).
        check_form(settings.cache_dir, lambda: check_vocabulary(current_form()))
    engine = create_engine(settings.database_url, schema=settings.database_schema, **engine_kwargs)
    sessions = session_factory(engine)
    if not prepare:
        return Database(engine, sessions)
    # Migrating at every start means an upgraded bot never runs on an old schema.
    await upgrade(engine)
    now = datetime.now(UTC)
    async with UnitOfWork(sessions) as uow:
        await uow.run(lambda work: forget_updates(work, now))
        await uow.commit()
    return Database(engine, sessions)


@asynccontextmanager
async def database(settings: Settings, **engine_kwargs: Any) -> AsyncIterator[Database]:
    opened = await open_database(settings, **engine_kwargs)
    try:
        yield opened
    finally:
        await opened.engine.dispose()
