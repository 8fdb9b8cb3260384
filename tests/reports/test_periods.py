"""Periods of the periodic reports, and the report over plain facts: pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.decisions.reports import (
    COUNT,
    Period,
    PeriodError,
    Span,
    build,
    containing,
    parse_chat,
    parse_code,
    render,
)
from classification.followup import followup_data
from storage.report_facts import ContactFact, MeetingFact, PersonFact, ReportFacts

TODAY = date(2026, 8, 14)
VN = ZoneInfo("Asia/Ho_Chi_Minh")

periods = st.sampled_from(list(Span)).flatmap(
    lambda span: st.builds(
        Period,
        st.integers(2000, 2100),
        st.just(span),
        st.integers(1, COUNT[span]),
    )
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quy 3 2026", Period(2026, Span.QUARTER, 3)),
        ("Quý 1 2025", Period(2025, Span.QUARTER, 1)),
        ("quy", Period(2026, Span.QUARTER, 3)),
        ("", Period(2026, Span.QUARTER, 3)),
        ("quy 4", Period(2026, Span.QUARTER, 4)),
        ("q2", Period(2026, Span.QUARTER, 2)),
        ("6thang 1", Period(2026, Span.HALF, 1)),
        ("6 tháng 2 2025", Period(2025, Span.HALF, 2)),
        ("6thang", Period(2026, Span.HALF, 2)),
        ("nam 2025", Period(2025, Span.YEAR, 1)),
        ("năm", Period(2026, Span.YEAR, 1)),
        ("2026-Q3", Period(2026, Span.QUARTER, 3)),
    ],
)
def test_chat_periods(text: str, expected: Period) -> None:
    assert parse_chat(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("thang 3", "reports.error.unknown"),
        ("quy ba", "reports.error.unknown"),
        ("quy 5", "reports.error.number.quarter"),
        ("6thang 3", "reports.error.number.half"),
        ("nam 1999", "reports.error.year"),
        ("quy 1 2 3", "reports.error.unknown"),
    ],
)
def test_bad_chat_periods_get_a_vietnamese_message(text: str, key: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_chat(text, TODAY)
    assert caught.value.key == key
    message = caught.value.text("vi")
    assert message != key
    assert "/baocao" in message or "từ" in message or "ghi" in message


@pytest.mark.parametrize("text", ["2026-Q5", "2026-H3", "26-Q1", "2026Q1", "Q3-2026", "abc"])
def test_bad_codes(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_code(text)


@given(periods)
def test_code_and_chat_spellings_round_trip(period: Period) -> None:
    assert parse_code(period.code) == period
    assert parse_chat(period.command, TODAY) == period


@given(periods)
def test_periods_tile_the_year(period: Period) -> None:
    following = period.next()
    assert following.start == period.end
    assert period.start < period.end
    assert containing(period.span, period.start) == period
    assert containing(period.span, period.end - timedelta(days=1)) == period
    months = (period.end.year - period.start.year) * 12 + period.end.month - period.start.month
    assert months == {Span.QUARTER: 3, Span.HALF: 6, Span.YEAR: 12}[period.span]


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.sampled_from(list(Span)))
def test_every_day_is_in_its_period(day: date, span: Span) -> None:
    period = containing(span, day)
    assert period.start <= day < period.end


def test_bounds_are_local_midnights() -> None:
    start, end = Period(2026, Span.QUARTER, 3).bounds(VN)
    assert start.astimezone(UTC) == datetime(2026, 6, 30, 17, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 9, 30, 17, 0, tzinfo=UTC)


# -- the report --------------------------------------------------------------------------------

Q3 = Period(2026, Span.QUARTER, 3)
GROUPS = {"no_job": "Người chưa có việc làm", "no_capacity": "Không có khả năng lao động"}


def _contact(hh: int, member: int, village: int, day: date, **codes: str) -> ContactFact:
    return ContactFact(
        hh,
        member,
        village,
        codes.get("group", "no_job"),
        day,
        codes.get("kind", "job_referral"),
        codes.get("programme", "da4"),
        codes.get("outcome", "received"),
    )


FACTS = ReportFacts(
    area_code="87-MH",
    area_name="Xã Mỹ Hòa",
    review_year=2026,
    villages={1: "Ấp 1", 2: "Ấp 2", 3: "Ấp 3"},
    people=(
        PersonFact(10, 1, 1, "no_job", True),
        PersonFact(10, 2, 1, "no_capacity", True),
        PersonFact(11, 1, 2, "no_job", True),
        PersonFact(12, 1, 2, "no_job", False),
        PersonFact(13, 1, 3, "no_capacity", False),
    ),
    contacts=(
        _contact(10, 1, 1, date(2026, 7, 1), outcome="found_job"),
        _contact(10, 1, 1, date(2026, 8, 1), kind="loan", programme="da2"),
        _contact(11, 1, 2, date(2026, 9, 30), outcome="started_training", programme="tda1_da3"),
        # Outside the quarter: counted nowhere.
        _contact(10, 2, 1, date(2026, 6, 30), group="no_capacity", outcome="found_job"),
        _contact(10, 2, 1, date(2026, 10, 1), group="no_capacity"),
    ),
    meetings=(
        MeetingFact(1, datetime(2026, 8, 1, 1, 0, tzinfo=UTC), "Hội trường", 12, 9),
        MeetingFact(2, datetime(2026, 9, 1, 1, 0, tzinfo=UTC), "Nhà văn hóa", 5, 2),
    ),
)


def test_the_report_counts_the_period_only() -> None:
    report = build(FACTS, Q3, followup_data(), GROUPS, "vi")
    assert (report.total.contacts, report.total.people) == (3, 2)
    groups = {line.code: (line.tally.contacts, line.tally.people) for line in report.by_group}
    assert groups == {"no_job": (3, 2), "no_capacity": (0, 0)}
    programmes = {line.code: line.tally.contacts for line in report.by_programme}
    assert programmes["da4"] == 1
    assert programmes["da2"] == 1
    assert programmes["tda1_da3"] == 1
    assert [line.label for line in report.by_village] == ["Ấp 1", "Ấp 2", "Ấp 3"]
    villages = [(line.tally.contacts, line.tally.people) for line in report.by_village]
    assert villages == [(2, 1), (1, 1), (0, 0)]
    assert (report.found_job, report.started_training) == (1, 1)
    assert (report.meetings, report.invited, report.attended) == (2, 17, 11)
    # 5 people: 2 never assigned; of the 3 assigned, 10/2 had no contact in Q3.
    assert (report.people, report.unassigned, report.not_visited) == (5, 2, 1)


def test_outcome_codes_are_those_of_the_data_file() -> None:
    outcomes = {item.id for item in followup_data().outcomes}
    assert {"found_job", "started_training"} <= outcomes


def test_a_programme_no_longer_listed_is_shown_as_stored() -> None:
    facts = ReportFacts(
        "87-MH",
        "Xã Mỹ Hòa",
        2026,
        {1: "Ấp 1"},
        contacts=(_contact(10, 1, 1, date(2026, 7, 2), programme="da9"),),
    )
    report = build(facts, Q3, followup_data(), GROUPS, "vi")
    assert [(line.code, line.label, line.tally.contacts) for line in report.by_programme][-1] == (
        "da9",
        "da9",
        1,
    )


def test_the_text_in_vietnamese() -> None:
    text = render(build(FACTS, Q3, followup_data(), GROUPS, "vi"), "vi")
    assert "quý 3/2026" in text
    assert "Xã Mỹ Hòa" in text
    assert "3 lượt, 2 người" in text
    assert "• Dự án 2: 1 lượt, 1 người" in text
    assert "• Ấp 1: 2 lượt, 1 người" in text
    assert "Ấp 3" not in text
    assert "1 người đã có việc làm; 1 người đã đi học nghề" in text
    assert "2 cuộc; mời 17 hộ, 11 hộ tham dự" in text
    assert "2 người chưa được phân công" in text
    assert "1 người đã có người phụ trách nhưng chưa được thăm hỏi" in text


def test_an_empty_period_says_so() -> None:
    empty = ReportFacts("87-MH", "Xã Mỹ Hòa", 2026, {1: "Ấp 1"})
    text = render(build(empty, Q3, followup_data(), GROUPS, "vi"), "vi")
    assert "0 lượt, 0 người" in text
    assert "không có cuộc nào" in text
