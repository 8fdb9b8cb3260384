"""User-facing text, looked up by symbolic key in the babel catalogs under ``locales/``.

Every ``.po`` file of a locale is merged into one table, so each part of the product
(conversation, forms, reports) keeps its own catalog without stepping on the others.
Keys are symbolic ("registration.welcome") rather than English source strings so that
Vietnamese, the primary language, is a translation like any other and completeness can
be checked by a test.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED_LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"


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
    return string.Formatter().vformat(text, (), params)


def placeholders(text: str) -> set[str]:
    """Names of the ``{placeholders}`` in a message, for consistency checks."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
