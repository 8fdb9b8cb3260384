"""Numbers shown back to people: one format (locales.catalog.format_number) everywhere, in
the reader's language, an answer's decimals all kept."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_decimal

from bot.interview.render import format_value
from bot.interview.session import plan_of
from classification.render import format_number as reason_number
from forms.model import Question
from forms.questionnaire import Questionnaire
from forms.xlsform import load_bundled_form
from locales.catalog import format_number as catalog_number
from tests.forms.conftest import TODAY


def _question(name: str) -> Question:
    form = load_bundled_form()
    questionnaire = Questionnaire.start(plan_of(form), {}, today=TODAY)
    step = questionnaire.question_at((name,))
    assert isinstance(step, Question)
    return step


@pytest.mark.parametrize(
    ("value", "locale", "shown"),
    [
        (1_500_000, "vi", "1.500.000"),
        (1_500_000, "en", "1,500,000"),
        (Decimal("36.125"), "vi", "36,125"),
        (Decimal("36.125"), "en", "36.125"),
    ],
)
def test_an_answer_is_shown_in_the_readers_format_with_every_decimal(
    value: int | Decimal, locale: str, shown: str
) -> None:
    assert format_value(_question("floor_area_m2"), value, locale) == shown


@pytest.mark.parametrize(
    ("value", "lang", "shown"),
    [(1_500_000, "vi", "1.500.000"), (1_500_000, "en", "1,500,000"), (6.5, "vi", "6,5")],
)
def test_a_reason_writes_its_numbers_like_every_message(
    value: int | float, lang: str, shown: str
) -> None:
    assert reason_number(value, lang) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["vi", "en", "fr"])
@pytest.mark.parametrize("exact", [False, True])
def test_numbers_read_as_babel_writes_them(locale: str, exact: bool) -> None:
    """The pattern parsed once and small counts written at once: babel's format_decimal,
    whatever the number."""
    values = [
        *range(-1005, 1005, 7),
        999,
        1000,
        1_500_000,
        -0.0,
        6.5,
        999.5,
        2.675,
        123456.789,
        Decimal("36.125"),
        Decimal("-0.005"),
        Decimal("1E+3"),
        Decimal(999),
    ]
    language = locale if locale in ("vi", "en") else "vi"
    for value in values:
        expected = format_decimal(
            value, format="#,##0.##", locale=language, decimal_quantization=not exact
        )
        assert catalog_number(value, locale, exact=exact) == expected, value
