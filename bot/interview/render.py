"""Turns an engine question into chat messages, and stored values into readable text.

Pure: the same question renders the same way on every platform; the adapters decide
whether choices become buttons (Telegram) or a numbered list (terminal, Zalo).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from bot.forms import AnswerValue, Choice, FieldType, Question
from bot.forms.parsing import format_number_vi
from bot.i18n import translate
from bot.messages import Choice as Button
from bot.messages import Choices, Outgoing, Text

# Callback data: "<verb>:<interview id>:<step>[:<index>]". Short ids only, so they fit
# Telegram's 64 bytes whatever the language of the labels.
ANSWER = "a"
TOGGLE = "t"
DONE = "d"
KEEP = "k"
SKIP = "s"

TYPE_HINTS = {
    FieldType.INTEGER: "interview.hint.integer",
    FieldType.DECIMAL: "interview.hint.decimal",
    FieldType.DATE: "interview.hint.date",
    FieldType.TEXT: "interview.hint.text",
}


def callback(verb: str, interview_id: int, step: int, index: int | None = None) -> str:
    base = f"{verb}:{interview_id}:{step}"
    return base if index is None else f"{base}:{index}"


def format_value(question_choices: Sequence[Choice], value: AnswerValue, locale: str) -> str:
    """A stored answer as the collaborator would say it: labels, not codes."""
    if value is None:
        return translate("interview.skipped", locale)
    labels = {choice.name: choice.label.get(locale) for choice in question_choices}
    if isinstance(value, list):
        return ", ".join(labels.get(code, code) for code in value) or "—"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal):
        return format_number_vi(value)
    if isinstance(value, float):
        return format_number_vi(Decimal(str(value)))
    return labels.get(str(value), str(value))


def render_question(
    question: Question,
    *,
    interview_id: int,
    step: int,
    locale: str,
    selected: Sequence[str] = (),
    header: str = "",
    error: str = "",
) -> list[Outgoing]:
    out: list[Outgoing] = [Text(note.get(locale)) for note in question.notes if note]
    lines = [line for line in (error, header) if line]
    lines.append(question.label.get(locale))
    if question.hint:
        lines.append(f"({question.hint.get(locale)})")
    if question.error is not None:
        lines.insert(0, "⚠️ " + question.error.text(locale))
    current = question.value if question.value is not None else None
    if current is not None:
        shown = format_value(question.choices, current, locale)
        lines.append(translate("interview.current_value", locale, value=shown))
    buttons: list[Button] = []
    kind = question.type
    if kind is FieldType.SELECT_ONE:
        buttons += [
            Button(c.label.get(locale), callback(ANSWER, interview_id, step, i))
            for i, c in enumerate(question.choices)
        ]
    elif kind is FieldType.SELECT_MULTIPLE:
        lines.append(translate("interview.pick_many", locale))
        buttons += [
            Button(
                c.label.get(locale),
                callback(TOGGLE, interview_id, step, i),
                selected=c.name in selected,
            )
            for i, c in enumerate(question.choices)
        ]
        buttons.append(
            Button(translate("interview.done_button", locale), callback(DONE, interview_id, step))
        )
    elif kind is FieldType.ACKNOWLEDGE:
        buttons.append(Button("OK", callback(ANSWER, interview_id, step, 0)))
    elif kind in TYPE_HINTS:
        lines.append(translate(TYPE_HINTS[kind], locale))
    suggestion = question.default if current is None else current
    if suggestion not in (None, "", []) and kind is not FieldType.SELECT_MULTIPLE:
        shown = format_value(question.choices, suggestion, locale)
        keep_key = "interview.keep_current" if current is not None else "interview.keep_default"
        buttons.insert(
            0, Button(translate(keep_key, locale, value=shown), callback(KEEP, interview_id, step))
        )
    if not question.required:
        buttons.append(
            Button(translate("interview.skip_button", locale), callback(SKIP, interview_id, step))
        )
    text = "\n".join(lines)
    if buttons:
        columns = 2 if all(len(b.label) <= 18 for b in buttons) else 1
        out.append(Choices(text, tuple(buttons), columns=columns))
    else:
        out.append(Text(text))
    return out
