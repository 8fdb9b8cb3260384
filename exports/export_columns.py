"""Sheet layouts: which columns each export sheet has, and how one answer becomes cells.

Every column header is Vietnamese whatever the user's locale: the files are handed on to
commune and district offices, whose templates are Vietnamese. A coded answer is written as
its code next to its Vietnamese label (codes survive relabelling and are what analysis
joins on; labels are what people read), and a multiple-choice answer also gets one 0/1
column per choice, so it can be counted with a plain SUM.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from classification import RuleSet
from forms import HOUSEHOLD_CODE, Field, FieldType, Form
from forms.xpath import REFERENCE
from locales.catalog import translate

Cell = str | int | float | date | None
LABEL_LANG = "vi"
LIST_SEPARATOR = ", "
# ODK and Kobo separate multiple-choice codes with a space; analysts' scripts expect it.
CODE_SEPARATOR = " "
# Answer fields without a short label in the rule file.
EXTRA_FIELD_KEYS = {"member_count": "exports.field.member_count"}
# In a header, a reference to a household answer reads as an ellipsis (none does today).
GENERIC_REFERENCE = "…"


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    FLAG = "flag"
    # A code kept for analysis next to its label; people read the label.
    CODE = "code"


# Columns for analysis rather than for reading: left off a printed list.
MACHINE_KINDS = frozenset({Kind.CODE, Kind.FLAG})


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    width: int = 14


def header(key: str, /, **params: object) -> str:
    return translate(key, LABEL_LANG, **params)


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def code_header(label: str) -> str:
    return header("exports.col.code_of", label=label)


def field_title(form: Form, field: Field, rules: RuleSet) -> str:
    if field.name in EXTRA_FIELD_KEYS:
        return header(EXTRA_FIELD_KEYS[field.name])
    label = rules.field_label(field.name, "vi")
    if label and label != field.name:
        return capitalise(label)
    return capitalise(generic_label(form, field.label.get(LABEL_LANG) or field.name))


def generic_label(form: Form, text: str) -> str:
    """A form label with its ``${...}`` references replaced by words: a column stands for
    every row, so "${name}" (a member's answer) becomes the form's word for a member."""

    def word(match: re.Match[str]) -> str:
        referenced = form.fields.get(match.group(1))
        if referenced is None or not referenced.repeats:
            return GENERIC_REFERENCE
        repeat = form.repeats[referenced.repeats[-1]]
        return (repeat.label.get(LABEL_LANG) or GENERIC_REFERENCE).lower()

    return REFERENCE.sub(word, text)


def coded_columns(label: str, width: int = 16) -> tuple[Column, Column]:
    return Column(code_header(label), Kind.CODE, 12), Column(label, Kind.TEXT, width)


def for_reading(columns: Sequence[Column]) -> tuple[int, ...]:
    """Column positions with what people read first (labels, numbers, dates) and the codes
    and 0/1 columns after them, so a printed list can stop where the codes begin."""
    return (
        *(i for i, c in enumerate(columns) if c.kind not in MACHINE_KINDS),
        *(i for i, c in enumerate(columns) if c.kind in MACHINE_KINDS),
    )


@dataclass(frozen=True)
class FieldColumns:
    """The columns of one form question and the function that fills them from its answer."""

    field: Field
    columns: tuple[Column, ...]
    cells: Callable[[Any], list[Cell]]


def field_columns(form: Form, field: Field, rules: RuleSet) -> FieldColumns:
    title = field_title(form, field, rules)
    if field.type is FieldType.SELECT_ONE:
        labels = _choice_labels(form, field)
        return FieldColumns(field, coded_columns(title), _select_one(labels))
    if field.type is FieldType.SELECT_MULTIPLE:
        choices = form.choices.get(field.list_name or "", ())
        labels = {c.name: c.label.get(LABEL_LANG) or c.name for c in choices}
        flags = tuple(Column(f"{title}: {labels[c.name]}", Kind.FLAG, 8) for c in choices)
        codes = tuple(c.name for c in choices)
        columns = (*coded_columns(title, 24), *flags)
        return FieldColumns(field, columns, _select_multiple(labels, codes))
    if field.type in (FieldType.INTEGER, FieldType.DECIMAL):
        return FieldColumns(field, (Column(title, Kind.NUMBER, 12),), _number)
    if field.type is FieldType.DATE:
        return FieldColumns(field, (Column(title, Kind.DATE, 12),), _date)
    return FieldColumns(field, (Column(title, Kind.TEXT, 20),), _text)


def form_columns(form: Form, rules: RuleSet, repeat: tuple[str, ...]) -> list[FieldColumns]:
    """The answerable questions at one level of the form (household or a repeat), in order;
    not the household code, which every sheet already starts with."""
    return [
        field_columns(form, field, rules)
        for field in sorted(form.fields.values(), key=lambda f: f.row)
        if field.answerable
        and field.repeats == repeat
        and field.type is not FieldType.ACKNOWLEDGE
        and field.name != HOUSEHOLD_CODE
    ]


def _choice_labels(form: Form, field: Field) -> dict[str, str]:
    return {
        c.name: c.label.get(LABEL_LANG) or c.name
        for c in form.choices.get(field.list_name or "", ())
    }


def _select_one(labels: Mapping[str, str]) -> Callable[[Any], list[Cell]]:
    def cells(value: Any) -> list[Cell]:
        if value is None or value == "":
            return [None, None]
        code = str(value)
        return [code, labels.get(code, code)]

    return cells


def _select_multiple(
    labels: Mapping[str, str], codes: Sequence[str]
) -> Callable[[Any], list[Cell]]:
    empty: list[Cell] = [None] * (2 + len(codes))

    def cells(value: Any) -> list[Cell]:
        if value is None:
            # Not asked (skipped by the form's logic): blank, not 0, so it isn't counted as "no".
            return list(empty)
        chosen = [str(v) for v in value] if isinstance(value, list) else str(value).split()
        picked = set(chosen)
        return [
            CODE_SEPARATOR.join(chosen),
            LIST_SEPARATOR.join(labels.get(code, code) for code in chosen),
            *(1 if code in picked else 0 for code in codes),
        ]

    return cells


def _number(value: Any) -> list[Cell]:
    if isinstance(value, bool) or value is None:
        return [None]
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, Decimal):
        return [float(value)]
    try:
        return [float(str(value))]
    except ValueError:
        return [str(value)]


def _date(value: Any) -> list[Cell]:
    if isinstance(value, date) or value is None:
        return [value]
    try:
        return [date.fromisoformat(str(value))]
    except ValueError:
        return [str(value)]


def _text(value: Any) -> list[Cell]:
    return [None if value is None else str(value)]
