"""Type checks and built-in sanity rules that hold for every form, whatever its constraints.

The sanity rules recognise birth and age questions by name ("birth", "ngay_sinh",
"nam_sinh", "age", "tuoi"), so commune-edited forms get them without writing constraints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from forms.model import Choice, Field, FieldType, Invalid

MAX_AGE = 120
BIRTH_HINTS = ("birth", "ngay_sinh", "nam_sinh")
AGE_NAMES = ("age", "tuoi")


def _is_birth(field: Field) -> bool:
    name = field.name.lower()
    return any(hint in name for hint in BIRTH_HINTS)


def _is_age(field: Field) -> bool:
    name = field.name.lower()
    return name in AGE_NAMES or name.endswith(tuple(f"_{hint}" for hint in AGE_NAMES))


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return not (isinstance(value, float | Decimal) and not math.isfinite(value))


def type_check(field: Field, value: object, choices: Sequence[Choice]) -> Invalid | None:
    kind = field.type
    wrong = Invalid("forms.wrong_type", {"expected": kind.value})
    if kind is FieldType.TEXT and not isinstance(value, str):
        return wrong
    if kind is FieldType.INTEGER and (isinstance(value, bool) or not isinstance(value, int)):
        return wrong
    if kind is FieldType.DECIMAL and not _is_number(value):
        return wrong
    if kind is FieldType.DATE and not isinstance(value, date):
        return wrong
    if kind is FieldType.ACKNOWLEDGE and value != "OK":
        return Invalid("forms.not_acknowledged")
    allowed = {choice.name for choice in choices}
    if kind is FieldType.SELECT_ONE:
        if not isinstance(value, str):
            return wrong
        if value not in allowed:
            return Invalid("forms.choice_not_allowed", {"value": value})
    if kind is FieldType.SELECT_MULTIPLE:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return wrong
        for code in value:
            if code not in allowed:
                return Invalid("forms.choice_not_allowed", {"value": code})
        if len(set(value)) != len(value):
            return Invalid("forms.duplicate_choice")
    return None


def _age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def sanity_check(field: Field, value: object, today: date) -> Invalid | None:
    if _is_birth(field):
        if field.type is FieldType.DATE and isinstance(value, date):
            if value > today:
                return Invalid("forms.birth_in_future")
            if _age_on(value, today) > MAX_AGE:
                return Invalid("forms.age_over_limit", {"max_age": MAX_AGE})
        if field.type is FieldType.INTEGER and isinstance(value, int):
            if value > today.year:
                return Invalid("forms.birth_in_future")
            if today.year - value > MAX_AGE:
                return Invalid("forms.age_over_limit", {"max_age": MAX_AGE})
    if _is_age(field) and field.answerable and _is_number(value):
        assert isinstance(value, int | float | Decimal)
        if value < 0:
            return Invalid("forms.age_negative")
        if value > MAX_AGE:
            return Invalid("forms.age_over_limit", {"max_age": MAX_AGE})
    return None
