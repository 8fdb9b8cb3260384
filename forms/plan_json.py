"""An evaluated state (:class:`forms.plan.State`) as the JSON stored with its interview.

A turn loads the state and stores the next one, so both directions run at every answer and
their text is written to the database each time. Format 2 spells a state in the terms of
the compiled plan, which the form version stored beside it names:

- a key is a node's index in the plan's document order (``Plan.rank``) followed by its
  repeat instances, ``"18/0"`` for ``("members", 0, "name")``: the repeats in between
  follow from the node;
- relevance and calculations have a value for every instance of their slots that the
  repeat counts make exist (:func:`forms.plan.instances`), so they are stored as values
  in that order, without keys: relevance as a string of ``0`` and ``1``, calculations as
  a list; a table that does not hold exactly those instances is stored keyed instead;
- ``"plan"`` stamps the layout the indexes refer to, so that a state written for another
  layout of a form that kept its version is refused (:func:`state_from_json` gives None)
  rather than read wrongly.

Answers keep their types: dates as ``{"date": iso}``, decimals as ``{"decimal": text}``;
derived values are plain JSON. Format 1 (paths spelt with names, ``"members/0/name"``, every
table keyed) is still read: states stored before format 2 load as they were.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from forms.model import Path
from forms.plan import RELEVANT, VALUE, Plan, Slot, State, instances

__all__ = ["FORMAT", "FORMATS", "state_from_json", "state_to_json"]

FORMAT = 2
"""The layout :func:`state_to_json` writes."""
FORMATS = frozenset({1, FORMAT})
"""The layouts :func:`state_from_json` reads."""

_PLAIN = (str, int, float, bool, type(None))
_AS_IS = frozenset(_PLAIN)
_DIGIT = {False: "0", True: "1"}
_TRUTH = {"0": False, "1": True}


def _encode(value: Any) -> Any:
    if type(value) is list:
        return list(value)  # a select_multiple's: the commonest answer not plain
    if type(value) in _AS_IS or isinstance(value, _PLAIN):
        return value
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"cannot store an answer of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "date" in value:
            return date.fromisoformat(value["date"])
        return Decimal(value["decimal"])
    return value


def _encode_all(values: Iterable[Any]) -> list[Any]:
    # The test inline: nearly every answer is plain, and a call each costs more.
    return [value if type(value) in _AS_IS else _encode(value) for value in values]


def _decode_all(values: Iterable[Any]) -> list[Any]:
    return [_decode(value) if type(value) is dict else value for value in values]


class _Layout:
    """What format 2 reads of a plan: its nodes by index, the slots whose instances are
    stored by position, and a stamp of both. One per plan; keys and paths are spelt once
    per process each (they are the same few hundred turn after turn)."""

    def __init__(self, plan: Plan) -> None:
        self.names = sorted(plan.rank, key=plan.rank.__getitem__)
        self.chains = {name: plan.chain(name) for name in self.names}
        self.codes = {name: str(index) for index, name in enumerate(self.names)}
        self.relevance = tuple(slot for slot in plan.slots if slot.kind == RELEVANT)
        self.calculations = tuple(slot for slot in plan.slots if slot.kind == VALUE)
        spelt = repr(
            (
                [(name, self.chains[name]) for name in self.names],
                [slot.name for slot in self.relevance],
                [slot.name for slot in self.calculations],
            )
        )
        self.stamp = hashlib.blake2s(spelt.encode(), digest_size=6).hexdigest()
        self.key: Callable[[Path], str] = functools.lru_cache(maxsize=1 << 16)(self._key)
        self.path: Callable[[str], Path] = functools.lru_cache(maxsize=1 << 16)(self._path)
        self.positions: Callable[
            [frozenset[tuple[Path, int]]], tuple[tuple[Path, ...], tuple[Path, ...]]
        ] = functools.lru_cache(maxsize=256)(self._positions)

    def _key(self, path: Path) -> str:
        return "/".join([self.codes[str(path[-1])], *map(str, path[1:-1:2])])

    def _path(self, key: str) -> Path:
        code, *indices = key.split("/")
        if not code.isdigit() or not all(index.isdigit() for index in indices):
            raise ValueError(f"not a stored key: {key!r}")
        name = self.names[int(code)]
        chain = self.chains[name]
        if len(indices) != len(chain):
            raise ValueError(f"not a stored key: {key!r}")
        path: list[str | int] = []
        for repeat, index in zip(chain, indices, strict=True):
            path += [repeat, int(index)]
        path.append(name)
        return tuple(path)

    def _positions(
        self, counts: frozenset[tuple[Path, int]]
    ) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
        """The instances of the relevance slots and of the calculations, in order."""
        sizes = dict(counts)

        def of(slots: tuple[Slot, ...]) -> tuple[Path, ...]:
            return tuple(path for slot in slots for path in instances(slot, sizes))

        return of(self.relevance), of(self.calculations)

    def keyed(self, table: Mapping[Path, Any]) -> dict[str, Any]:
        return dict(zip(map(self.key, table.keys()), table.values(), strict=True))

    def table(self, stored: Mapping[str, Any]) -> Mapping[Path, Any]:
        return MappingProxyType(
            dict(zip(map(self.path, stored.keys()), stored.values(), strict=True))
        )


@functools.lru_cache(maxsize=16)
def _layout(plan: Plan) -> _Layout:
    return _Layout(plan)


def _by_position(table: Mapping[Path, Any], positions: tuple[Path, ...]) -> list[Any] | None:
    """The values of ``table`` at ``positions``, or None unless it holds exactly those."""
    if len(table) == len(positions):
        if tuple(table) == positions:
            # Nearly always: a table read from format 2, or evaluated afresh, is in order.
            return list(table.values())
        try:
            return list(map(table.__getitem__, positions))
        except KeyError:
            pass
    return None


def state_to_json(plan: Plan, state: State) -> dict[str, Any]:
    """``state`` (evaluated over ``plan``) as JSON-ready data in format 2."""
    layout = _layout(plan)
    relevance, calculations = layout.positions(frozenset(state.counts.items()))
    relevant = _by_position(state.relevant, relevance)
    calculated = _by_position(state.calculated, calculations)
    return {
        "plan": layout.stamp,
        "today": state.today.isoformat(),
        "answers": dict(
            zip(
                map(layout.key, state.answers.keys()),
                _encode_all(state.answers.values()),
                strict=True,
            )
        ),
        "lengths": layout.keyed(state.lengths),
        "counts": layout.keyed(state.counts),
        "relevant": (
            layout.keyed(state.relevant)
            if relevant is None
            else "".join(map(_DIGIT.__getitem__, relevant))
        ),
        "calculated": layout.keyed(state.calculated) if calculated is None else calculated,
        "problems": layout.keyed(state.problems),
        "position": None if state.position is None else layout.key(state.position),
    }


def state_from_json(plan: Plan, data: Mapping[str, Any], format: int = FORMAT) -> State | None:
    """The state stored by :func:`state_to_json` (or in format 1), or None when it was
    written for another layout of the plan. ``format`` is the one it was stored in.
    ValueError, KeyError, TypeError... when ``data`` is no stored state."""
    if format == 1:
        return _from_names(data)
    if format != FORMAT:
        raise ValueError(f"unknown state format {format!r}")
    layout = _layout(plan)
    if data["plan"] != layout.stamp:
        return None
    counts = layout.table(data["counts"])
    relevance, calculations = layout.positions(frozenset(counts.items()))
    relevant, calculated, position = data["relevant"], data["calculated"], data["position"]
    answers = data["answers"]
    return State(
        today=date.fromisoformat(data["today"]),
        answers=MappingProxyType(
            dict(zip(map(layout.path, answers.keys()), _decode_all(answers.values()), strict=True))
        ),
        lengths=layout.table(data["lengths"]),
        relevant=(
            MappingProxyType(dict(zip(relevance, map(_TRUTH.__getitem__, relevant), strict=True)))
            if isinstance(relevant, str)
            else layout.table(relevant)
        ),
        calculated=(
            MappingProxyType(dict(zip(calculations, calculated, strict=True)))
            if isinstance(calculated, list)
            else layout.table(calculated)
        ),
        counts=counts,
        problems=layout.table(data["problems"]),
        position=None if position is None else layout.path(position),
    )


# -- format 1 -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def _named_path(key: str) -> Path:
    if not key:
        return ()
    return tuple([int(part) if part.isdigit() else part for part in key.split("/")])


def _from_names(data: Mapping[str, Any]) -> State:
    """A state in format 1: every table keyed by paths spelt with names."""

    def table(name: str) -> Mapping[Path, Any]:
        stored = data[name]
        return MappingProxyType(
            dict(zip(map(_named_path, stored.keys()), stored.values(), strict=True))
        )

    position = data["position"]
    answers = data["answers"]
    return State(
        today=date.fromisoformat(data["today"]),
        answers=MappingProxyType(
            dict(zip(map(_named_path, answers.keys()), _decode_all(answers.values()), strict=True))
        ),
        lengths=table("lengths"),
        relevant=table("relevant"),
        calculated=table("calculated"),
        counts=table("counts"),
        problems=table("problems"),
        position=None if position is None else _named_path(position),
    )
