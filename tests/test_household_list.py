"""The household list's shell on the real stack: what it stores and reads per turn."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation import Conversation
from bot.settings import Settings
from storage.models import DialogState
from tests.conftest import Database
from tests.helpers import seed_areas
from tests.interview_driver import HOUSEHOLD_CODE, seed_household
from tests.test_interview_dialog import collaborator
from tests.test_interview_e2e import YEAR


async def stored(database: Database) -> tuple[str, dict[str, object]]:
    async with database.sessions() as session:
        [row] = (await session.scalars(select(DialogState))).all()
        return row.dialog, dict(row.state)


async def test_a_search_and_a_page_past_the_end_are_stored_as_the_list_shown(
    database: Database, settings: Settings
) -> None:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    conversation = Conversation(database.sessions, settings)
    person = await collaborator(database, conversation, "1")
    replies = "\n".join(await person.say("/interview"))
    assert "(1–1 / 1)" in replies
    [(label, _)] = person.surface.buttons()
    assert label.startswith(HOUSEHOLD_CODE)
    # A page button of a longer list than there is now: the last page, not an empty one.
    replies = "\n".join(await person.tap("hp:16"))
    assert "(1–1 / 1)" in replies
    [(label, _)] = person.surface.buttons()
    assert label.startswith(HOUSEHOLD_CODE)
    assert await stored(database) == ("households", {"query": "", "offset": 0})
    replies = "\n".join(await person.say("  khong   co  "))
    assert 'Không tìm thấy hộ nào khớp với "khong co"' in replies
    assert await stored(database) == ("households", {"query": "khong co", "offset": 0})
