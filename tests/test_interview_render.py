"""How a question is offered: one button per choice, actions apart from typed answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.channels.terminal import TerminalChannel
from bot.interview.render import render_question
from bot.messages import Choices, Kind, list_keys
from forms import Question, load_bundled_form, question_at

TODAY = date(2026, 12, 4)
ANSWERS: dict[str, Any] = {"member_count": 1, "members": [{"name": "Lan"}]}


def question(path: tuple[str | int, ...], **answers: Any) -> Question:
    return question_at(
        load_bundled_form(),
        {**ANSWERS, **answers},
        path,
        today=TODAY,
        prefill={"members": [{"sex": "female"}]},
    )


def offered(asked: Question) -> Choices:
    *_, message = render_question(asked, interview_id=1, step=2, locale="vi")
    assert isinstance(message, Choices)
    return message


def test_the_roster_value_is_marked_on_its_own_choice() -> None:
    message = offered(question(("members", 0, "sex")))
    assert [c.label for c in message.choices] == ["Nam", "✔ Nữ"]
    assert [c.data for c in message.choices] == ["a:1:2:0", "a:1:2:1"]
    assert list_keys(message.choices) == ("1", "2") and not message.list_hint


async def test_keep_and_skip_of_a_number_question_are_lettered(tmp_path: Path) -> None:
    message = offered(question(("income_per_capita_month",), income_per_capita_month=1))
    assert [c.label for c in message.choices] == ["Giữ nguyên: 1", "Bỏ qua"]
    assert list_keys(message.choices) == ("a", "b")
    assert message.text.count("ví dụ") + message.text.count("Ví dụ") == 1
    lines: list[str] = []

    async def no_input() -> str | None:
        return None

    # The channel reads only the conversation's locale to show a list.
    conversation = SimpleNamespace(settings=SimpleNamespace(locale="vi"))
    channel = TerminalChannel(conversation, "1", "Hoa", no_input, lines.append, tmp_path)  # type: ignore[arg-type]
    await channel.show([message])
    assert lines[0].endswith("\n  a. Giữ nguyên: 1\n  b. Bỏ qua\n" + message.list_hint)
    assert "chữ cái" in message.list_hint
    typed = channel.to_incoming("1")
    assert typed.kind is Kind.TEXT and typed.text == "1"
    picked = channel.to_incoming("B")
    assert picked.kind is Kind.CHOICE and picked.choice == "s:1:2"
