"""The follow-up's pure decisions, without a database: dates and officers as people type
them, the contact's steps, button data, and the reminders of people not visited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.decisions import followup as core
from bot.messages import Choices, Text
from classification.followup import followup_data, load_followup_from_path
from classification.ruleset import RuleFileError
from classification.vocabulary import MEMBER_CHOICES

TODAY = date(2026, 12, 6)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DATA = followup_data()
LABELS = core.Labels({"no_capacity": "Người không có khả năng lao động"}, DATA, "vi")


def test_the_data_file_lists_the_plans_programmes_and_the_forms_support_codes() -> None:
    programmes = [item.label.vi for item in DATA.programmes]
    for name in (
        "Dự án 2",
        "Dự án 4",
        "Tiểu dự án 1 Dự án 3",
        "Tiểu dự án 2 Dự án 3",
        "Tiểu dự án 1 Dự án 6",
    ):
        assert name in programmes
    kinds = {item.id for item in DATA.kinds}
    assert set(MEMBER_CHOICES["support_needs"]) <= kinds
    assert {"health_insurance", "housing"} <= kinds
    assert {"found_job", "started_training", "no_longer_wants", "other"} <= {
        item.id for item in DATA.outcomes
    }


def test_a_data_file_missing_a_form_support_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "followup.toml"
    path.write_text(
        'version = "x"\n'
        '[[kinds]]\nid = "loan"\nlabel = { vi = "Vay vốn", en = "Loan" }\n'
        '[[programmes]]\nid = "da2"\nlabel = { vi = "Dự án 2", en = "Project 2" }\n'
        '[[outcomes]]\nid = "other"\nlabel = { vi = "Khác", en = "Other" }\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError, match="vocational_training"):
        load_followup_from_path(path)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hôm nay", TODAY),
        ("Hom nay", TODAY),
        ("hôm qua", date(2026, 12, 5)),
        ("5/12", date(2026, 12, 5)),
        ("05/11/2026", date(2026, 11, 5)),
        ("5-11-2026", date(2026, 11, 5)),
        ("2026-11-05", date(2026, 11, 5)),
        ("ngày 5 tháng 11 năm 2026", date(2026, 11, 5)),
    ],
)
def test_vietnamese_dates(typed: str, expected: date) -> None:
    assert core.parse_contact_date(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("31/2", "forms.invalid_date"),
        ("7/12", "followup.date_in_future"),
        ("01/01/2027", "followup.date_in_future"),
        ("mai", "forms.not_a_date"),
        ("12/2026", "forms.date_needs_day_month"),
    ],
)
def test_bad_dates_are_refused_with_a_reason(typed: str, key: str) -> None:
    refused = core.parse_contact_date(typed, TODAY)
    assert isinstance(refused, core.Refused) and refused.key == key


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)))
def test_a_written_date_reads_back_unless_it_is_ahead(day: date) -> None:
    parsed = core.parse_contact_date(day.strftime("%d/%m/%Y"), TODAY)
    if day <= TODAY:
        assert parsed == day
    else:
        assert isinstance(parsed, core.Refused) and parsed.key == "followup.date_in_future"


@pytest.mark.parametrize(
    ("typed", "name", "phone"),
    [
        ("Nguyễn Văn Bình, 0912345678", "Nguyễn Văn Bình", "0912345678"),
        ("  Lê  Thị Hoa ,0912 345 678 ", "Lê Thị Hoa", "0912345678"),
        ("Trần Văn Ba, +84 912.345.678", "Trần Văn Ba", "+84912345678"),
    ],
)
def test_an_officer_typed_as_name_and_phone(typed: str, name: str, phone: str) -> None:
    assert core.parse_officer(typed) == core.TypedOfficer(name, phone)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Nguyễn Văn Bình 0912345678", "followup.officer_format"),
        (", 0912345678", "followup.officer_format"),
        ("Nguyễn Văn Bình, 12345", "followup.bad_phone"),
        ("Nguyễn Văn Bình, không có", "followup.bad_phone"),
    ],
)
def test_a_badly_typed_officer_says_what_is_wrong(typed: str, key: str) -> None:
    assert core.parse_officer(typed) == key


@pytest.mark.parametrize(
    ("data", "button"),
    [
        ("pa:v:3", core.AssignButton("v", 3)),
        ("pa:p:3:8", core.AssignButton("p", 3, 8)),
        ("pa:m:12:2", core.AssignButton("m", 12, 2)),
        ("pa:o:7", core.AssignButton("o", 7)),
        ("pa:m:12", None),
        ("pa:x:1", None),
        ("pa:v:-1", None),
        ("pa:v:²", None),
        ("pt:v:1", None),
    ],
)
def test_assign_buttons(data: str, button: core.AssignButton | None) -> None:
    assert core.parse_assign_button(data) == button


def test_recording_a_contact_step_by_step() -> None:
    state = core.RecordState(5)
    step = core.pressed(state, "d", "today", DATA, TODAY)
    assert isinstance(step, core.Next) and step.state.contact_date == TODAY
    step = core.pressed(step.state, "k", "vocational_training", DATA, TODAY)
    assert isinstance(step, core.Next) and step.state.step == "programme"
    step = core.pressed(step.state, "g", "tda1_da3", DATA, TODAY)
    assert isinstance(step, core.Next) and step.state.step == "outcome"
    step = core.pressed(step.state, "r", "started_training", DATA, TODAY)
    assert isinstance(step, core.Next) and step.state.step == "note"
    # The state survives the database as JSON.
    assert core.RecordState.from_json(step.state.to_json()) == step.state
    done = core.typed(step.state, "  học may  ở xã ", TODAY)
    assert done == core.Done(
        core.Contact(
            5, TODAY, "vocational_training", "tda1_da3", "started_training", "học may ở xã"
        )
    )
    [reply] = core.recorded_reply(done.contact, "Lê Văn Tư", LABELS)
    assert isinstance(reply, Text)
    assert "Tiểu dự án 1 Dự án 3" in reply.text and "Đã đi học nghề" in reply.text


def test_a_code_not_in_the_data_or_of_another_step_is_refused() -> None:
    state = core.RecordState(5, "kind", TODAY)
    assert core.pressed(state, "k", "lottery", DATA, TODAY) == core.Refused("followup.stale")
    assert core.pressed(state, "r", "found_job", DATA, TODAY) == core.Refused("followup.stale")
    assert core.typed(state, "vay vốn", TODAY) == core.Refused("followup.use_buttons")
    assert core.typed(
        core.RecordState(5, "note", TODAY, "loan", None, "other"), "x" * 501, TODAY
    ) == core.Refused("followup.note_too_long", {"max": 500})


def test_a_damaged_state_reads_as_none() -> None:
    assert core.RecordState.from_json({"assignment_id": "5", "step": "date"}) is None
    assert core.RecordState.from_json({"assignment_id": 5, "step": "dance"}) is None
    assert (
        core.RecordState.from_json({"assignment_id": 5, "step": "kind", "contact_date": "x"})
        is None
    )
    assert core.AssignState.from_json({"village_id": True, "offset": -3}) == core.AssignState()


def test_the_officer_list_shows_group_and_last_contact() -> None:
    followed = [
        core.Followed(1, 9, "Lê Văn Tư", "HH-001", "no_capacity", TODAY, date(2026, 11, 2)),
        core.Followed(2, 9, "Phạm Thị Năm", "HH-002", "no_job", TODAY, None),
    ]
    [reply] = core.officer_list(followed, LABELS)
    assert isinstance(reply, Choices)
    assert "Lê Văn Tư · HH-001 · Người không có khả năng lao động · lần gần nhất 02/11/2026" in (
        reply.text
    )
    assert "Phạm Thị Năm · HH-002 · no_job · chưa thăm hỏi lần nào" in reply.text
    assert [c.data for c in reply.choices] == ["pt:a:1", "pt:a:2"]


# -- reminders ------------------------------------------------------------------------------

NOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
MONTH = timedelta(days=30)


def _followed(aid: int, officer: int | None, group: str, assigned: date) -> core.Followed:
    return core.Followed(aid, officer, f"Người {aid}", f"HH-{aid:03}", group, assigned)


def test_one_reminder_per_officer_for_people_without_capacity_not_visited() -> None:
    assignments = [
        _followed(1, 7, "no_capacity", date(2026, 10, 1)),  # last visit 40 days ago
        _followed(2, 7, "no_capacity", date(2026, 10, 1)),  # visited 5 days ago
        _followed(3, 7, "no_job", date(2026, 1, 1)),  # another group: not followed regularly
        _followed(4, 8, "no_capacity", date(2026, 11, 20)),  # assigned 16 days ago
        _followed(5, 8, "no_capacity", date(2026, 9, 1)),  # never visited
        _followed(6, None, "no_capacity", date(2026, 1, 1)),  # officer not using the bot
    ]
    contacts = [
        core.ContactDate(1, date(2026, 10, 27)),
        core.ContactDate(1, date(2026, 10, 20)),
        core.ContactDate(2, date(2026, 12, 1)),
    ]
    reminders = core.due_followups(assignments, contacts, MONTH, NOW, VN, group="no_capacity")
    assert [r.recipient_user_id for r in reminders] == [7, 8]
    seven, eight = reminders
    assert "Người 1 · HH-001 · lần gần nhất 27/10/2026" in seven.text
    assert "Người 2" not in seven.text and "Người 3" not in seven.text
    assert "Người 5 · HH-005 · chưa thăm hỏi lần nào" in eight.text
    assert "Người 4" not in eight.text
    assert seven.not_before == NOW
    assert seven.dedupe_key != eight.dedupe_key


def test_the_key_is_the_same_within_a_period_and_changes_with_the_next() -> None:
    assignments = [_followed(1, 7, "no_capacity", date(2026, 1, 1))]

    def key(at: datetime) -> str:
        [reminder] = core.due_followups(assignments, [], MONTH, at, VN, group="no_capacity")
        return reminder.dedupe_key

    # Days counted in the commune's time zone: 23:30 UTC is already the next day there.
    period_start = date(1970, 1, 1) + timedelta(days=(TODAY - date(1970, 1, 1)).days // 30 * 30)
    start = datetime(period_start.year, period_start.month, period_start.day, tzinfo=VN)
    assert key(start) == key(start + timedelta(days=29, hours=23))
    assert key(start) != key(start + timedelta(days=30))
    assert key(start - timedelta(minutes=1)) != key(start)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 3),
            st.sampled_from(["no_capacity", "no_job"]),
            st.integers(0, 120),
            st.one_of(st.none(), st.integers(0, 120)),
        ),
        max_size=12,
    ),
    st.integers(1, 60),
)
def test_reminders_name_exactly_the_people_not_seen_within_the_interval(
    rows: list[tuple[int, str, int, int | None]], days: int
) -> None:
    today = NOW.astimezone(VN).date()
    assignments = []
    contacts = []
    expected: dict[int, set[str]] = {}
    for aid, (officer, group, assigned_ago, contact_ago) in enumerate(rows, 1):
        assigned = today - timedelta(days=assigned_ago)
        assignments.append(_followed(aid, officer, group, assigned))
        latest = assigned
        if contact_ago is not None:
            contacts.append(core.ContactDate(aid, today - timedelta(days=contact_ago)))
            latest = max(latest, today - timedelta(days=contact_ago))
        if group == "no_capacity" and (today - latest).days >= days:
            expected.setdefault(officer, set()).add(f"HH-{aid:03}")
    reminders = core.due_followups(
        assignments, contacts, timedelta(days=days), NOW, VN, group="no_capacity"
    )
    got = {
        r.recipient_user_id: {
            code for code in (f"HH-{a:03}" for a in range(1, 13)) if code in r.text
        }
        for r in reminders
    }
    assert got == expected
