"""When a policy dialogue's reminders go (``RASOAT_REMINDER_OFFSETS``): read by the settings at
every start, so it stands apart from the dialogues' decisions (``bot.decisions.meetings``),
which import the form's parsing and the messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class Offset:
    """When a reminder goes: ``before`` the start, or at ``at`` local time on the day."""

    key: str
    before: timedelta = timedelta(0)
    at: time | None = None
    days_before: int = 0

    def moment(self, starts_at: datetime, tz: tzinfo) -> datetime:
        if self.at is None:
            return starts_at - self.before
        day = starts_at.astimezone(tz).date() - timedelta(days=self.days_before)
        return datetime.combine(day, self.at, tzinfo=tz).astimezone(UTC)


DEFAULT_OFFSETS = "3d,1d,07:00"
_OFFSET = re.compile(r"^(?:(\d{1,3})([dh])|(\d{1,2}):(\d{2}))$")


def parse_offsets(text: str) -> tuple[Offset, ...]:
    """ "3d,1d,07:00": 3 days and 1 day before the start, and 07:00 local on the day; "2h"
    is hours before. Raises ValueError naming the item it cannot read."""
    offsets: list[Offset] = []
    for item in (part.strip().lower() for part in text.split(",")):
        match = _OFFSET.match(item)
        if match is None:
            raise ValueError(f"cannot read {item!r}: use 3d, 1d, 2h or 07:00")
        number, unit, hour, minute = match.groups()
        if number is not None:
            delta = timedelta(days=int(number)) if unit == "d" else timedelta(hours=int(number))
            offsets.append(Offset(item, before=delta))
        else:
            if int(hour) > 23 or int(minute) > 59:
                raise ValueError(f"cannot read {item!r}: not a time of day")
            offsets.append(Offset(item, at=time(int(hour), int(minute))))
    if not offsets or len({o.key for o in offsets}) != len(offsets):
        raise ValueError("give each offset once, e.g. 3d,1d,07:00")
    return tuple(offsets)
