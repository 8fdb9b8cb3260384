"""Reading raw answers: a value that is absent, blank or not a known code counts as missing.

Treating an unknown code as missing (rather than guessing its meaning) makes the classifier
report "not enough information" for it, which is what the interviewer can fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from classification.vocabulary import ALL_CHOICES

Answers = Mapping[str, Any]


def choice(answers: Answers, field: str) -> str | None:
    value = answers.get(field)
    if isinstance(value, str) and value.strip() in ALL_CHOICES[field]:
        return value.strip()
    return None


def choices(answers: Answers, field: str) -> tuple[str, ...] | None:
    """A select_multiple answer as a tuple of codes; also accepts ODK's space-separated form.

    An empty list is an answer (nothing selected); any unknown code makes it missing.
    """
    value = answers.get(field)
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple):
        return None
    codes = tuple(str(code).strip() for code in value)
    if any(code not in ALL_CHOICES[field] for code in codes):
        return None
    return tuple(dict.fromkeys(codes))


def number(answers: Answers, field: str) -> float | None:
    """A numeric answer; the engine gives decimals as ``Decimal`` and storage as ``float``."""
    value = answers.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if value != value or value < 0:  # NaN or negative
        return None
    return float(value)


def text(answers: Answers, field: str) -> str | None:
    value = answers.get(field)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def birth_date(answers: Answers) -> date | None:
    value = answers.get("birth_date")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def birth_year(answers: Answers) -> int | None:
    value = answers.get("birth_year")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= 9999 else None
