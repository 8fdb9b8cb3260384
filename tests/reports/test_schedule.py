"""Which periodic reports fall due: pure, with the clock given."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.decisions.report_schedule import (
    Recipients,
    Schedule,
    UserRef,
    due_reports,
    latest_due,
    parse_schedule,
)
from bot.decisions.reports import Period, PeriodError, Span

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FILE = """
send_at = "07:00"
[[recipients]]
area = "87-MH"
spans = ["quarter", "half", "year"]
roles = ["commune_staff"]

[[recipients]]
area = "87-MH-A1"
spans = ["quarter"]
users = [5]
"""
USERS = [
    UserRef(1, "commune_staff", frozenset({"87-MH"})),
    UserRef(2, "commune_staff", frozenset({"87-XX"})),
    UserRef(3, "commune_staff", frozenset({"87-MH"}), active=False),
    UserRef(4, "supervisor", frozenset({"87-MH"})),
    UserRef(5, "collaborator", frozenset({"87-MH-A1"})),
]


def test_the_file() -> None:
    schedule = parse_schedule(FILE)
    assert schedule.send_at == time(7, 0)
    assert schedule.recipients == (
        Recipients("87-MH", (Span.QUARTER, Span.HALF, Span.YEAR), ("commune_staff",), ()),
        Recipients("87-MH-A1", (Span.QUARTER,), (), (5,)),
    )


@pytest.mark.parametrize(
    "text",
    [
        'send_at = "25:00"',
        "[[recipients]]\nspans = ['quarter']\nroles = ['admin']",
        "[[recipients]]\narea = 'X'\nspans = ['month']\nroles = ['admin']",
        "[[recipients]]\narea = 'X'\nroles = ['mayor']",
        "[[recipients]]\narea = 'X'",
        "recipients = [",
    ],
)
def test_a_bad_file_is_named(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_schedule(text)
    assert caught.value.text("vi").startswith("Tệp lịch gửi báo cáo (RASOAT_REPORT_SCHEDULE)")


def test_on_the_first_of_october_at_seven_vietnam_time() -> None:
    schedule = parse_schedule(FILE)
    # 07:00 in Vietnam is 00:00 UTC.
    before = due_reports(schedule, USERS, datetime(2026, 9, 30, 23, 59, tzinfo=UTC), VN)
    after = due_reports(schedule, USERS, datetime(2026, 10, 1, 0, 0, tzinfo=UTC), VN)
    assert {d.period.code for d in before} == {"2026-Q2", "2026-H1", "2025"}
    assert {(d.user_id, d.area_code, d.period.code) for d in after} == {
        (1, "87-MH", "2026-Q3"),
        (1, "87-MH", "2026-H1"),
        (1, "87-MH", "2025"),
        (5, "87-MH-A1", "2026-Q3"),
    }
    q3 = next(d for d in after if d.user_id == 1 and d.period.code == "2026-Q3")
    assert q3.dedupe_key == "report:87-MH:2026-Q3:1"
    assert q3.not_before == datetime(2026, 10, 1, 0, 0, tzinfo=UTC)


def test_a_report_due_while_the_bot_was_down_is_offered_when_it_is_back() -> None:
    schedule = Schedule(time(7, 0), (Recipients("87-MH", (Span.QUARTER,), ("commune_staff",)),))
    # Down from 30 September to 12 October: the Q3 report comes at the first sweep back,
    # under the key the sweep of 1 October would have used, so it is never sent twice.
    back = due_reports(schedule, USERS, datetime(2026, 10, 12, 9, 0, tzinfo=UTC), VN)
    on_time = due_reports(schedule, USERS, datetime(2026, 10, 1, 0, 5, tzinfo=UTC), VN)
    assert [d.dedupe_key for d in back] == [d.dedupe_key for d in on_time]
    assert [d.dedupe_key for d in back] == ["report:87-MH:2026-Q3:1"]
    assert back[0].not_before < datetime(2026, 10, 12, 9, 0, tzinfo=UTC)
    # Down across two quarters: only the latest is offered.
    late = due_reports(schedule, USERS, datetime(2027, 4, 2, 0, 0, tzinfo=UTC), VN)
    assert [d.period.code for d in late] == ["2027-Q1"]


@given(
    st.datetimes(datetime(2001, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(list(Span)),
)
def test_the_latest_due_is_past_and_the_next_is_not(now: datetime, span: Span) -> None:
    period = latest_due(span, time(7, 0), now, VN)
    due = datetime.combine(period.end, time(7, 0), tzinfo=VN)
    following = datetime.combine(period.next().end, time(7, 0), tzinfo=VN)
    assert due <= now < following
    assert isinstance(period, Period)
    assert following - due <= timedelta(days=366)


CRON = """
[[recipients]]
area = "87-MH"
spans = ["quarter", "year"]
roles = ["supervisor"]
cron = "0 7 * * 1"
"""


def test_a_cron_entry_reports_the_period_so_far_at_each_firing() -> None:
    schedule = parse_schedule(CRON)
    assert schedule.recipients[0].cron == "0 7 * * 1"
    # Monday 5 October 2026, 07:00 in Vietnam = 00:00 UTC; the Monday before is 28 September.
    just_before = due_reports(schedule, USERS, datetime(2026, 10, 4, 23, 59, tzinfo=UTC), VN)
    at = due_reports(schedule, USERS, datetime(2026, 10, 5, 0, 0, tzinfo=UTC), VN)
    assert [(d.user_id, d.period.code, d.dedupe_key) for d in just_before] == [
        (4, "2026-Q3", "report:87-MH:2026-Q3:4@20260928T0700"),
        (4, "2026", "report:87-MH:2026:4@20260928T0700"),
    ]
    assert {(d.period.code, d.dedupe_key) for d in at} == {
        ("2026-Q4", "report:87-MH:2026-Q4:4@20261005T0700"),
        ("2026", "report:87-MH:2026:4@20261005T0700"),
    }
    assert {d.not_before for d in at} == {datetime(2026, 10, 5, 0, 0, tzinfo=UTC)}
    # Down from Sunday to Wednesday: the Monday report is sent, and only it.
    late = due_reports(schedule, USERS, datetime(2026, 10, 7, 9, 30, tzinfo=UTC), VN)
    assert {d.dedupe_key for d in late} == {d.dedupe_key for d in at}


def test_a_cron_on_the_first_of_a_quarter_reports_the_quarter_just_ended() -> None:
    schedule = parse_schedule(CRON.replace("0 7 * * 1", "0 7 1 1,4,7,10 *"))
    [quarter, year] = due_reports(schedule, USERS, datetime(2027, 1, 1, 0, 0, tzinfo=UTC), VN)
    assert (quarter.period.code, year.period.code) == ("2026-Q4", "2026")


@pytest.mark.parametrize("cron", ['"0 7 * *"', '"61 7 * * *"', "5", '"@sometimes"'])
def test_a_bad_cron_is_named(cron: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_schedule(CRON.replace('"0 7 * * 1"', cron))
    assert "recipients #1: cron" in caught.value.text("vi")
