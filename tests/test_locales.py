"""Every message exists in Vietnamese and English, with the same placeholders."""

from __future__ import annotations

import string

from locales.catalog import SUPPORTED_LOCALES, catalog, placeholders


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    vi, en = (catalog(locale) for locale in SUPPORTED_LOCALES)
    assert vi, "the Vietnamese catalog is empty"
    assert set(vi) == set(en), f"only in one catalog: {sorted(set(vi) ^ set(en))}"
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key


def test_every_field_of_a_message_is_named() -> None:
    """translate fills messages with str.format_map: a field must be a plain name (no
    "{}", "{0}", "{a.b}" or "{a[0]}")."""
    for locale in SUPPORTED_LOCALES:
        for key, text in catalog(locale).items():
            for _, name, _, _ in string.Formatter().parse(text):
                assert name is None or name.isidentifier(), (locale, key, name)


def test_numbers_in_messages_use_the_readers_format_but_years_stay_plain() -> None:
    from decimal import Decimal

    from locales.catalog import translate

    params = {"total": 3, "year": 2025, "members": 2031, "answers": 123456}
    counts = {"created": 1, "updated": 0, "unchanged": 2}
    vi = translate("imports.summary.responses", "vi", **params, **counts)
    en = translate("imports.summary.responses", "en", **params, **counts)
    assert "năm 2025 (2.031 thành viên, 123.456 câu trả lời" in vi
    assert "of 2025 (2,031 members, 123,456 answers" in en
    assert translate("imports.too_long", "vi", length=Decimal("1234.5"), max=200) == (
        "nội dung quá dài (1.234,5 ký tự, tối đa 200)"
    )
