"""Every message exists in Vietnamese and English, with the same placeholders."""

from __future__ import annotations

from bot.i18n import SUPPORTED_LOCALES, catalog, placeholders


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    vi, en = (catalog(locale) for locale in SUPPORTED_LOCALES)
    assert vi, "the Vietnamese catalog is empty"
    assert set(vi) == set(en), f"only in one catalog: {sorted(set(vi) ^ set(en))}"
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key
