"""Turns an engine question into chat messages, and stored values into readable text.

Pure: the same question renders the same way on every platform; the adapters decide
whether choices become buttons (Telegram) or a numbered list (terminal, Zalo).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from bot.messages import Choice as Button
from bot.messages import Choices, Outgoing, Text
from forms import AnswerValue, FieldType, Question
from forms.parsing import is_year_field
from locales.catalog import format_number, translate

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


def format_value(question: Question, value: AnswerValue, locale: str) -> str:
    """A stored answer as the collaborator would say it: labels, not codes, and a year
    as a year (1978, not 1.978)."""
    if value is None:
        return translate("interview.skipped", locale)
    if is_year_field(question.field) and isinstance(value, int):
        return str(value)
    labels = {choice.name: choice.label.get(locale) for choice in question.choices}
    if isinstance(value, list):
        return ", ".join(labels.get(code, code) for code in value) or "—"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal):
        return format_number(value, locale, exact=True)
    if isinstance(value, float):
        return format_number(Decimal(str(value)), locale, exact=True)
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
    notes: bool = True,
) -> list[Outgoing]:
    """The question as messages; ``notes=False`` when it is asked again (after an error,
    /review or /cancel), whose section notes were already shown."""
    out: list[Outgoing] = [Text(n.get(locale)) for n in question.notes if n and notes]
    lines = [line for line in (error, header) if line]
    lines.append(question.label.get(locale))
    kind = question.type
    # One hint: the form's own, written for this question, else how to type this kind.
    if question.hint:
        lines.append(f"({question.hint.get(locale)})")
    elif kind in TYPE_HINTS:
        lines.append(translate(TYPE_HINTS[kind], locale))
    if question.error is not None:
        lines.insert(0, "⚠️ " + question.error.text(locale))
    current = question.value if question.value is not None else None
    if current is not None:
        shown = format_value(question, current, locale)
        lines.append(translate("interview.current_value", locale, value=shown))
    suggestion = question.default if current is None else current
    buttons: list[Button] = []
    pick_line = ""
    if kind is FieldType.SELECT_ONE:
        # The suggested (roster) or current choice is marked on its own button, so each
        # choice is offered once.
        buttons += [
            Button(
                translate("interview.marked_choice", locale, label=c.label.get(locale))
                if c.name == suggestion
                else c.label.get(locale),
                callback(ANSWER, interview_id, step, i),
            )
            for i, c in enumerate(question.choices)
        ]
    elif kind is FieldType.SELECT_MULTIPLE:
        pick_line = translate("interview.pick_many", locale)
        lines.append(pick_line)
        buttons += [
            Button(
                c.label.get(locale),
                callback(TOGGLE, interview_id, step, i),
                selected=c.name in selected,
            )
            for i, c in enumerate(question.choices)
        ]
        buttons.append(
            Button(
                translate("interview.done_button", locale),
                callback(DONE, interview_id, step),
                action=True,
                finish=True,
            )
        )
    elif kind is FieldType.ACKNOWLEDGE:
        buttons.append(Button("OK", callback(ANSWER, interview_id, step, 0)))
    elif suggestion not in (None, "", []):
        shown = format_value(question, suggestion, locale)
        keep_key = "interview.keep_current" if current is not None else "interview.keep_default"
        buttons.append(
            Button(
                translate(keep_key, locale, value=shown),
                callback(KEEP, interview_id, step),
                action=True,
            )
        )
    if not question.required:
        buttons.append(
            Button(
                translate("interview.skip_button", locale),
                callback(SKIP, interview_id, step),
                action=True,
            )
        )
    text = "\n".join(lines)
    if not buttons:
        out.append(Text(text))
        return out
    columns = 2 if all(len(b.label) <= 18 for b in buttons) else 1
    typed = kind not in (FieldType.SELECT_ONE, FieldType.SELECT_MULTIPLE, FieldType.ACKNOWLEDGE)
    list_hint = ""
    if any(b.action for b in buttons):
        hint_key = "interview.list_hint_typed" if typed else "interview.list_hint_choices"
        list_hint = translate(hint_key, locale)
    several = kind is FieldType.SELECT_MULTIPLE
    out.append(
        Choices(
            text,
            tuple(buttons),
            columns=columns,
            list_hint=list_hint,
            several=several,
            pick_line=pick_line if several else "",
        )
    )
    return out
