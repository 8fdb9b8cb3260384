"""Interview dialog rules, through the platform-neutral Conversation (fast, both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.admin import create_invites
from bot.conversation import Conversation
from bot.settings import Settings
from forms import load_bundled_form
from forms.codec import assemble
from storage.imports.responses import import_responses
from storage.models import (
    Answer,
    AuditEntry,
    Household,
    Interview,
    InterviewStatus,
    Role,
    User,
)
from tests.conftest import INVITE_KEY, Database
from tests.helpers import seed_areas
from tests.imports.responses_files import HouseholdData, kobo_labels_export
from tests.interview_driver import (
    HOUSEHOLD_CODE,
    Collaborator,
    at_field,
    at_member,
    seed_household,
)
from tests.surfaces import ConversationSurface, TerminalSurface
from tests.test_interview_e2e import YEAR, joined, open_household


async def stored_answers(database: Database) -> dict[str, object]:
    async with database.sessions() as session:
        rows = await session.execute(select(Answer.path, Answer.value))
        return {path: value for path, value in rows}


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
    database: Database,
    conversation: Conversation,
    user_id: str,
    area: str = "87-MH-A1",
    terminal: Path | None = None,
) -> Collaborator:
    surface: ConversationSurface | TerminalSurface = (
        ConversationSurface(conversation, user_id)
        if terminal is None
        else TerminalSurface(conversation, user_id, terminal)
    )
    [invite] = await create_invites(
        database.sessions, Role.COLLABORATOR, area, days=1, key=INVITE_KEY
    )
    await surface.type(f"/start {invite.code}")
    return Collaborator(surface, database.sessions, "terminal", user_id)


async def start(collab: Collaborator) -> None:
    await open_household(collab)
    await collab.confirm_roster()


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
    assert (await collab.question()).path == ("area_type",)
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
    stored = await stored_answers(database)
    assert stored["member_count"] == 5 and stored["members/4/name"] == "Nguyễn Văn Tí"
    assert stored["members/3/name"] == "Nguyễn Thị Mai" and "members/4/sex" not in stored
    # The added member's other questions are asked when the bot reaches them.
    await collab.answer_until(at_member(4, "sex"))
    assert (await collab.question()).path == ("members", 4, "sex")


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
    # 27 from the confirmed roster: category, size, and 5 questions for each of 5 members.
    assert "đã trả lời 29 câu" in replies
    assert (await collab.question()).path == question.path


async def test_the_household_code_is_the_household_picked_and_the_answers_round_trip(
    database: Database, setup: tuple[Conversation, Clock], tmp_path: Path
) -> None:
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    # Never asked, and /back cannot reach it: the collaborator picked the household. The
    # confirmed roster answered the category; /back reaches it, and no further.
    assert (await collab.question()).path == ("area_type",)
    await collab.say("/back")
    assert (await collab.question()).path == ("category",)
    assert "Đây đã là câu đầu tiên." in "\n".join(await collab.say("/back"))
    await collab.pick("Hộ nghèo")
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
        answers = assemble(form, [(path, value) for path, value in rows])
    assert answers["household_code"] == HOUSEHOLD_CODE

    # The same answers as Kobo exports the bundled form: the file finds the household
    # by its code column and holds exactly what the chat stored.
    members = answers.pop("members")
    export = kobo_labels_export(
        tmp_path / "kobo.xlsx", [HouseholdData(HOUSEHOLD_CODE, answers, members)]
    )
    result = await import_responses(database.sessions, export, year=YEAR)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


async def in_terminal(
    database: Database, conversation: Conversation, tmp_path: Path
) -> tuple[Collaborator, TerminalSurface]:
    collab = await collaborator(database, conversation, "1", terminal=tmp_path)
    assert isinstance(collab.surface, TerminalSurface)
    return collab, collab.surface


async def audited(database: Database, action: str) -> list[dict[str, object]]:
    async with database.sessions() as session:
        entries = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [entry.details for entry in entries]


async def test_a_confirmed_roster_answers_its_questions_which_stay_changeable(
    database: Database, setup: tuple[Conversation, Clock], tmp_path: Path
) -> None:
    collab, surface = await in_terminal(database, setup[0], tmp_path)
    await open_household(collab)
    replies = joined(await collab.confirm_roster())
    assert "Hộ ở khu vực nào?" in replies and "Hộ thuộc diện nào" not in replies

    # Stored as the form's answers, by the collaborator, like any answer.
    async with database.sessions() as session:
        rows = {a.path: a for a in await session.scalars(select(Answer))}
        user = await session.scalar(select(User).where(User.platform_user_id == "1"))
    assert user is not None
    assert rows["category"].value == "poor" and rows["member_count"].value == 5
    assert rows["members/0/name"].value == "Nguyễn Văn Hùng"
    assert rows["members/0/sex"].value == "male" and rows["members/0/relation"].value == "head"
    assert rows["members/0/birth_date"].value == "1974-06-11"
    assert rows["members/1/birth_known"].value == "year_only"
    assert rows["members/1/birth_year"].value == 1978
    assert rows["members/4/age"].value >= 75  # the form's calculation ran on them
    assert {row.answered_by for row in rows.values()} == {user.id}
    assert await audited(database, "roster.confirmed") == [{"answers": 27}]

    # /review changes one; each choice is listed once, the current one marked.
    listing = joined(await collab.say("/review"))
    [line] = [ln for ln in listing.splitlines() if "Giới tính của Nguyễn Văn Hùng" in ln]
    assert line.endswith("→ Nam")
    await collab.say(line.split(".", 1)[0])
    assert [label for label, _data in surface.buttons()] == ["✔ Nam", "Nữ"]
    assert surface.screen().endswith("\n  1. ✔ Nam\n  2. Nữ")
    # A number that is not on the list names the numbers that are.
    assert "từ 1 đến 2" in joined(await collab.say("3"))
    assert "Đã sửa" in joined(await collab.pick("Nữ"))
    changes = await audited(database, "answer.changed")
    assert [(c["path"], c["old"], c["new"]) for c in changes] == [
        ("members/0/sex", "male", "female")
    ]


async def test_typed_numbers_are_answers_and_each_question_has_one_hint(
    database: Database, setup: tuple[Conversation, Clock], tmp_path: Path
) -> None:
    collab, surface = await in_terminal(database, setup[0], tmp_path)
    await start(collab)
    await collab.answer_until(at_field("floor_area_m2"))
    screen = surface.screen()
    assert screen.count("Ví dụ") + screen.count("ví dụ") == 1, screen
    refused = joined(await collab.say("ba mươi"))
    assert "“ba mươi” không phải là một số" in refused and "triệu" not in refused

    await collab.answer_until(at_field("income_per_capita_month"))
    screen = surface.screen()
    assert "(Có thể bỏ qua nếu chưa ước tính được. Ví dụ: 1,5 triệu" in screen
    assert "số nguyên" not in screen  # the form's hint is the only one
    # "Bỏ qua" is lettered, and the prompt says so: typing 1 answers 1.
    assert "\n  a. Bỏ qua\n" in screen and "chữ cái (a, b…)" in screen
    await collab.say("1")
    assert (await stored_answers(database))["income_per_capita_month"] == 1
    assert (await collab.question()).path == ("housing_difficulty",)


async def test_section_notes_and_member_headers_are_said_once(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    await start(collab)
    # The household part's title comes with its first question actually asked, although the
    # questions before it were answered without asking (the code, the roster's category).
    assert collab.transcript[-2:] == ["Phần A. Thông tin chung của hộ", collab.transcript[-1]]
    assert collab.transcript[-1].startswith("Hộ ở khu vực nào?")
    await collab.answer_until(at_member(0, "labour_capacity"))
    first = collab.transcript[-1]
    assert first.startswith("👤 Thành viên 1/5\nNguyễn Văn Hùng còn khả năng lao động")
    assert collab.transcript[-2] == "Phần B. Thông tin từng thành viên"
    listing = joined(await collab.say("/review"))
    # The header says which member: the name question doesn't say it again.
    assert "\n14. Họ và tên → Nguyễn Văn Hùng\n" in listing and "Thành viên thứ" not in listing
    replies = await collab.say("0")
    assert replies == [first]


async def test_a_household_reopened_before_its_roster_was_confirmed_shows_the_roster(
    database: Database, setup: tuple[Conversation, Clock]
) -> None:
    # Left at the roster (or its confirmation lost on the way): reopening it asks for the
    # roster check again, not its questions one by one.
    conversation, _clock = setup
    collab = await collaborator(database, conversation, "1")
    first = "\n".join(await open_household(collab))
    assert "Danh sách có 5 nhân khẩu" in first
    await collab.say("/pause")
    again = "\n".join(await open_household(collab))
    assert "Danh sách có 5 nhân khẩu" in again
    assert "Hộ thuộc diện nào" not in again
    await collab.confirm_roster()
    assert "category" in await stored_answers(database)
