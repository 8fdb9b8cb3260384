"""Interview dialog rules, through the platform-neutral Conversation (fast, both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.admin import create_invites
from bot.conversation import Conversation
from bot.forms import load_bundled_form
from bot.interview.codec import assemble
from bot.settings import Settings
from storage.imports.responses import import_responses
from storage.models import Answer, Household, Interview, InterviewStatus, Role
from tests.conftest import INVITE_KEY, Database
from tests.helpers import seed_areas
from tests.imports.responses_files import HouseholdData, kobo_labels_export
from tests.interview_driver import HOUSEHOLD_CODE, Collaborator, seed_household
from tests.surfaces import ConversationSurface
from tests.test_interview_e2e import YEAR, open_household


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def setup(database: Database, settings: Settings) -> tuple[Conversation, Clock]:
    await seed_areas(database.sessions)
    await seed_household(database.sessions, YEAR)
    clock = Clock()
    return Conversation(database.sessions, settings, clock=clock), clock


async def collaborator(
    database: Database, conversation: Conversation, user_id: str, area: str = "87-MH-A1"
) -> Collaborator:
    surface = ConversationSurface(conversation, user_id)
    [invite] = await create_invites(
        database.sessions, Role.COLLABORATOR, area, days=1, key=INVITE_KEY
    )
    await surface.type(f"/start {invite.code}")
    return Collaborator(surface, database.sessions, "terminal", user_id)


async def start(collab: Collaborator) -> None:
    await open_household(collab)
    await collab.tap(next(d for _, d in collab.surface.buttons() if d.endswith(":ok")))


async def test_text_after_a_long_silence_first_shows_where_we_are(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    conversation, clock = setup
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    await collab.answer_one()
    question = await collab.question()
    clock.now += timedelta(days=2)
    replies = "\n".join(await collab.say("1"))
    assert "Tiếp tục phỏng vấn hộ HH-TEST" in replies
    assert (await collab.question()).path == question.path  # "1" was not taken as an answer
    await collab.answer_one()
    assert (await collab.question()).path != question.path


async def test_scope_and_one_interviewer_per_household(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    conversation, _clock = setup
    first = await collaborator(database, conversation, "1")
    await start(first)
    second = await collaborator(database, conversation, "2")
    replies = "\n".join(await open_household(second))
    assert "đang được Hoa phỏng vấn" in replies

    outsider = await collaborator(database, conversation, "3", area="87-MH-A2")
    async with database.sessions() as session:
        household = await session.scalar(select(Household))
        assert household is not None
    replies = "\n".join(await outsider.tap(f"h:{household.id}"))
    assert "không thuộc phạm vi của bạn" in replies
    replies = "\n".join(await outsider.say("/interview"))
    assert "chưa có hộ nào" in replies


async def test_required_cannot_be_skipped_and_cancel_needs_confirmation(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    replies = "\n".join(await collab.say("/skip"))
    assert "bắt buộc" in replies
    replies = "\n".join(await collab.say("/cancel"))
    assert "Hủy cuộc phỏng vấn hộ HH-TEST" in replies
    no = next(d for label, d in collab.surface.buttons() if d.endswith(":no"))
    await collab.tap(no)
    assert (await collab.question()).path == ("category",)
    await collab.say("/cancel")
    yes = next(d for label, d in collab.surface.buttons() if d.endswith(":yes"))
    replies = "\n".join(await collab.tap(yes))
    assert "Đã hủy" in replies
    assert await collab.current() is None
    async with database.sessions() as session:
        interview = await session.scalar(select(Interview))
        assert interview is not None and interview.status is InterviewStatus.CANCELLED
    # A new interview can start afresh.
    replies = "\n".join(await open_household(collab))
    assert "Danh sách có 5 nhân khẩu" in replies


async def test_roster_can_be_corrected(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    await open_household(collab)
    await collab.tap(next(d for _, d in collab.surface.buttons() if d.endswith(":del")))
    last = collab.surface.buttons()[-1][1]
    replies = "\n".join(await collab.tap(last))
    assert "Danh sách có 4 nhân khẩu" in replies and "Lê Thị Bảy" not in replies
    await collab.tap(next(d for _, d in collab.surface.buttons() if d.endswith(":add")))
    replies = "\n".join(await collab.say("Nguyễn Văn Tí"))
    assert "Danh sách có 5 nhân khẩu" in replies and "5. Nguyễn Văn Tí" in replies
    await collab.tap(next(d for _, d in collab.surface.buttons() if d.endswith(":ok")))
    await collab.answer_until(lambda q: q.name == "member_count")
    assert (await collab.question()).default == 5


async def test_pause_then_resume_from_the_list(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    await collab.answer_one()
    await collab.answer_one()
    question = await collab.question()
    replies = "\n".join(await collab.say("/pause"))
    assert "Đã tạm dừng" in replies
    assert await collab.current() is None
    assert "không có cuộc phỏng vấn" in "\n".join(await collab.say("/back"))
    replies = "\n".join(await open_household(collab))
    assert "đã trả lời 2 câu" in replies
    assert (await collab.question()).path == question.path


async def test_the_household_code_is_the_household_picked_and_the_answers_round_trip(
    database: Database, setup: tuple[Conversation, Clock], tmp_path: Path
) -> None:
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    # Never asked, and /back cannot reach it: the collaborator picked the household.
    assert (await collab.question()).path == ("category",)
    assert "Đây đã là câu đầu tiên." in "\n".join(await collab.say("/back"))
    await collab.answer_one()
    review = "\n".join(await collab.say("/review"))
    assert "1. Hộ thuộc diện nào" in review and "Mã hộ" not in review
    await collab.say("0")
    await collab.finish()

    form = load_bundled_form()
    async with database.sessions() as session:
        interview = await session.scalar(select(Interview))
        assert interview is not None and interview.status is InterviewStatus.COMPLETED
        rows = await session.execute(
            select(Answer.path, Answer.value).where(Answer.interview_id == interview.id)
        )
        answers = assemble(form, list(rows.tuples()))
    assert answers["household_code"] == HOUSEHOLD_CODE

    # The same answers as Kobo exports the bundled form: the file finds the household
    # by its code column and holds exactly what the chat stored.
    members = answers.pop("members")
    export = kobo_labels_export(
        tmp_path / "kobo.xlsx", [HouseholdData(HOUSEHOLD_CODE, answers, members)]
    )
    result = await import_responses(database.sessions, export, year=YEAR)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
