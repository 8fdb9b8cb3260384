"""Turning what a user types in a chat into a typed answer.

People write numbers the Vietnamese way ("1.500.000", "1,5 triệu", "2tr5"), dates
day-first ("12/3/1985"), and often type without accents ("co", "khong"), so matching is
forgiving while staying unambiguous: anything doubtful is refused with a reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation

from forms.model import Choice, Field, FieldType, Form, Invalid, Parsed, Question
from locales.catalog import format_number

MULTIPLIERS: dict[str, Decimal] = {
    "ty": Decimal(10) ** 9,
    "ti": Decimal(10) ** 9,
    "trieu": Decimal(10) ** 6,
    "tr": Decimal(10) ** 6,
    "m": Decimal(10) ** 6,
    "nghin": Decimal(10) ** 3,
    "ngan": Decimal(10) ** 3,
    "k": Decimal(10) ** 3,
    "tram": Decimal(100),
}
UNIT_SUFFIXES = ("vnd", "dong", "d", "m2", "m²", "met vuong", "/thang", "moi thang", "thang")

YES_NO_SYNONYMS: dict[str, frozenset[str]] = {
    "yes": frozenset({"c", "co", "u", "uh", "vang", "da", "dung", "yes", "y", "ok", "co a"}),
    "no": frozenset({"k", "ko", "kg", "khong", "hong", "no", "n", "khong co", "sai"}),
}
ACKNOWLEDGE_WORDS = frozenset(
    {"ok", "oke", "okay", "dong y", "co", "vang", "da", "xong", "1", "yes"}
)


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text for forgiving comparisons."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split()).strip(" .!?;:")


# -- numbers -----------------------------------------------------------------------------

_ASCII_INT = re.compile(r"[0-9]{1,9}")


def ascii_int(text: str) -> int | None:
    """``text`` as a plain non-negative integer of at most nine ASCII digits, else None.

    ``str.isdigit()`` also accepts "²" and "٣", which ``int()`` then refuses or reads: list
    positions and the ids in button data come from the bot's own lists and buttons, where
    only 0-9 appear, and nine digits keep an id inside every database's integer column.
    """
    return int(text) if _ASCII_INT.fullmatch(text) else None


_NUMBER = re.compile(r"^(-)?([\d.,]+)([a-z]+)?(\d+)?$")


def _digits_to_decimal(body: str, *, has_multiplier: bool) -> Decimal | None:
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal_mark = "." if body.rfind(".") > body.rfind(",") else ","
        grouping = "," if decimal_mark == "." else "."
        whole, _, fraction = body.rpartition(decimal_mark)
        if not _valid_grouping(whole, grouping) or not fraction.isdigit():
            return None
        return Decimal(whole.replace(grouping, "") + "." + fraction)
    separator = "." if dots else "," if commas else ""
    if not separator:
        return Decimal(body) if body.isdigit() else None
    count = dots or commas
    head, _, tail = body.partition(separator)
    if count > 1:
        return Decimal(body.replace(separator, "")) if _valid_grouping(body, separator) else None
    if not head.isdigit() or not tail.isdigit():
        return None
    # Vietnamese groups thousands with "." (and people mix in ","): one separator followed
    # by exactly three digits is a thousands separator, unless a unit word like "triệu"
    # follows ("1,250 triệu") or the whole part is 0 ("0,500").
    if len(tail) == 3 and not has_multiplier and head != "0" and len(head) <= 3:
        return Decimal(head + tail)
    return Decimal(head + "." + tail)


def _valid_grouping(text: str, separator: str) -> bool:
    groups = text.split(separator)
    return (
        1 <= len(groups[0]) <= 3
        and all(group.isdigit() for group in groups)
        and all(len(group) == 3 for group in groups[1:])
    )


def parse_number(text: str) -> Decimal | None:
    """The number written in ``text``, or None when it is not (only) a number."""
    folded = fold(text)
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if folded.endswith(suffix) and folded[: -len(suffix)].rstrip()[-1:].isalnum():
            folded = folded[: -len(suffix)].rstrip()
            break
    # "1 500 000" uses spaces as grouping; remove spaces between digits and before units.
    compact = re.sub(r"(?<=\d)\s+(?=\d{3}\b)", ".", folded)
    compact = compact.replace(" ", "")
    match = _NUMBER.match(compact)
    if not match:
        return None
    sign, body, unit, trailing = match.groups()
    if unit is not None and unit not in MULTIPLIERS:
        return None
    if trailing is not None and unit is None:
        return None
    value = _digits_to_decimal(body, has_multiplier=unit is not None)
    if value is None:
        return None
    if unit is not None:
        multiplier = MULTIPLIERS[unit]
        value *= multiplier
        if trailing:
            # "2tr5" is 2.5 million and "1tr250" is 1.25 million.
            value += Decimal(trailing) * multiplier / Decimal(10) ** len(trailing)
    return -value if sign else value


def display_value(form: Form, name: str, value: object, locale: str) -> str:
    """How the value of field ``name`` reads inside a label (``${name}``): choice labels,
    dd/mm/yyyy dates, Vietnamese numbers; empty for no value or a name that is no field."""
    field = form.fields.get(name)
    empty = value is None or value == "" or (isinstance(value, list | tuple) and not value)
    if empty or field is None:
        return ""
    if field.type in (FieldType.SELECT_ONE, FieldType.SELECT_MULTIPLE) and field.list_name:
        labels = {c.name: c.label.get(locale) for c in form.choices[field.list_name]}
        codes = value if isinstance(value, list) else [str(value)]
        return ", ".join(labels.get(code, code) for code in codes)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return format_number(value, locale, exact=True)
    return str(value)


# -- dates -------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DMY_DATE = re.compile(r"^(\d{1,2})\s*[-/.\s]\s*(\d{1,2})\s*[-/.\s]\s*(\d{4})$")
_WORDY_DATE = re.compile(r"^(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})$")
_YEAR_ONLY = re.compile(r"^(?:nam\s*)?(\d{4})$")
_MONTH_YEAR = re.compile(r"^(?:thang\s*)?(\d{1,2})\s*(?:[-/.]|nam)\s*(\d{4})$")


def parse_date(text: str) -> date | Invalid:
    folded = fold(text)
    for pattern, order in ((_ISO_DATE, "ymd"), (_DMY_DATE, "dmy"), (_WORDY_DATE, "dmy")):
        match = pattern.match(folded)
        if match:
            parts = dict(zip(order, (int(group) for group in match.groups()), strict=True))
            try:
                return date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                return Invalid("forms.invalid_date", {"text": text.strip()})
    if _YEAR_ONLY.match(folded) or _MONTH_YEAR.match(folded):
        return Invalid("forms.date_needs_day_month", {"text": text.strip()})
    return Invalid("forms.not_a_date", {"text": text.strip()})


def is_year_field(field: Field) -> bool:
    """Integer questions that hold a calendar year (e.g. birth_year) read "1985" as a year."""
    return field.type is FieldType.INTEGER and (
        "year" in (field.appearance or "") or field.name.lower().endswith("year")
    )


def parse_year(text: str) -> int | Invalid:
    folded = fold(text)
    match = _YEAR_ONLY.match(folded)
    if match:
        return int(match.group(1))
    day = parse_date(text)
    if isinstance(day, date):
        return day.year
    return Invalid("forms.not_a_year", {"text": text.strip()})


# -- choices -----------------------------------------------------------------------------


def _label_parts(choice: Choice) -> set[str]:
    parts: set[str] = set()
    for label in (choice.label.vi, choice.label.en):
        parts.update(part.strip() for part in re.split(r"[,/;()]", fold(label)) if part.strip())
    return parts


def match_choice(choices: Sequence[Choice], text: str) -> Choice | Invalid:
    key = fold(text)
    if not choices:
        return Invalid("forms.no_choices")
    position = ascii_int(key)
    if position is not None:
        if 1 <= position <= len(choices):
            return choices[position - 1]
        return Invalid("forms.unknown_choice", {"text": text.strip(), "count": len(choices)})
    for choice in choices:
        if key in (fold(choice.name), fold(choice.label.vi), fold(choice.label.en)):
            return choice
    for choice in choices:
        if key in YES_NO_SYNONYMS.get(choice.name, ()):
            return choice
    # Labels like "Cha, mẹ" or "Vợ/chồng" name several things; each part matches alone.
    partial = [choice for choice in choices if key in _label_parts(choice)]
    if len(partial) == 1:
        return partial[0]
    if len(key) >= 2:
        candidates = [
            choice
            for choice in choices
            if fold(choice.label.vi).startswith(key) or fold(choice.label.en).startswith(key)
        ]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            numbers = ", ".join(str(choices.index(choice) + 1) for choice in candidates)
            return Invalid("forms.ambiguous_choice", {"text": text.strip(), "options": numbers})
    return Invalid("forms.unknown_choice", {"text": text.strip(), "count": len(choices)})


def match_choices(choices: Sequence[Choice], text: str) -> list[str] | Invalid:
    folded = fold(text)
    if re.fullmatch(r"[\d\s,;.+]+", folded):
        tokens = re.findall(r"\d+", folded)
    else:
        tokens = [token for token in re.split(r"[,;+]|\s+va\s+", folded) if token.strip()]
    picked: set[str] = set()
    for token in tokens:
        choice = match_choice(choices, token)
        if isinstance(choice, Invalid):
            return choice
        picked.add(choice.name)
    if not picked:
        return Invalid("forms.empty_answer")
    return [choice.name for choice in choices if choice.name in picked]


# -- entry point -------------------------------------------------------------------------


def parse_answer(question: Question, raw_text: str) -> Parsed | Invalid:
    """Reads typed input for ``question``; checks shape only (see ``engine.validate``)."""
    text = raw_text.strip()
    if not text:
        return Invalid("forms.empty_answer")
    kind = question.type
    if kind is FieldType.TEXT:
        return Parsed(text)
    if kind is FieldType.INTEGER:
        if is_year_field(question.field):
            year = parse_year(text)
            return year if isinstance(year, Invalid) else Parsed(year)
        number = parse_number(text)
        if number is None:
            return Invalid("forms.not_a_number", {"text": text})
        if number != number.to_integral_value():
            return Invalid("forms.not_an_integer", {"text": text})
        return Parsed(int(number))
    if kind is FieldType.DECIMAL:
        number = parse_number(text)
        if number is None:
            return Invalid("forms.not_a_number", {"text": text})
        return Parsed(number)
    if kind is FieldType.DATE:
        day = parse_date(text)
        return day if isinstance(day, Invalid) else Parsed(day)
    if kind is FieldType.SELECT_ONE:
        choice = match_choice(question.choices, text)
        return choice if isinstance(choice, Invalid) else Parsed(choice.name)
    if kind is FieldType.SELECT_MULTIPLE:
        codes = match_choices(question.choices, text)
        return codes if isinstance(codes, Invalid) else Parsed(codes)
    if kind is FieldType.ACKNOWLEDGE:
        if fold(text) in ACKNOWLEDGE_WORDS:
            return Parsed("OK")
        return Invalid("forms.not_acknowledged")
    return Invalid("forms.not_a_question")


def literal_value(field: Field, text: str) -> object:
    """A static ``default`` cell as a typed value (ODK writes these in canonical form)."""
    kind = field.type
    try:
        if kind is FieldType.INTEGER:
            return int(Decimal(text))
        if kind is FieldType.DECIMAL:
            return Decimal(text)
        if kind is FieldType.DATE:
            return date.fromisoformat(text[:10])
    except (InvalidOperation, ValueError):
        return None
    if kind is FieldType.SELECT_MULTIPLE:
        return text.split()
    return text
