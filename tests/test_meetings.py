"""Policy dialogues on the real stack (both databases): scheduling in chat, the invitation
list, the reminder sweep, "Đã mời", the status, a change and a cancellation after the
reminders, attendance and needs. The clock is the test's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.context import DialogContext
from bot.conversation import Conversation
from bot.decisions.meetings import OutboxMessage
from bot.dialogs import meetings as shell
from bot.messages import Choices, Text
from bot.settings import Settings
from classification import load_rule_set
from exports.export_sheets import HOUSEHOLDS, Layout
from exports.rows import Selection, load_batch
from forms import load_bundled_form
from storage.models import (
    Household,
    HouseholdCategory,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Role,
)
from storage.text import fold
from storage.uow import UnitOfWork, Work
from tests.conftest import Database
from tests.helpers import add_person, area_ids, message, seed_areas
from tests.surfaces import ConversationSurface

YEAR = 2026
# 08:00 on 6 December in Vietnam.
START = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
# 08:00 on 15 December in Vietnam.
MEETING_AT = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


ROSTER = [
    ("A1-01", "Nguyễn Văn An", "87-MH-A1", HouseholdCategory.POOR),
    ("A1-02", "Trần Thị Bé", "87-MH-A1", HouseholdCategory.NEAR_POOR),
    ("A1-03", "Lê Văn Cường", "87-MH-A1", HouseholdCategory.ESCAPED),
    ("A2-01", "Phạm Thị Dung", "87-MH-A2", HouseholdCategory.POOR),
]


async def seed(database: Database) -> dict[str, int]:
    """The areas, the roster, a supervisor and one collaborator per village: user ids."""
    await seed_areas(database.sessions)
    async with UnitOfWork(database.sessions) as uow:
        areas = await uow.areas.by_codes(["87-MH-A1", "87-MH-A2"])
        for code, name, village, category in ROSTER:
            uow.session.add(
                Household(
                    code=code,
                    review_year=YEAR,
                    area_id=areas[village].id,
                    head_name=name,
                    head_name_search=fold(name),
                    category=category,
                )
            )
        await uow.commit()
    ids = {}
    for user_id, role, area in (
        ("sup", Role.SUPERVISOR, "87-MH"),
        ("c1", Role.COLLABORATOR, "87-MH-A1"),
        ("c2", Role.COLLABORATOR, "87-MH-A2"),
    ):
        user = await add_person(
            database.sessions, "terminal", user_id, f"Người {user_id}", role, area
        )
        ids[user_id] = user.id
    return ids


async def schedule(person: ConversationSurface, villages: Sequence[int], when: str) -> str:
    await person.type("/doithoai")
    await person.type(when)
    await person.type("Hội trường UBND xã")
    for village in villages:
        await person.press(f"mt:v:{village}")
    await person.press("mt:d")
    await person.press("mt:c:poor")
    await person.press("mt:c:escaped")
    await person.press("mt:d")
    await person.press("mt:d")
    return "\n".join(await person.press("mt:ok"))


async def invitations(database: Database) -> list[MeetingInvitation]:
    async with database.sessions() as session:
        rows = await session.scalars(select(MeetingInvitation).order_by(MeetingInvitation.id))
        return list(rows)


async def sweep(database: Database, settings: Settings, now: datetime) -> list[OutboxMessage]:
    async with UnitOfWork(database.sessions) as uow:
        sent = await uow.run(
            lambda work: shell.send_due_reminders(work, settings, now, settings.offsets)
        )
        await uow.commit()
        return sent


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, OutboxMessage]]:
    """What reaches the outbox seam, with the unit of work it was written in."""
    seen: list[tuple[Any, OutboxMessage]] = []

    def enqueue(work: Work, messages: Sequence[OutboxMessage]) -> None:
        seen.extend((work, m) for m in messages)

    monkeypatch.setattr(shell, "enqueue", enqueue)
    return seen


async def test_a_dialogue_from_scheduling_to_attendance(
    database: Database, settings: Settings, outbox: list[tuple[Any, OutboxMessage]]
) -> None:
    ids = await seed(database)
    areas = await area_ids(database.sessions)
    clock = Clock()
    conversation = Conversation(database.sessions, settings, clock=clock)
    supervisor = ConversationSurface(conversation, "sup")
    c1 = ConversationSurface(conversation, "c1")
    c2 = ConversationSurface(conversation, "c2")

    done = await schedule(supervisor, [areas["87-MH-A1"], areas["87-MH-A2"]], "15/12/2026 08:00")
    assert "Đã lên lịch buổi đối thoại số 1; 3 hộ được mời" in done
    async with database.sessions() as session:
        [meeting] = (await session.scalars(select(Meeting))).all()
        assert meeting.starts_at == MEETING_AT
        assert meeting.categories == ["poor", "escaped"]
        assert meeting.status is MeetingStatus.SCHEDULED
        assert meeting.invitations_frozen_at is None
    rows = await invitations(database)
    # A1-02 is near-poor: not invited.
    assert len(rows) == 3
    assert {r.collaborator_id for r in rows} == {ids["c1"], ids["c2"]}

    listed = "\n".join(await supervisor.type("/doithoai ds"))
    assert "Số 1: 08:00 15/12/2026, Hội trường UBND xã — Ấp 1, Ấp 2" in listed

    # Nothing due yet; three days before, each collaborator gets their households.
    assert await sweep(database, settings, MEETING_AT - timedelta(days=4)) == []
    reminders = await sweep(database, settings, MEETING_AT - timedelta(days=3))
    assert sorted(m.user_id for m in reminders) == sorted([ids["c1"], ids["c2"]])
    assert [uow for uow, _ in outbox] and all(uow is outbox[0][0] for uow, _ in outbox)
    [to_c1] = [m for m in reminders if m.user_id == ids["c1"]]
    assert isinstance(to_c1.message, Choices)
    labels = [c.label for c in to_c1.message.choices]
    assert labels == ["Đã mời: A1-01 · Nguyễn Văn An", "Đã mời: A1-03 · Lê Văn Cường"]
    # Again at the same moment: nothing twice.
    assert await sweep(database, settings, MEETING_AT - timedelta(days=3)) == []
    rows = await invitations(database)
    assert all(r.reminded_at is not None for r in rows)

    # "Đã mời": once, and only by the household's own collaborator.
    first = to_c1.message.choices[0].data
    clock.now = MEETING_AT - timedelta(days=2)
    assert await c1.press(first) == ["Đã ghi: hộ A1-01 đã được mời."]
    assert await c1.press(first) == ["Hộ A1-01 đã được ghi là đã mời."]
    assert await c2.press(first) == ["Hộ hoặc địa bàn này không thuộc phạm vi của bạn."]
    status = "\n".join(await supervisor.type("/doithoai trangthai 1"))
    assert "đã mời 1/3 hộ" in status
    assert "Người c1: còn 1 hộ chưa mời" in status
    assert "Người c2: còn 1 hộ chưa mời" in status

    # A household added to the roster after the reminders: invited, flagged late.
    async with UnitOfWork(database.sessions) as uow:
        uow.session.add(
            Household(
                code="A2-02",
                review_year=YEAR,
                area_id=areas["87-MH-A2"],
                head_name="Võ Văn Em",
                head_name_search=fold("Võ Văn Em"),
                category=HouseholdCategory.POOR,
            )
        )
        await uow.commit()
    village_supervisor = await add_person(
        database.sessions, "terminal", "sup2", "Người sup2", Role.SUPERVISOR, "87-MH-A2"
    )
    one_day = await sweep(database, settings, MEETING_AT - timedelta(days=1))
    # The supervisor who scheduled it (of the commune, so of both) is told who is still
    # behind, once; the supervisor of Ấp 2 about Ấp 2's collaborator only.
    [note] = [m for m in one_day if m.user_id == ids["sup"]]
    assert isinstance(note.message, Text)
    assert note.message.text.splitlines()[1:3] == [
        "⏳ Người c2: còn 2 hộ chưa mời",
        "⏳ Người c1: còn 1 hộ chưa mời",
    ]
    [village_note] = [m for m in one_day if m.user_id == village_supervisor.id]
    assert isinstance(village_note.message, Text)
    assert village_note.message.text.splitlines()[1:] == [
        "⏳ Người c2: còn 2 hộ chưa mời",
        "Xem: /doithoai trangthai 1",
    ]
    seen = "\n".join(await ConversationSurface(conversation, "sup2").type("/doithoai trangthai 1"))
    assert "Người c2: còn 2 hộ chưa mời" in seen
    # c1 has one household left, c2 two (one of them late).
    [to_c2] = [m for m in one_day if m.user_id == ids["c2"]]
    assert isinstance(to_c2.message, Choices)
    assert [c.label for c in to_c2.message.choices] == [
        "Đã mời: A2-01 · Phạm Thị Dung",
        "Đã mời: A2-02 · Võ Văn Em (mới thêm)",
    ]
    late = [r for r in await invitations(database) if r.added_late]
    assert len(late) == 1

    # A change after the reminders: told to both collaborators.
    outbox.clear()
    await supervisor.type("/doithoai doi 1")
    await supervisor.type("16/12/2026 14:00")
    await supervisor.type("Nhà văn hoá ấp 1")
    for _ in range(3):
        await supervisor.press("mt:d")
    changed = "\n".join(await supervisor.press("mt:ok"))
    assert "Đã đổi buổi đối thoại số 1; 4 hộ được mời" in changed
    assert sorted(m.user_id for _, m in outbox) == sorted([ids["c1"], ids["c2"]])
    [(_, told)] = [(u, m) for u, m in outbox if m.user_id == ids["c1"]]
    assert isinstance(told.message, Text)
    assert "08:00 15/12/2026" in told.message.text and "14:00 16/12/2026" in told.message.text

    # Attendance and needs after the dialogue.
    clock.now = datetime(2026, 12, 16, 10, 0, tzinfo=UTC)
    [a1_01] = [r for r in await invitations(database) if r.invited_at is not None]
    await supervisor.type("/doithoai diemdanh 1")
    await supervisor.press(f"mt:a:1.{a1_01.id}")
    await supervisor.press("mt:p:1")
    await supervisor.press("mt:n:loan")
    await supervisor.type("muốn vay 20 triệu nuôi bò")
    shown = "\n".join(await supervisor.press("mt:d"))
    assert "có mặt 1/4 hộ" in shown
    recorded = {r.id: r for r in await invitations(database)}[a1_01.id]
    assert recorded.attended is True
    assert recorded.needs == ["loan"]
    assert recorded.needs_note == "muốn vay 20 triệu nuôi bò"
    async with database.sessions() as session:
        meeting = (await session.scalars(select(Meeting))).one()
        assert meeting.status is MeetingStatus.HELD

    # In the export's households sheet: the latest dialogue's attendance and needs.
    layout = Layout(load_bundled_form(), load_rule_set("2022-2025"), UTC)
    headers = [c.header for c in layout.by_key[HOUSEHOLDS].columns]
    async with database.sessions() as session:
        [record] = await load_batch(
            session, [a1_01.household_id], Selection(frozenset(areas.values()), YEAR)
        )
    [row] = [r for k, r in layout.rows(record) if k == HOUSEHOLDS]
    cells = dict(zip(headers, row, strict=True))
    assert cells["Đối thoại chính sách"] == "có mặt"
    assert cells["Nhu cầu nêu tại đối thoại"] == "vay vốn (muốn vay 20 triệu nuôi bò)"

    # And in the household's detail, where a completed household is picked.
    async with UnitOfWork(database.sessions) as uow:
        ctx = DialogContext(message("x"), None, settings, clock.now, uow.work)
        detail = await uow.run(lambda _: shell.household_detail(ctx, a1_01.household_id, YEAR))
    assert detail == (
        "Đối thoại chính sách:\n"
        "• 14:00 16/12/2026, Nhà văn hoá ấp 1: có mặt; nhu cầu: vay vốn (muốn vay 20 triệu nuôi bò)"
    )


async def test_a_cancellation_after_reminders_is_announced(
    database: Database, settings: Settings, outbox: list[tuple[Any, OutboxMessage]]
) -> None:
    ids = await seed(database)
    areas = await area_ids(database.sessions)
    clock = Clock()
    conversation = Conversation(database.sessions, settings, clock=clock)
    supervisor = ConversationSurface(conversation, "sup")
    await schedule(supervisor, [areas["87-MH-A1"]], "15/12/2026 08:00")
    await sweep(database, settings, MEETING_AT - timedelta(days=3))
    outbox.clear()
    clock.now = MEETING_AT - timedelta(days=2)
    asked = await supervisor.type("/doithoai huy 1")
    assert "Huỷ buổi đối thoại số 1" in asked[0]
    done = await supervisor.press("mt:cx:1")
    assert done == ["Đã huỷ buổi đối thoại số 1; 1 cộng tác viên sẽ nhận thông báo."]
    [(_, message)] = outbox
    assert message.user_id == ids["c1"]
    assert isinstance(message.message, Text) and "đã huỷ" in message.message.text
    # Nothing more is due for a cancelled meeting.
    assert await sweep(database, settings, MEETING_AT - timedelta(days=1)) == []


async def test_a_reminder_missed_until_after_the_meeting_is_dropped(
    database: Database, settings: Settings, outbox: list[tuple[Any, OutboxMessage]]
) -> None:
    await seed(database)
    areas = await area_ids(database.sessions)
    conversation = Conversation(database.sessions, settings, clock=Clock())
    await schedule(ConversationSurface(conversation, "sup"), [areas["87-MH-A1"]], "15/12 08:00")
    assert await sweep(database, settings, MEETING_AT + timedelta(hours=1)) == []
    async with database.sessions() as session:
        meeting = (await session.scalars(select(Meeting))).one()
        assert meeting.reminders_done == ["3d", "1d", "07:00"]
        assert meeting.invitations_frozen_at is None


async def test_other_areas_meetings_are_refused(database: Database, settings: Settings) -> None:
    await seed(database)
    areas = await area_ids(database.sessions)
    conversation = Conversation(database.sessions, settings, clock=Clock())
    await schedule(ConversationSurface(conversation, "sup"), [areas["87-MH-A2"]], "15/12 08:00")
    await add_person(database.sessions, "terminal", "other", "Giám sát ấp 1", Role.SUPERVISOR)
    other = ConversationSurface(conversation, "other")
    refused = "\n".join(await other.type("/doithoai huy 1"))
    assert "Không có buổi đối thoại này trong địa bàn của bạn" in refused
    collaborator = "\n".join(await ConversationSurface(conversation, "c1").type("/doithoai"))
    assert "Đối thoại" not in collaborator
