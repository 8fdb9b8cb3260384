"""Fitting export files under a chat platform's upload limit.

Telegram bots may send documents of at most 50 MB. Text (CSV) is zipped first, which
shrinks it about tenfold. A workbook is already a zip, so when it is still too big the
households are split into consecutive parts, each a complete file of its own (a part is
ordered by village like the whole, so a village is split at most once), rather than cut
into byte ranges that a commune officer would have to join again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TELEGRAM_LIMIT = 50 * 1000 * 1000
# Parts are sized for 90% of the limit: row sizes vary between villages.
FILL = 0.9
MAX_SPLIT_DEPTH = 4

Render = Callable[[Sequence[int], str], Awaitable[Path]]


@dataclass(frozen=True)
class Part:
    path: Path
    households: int


def parts_needed(size: int, limit: int) -> int:
    return max(2, math.ceil(size / (limit * FILL)))


def split_evenly(ids: Sequence[int], count: int) -> list[Sequence[int]]:
    count = max(1, min(count, len(ids)))
    size = math.ceil(len(ids) / count)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


async def render_within(
    ids: Sequence[int], render: Render, limit: int, *, tag: str = "", depth: int = 0
) -> list[Part]:
    """Render ``ids`` into one file, or into as many as needed to keep each under ``limit``.

    ``render(ids, tag)`` writes one file and returns its path; ``tag`` distinguishes the
    temporary files of the parts.
    """
    path = await render(ids, tag)
    size = path.stat().st_size
    if size <= limit or len(ids) <= 1 or depth >= MAX_SPLIT_DEPTH:
        return [Part(path, len(ids))]
    path.unlink()
    parts: list[Part] = []
    for number, chunk in enumerate(split_evenly(ids, parts_needed(size, limit)), start=1):
        parts += await render_within(chunk, render, limit, tag=f"{tag}-{number}", depth=depth + 1)
    return parts


def safe_name(text: str) -> str:
    """A file-name fragment every platform accepts: "87-MH+87-TL" -> "87-MH_87-TL"."""
    return re.sub(r"[^0-9A-Za-z._-]+", "_", text).strip("_") or "export"


def part_names(stem: str, suffix: str, count: int) -> list[str]:
    if count == 1:
        return [f"{stem}{suffix}"]
    return [f"{stem}-phan-{n}-{count}{suffix}" for n in range(1, count + 1)]
