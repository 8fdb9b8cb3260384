"""User-facing text, looked up by symbolic key in the babel catalogs under ``locales/``.

Every ``.po`` file of a locale is merged into one table, so each part of the product
(conversation, forms, reports) keeps its own catalog without stepping on the others.
Keys are symbolic ("registration.welcome") rather than English source strings so that
Vietnamese, the primary language, is a translation like any other and completeness can
be checked by a test.
"""

from __future__ import annotations

import string
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern

LOCALES_DIR = Path(__file__).resolve().parent
SUPPORTED_LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
# Parameters that name something rather than count it: "năm 2026", not "năm 2.026".
IDENTIFIER_PARAMS = frozenset({"year", "id"})
NUMBER_PATTERN = "#,##0.##"


@cache
def catalog(locale: str) -> dict[str, str]:
    """All messages of one locale, merged from every .po file of that locale."""
    table: dict[str, str] = {}
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            for message in read_po(handle, locale=locale):
                if message.id and message.string:
                    table[str(message.id)] = str(message.string)
    return table


def translate(key: str, locale: str = DEFAULT_LOCALE, /, **params: object) -> str:
    """The text for ``key`` in ``locale``, falling back to Vietnamese, then to the key.

    Falling back instead of raising keeps the bot talking even if a translation is
    missing; the catalog-completeness test is what catches such gaps.
    """
    text = catalog(locale).get(key) or catalog(DEFAULT_LOCALE).get(key) or key
    if not params:
        return text
    shown = {
        name: format_number(value, locale)
        if isinstance(value, int | float | Decimal) and _is_quantity(name, value)
        else value
        for name, value in params.items()
    }
    # str.format_map, not string.Formatter (the same fields, written in Python): every
    # message names its fields, none is positional.
    return text.format_map(shown)


def format_number(
    value: int | float | Decimal, locale: str = DEFAULT_LOCALE, *, exact: bool = False
) -> str:
    """The one number format of every message: "2.031" and "52,77" in Vietnamese,
    "2,031" and "52.77" in English; at most two decimals, or every decimal of the value
    with ``exact`` (an answer shown back as it was given: 36,125 m², not 36,13)."""
    if type(value) is int and 0 <= value < 1000:
        return str(value)  # no separator to place: a count, a step, an age
    language = locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE
    # babel's format_decimal, its locale and pattern parsed once rather than every call.
    babel_locale, pattern = _number_format(language)
    return pattern.apply(
        value,
        babel_locale,
        decimal_quantization=not exact,
        group_separator=True,
        numbering_system="latn",
    )


@cache
def _number_format(language: str) -> tuple[Locale, NumberPattern]:
    return Locale.parse(language), parse_pattern(NUMBER_PATTERN)


def _is_quantity(name: str, value: int | float | Decimal) -> bool:
    return (
        not isinstance(value, bool) and name not in IDENTIFIER_PARAMS and not name.endswith("_year")
    )


def placeholders(text: str) -> set[str]:
    """Names of the ``{placeholders}`` in a message, for consistency checks."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
