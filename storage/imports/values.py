"""Turning cells as people type them into stored values; ``None`` means "not understood"."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from storage.imports.tabular import Cell
from storage.models import HouseholdCategory

MAX_AGE = 120
# Column widths of storage.models: PostgreSQL enforces them and SQLite does not, so the
# importer checks them itself to behave the same on both.
CODE_LENGTH = 32
NAME_LENGTH = 200
LEVEL_LENGTH = 32


def text(cell: Cell) -> str | None:
    """A cell as text; Excel turns codes like 101 into numbers, which must read back "101"."""
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


class _MarkStripper(dict[int, int | None]):
    """A str.translate table that drops combining marks, filled in as characters appear."""

    def __missing__(self, codepoint: int) -> int | None:
        kept = None if unicodedata.category(chr(codepoint)) == "Mn" else codepoint
        self[codepoint] = kept
        return kept


_STRIP_MARKS = _MarkStripper()


@lru_cache(maxsize=1 << 16)
def cached_fold(text: str) -> str:
    """Exactly storage.text.fold (a test holds them equal), fast enough for 50,000 rows.

    fold() looks up every character's category in Python; translate() does it once per
    distinct character. The cache serves the household columns repeated on member rows.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return " ".join(decomposed.translate(_STRIP_MARKS).lower().split())


@lru_cache(maxsize=1024)
def _choice_key(value: str) -> str:
    return " ".join(re.sub(r"[-_/.,]+", " ", cached_fold(value)).split())


_CATEGORIES = {
    "poor": HouseholdCategory.POOR,
    "ngheo": HouseholdCategory.POOR,
    "ho ngheo": HouseholdCategory.POOR,
    "near poor": HouseholdCategory.NEAR_POOR,
    "can ngheo": HouseholdCategory.NEAR_POOR,
    "ho can ngheo": HouseholdCategory.NEAR_POOR,
    "escaped": HouseholdCategory.ESCAPED,
    "thoat ngheo": HouseholdCategory.ESCAPED,
    "moi thoat ngheo": HouseholdCategory.ESCAPED,
    "ho thoat ngheo": HouseholdCategory.ESCAPED,
    "ho moi thoat ngheo": HouseholdCategory.ESCAPED,
}

_SEXES = {
    "nam": "male",
    "male": "male",
    "m": "male",
    "nu": "female",
    "female": "female",
    "f": "female",
}

_RELATIONS = {
    "head": "head",
    "chu ho": "head",
    "spouse": "spouse",
    "vo": "spouse",
    "chong": "spouse",
    "vo chong": "spouse",
    "child": "child",
    "con": "child",
    "con trai": "child",
    "con gai": "child",
    "con ruot": "child",
    "con nuoi": "child",
    "parent": "parent",
    "cha": "parent",
    "me": "parent",
    "bo": "parent",
    "cha me": "parent",
    "grandchild": "grandchild",
    "chau": "grandchild",
    "chau noi": "grandchild",
    "chau ngoai": "grandchild",
    "sibling": "sibling",
    "anh": "sibling",
    "chi": "sibling",
    "em": "sibling",
    "anh trai": "sibling",
    "chi gai": "sibling",
    "em trai": "sibling",
    "em gai": "sibling",
    "anh chi em": "sibling",
    "other": "other",
    "khac": "other",
}


def category(value: str) -> HouseholdCategory | None:
    return _CATEGORIES.get(_choice_key(value))


def sex(value: str) -> str | None:
    return _SEXES.get(_choice_key(value))


def relation(value: str) -> str | None:
    return _RELATIONS.get(_choice_key(value))


@dataclass(frozen=True)
class Birth:
    birth_date: date | None
    year: int


_YEAR = re.compile(r"^(\d{4})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
# Also the "1985-03-12 00:00:00" that spreadsheets and pandas write for a date cell.
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_EXCEL_EPOCH = date(1899, 12, 30)


def birth(cell: Cell) -> Birth | None:
    """A date cell, "12/3/1985" (day first, as written in Vietnam), "1985-03-12", or "1985"."""
    if isinstance(cell, date):
        day = cell.date() if isinstance(cell, datetime) else cell
        return Birth(day, day.year)
    if isinstance(cell, int | float):
        if not float(cell).is_integer():
            return None
        number = int(cell)
        if 1000 <= number <= 9999:
            return Birth(None, number)
        if 10000 <= number <= 2958465:
            # A date cell formatted as a number shows Excel's serial day count.
            day = _EXCEL_EPOCH + timedelta(days=number)
            return Birth(day, day.year)
        return None
    if cell is None:
        return None
    value = cell.strip()
    if match := _YEAR.match(value):
        return Birth(None, int(match[1]))
    if match := _DAY_FIRST.match(value):
        return _date(int(match[3]), int(match[2]), int(match[1]))
    if match := _ISO.match(value):
        return _date(int(match[1]), int(match[2]), int(match[3]))
    return None


def _date(year: int, month: int, day: int) -> Birth | None:
    try:
        value = date(year, month, day)
    except ValueError:
        return None
    return Birth(value, year)


def birth_problem(value: Birth, today: date) -> str | None:
    """The catalog key of what is implausible about a birth, if anything."""
    if value.birth_date is not None:
        if value.birth_date > today:
            return "imports.birth_in_future"
        age = today.year - value.year - ((today.month, today.day) < _month_day(value.birth_date))
    else:
        if value.year > today.year:
            return "imports.birth_in_future"
        age = today.year - value.year
    return "imports.birth_too_old" if age > MAX_AGE else None


def _month_day(value: date) -> tuple[int, int]:
    return (value.month, value.day)


def count(cell: Cell) -> int | None:
    """A non-negative whole number; "3.520" and "3,520" are thousands, not decimals."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return int(cell) if float(cell).is_integer() and cell >= 0 else None
    if not isinstance(cell, str):
        return None
    value = cell.strip().replace(" ", "")
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", value):
        value = re.sub(r"[.,]", "", value)
    return int(value) if re.fullmatch(r"[0-9]+", value) else None
