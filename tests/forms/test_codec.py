"""Stored answers decoded straight from their nested JSON, as their rows would be."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from forms import current_form
from forms.codec import assemble, decode_answers, flatten

FORM = current_form()

# Fields the form decodes (a date, a decimal), others, and names no row can spell.
PLAIN_NAMES = ["birth_date", "floor_area_m2", "name", "members", "member_count", "sex"]
NAMES = st.sampled_from(PLAIN_NAMES)
ODD_NAMES = st.sampled_from([*PLAIN_NAMES, "0", "a/b", ""])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["1974-06-11", "2020-02-29", "text", ""]),
    st.dates(date(1900, 1, 1), date(2030, 1, 1)),
    st.decimals("-100", "100", places=2),
)


def nested(names: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        st.dictionaries(names, SCALARS, max_size=4),
        lambda inner: st.dictionaries(
            names,
            st.one_of(
                SCALARS,
                st.lists(st.sampled_from(["a", "b", 1, Decimal("2.5")]), max_size=3),
                st.lists(inner, max_size=3),
            ),
            max_size=4,
        ),
        max_leaves=12,
    )


def outcome(decoder: Callable[[], dict[str, Any]]) -> Any:
    """What decoding gives: the answers (their repr keeps their order and types), or the
    kind of error (a value its field cannot hold, a name no row can spell)."""
    try:
        return repr(decoder())
    except (ArithmeticError, AssertionError, TypeError, ValueError) as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(data=nested(NAMES))
def test_decoded_like_its_rows(data: dict[str, Any]) -> None:
    expected = outcome(lambda: assemble(FORM, flatten(data).items()))
    assert outcome(lambda: decode_answers(FORM, data)) == expected


@settings(max_examples=100, deadline=None)
@given(data=nested(ODD_NAMES))
def test_names_no_row_spells_are_decoded_through_the_rows(data: dict[str, Any]) -> None:
    expected = outcome(lambda: assemble(FORM, flatten(data).items()))
    assert outcome(lambda: decode_answers(FORM, data)) == expected


def test_instances_without_answers() -> None:
    data = {"members": [{}, {"name": "An", "birth_date": "1974-06-11"}, {}, {"members": [{}]}]}
    assert decode_answers(FORM, data) == {
        "members": [{}, {"name": "An", "birth_date": date(1974, 6, 11)}]
    }
    assert decode_answers(FORM, {"members": [{}], "floor_area_m2": 36.125}) == {
        "floor_area_m2": Decimal("36.125")
    }
