"""Three-valued logic (true / false / unknown) that remembers which answers are missing.

Conditions are combined the Kleene way: "a and b" is false as soon as one part is known to
be false, whatever the other part is. That lets the classifier decide whenever the known
answers are enough, and list only the missing answers that would change the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tri:
    value: bool | None
    missing: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.value is not None


TRUE = Tri(True)
FALSE = Tri(False)


def of(flag: bool) -> Tri:
    return TRUE if flag else FALSE


def unknown(*fields: str) -> Tri:
    return Tri(None, tuple(fields))


def _merged_missing(parts: tuple[Tri, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(field for part in parts if not part.known for field in part.missing))


def all_of(*parts: Tri) -> Tri:
    if any(part.value is False for part in parts):
        return FALSE
    if all(part.value is True for part in parts):
        return TRUE
    return Tri(None, _merged_missing(parts))


def any_of(*parts: Tri) -> Tri:
    if any(part.value is True for part in parts):
        return TRUE
    if all(part.value is False for part in parts):
        return FALSE
    return Tri(None, _merged_missing(parts))


def negate(part: Tri) -> Tri:
    return part if part.value is None else of(not part.value)
