"""Typed chat input: Vietnamese numbers, dates, accents, multiple choices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.model import Choice, Field, FieldType, Invalid, Parsed, Question, Text
from forms.parsing import (
    fold,
    parse_answer,
    parse_date,
    parse_number,
)
from locales.catalog import format_number


def question(kind: FieldType, name: str = "x", choices: tuple[Choice, ...] = ()) -> Question:
    field = Field(name=name, type=kind, row=2)
    return Question(
        path=(name,), field=field, label=Text(), hint=Text(), choices=choices, required=True
    )


def choice(name: str, vi: str, en: str = "") -> Choice:
    return Choice(name=name, label=Text(vi=vi, en=en or vi))


YES_NO = (choice("yes", "Có", "Yes"), choice("no", "Không", "No"))
STATUS = (
    choice("employed", "Có việc làm", "Employed"),
    choice("no_job", "Không có việc làm", "No job"),
    choice("looking", "Đang tìm việc làm", "Looking for work"),
    choice("studying", "Đang đi học", "In school"),
)
RELATION = (choice("head", "Chủ hộ"), choice("spouse", "Vợ, chồng"), choice("parent", "Cha, mẹ"))
DEVICES = (
    choice("tv", "Ti vi"),
    choice("radio", "Đài, radio"),
    choice("computer", "Máy tính"),
    choice("smartphone", "Điện thoại thông minh"),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1500000", Decimal(1500000)),
        ("1.500.000", Decimal(1500000)),
        ("1,500,000", Decimal(1500000)),
        ("1 500 000", Decimal(1500000)),
        ("1.500.000 đ", Decimal(1500000)),
        ("1.500.000 đồng", Decimal(1500000)),
        ("1,5 triệu", Decimal(1500000)),
        ("1.5 triệu", Decimal(1500000)),
        ("1,5 TRIỆU", Decimal(1500000)),
        ("1,5 trieu", Decimal(1500000)),
        ("2tr", Decimal(2000000)),
        ("2 tr", Decimal(2000000)),
        ("2tr5", Decimal(2500000)),
        ("1tr250", Decimal(1250000)),
        ("500k", Decimal(500000)),
        ("500 nghìn", Decimal(500000)),
        ("800 ngàn", Decimal(800000)),
        ("1.5", Decimal("1.5")),
        ("1,5", Decimal("1.5")),
        ("42,5 m2", Decimal("42.5")),
        ("0,500", Decimal("0.5")),
        ("1.234,5", Decimal("1234.5")),
        ("1,234.5", Decimal("1234.5")),
        ("-3", Decimal(-3)),
        ("1985", Decimal(1985)),
    ],
)
def test_numbers(text: str, expected: Decimal) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["abc", "1.2.3", "12,34,5", "5 con gà", "1..5", "tr", ""])
def test_not_numbers(text: str) -> None:
    assert parse_number(text) is None


def test_integer_question() -> None:
    assert parse_answer(question(FieldType.INTEGER), "1.500.000") == Parsed(1500000)
    assert parse_answer(question(FieldType.INTEGER), "2tr") == Parsed(2000000)
    refused = parse_answer(question(FieldType.INTEGER), "1,5")
    assert isinstance(refused, Invalid) and refused.key == "forms.not_an_integer"
    refused = parse_answer(question(FieldType.INTEGER), "nhiều")
    assert isinstance(refused, Invalid) and refused.key == "forms.not_a_number"
    assert "nhiều" in refused.text("vi")


def test_decimal_question() -> None:
    assert parse_answer(question(FieldType.DECIMAL), "35,5") == Parsed(Decimal("35.5"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/3/1985", date(1985, 3, 12)),
        ("12/03/1985", date(1985, 3, 12)),
        ("12-03-1985", date(1985, 3, 12)),
        ("12.3.1985", date(1985, 3, 12)),
        ("1985-03-12", date(1985, 3, 12)),
        ("ngày 12 tháng 3 năm 1985", date(1985, 3, 12)),
        (" 1/1/2000 ", date(2000, 1, 1)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected
    assert parse_answer(question(FieldType.DATE), text) == Parsed(expected)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("31/2/2000", "forms.invalid_date"),
        ("12/13/1985", "forms.invalid_date"),
        ("1985", "forms.date_needs_day_month"),
        ("3/1985", "forms.date_needs_day_month"),
        ("hôm qua", "forms.not_a_date"),
        ("12/3/85", "forms.not_a_date"),
    ],
)
def test_bad_dates(text: str, key: str) -> None:
    result = parse_date(text)
    assert isinstance(result, Invalid) and result.key == key


@pytest.mark.parametrize(
    ("text", "expected"), [("1985", 1985), ("năm 1985", 1985), ("12/3/1985", 1985)]
)
def test_year_only_question(text: str, expected: int) -> None:
    assert parse_answer(question(FieldType.INTEGER, "birth_year"), text) == Parsed(expected)


def test_year_only_question_refuses_other_numbers() -> None:
    result = parse_answer(question(FieldType.INTEGER, "birth_year"), "85")
    assert isinstance(result, Invalid) and result.key == "forms.not_a_year"


@pytest.mark.parametrize("text", ["có", "Có", "CÓ", "co", "Co", "1", "yes", "c", "vâng", "Yes"])
def test_yes_variants(text: str) -> None:
    assert parse_answer(question(FieldType.SELECT_ONE, choices=YES_NO), text) == Parsed("yes")


@pytest.mark.parametrize("text", ["không", "Không", "KHONG", "khong", "ko", "k", "2", "no"])
def test_no_variants(text: str) -> None:
    assert parse_answer(question(FieldType.SELECT_ONE, choices=YES_NO), text) == Parsed("no")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("có việc làm", "employed"),
        ("CO VIEC LAM", "employed"),
        ("Không có việc làm", "no_job"),
        ("dang tim", "looking"),
        ("đang đi học.", "studying"),
        ("In school", "studying"),
        ("no_job", "no_job"),
        ("3", "looking"),
    ],
)
def test_choice_by_label_code_or_number(text: str, expected: str) -> None:
    assert parse_answer(question(FieldType.SELECT_ONE, choices=STATUS), text) == Parsed(expected)


def test_choice_by_part_of_label() -> None:
    assert parse_answer(question(FieldType.SELECT_ONE, choices=RELATION), "mẹ") == Parsed("parent")
    assert parse_answer(question(FieldType.SELECT_ONE, choices=RELATION), "vo") == Parsed("spouse")


def test_ambiguous_and_unknown_choices() -> None:
    ambiguous = parse_answer(question(FieldType.SELECT_ONE, choices=STATUS), "dang")
    assert isinstance(ambiguous, Invalid) and ambiguous.key == "forms.ambiguous_choice"
    assert ambiguous.params["options"] == "3, 4"
    unknown = parse_answer(question(FieldType.SELECT_ONE, choices=STATUS), "9")
    assert isinstance(unknown, Invalid) and unknown.key == "forms.unknown_choice"
    assert unknown.params["count"] == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,3", ["tv", "computer"]),
        ("1 3", ["tv", "computer"]),
        ("3, 1", ["tv", "computer"]),
        ("1;3;3", ["tv", "computer"]),
        ("ti vi, máy tính", ["tv", "computer"]),
        ("may tinh va dien thoai thong minh", ["computer", "smartphone"]),
        ("4", ["smartphone"]),
    ],
)
def test_select_multiple(text: str, expected: list[str]) -> None:
    assert parse_answer(question(FieldType.SELECT_MULTIPLE, choices=DEVICES), text) == Parsed(
        expected
    )


def test_select_multiple_refuses_unknown_item() -> None:
    result = parse_answer(question(FieldType.SELECT_MULTIPLE, choices=DEVICES), "1,7")
    assert isinstance(result, Invalid) and result.key == "forms.unknown_choice"


def test_text_acknowledge_and_empty() -> None:
    assert parse_answer(question(FieldType.TEXT), "  Nguyễn Văn A ") == Parsed("Nguyễn Văn A")
    assert parse_answer(question(FieldType.ACKNOWLEDGE), "OK") == Parsed("OK")
    assert parse_answer(question(FieldType.ACKNOWLEDGE), "đồng ý") == Parsed("OK")
    empty = parse_answer(question(FieldType.TEXT), "   ")
    assert isinstance(empty, Invalid) and empty.key == "forms.empty_answer"
    assert empty.text("vi") == "Vui lòng nhập câu trả lời."


def test_fold() -> None:
    assert fold("  Đang  TÌM việc làm. ") == "dang tim viec lam"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_vietnamese_integer_round_trip(value: int) -> None:
    assert parse_number(format_number(value, "vi", exact=True)) == value


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=99))
def test_vietnamese_decimal_round_trip(whole: int, hundredths: int) -> None:
    value = Decimal(whole) + Decimal(hundredths) / 100
    assert parse_number(format_number(value, "vi", exact=True)) == value


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_date_round_trip(day: date) -> None:
    assert parse_date(f"{day.day}/{day.month}/{day.year}") == day
    assert parse_date(day.strftime("%d-%m-%Y")) == day
    assert parse_date(day.isoformat()) == day


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["triệu", "tr", "TRIỆU"]))
def test_millions_round_trip(millions: int, unit: str) -> None:
    assert parse_number(f"{millions} {unit}") == millions * 10**6
