"""The forms catalogs: same keys in both languages, same placeholders, every key used exists."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from locales.catalog import LOCALES_DIR, placeholders

FORMS_CODE = Path(__file__).resolve().parents[2] / "forms"


def _catalog(locale: str) -> dict[str, str]:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "forms.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle, locale=locale) if m.id}


def test_vi_and_en_have_the_same_keys_and_placeholders() -> None:
    vi, en = _catalog("vi"), _catalog("en")
    assert vi.keys() == en.keys()
    for key in vi:
        assert vi[key] and en[key], key
        assert placeholders(vi[key]) == placeholders(en[key]), key


def test_every_key_used_in_the_engine_is_in_the_catalog() -> None:
    used: set[str] = set()
    for source in FORMS_CODE.glob("*.py"):
        used |= set(re.findall(r'"(forms\.[a-z_.]+)"', source.read_text(encoding="utf-8")))
    assert used, "no keys found"
    assert used <= _catalog("vi").keys()
