"""The interview driver itself: it reads questions from the form file and the bot's words,
and its scripted order agrees with the hand-written scripts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.interview_driver import (
    HOUSEHOLD_SCRIPT,
    MEMBER_SCRIPTS,
    asked_in,
    expected_after,
    scripted_order,
    typed_value,
)
from tests.test_layers import imports_in

ROOT = Path(__file__).resolve().parent.parent


def test_the_driver_takes_nothing_from_the_engine_under_test() -> None:
    imported = {item.module for item in imports_in(ROOT, Path("tests/interview_driver.py"))}
    assert not {m for m in imported if m.startswith(("bot.interview", "forms"))}, imported


def test_a_member_question_is_read_with_its_member_and_name() -> None:
    text = (
        "❌ Tuổi không được quá 120.\n👤 Thành viên 2/5\nNăm sinh của Trần Thị Lan?\n"
        "(Ví dụ: 1985)\nCâu trả lời hiện tại: 1978"
    )
    question = asked_in(text)
    assert question is not None
    assert question.path == ("members", 1, "birth_year")
    assert question.type == "integer"
    assert question.label.get("vi") == "Năm sinh của Trần Thị Lan?"


def test_the_choices_are_the_form_files() -> None:
    question = asked_in("Hộ ở khu vực nào?\nCâu trả lời hiện tại: Thành thị")
    assert question is not None and question.path == ("area_type",)
    assert [(c.name, c.label) for c in question.choices] == [
        ("rural", "Nông thôn"),
        ("urban", "Thành thị"),
    ]


def test_a_review_list_or_a_summary_is_no_question() -> None:
    listing = (
        "Các câu đã trả lời của hộ HH-TEST · Nguyễn Văn Hùng:\n"
        "1. Hộ thuộc diện nào trong danh sách năm trước? → Hộ nghèo\n"
        "15. Giới tính của Nguyễn Văn Hùng? → Nam"
    )
    assert asked_in(listing) is None
    assert asked_in("👤 Nguyễn Văn Hùng\n→ Nhóm: Lao động không có việc làm") is None


def test_the_scripted_order_is_the_hand_written_scripts_order() -> None:
    # Two sources written apart: the form file's order of the scripted answers, and the
    # pieces of wording of the scripts, in the order the bot asked them on main.
    pieces = [piece for script in (HOUSEHOLD_SCRIPT, *MEMBER_SCRIPTS) for piece, _ in script]
    order = scripted_order()
    assert len(order) == len(pieces)
    at = None
    for path, piece in zip(order, pieces, strict=True):
        question = expected_after(at)
        assert question is not None and question.path == path
        assert piece in question.label.get("vi"), (path, piece)
        at = path
    assert expected_after(at) is None


def test_typed_answers_mean_what_a_reader_reads() -> None:
    assert typed_value("integer", "1,2 triệu") == 1_200_000
    assert typed_value("decimal", "42,5") == Decimal("42.5")
    assert typed_value("integer", "1.500.000") == 1_500_000
    assert typed_value("text", "may công nghiệp") == "may công nghiệp"
