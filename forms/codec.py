"""How engine answers are stored: one row per question, keyed by a path string, JSON value.

Paths are "water_source" or "members/2/employment_status" (0-based member index); values are
JSON scalars or lists, with dates as ISO strings and decimals as numbers. Storing per question
(rather than one JSON blob per interview) is what makes each answer durable the moment it
arrives and lets reports query a single question.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from forms.answers import answers_from
from forms.model import AnswerValue, FieldType, Form, Path

SEPARATOR = "/"


# The same few hundred paths, spelt and parsed at every answer: once per process each
# (both are pure).
@functools.lru_cache(maxsize=1 << 16)
def path_key(path: Path) -> str:
    return SEPARATOR.join(str(part) for part in path)


@functools.lru_cache(maxsize=1 << 16)
def key_path(key: str) -> Path:
    return tuple(int(part) if part.isdigit() else part for part in key.split(SEPARATOR))


_AS_IS = frozenset({str, int, float, bool, type(None)})


def encode(value: AnswerValue) -> Any:
    if type(value) in _AS_IS:
        return value  # most answers: one test, not three
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


def encode_all(answers: Mapping[Path, AnswerValue]) -> dict[str, Any]:
    """Answers by path as stored rows, {path key: JSON value}."""
    # The test inline: most answers are plain, and a call each costs more than the rest.
    return {
        path_key(path): value if type(value) in _AS_IS else encode(value)
        for path, value in answers.items()
    }


def decode(form: Form, path: Path, stored: Any) -> AnswerValue:
    field = form.fields.get(str(path[-1]))
    if stored is None or field is None:
        return stored
    if field.type is FieldType.DATE and isinstance(stored, str):
        return date.fromisoformat(stored)
    if field.type is FieldType.DECIMAL and isinstance(stored, int | float):
        return Decimal(str(stored))
    return stored


def assemble(
    form: Form, rows: Iterable[tuple[str, Any]], *, ordered: bool = False
) -> dict[str, Any]:
    """Nested engine answers from stored (path, value) rows, in any order.

    Rows are sorted first so the keys come out in one order whatever order the database
    returned; ``ordered`` keeps the given order (rows from :func:`flatten`), which gives the
    same answers, keyed in the order they were flattened from.
    """
    decoded: Iterable[tuple[Path, Any]] = ((key_path(key), value) for key, value in rows)
    if not ordered:
        decoded = sorted(decoded, key=_order)
    return answers_from((path, decode(form, path, value)) for path, value in decoded)


def decode_answers(form: Form, data: Mapping[str, Any]) -> dict[str, Any]:
    """Nested answers stored as JSON (dates as ISO text, decimals as numbers) as engine
    values: ``assemble(form, flatten(data).items())``, without the rows in between (a
    turn decodes the roster's suggested answers every time)."""
    try:
        return _decode_level(form, data)
    except _Unusual:
        # A name that is no plain path part: as the rows would spell and parse it.
        return assemble(form, flatten(data).items())


class _Unusual(Exception):
    pass


def _decode_level(form: Form, data: Mapping[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    names = list(data)
    for name in names:
        if not isinstance(name, str) or not name or SEPARATOR in name or name.isdigit():
            raise _Unusual(name)
    for name in sorted(names):
        value = data[name]
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            items = [_decode_level(form, item) for item in value]
            # An instance without answers holds no row: the rows keep the instances up
            # to the last that has one.
            while items and not items[-1]:
                items.pop()
            if items:
                decoded[name] = items
        else:
            decoded[name] = decode(form, (name,), encode(value))
    return decoded


def _order(item: tuple[Path, Any]) -> tuple[Any, ...]:
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in item[0])


def flatten(answers: Mapping[str, Any], prefix: Path = ()) -> dict[str, Any]:
    """Every answer of nested engine answers as {path key: stored JSON value}."""
    rows: dict[str, Any] = {}
    for name, value in answers.items():
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                rows.update(flatten(item, (*prefix, name, index)))
        else:
            rows[path_key((*prefix, name))] = encode(value)
    return rows
