"""Reading and writing the nested answers structure without mutating the caller's data.

Convention: a key that is absent means "not asked yet"; a key present with ``None`` means
"asked and left empty" (an optional question the user skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from forms.model import Answers, AnswerValue, Path

_MISSING = object()


def thaw(answers: Answers) -> dict[str, Any]:
    """A deep, mutable copy of the answers (dicts and lists only; values are shared)."""
    copied: dict[str, Any] = {}
    for key, value in answers.items():
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            copied[key] = [thaw(item) for item in value]
        elif isinstance(value, list):
            copied[key] = list(value)
        else:
            copied[key] = value
    return copied


def _lookup(answers: Answers, path: Path) -> Any:
    current: Any = answers
    for part in path:
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return _MISSING
            current = current[part] or {}
        else:
            if not isinstance(current, Mapping) or part not in current:
                return _MISSING
            current = current[part]
    return current


def has_answer(answers: Answers, path: Path) -> bool:
    return _lookup(answers, path) is not _MISSING


def get_answer(answers: Answers, path: Path) -> AnswerValue:
    """The stored value, or None when absent (use ``has_answer`` to tell the two apart)."""
    value = _lookup(answers, path)
    return None if value is _MISSING else value


def _set_in(container: dict[str, Any], path: Path, value: object) -> None:
    head, *rest = path
    assert isinstance(head, str)
    if not rest:
        container[head] = value
        return
    index = rest[0]
    assert isinstance(index, int)
    items = container.setdefault(head, [])
    while len(items) <= index:
        items.append({})
    if items[index] is None:
        items[index] = {}
    _set_in(items[index], tuple(rest[1:]), value)


def set_answer(answers: Answers, path: Path, value: AnswerValue) -> dict[str, Any]:
    """A copy of ``answers`` with ``value`` stored at ``path`` (repeat lists grow as needed)."""
    updated = thaw(answers)
    _set_in(updated, path, value)
    return updated


def answers_from(items: Iterable[tuple[Path, AnswerValue]]) -> dict[str, Any]:
    """New answers holding every (path, value), in the given order; faster than repeated
    ``set_answer`` calls, which each copy everything stored so far."""
    built: dict[str, Any] = {}
    for path, value in items:
        _set_in(built, path, value)
    return built


def remove_answer(answers: Answers, path: Path) -> dict[str, Any]:
    """A copy of ``answers`` where ``path`` is back to "not asked yet"."""
    updated = thaw(answers)
    parent = _lookup(updated, path[:-1]) if len(path) > 1 else updated
    if isinstance(parent, dict):
        parent.pop(str(path[-1]), None)
    return updated
