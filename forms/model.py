"""Immutable data types shared by the questionnaire engine.

Answers stay plain data (dicts, lists, python scalars) so the chat layer can store them
as JSON; only the form and the engine's replies are typed objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

from locales.catalog import translate

AnswerValue: TypeAlias = str | int | float | Decimal | date | list[str] | None
"""One stored answer: a choice code, a number, a date, a list of codes, or None (skipped)."""

Answers: TypeAlias = Mapping[str, Any]
"""Household field -> value; repeat name -> list of member dicts (same shape, nested)."""

Path: TypeAlias = tuple[str | int, ...]
"""Where an answer lives, e.g. ("category",) or ("members", 2, "employment_status")."""

LOCALES = ("vi", "en")


@dataclass(frozen=True)
class Text:
    """A user-facing text in both product languages."""

    vi: str = ""
    en: str = ""

    def get(self, locale: str) -> str:
        # Falling back to the other language beats showing nothing to the user.
        primary = self.en if locale == "en" else self.vi
        return primary or self.vi or self.en

    def __bool__(self) -> bool:
        return bool(self.vi or self.en)


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    NOTE = "note"
    CALCULATE = "calculate"
    ACKNOWLEDGE = "acknowledge"


ANSWERABLE_TYPES = frozenset(FieldType) - {FieldType.NOTE, FieldType.CALCULATE}


@dataclass(frozen=True)
class Choice:
    name: str
    label: Text
    extra: tuple[tuple[str, str], ...] = ()
    """Additional choices-sheet columns, used by choice_filter expressions."""


@dataclass(frozen=True)
class Field:
    """One survey row that holds a value: a question, a note or a calculation."""

    name: str
    type: FieldType
    row: int
    label: Text = Text()
    hint: Text = Text()
    relevant: tuple[str, ...] = ()
    """Own relevant plus those of enclosing groups; all must hold."""
    constraint: str | None = None
    constraint_message: Text = Text()
    required: str | None = None
    required_message: Text = Text()
    calculation: str | None = None
    default: str | None = None
    choice_filter: str | None = None
    list_name: str | None = None
    appearance: str | None = None
    repeats: tuple[str, ...] = ()
    """Names of the enclosing repeats, outermost first."""

    @property
    def answerable(self) -> bool:
        return self.type in ANSWERABLE_TYPES


@dataclass(frozen=True)
class Repeat:
    name: str
    row: int
    label: Text = Text()
    relevant: tuple[str, ...] = ()
    repeat_count: str | None = None
    children: tuple[Node, ...] = ()
    repeats: tuple[str, ...] = ()
    """Names of the enclosing repeats, outermost first (not including this one)."""


Node: TypeAlias = Field | Repeat


@dataclass(frozen=True, eq=False)
class Form:
    """A loaded XLSForm. Compared by identity so it can key caches."""

    form_id: str
    title: str
    version: str
    default_language: str
    children: tuple[Node, ...]
    choices: Mapping[str, tuple[Choice, ...]]
    fields: Mapping[str, Field]
    repeats: Mapping[str, Repeat]
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """Compiled expressions and itemsets; filled lazily, never part of the form's meaning."""

    def node(self, name: str) -> Node:
        return self.fields.get(name) or self.repeats[name]


def frozen_mapping(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True)
class Invalid:
    """Why an answer was refused: a catalog key with parameters, or the form's own text."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    message: Text | None = None
    """Set when the form supplies the text (constraint_message, required_message)."""

    def text(self, locale: str = "vi") -> str:
        if self.message:
            return self.message.get(locale)
        return translate(self.key, locale, **self.params)


@dataclass(frozen=True)
class Parsed:
    value: AnswerValue


@dataclass(frozen=True)
class Question:
    """The next thing to ask, ready to render in any language."""

    path: Path
    field: Field
    label: Text
    hint: Text
    choices: tuple[Choice, ...]
    required: bool
    value: AnswerValue = None
    """The stored answer, if the question was already answered (editing, or re-asking)."""
    default: AnswerValue = None
    """Suggested value (form default or roster prefill) the user may just confirm."""
    notes: tuple[Text, ...] = ()
    """Relevant notes that come right before this question, to show first."""
    error: Invalid | None = None
    """Set when a stored answer is no longer valid (e.g. after an earlier answer changed)."""

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def type(self) -> FieldType:
        return self.field.type


@dataclass(frozen=True)
class Done:
    notes: tuple[Text, ...] = ()


Step: TypeAlias = Question | Done


class FormError(Exception):
    """A form that the engine refuses, located as precisely as possible for the editor."""

    def __init__(
        self,
        key: str,
        reason: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        self.key = key
        self.reason = reason
        self.sheet = sheet
        self.row = row
        self.column = column
        self.value = value
        where = ", ".join(
            part
            for part in (
                f"sheet {sheet}" if sheet else "",
                f"row {row}" if row else "",
                f"column {column}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet or "-",
            "row": self.row if self.row is not None else "-",
            "column": self.column or "-",
            "value": self.value or "",
            "reason": self.reason,
        }

    def text(self, locale: str = "vi") -> str:
        return translate(self.key, locale, **self.params)


HOUSEHOLD_CODE = "household_code"
"""The question naming the household. The chat answers it from the household the
collaborator picked and never asks it; in ODK and Kobo it is typed, and an import of
their exports finds the household by it."""
