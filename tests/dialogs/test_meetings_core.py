"""Policy dialogues' decisions on plain values: the /doithoai dialog, who is invited, the
reminder schedule and its time zone, announcements, status and attendance. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.decisions import meetings as core
from bot.decisions.meetings import (
    AskCancel,
    Cancel,
    Draft,
    Env,
    HouseholdRow,
    InvitationRow,
    MeetingRow,
    Opened,
    Option,
    Pressed,
    Record,
    Recording,
    Reply,
    Save,
    Schedule,
    ShowList,
    ShowStatus,
    Typed,
)
from bot.decisions.reminder_offsets import DEFAULT_OFFSETS, parse_offsets
from bot.messages import Choices, Notice, Text
from locales.catalog import translate

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
ENV = Env(
    locale="vi",
    tz=VN,
    now=NOW,
    villages=(Option("3", "Ấp 1"), Option("4", "Ấp 2")),
    groups=(Option("no_job", "Không có việc làm"), Option("no_capacity", "Không có khả năng")),
    needs=(Option("loan", "vay vốn"), Option("vocational_training", "học nghề")),
)
OFFSETS = parse_offsets(DEFAULT_OFFSETS)


def step(state: core.State | None, event: core.Event) -> core.State | None:
    decision = core.decide(state, event, ENV)
    assert isinstance(decision, Save), decision
    return decision.state


# -- the dialog ----------------------------------------------------------------------------


def test_scheduling_walks_every_step_to_a_schedule_decision() -> None:
    state = step(None, Opened(""))
    assert state == Draft()
    state = step(state, Typed("15/12/2026 08:00"))
    assert isinstance(state, Draft) and state.step == "place"
    # 08:00 in Vietnam is 01:00 UTC.
    assert state.starts_at == datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
    state = step(state, Typed("  Hội trường   UBND xã "))
    assert isinstance(state, Draft) and state.place == "Hội trường UBND xã"
    state = step(state, Pressed("v", "3"))
    state = step(state, Pressed("v", "4"))
    state = step(state, Pressed("v", "4"))  # untick
    assert isinstance(state, Draft) and state.villages == ("3",)
    state = step(state, Pressed("d", ""))
    state = step(state, Pressed("c", "poor"))
    state = step(state, Pressed("c", "escaped"))
    state = step(state, Pressed("d", ""))
    assert isinstance(state, Draft) and state.step == "groups"
    state = step(state, Pressed("d", ""))
    assert isinstance(state, Draft) and state.step == "confirm"
    decision = core.decide(state, Pressed("ok", ""), ENV)
    assert decision == Schedule(state)
    assert state.categories == ("poor", "escaped") and state.groups == ()


def test_the_confirm_screen_says_what_will_be_scheduled() -> None:
    draft = Draft(
        "confirm",
        starts_at=datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
        place="Nhà văn hoá",
        villages=("3",),
        categories=("near_poor",),
        groups=("no_job",),
    )
    [screen] = core.render_step(draft, ENV)
    assert isinstance(screen, Choices)
    assert "08:00 15/12/2026" in screen.text and "Nhà văn hoá" in screen.text
    assert "Ấp 1" in screen.text and "hộ cận nghèo" in screen.text
    assert "Không có việc làm" in screen.text
    assert [c.data for c in screen.choices] == ["mt:ok", "mt:x"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/12/2026 08:00", datetime(2026, 12, 15, 1, 0, tzinfo=UTC)),
        ("15/12/2026 8h30", datetime(2026, 12, 15, 1, 30, tzinfo=UTC)),
        ("15-12-2026 14g", datetime(2026, 12, 15, 7, 0, tzinfo=UTC)),
        ("15.12.26 07:00", datetime(2026, 12, 15, 0, 0, tzinfo=UTC)),
        ("15/12", datetime(2026, 12, 15, 1, 0, tzinfo=UTC)),  # 08:00 by default
        ("3/1 9:00", datetime(2027, 1, 3, 2, 0, tzinfo=UTC)),  # the next 3 January
        ("15/12/2026 lúc 8 giờ", datetime(2026, 12, 15, 1, 0, tzinfo=UTC)),
        ("ngày 15/12/2026, 14:30", datetime(2026, 12, 15, 7, 30, tzinfo=UTC)),
        ("8h30 ngày 15/12/2026", datetime(2026, 12, 15, 1, 30, tzinfo=UTC)),
        ("8 giờ 30 phút ngày 15/12/2026", datetime(2026, 12, 15, 1, 30, tzinfo=UTC)),
        ("lúc 14h 15/12", datetime(2026, 12, 15, 7, 0, tzinfo=UTC)),
    ],
)
def test_dates_are_read_as_people_write_them_in_the_commune_zone(
    text: str, expected: datetime
) -> None:
    assert core.parse_when(text, VN, NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["", "mai", "32/12/2026 08:00", "15/13/2026", "15/12/2026 25:00", "15/12/2026 8:75", "8h"],
)
def test_what_is_not_a_date_is_refused_in_vietnamese(text: str) -> None:
    assert core.parse_when(text, VN, NOW) is None
    decision = core.decide(Draft(), Typed(text), ENV)
    assert decision == Reply((Text(translate("meetings.bad_when")),))


@given(
    st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2035, 12, 31)),
    st.sampled_from(["%d/%m/%Y %H:%M", "%d-%m-%Y %Hh%M", "%Hh%M ngày %d/%m/%Y"]),
)
def test_a_written_local_time_reads_back_as_its_utc_moment(local: datetime, fmt: str) -> None:
    local = local.replace(second=0, microsecond=0)
    expected = local.replace(tzinfo=VN).astimezone(UTC)
    assert core.parse_when(local.strftime(fmt), VN, NOW) == expected


def test_a_moment_past_is_refused() -> None:
    decision = core.decide(Draft(), Typed("01/12/2026 08:00"), ENV)
    assert decision == Reply((Text(translate("meetings.past_when")),))


def test_buttons_of_another_step_or_forged_values_are_stale() -> None:
    stale = Reply((Notice(translate("interview.stale")),))
    assert core.decide(Draft("villages"), Pressed("v", "99"), ENV) == stale
    assert core.decide(Draft("villages"), Pressed("c", "poor"), ENV) == stale
    assert core.decide(Draft("categories"), Pressed("c", "rich"), ENV) == stale
    assert core.decide(Draft("place"), Pressed("ok", ""), ENV) == stale
    assert core.decide(None, Pressed("v", "3"), ENV) == stale


def test_done_needs_a_village_and_a_category() -> None:
    decision = core.decide(Draft("villages"), Pressed("d", ""), ENV)
    assert decision == Reply((Notice(translate("meetings.need_village")),))
    decision = core.decide(Draft("categories", villages=("3",)), Pressed("d", ""), ENV)
    assert decision == Reply((Notice(translate("meetings.need_category")),))


def test_subcommands() -> None:
    assert core.decide(None, Opened("ds"), ENV) == ShowList()
    assert core.decide(None, Opened("list"), ENV) == ShowList()
    assert core.decide(None, Opened("huy 7"), ENV) == AskCancel(7)
    assert core.decide(None, Opened("trangthai"), ENV) == ShowStatus(None)
    assert core.decide(None, Opened("status 3"), ENV) == ShowStatus(3)
    assert core.decide(None, Pressed("cx", "7"), ENV) == Cancel(7)
    usage = Reply((Text(translate("meetings.usage")),))
    assert core.decide(None, Opened("huy"), ENV) == usage
    assert core.decide(None, Opened("nonsense 3"), ENV) == usage


@given(st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=12)))
def test_any_stored_state_reads_as_a_state_or_none(data: dict[str, object]) -> None:
    state = core.state_from_json(data)
    assert state is None or isinstance(state, Draft | Recording)


def test_states_round_trip_through_json() -> None:
    draft = Draft(
        "groups",
        5,
        datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
        "Nhà văn hoá",
        ("3",),
        ("poor",),
        ("no_job",),
    )
    assert core.state_from_json(draft.to_json()) == draft
    recording = Recording(5, 9, ("loan",), "cần vay 20 triệu")
    assert core.state_from_json(recording.to_json()) == recording


# -- who is invited ------------------------------------------------------------------------

HOUSEHOLDS = [
    HouseholdRow(1, "H01", "A", 3, "poor", frozenset({"no_job"})),
    HouseholdRow(2, "H02", "B", 3, "near_poor", frozenset()),
    HouseholdRow(3, "H03", "C", 4, "poor", frozenset({"no_capacity"})),
    HouseholdRow(4, "H04", "D", 3, "escaped", frozenset({"no_capacity", "no_job"})),
    HouseholdRow(5, "H05", "E", 9, "poor", frozenset({"no_job"})),
]


def test_invitations_follow_villages_categories_and_groups() -> None:
    ids = [h.id for h in core.invited_households(HOUSEHOLDS, [3, 4], ["poor", "escaped"])]
    assert ids == [1, 3, 4]
    ids = [h.id for h in core.invited_households(HOUSEHOLDS, [3], ["poor", "escaped"], ["no_job"])]
    assert ids == [1, 4]
    assert core.invited_households(HOUSEHOLDS, [3], ["near_poor"], ["no_job"]) == []


def test_before_freezing_the_list_follows_the_meeting() -> None:
    eligible = core.invited_households(HOUSEHOLDS, [3], ["poor"])
    plan = core.sync_invitations(eligible, {2: 20, 1: 10}, frozen=False)
    assert plan.add == ()
    assert plan.remove == (20,)


def test_after_freezing_nobody_is_removed_and_newcomers_are_late() -> None:
    eligible = core.invited_households(HOUSEHOLDS, [3], ["poor", "escaped"])
    plan = core.sync_invitations(eligible, {2: 20, 1: 10}, frozen=True)
    assert plan.remove == ()
    assert plan.add == (core.NewInvitation(4, 3, added_late=True),)


def test_a_village_collaborator_is_the_first_registered() -> None:
    assert core.collaborator_for(3, {3: [17, 12]}) == 12
    assert core.collaborator_for(4, {3: [17]}) is None


# -- reminders -----------------------------------------------------------------------------

STARTS = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)  # 08:00 on 15/12 in Vietnam
MEETING = MeetingRow(7, STARTS, "Hội trường xã", "scheduled", ("Ấp 1",))
INVITATIONS = [
    InvitationRow(100, 1, "H01", "Nguyễn Văn A", "Ấp 1", 50),
    InvitationRow(101, 4, "H04", "Trần Thị D", "Ấp 1", 50, invited=True),
    InvitationRow(102, 3, "H03", "Lê Văn C", "Ấp 2", 60),
    InvitationRow(103, 2, "H02", "Phạm B", "Ấp 3", None),
]


def test_offsets_parse_and_refuse() -> None:
    assert [o.key for o in OFFSETS] == ["3d", "1d", "07:00"]
    assert parse_offsets("2h").__len__() == 1
    for bad in ("", "3x", "25:00", "3d,3d"):
        with pytest.raises(ValueError):
            parse_offsets(bad)


def test_seven_in_the_morning_vietnam_time_is_midnight_utc() -> None:
    on_the_day = OFFSETS[2]
    assert on_the_day.at == time(7, 0)
    assert on_the_day.moment(STARTS, VN) == datetime(2026, 12, 15, 0, 0, tzinfo=UTC)
    # A meeting at 06:30 local on 15/12 is 23:30 UTC on the 14th; its "day" is the 15th
    # local, so its 07:00 reminder would be after it started.
    early = datetime(2026, 12, 14, 23, 30, tzinfo=UTC)
    assert on_the_day.moment(early, VN) == datetime(2026, 12, 15, 0, 0, tzinfo=UTC)
    assert OFFSETS[0].moment(STARTS, VN) == STARTS - timedelta(days=3)


def test_nothing_is_due_before_the_first_offset() -> None:
    plan = core.due_reminders(MEETING, INVITATIONS, OFFSETS, STARTS - timedelta(days=4), VN)
    assert plan == core.ReminderPlan()


def test_three_days_before_each_collaborator_gets_their_households_not_yet_invited() -> None:
    now = STARTS - timedelta(days=3)
    plan = core.due_reminders(MEETING, INVITATIONS, OFFSETS, now, VN, {60: "en"})
    assert plan.done == ("3d",) and plan.dropped == () and plan.freeze
    assert [m.user_id for m in plan.messages] == [50, 60]
    first, second = plan.messages
    assert first.dedupe_key == "meeting:7:reminder:3d:user:50"
    assert first.not_before == now
    assert isinstance(first.message, Choices)
    assert "08:00 15/12/2026" in first.message.text and "Hội trường xã" in first.message.text
    # H04 is invited already: only H01 is listed, with its "Đã mời" button.
    assert [(c.label, c.data) for c in first.message.choices] == [
        ("Đã mời: H01 · Nguyễn Văn A", "mi:100")
    ]
    assert isinstance(second.message, Choices) and second.message.text.startswith("📅 Reminder")
    assert plan.reminded == (100, 102)


def test_reminders_already_done_are_not_due_again() -> None:
    done = MeetingRow(7, STARTS, "x", "scheduled", reminders_done=("3d",), frozen=True)
    plan = core.due_reminders(done, INVITATIONS, OFFSETS, STARTS - timedelta(days=2), VN)
    assert plan == core.ReminderPlan()
    plan = core.due_reminders(done, INVITATIONS, OFFSETS, STARTS - timedelta(hours=23), VN)
    assert plan.done == ("1d",) and not plan.freeze
    assert {m.dedupe_key for m in plan.messages} == {
        "meeting:7:reminder:1d:user:50",
        "meeting:7:reminder:1d:user:60",
    }


def test_reminders_missed_while_down_send_the_latest_once_if_the_meeting_is_ahead() -> None:
    now = datetime(2026, 12, 15, 0, 30, tzinfo=UTC)  # 07:30 local, the meeting at 08:00
    plan = core.due_reminders(MEETING, INVITATIONS, OFFSETS, now, VN)
    assert plan.done == ("3d", "1d", "07:00")
    assert plan.dropped == ("3d", "1d")
    assert {m.dedupe_key for m in plan.messages} == {
        "meeting:7:reminder:07:00:user:50",
        "meeting:7:reminder:07:00:user:60",
    }


def test_reminders_missed_until_after_the_meeting_are_dropped() -> None:
    plan = core.due_reminders(MEETING, INVITATIONS, OFFSETS, STARTS + timedelta(hours=1), VN)
    assert plan.messages == ()
    assert plan.done == plan.dropped == ("3d", "1d", "07:00")


def test_a_cancelled_meeting_sends_no_reminder() -> None:
    cancelled = MeetingRow(7, STARTS, "x", "cancelled")
    plan = core.due_reminders(cancelled, INVITATIONS, OFFSETS, STARTS - timedelta(days=1), VN)
    assert plan.messages == () and plan.dropped == ("3d", "1d")


@given(st.integers(min_value=-5 * 24 * 60, max_value=24 * 60))
def test_a_reminder_is_never_sent_at_or_after_the_start(minutes: int) -> None:
    now = STARTS + timedelta(minutes=minutes)
    plan = core.due_reminders(MEETING, INVITATIONS, OFFSETS, now, VN)
    if now >= STARTS:
        assert plan.messages == ()
    for message in plan.messages:
        assert message.not_before == now < STARTS
    assert set(plan.dropped) <= set(plan.done)


def test_a_change_after_reminders_is_announced_to_those_reminded_only() -> None:
    reminded = [
        InvitationRow(100, 1, "H01", "A", "Ấp 1", 50, reminded=True),
        InvitationRow(101, 4, "H04", "D", "Ấp 1", 50, reminded=True, invited=True),
        InvitationRow(102, 3, "H03", "C", "Ấp 2", 60),
    ]
    after = MeetingRow(7, STARTS + timedelta(days=1), "Nhà văn hoá ấp 1", "changed")
    now = STARTS - timedelta(days=2)
    [message] = core.announcements(MEETING, after, reminded, now, VN)
    assert message.user_id == 50
    assert isinstance(message.message, Text)
    assert "08:00 15/12/2026" in message.message.text
    assert "08:00 16/12/2026" in message.message.text
    assert "Nhà văn hoá ấp 1" in message.message.text
    assert message.dedupe_key.startswith("meeting:7:change:")


def test_a_cancellation_after_reminders_is_announced() -> None:
    reminded = [InvitationRow(100, 1, "H01", "A", "Ấp 1", 50, reminded=True)]
    after = MeetingRow(7, STARTS, "Hội trường xã", "cancelled")
    [message] = core.announcements(MEETING, after, reminded, STARTS - timedelta(days=1), VN)
    assert isinstance(message.message, Text) and "đã huỷ" in message.message.text
    assert ":cancel:" in message.dedupe_key
    assert core.announcements(MEETING, after, INVITATIONS, STARTS, VN) == ()


# -- status --------------------------------------------------------------------------------


def test_status_counts_and_names_who_is_behind() -> None:
    status = core.status_of(INVITATIONS)
    assert (status.invited, status.total) == (1, 4)
    assert status.behind == ((None, 1), (50, 1), (60, 1))
    [text] = core.render_status(MEETING, INVITATIONS, {50: "Chị Hoa", 60: "Anh Bình"}, ENV)
    assert isinstance(text, Text)
    assert "đã mời 1/4 hộ" in text.text
    assert "Chị Hoa: còn 1 hộ chưa mời" in text.text
    assert "H03 · Lê Văn C (Ấp 2)" in text.text
    assert "H04" not in text.text.split("Chưa mời:")[1]


# -- attendance and needs ------------------------------------------------------------------


def test_attendance_present_with_needs_and_a_note() -> None:
    state = Recording(7, 100)
    assert core.decide(state, Pressed("p", "1"), ENV) == Save(
        state, tuple(core.render_needs(state, ENV))
    )
    state2 = step(state, Pressed("n", "loan"))
    state3 = step(state2, Typed("cần vay   20 triệu"))
    assert state3 == Recording(7, 100, ("loan",), "cần vay 20 triệu")
    assert core.decide(state3, Pressed("d", ""), ENV) == Record(
        7, 100, True, ("loan",), "cần vay 20 triệu"
    )


def test_attendance_absent_and_forged_needs() -> None:
    state = Recording(7, 100)
    assert core.decide(state, Pressed("p", "0"), ENV) == Record(7, 100, False)
    assert core.decide(state, Pressed("n", "car"), ENV) == Reply(
        (Notice(translate("interview.stale")),)
    )
    assert core.decide(state, Pressed("a", "7.101"), ENV) == core.PickHousehold(7, 101)


def test_the_household_detail_line() -> None:
    labels = {"loan": "vay vốn"}
    assert core.needs_line(True, ["loan"], "20 triệu", labels, "vi") == (
        "có mặt; nhu cầu: vay vốn (20 triệu)"
    )
    assert core.needs_line(False, [], "", labels, "vi") == "vắng mặt"
    assert core.needs_line(None, [], "", labels, "vi") == "chưa ghi kết quả"


def test_a_later_reminder_tells_the_organiser_who_is_behind() -> None:
    first = core.due_reminders(
        replace(MEETING, organiser_id=9), INVITATIONS, OFFSETS, STARTS - timedelta(days=3), VN
    )
    # The first reminder goes to collaborators only.
    assert [m.user_id for m in first.messages] == [50, 60]
    later = MeetingRow(
        7, STARTS, "Hội trường xã", "scheduled", reminders_done=("3d",), frozen=True, organiser_id=9
    )
    plan = core.due_reminders(later, INVITATIONS, OFFSETS, STARTS - timedelta(days=1), VN)
    assert [m.user_id for m in plan.messages] == [50, 60, 9]
    note = plan.messages[-1]
    assert note.dedupe_key == "meeting:7:behind:1d:user:9"
    assert isinstance(note.message, Text)
    assert note.message.text.startswith("📋 Đối thoại số 7 (08:00 15/12/2026): 2 cộng tác viên")
    everyone_done = [replace(i, invited=True) for i in INVITATIONS]
    quiet = core.due_reminders(later, everyone_done, OFFSETS, STARTS - timedelta(days=1), VN)
    assert quiet.messages == () and quiet.done == ("1d",)


def test_a_second_reminder_names_who_is_behind_to_the_organiser_and_their_supervisors() -> None:
    frozen = MeetingRow(7, STARTS, "x", "scheduled", ("Ấp 1",), reminders_done=("3d",), frozen=True)
    frozen = replace(frozen, organiser_id=1)
    more = [*INVITATIONS, InvitationRow(104, 5, "H05", "Võ E", "Ấp 2", 60)]
    plan = core.due_reminders(
        frozen,
        more,
        OFFSETS,
        STARTS - timedelta(hours=23),
        VN,
        {8: "en"},
        supervisors={50: [8], 60: [8, 9]},
        names={50: "Chị Lan", 60: "Anh Minh"},
    )
    notes = {m.user_id: m for m in plan.messages if m.user_id not in (50, 60)}
    assert sorted(notes) == [1, 8, 9]
    assert notes[1].dedupe_key == "meeting:7:behind:1d:user:1"
    # Most behind first: Anh Minh has H03 and H05 left, Chị Lan H01 (H04 is invited).
    assert notes[1].message == Text(
        "📋 Đối thoại số 7 (08:00 15/12/2026): 2 cộng tác viên còn hộ chưa mời, vừa được "
        "nhắc lần nữa:\n⏳ Anh Minh: còn 2 hộ chưa mời\n⏳ Chị Lan: còn 1 hộ chưa mời\n"
        "Xem: /doithoai trangthai 7"
    )
    assert isinstance(notes[8].message, Text) and notes[8].message.text.startswith(
        "📋 Dialogue 7 (08:00 15/12/2026): 2 collaborators"
    )
    # A supervisor hears of their own collaborators only.
    assert isinstance(notes[9].message, Text)
    assert "Anh Minh" in notes[9].message.text and "Chị Lan" not in notes[9].message.text


def test_the_first_reminder_sends_no_note_and_nobody_behind_means_no_note() -> None:
    first = replace(MEETING, organiser_id=1)
    plan = core.due_reminders(
        first, INVITATIONS, OFFSETS, STARTS - timedelta(days=3), VN, supervisors={50: [8]}
    )
    assert [m.user_id for m in plan.messages] == [50, 60]
    frozen = MeetingRow(7, STARTS, "x", "scheduled", ("Ấp 1",), reminders_done=("3d",), frozen=True)
    everyone_invited = [replace(i, invited=True) for i in INVITATIONS]
    plan = core.due_reminders(
        replace(frozen, organiser_id=1),
        everyone_invited,
        OFFSETS,
        STARTS - timedelta(hours=23),
        VN,
        supervisors={50: [8]},
    )
    assert plan.messages == () and plan.done == ("1d",)
