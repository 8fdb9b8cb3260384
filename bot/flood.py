"""A per-person limit on messages: a stuck key or a script can't monopolise the bot.

More than ``limit`` messages within ``window`` are dropped before they reach the database;
the first one dropped gets a polite answer, the rest nothing, until the person slows down.
No person reads a question and answers it twice a second for ten seconds; a stuck key, a
script or a forwarded pile of messages does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

WINDOW = timedelta(seconds=10)
# People remembered at most; the least recently heard from is forgotten first.
PEOPLE = 10_000


class Verdict(Enum):
    ALLOW = "allow"
    # Over the limit for the first time in this burst: say so once.
    WARN = "warn"
    DROP = "drop"


@dataclass
class FloodGate:
    limit: int
    window: timedelta = WINDOW
    people: int = PEOPLE
    _seen: dict[str, deque[datetime]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def check(self, who: str, now: datetime) -> Verdict:
        times = self._seen.pop(who, None) or deque()
        self._seen[who] = times  # most recently heard from last
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(self._seen) > self.people:
            forgotten = next(iter(self._seen))
            del self._seen[forgotten]
            self._warned.discard(forgotten)
        if len(times) < self.limit:
            times.append(now)
            self._warned.discard(who)
            return Verdict.ALLOW
        if who in self._warned:
            return Verdict.DROP
        self._warned.add(who)
        return Verdict.WARN
