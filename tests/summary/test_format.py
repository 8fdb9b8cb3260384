"""Number formatting, rates and the text's layout, on hand-made counts (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exports.summary import (
    Counts,
    PreviousYear,
    SummaryReport,
    format_count,
    format_percent,
    percent,
    render_summary,
    summary_rows,
)
from storage.models import HouseholdCategory as Category


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [
        (1281, "vi", "1.281"),
        (2083, "vi", "2.083"),
        (1_000_000, "vi", "1.000.000"),
        (4, "vi", "04"),
        (9, "vi", "09"),
        (10, "vi", "10"),
        (0, "vi", "0"),
        (4, "en", "4"),
        (1281, "en", "1,281"),
    ],
)
def test_counts(value: int, locale: str, expected: str) -> None:
    assert format_count(value, locale) == expected


@pytest.mark.parametrize(
    ("part", "whole", "locale", "expected"),
    [
        (676, 1281, "vi", "52,77"),
        (387, 965, "vi", "40,1"),
        (4, 965, "vi", "0,41"),
        (131, 1560, "vi", "8,4"),
        (1, 1, "vi", "100"),
        (1, 3, "vi", "33,33"),
        (2, 3, "vi", "66,67"),
        # Half up, as by hand: 1/8 = 12.5%, 1/16 = 6.25%, 1/32 = 3.125% -> 3,13.
        (1, 32, "vi", "3,13"),
        (5, 0, "vi", "0"),
        (1, 3, "en", "33.33"),
        (123_456, 100, "vi", "123.456"),
    ],
)
def test_percentages(part: int, whole: int, locale: str, expected: str) -> None:
    assert format_percent(percent(part, whole), locale) == expected


def report(**overrides: object) -> SummaryReport:
    poor = Counts(10, 8, 30, 20, 15, 5, {"employed": 9, "no_job": 2, "looking": 4, "unable": 5})
    values: dict[str, object] = {
        "area_code": "87-MH",
        "area_name": "Xã Mỹ Hòa",
        "area_level": "Xã",
        "year": 2026,
        "total_households": 1000,
        "categories": {Category.POOR: poor},
        "previous": PreviousYear(2025, 1000, {Category.POOR: 10, Category.NEAR_POOR: 3}),
    }
    values.update(overrides)
    return SummaryReport(**values)  # type: ignore[arg-type]


def test_change_wording() -> None:
    text = render_summary(report())
    assert "a) Tổng số hộ nghèo: 10 hộ, tỷ lệ 1% (không đổi), với 30 nhân khẩu" in text
    assert "b) Tổng số hộ cận nghèo: 0 hộ, tỷ lệ 0% (giảm 0,3%), với 0 nhân khẩu" in text
    up = report(previous=PreviousYear(2025, 1000, {Category.POOR: 7}))
    assert "tỷ lệ 1% (tăng 0,3%)" in render_summary(up)
    assert "tỷ lệ 1%, với" in render_summary(report(previous=None))
    assert "a) Tổng số hộ nghèo: 10 hộ, với 30" in render_summary(report(total_households=None))


def test_coverage_and_place() -> None:
    text = render_summary(report())
    assert "Đã phỏng vấn 08/10 hộ trong danh sách" in text
    assert "trên địa bàn xã còn 06 người" in text
    english = render_summary(report(), "en")
    assert "Interviewed 8/10 households" in english
    assert "In Xã Mỹ Hòa, 6 people able to work in poor households" in english


def test_rows_follow_the_text() -> None:
    rows = summary_rows(report())
    headline = rows[0]
    assert (headline.label, headline.count, headline.percent) == (
        "Tổng số hộ nghèo",
        10,
        Decimal("1.00"),
    )
    employed = next(r for r in rows if r.label == "Có việc làm" and r.category is Category.POOR)
    assert (employed.count, employed.percent) == (9, Decimal("45.00"))
    assert employed.of == "tổng số người khả năng lao động"
    seeking = [r for r in rows if r.label.endswith("đang tìm việc làm")]
    assert [r.count for r in seeking] == [6, 0, 0]
    labels_en = {r.label for r in summary_rows(report(), "en")}
    assert "Poor households" in labels_en


def test_escaped_block_and_empty_categories() -> None:
    escaped = Counts(2, 2, 6, 4, 3, 1, {"employed": 1, "no_job": 2, "unable": 1})
    text = render_summary(report(categories={Category.ESCAPED: escaped}))
    lines = text.splitlines()
    headline = lines.index(
        "c) Tổng số hộ mới thoát nghèo trong vòng 36 tháng: 02 hộ, với 06 nhân khẩu (có 04 "
        "người thuộc hộ mới thoát nghèo từ 15 tuổi trở lên, chiếm 66,67%)."
    )
    assert lines[headline + 2] == (
        "+ Còn khả năng lao động 03 người, chiếm 50% tổng số nhân khẩu hộ mới thoát nghèo."
    )
    assert (
        "- Ngoài ra, còn 02 người còn khả năng lao động thuộc hộ mới thoát nghèo không có việc "
        "làm, đang tìm việc làm."
    ) in lines
    # No poor household at all: the headline only, no rate of a category without rate.
    [poor] = [line for line in lines if line.startswith("a)")]
    assert poor.startswith("a) Tổng số hộ nghèo: 0 hộ, tỷ lệ 0% (giảm 1%)")
    assert lines[lines.index(poor) + 1] == ""
