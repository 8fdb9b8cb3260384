"""Numbers shown back to people: one format (locales.catalog.format_number) everywhere, in
the reader's language, an answer's decimals all kept."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.interview.render import format_value
from bot.interview.session import plan_of
from classification.render import format_number as reason_number
from forms.model import Question
from forms.questionnaire import Questionnaire
from forms.xlsform import load_bundled_form
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
