"""Follow-up of support (section II.2 of the plan): the pure decisions of /phutrach (commune
staff assign a responsible officer to a person on a support list) and /theodoi (an officer
sees their list and records a contact), and the reminders of people not visited.

The shells (:mod:`bot.dialogs.followup`) read what a step needs and store the state these
functions return; nothing here touches the database or the clock: "today" and "now" are
given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from bot.messages import Choice, Choices, Outgoing, Text
from classification.followup import FollowupData
from forms.model import Invalid
from forms.parsing import ascii_int, fold, parse_date
from locales.catalog import translate
from storage.text import phone_number

ASSIGN_DIALOG = "followup_assign"
RECORD_DIALOG = "followup_record"
ASSIGN = "pa"
RECORD = "pt"
PAGE_SIZE = 8
MAX_NAME = 200
MAX_NOTE = 500
TODAY_WORDS = ("hom nay", "nay", "today")
YESTERDAY_WORDS = ("hom qua", "qua", "yesterday")
DAY_MONTH = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})$")
SKIP = "-"


# -- plain data the shells read -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Village:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Person:
    """A member on a support list."""

    household_id: int
    household_code: str
    member_index: int
    name: str
    group: str


@dataclass(frozen=True, slots=True)
class Officer:
    user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Followed:
    """One of an officer's current assignments, as their list shows it."""

    assignment_id: int
    officer_user_id: int | None
    name: str
    household_code: str
    group: str
    assigned_on: date
    last_contact: date | None = None


@dataclass(frozen=True, slots=True)
class Labels:
    """The words a reply needs: group labels of the rule set, the follow-up data."""

    groups: Mapping[str, str]
    data: FollowupData
    locale: str

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)

    def group(self, code: str) -> str:
        return self.groups.get(code, code)


# -- /phutrach ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssignState:
    """Where staff are in /phutrach: the village, the page, the person being assigned."""

    village_id: int | None = None
    offset: int = 0
    household_id: int | None = None
    member_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "village_id": self.village_id,
            "offset": self.offset,
            "household_id": self.household_id,
            "member_index": self.member_index,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssignState:
        def number(name: str) -> int | None:
            value = data.get(name)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value if ok else None

        return cls(
            number("village_id"),
            number("offset") or 0,
            number("household_id"),
            number("member_index"),
        )


@dataclass(frozen=True, slots=True)
class AssignButton:
    verb: str  # "v" village, "p" page, "m" member, "o" officer
    first: int
    second: int = 0


def parse_assign_button(data: str) -> AssignButton | None:
    """ "pa:m:12:3" -> AssignButton("m", 12, 3); anything else (forged, stale) -> None."""
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != ASSIGN or parts[1] not in ("v", "p", "m", "o"):
        return None
    numbers = [ascii_int(part) for part in parts[2:]]
    if any(n is None for n in numbers) or len(numbers) > 2:
        return None
    values = [n for n in numbers if n is not None]
    if parts[1] in ("p", "m") and len(values) != 2:
        return None
    return AssignButton(parts[1], values[0], values[1] if len(values) > 1 else 0)


def villages_reply(villages: Sequence[Village], labels: Labels) -> list[Outgoing]:
    if not villages:
        return [Text(labels.t("followup.no_villages"))]
    buttons = tuple(Choice(v.name, f"{ASSIGN}:v:{v.id}") for v in villages)
    return [Choices(labels.t("followup.pick_village"), buttons)]


def people_page(
    village: Village,
    people: Sequence[Person],
    total: int,
    offset: int,
    assigned: Mapping[tuple[int, int], str],
    labels: Labels,
) -> list[Outgoing]:
    """A page of the village's people; ``assigned``: the current officer's name of those
    who have one."""
    if total == 0:
        return [Text(labels.t("followup.no_people", village=village.name))]
    buttons = []
    for person in people:
        officer = assigned.get((person.household_id, person.member_index))
        mark = f" → {officer}" if officer else ""
        buttons.append(
            Choice(
                f"{person.name} · {person.household_code} · {labels.group(person.group)}{mark}",
                f"{ASSIGN}:m:{person.household_id}:{person.member_index}",
            )
        )
    if offset > 0:
        buttons.append(Choice("◀", f"{ASSIGN}:p:{village.id}:{max(0, offset - PAGE_SIZE)}"))
    if offset + PAGE_SIZE < total:
        buttons.append(Choice("▶", f"{ASSIGN}:p:{village.id}:{offset + PAGE_SIZE}"))
    title = labels.t(
        "followup.people_title",
        village=village.name,
        first=offset + 1,
        last=min(offset + PAGE_SIZE, total),
        total=total,
    )
    return [Choices(title, tuple(buttons))]


def officers_reply(
    person: Person, current: str | None, officers: Sequence[Officer], labels: Labels
) -> list[Outgoing]:
    text = labels.t("followup.pick_officer", name=person.name, household=person.household_code)
    if current:
        text += "\n" + labels.t("followup.current_officer", officer=current)
    buttons = tuple(Choice(o.name, f"{ASSIGN}:o:{o.user_id}") for o in officers[:20])
    return [Choices(text, buttons)] if buttons else [Text(text)]


@dataclass(frozen=True, slots=True)
class TypedOfficer:
    name: str
    phone: str


def parse_officer(text: str) -> TypedOfficer | str:
    """ "Nguyễn Văn Bình, 0912 345 678" -> the officer; else the catalog key of what is
    wrong with it."""
    name, comma, phone = text.rpartition(",")
    if not comma:
        return "followup.officer_format"
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        return "followup.officer_format"
    digits = phone_number(phone)
    if digits is None:
        return "followup.bad_phone"
    return TypedOfficer(name, digits)


def assigned_reply(person: Person, officer: str, labels: Labels) -> list[Outgoing]:
    return [
        Text(
            labels.t(
                "followup.assigned",
                name=person.name,
                household=person.household_code,
                officer=officer,
            )
        )
    ]


# -- /theodoi -------------------------------------------------------------------------------

STEPS = ("date", "kind", "programme", "outcome", "note")


@dataclass(frozen=True, slots=True)
class RecordState:
    """A contact being recorded; ``step``: what is asked now."""

    assignment_id: int
    step: str = "date"
    contact_date: date | None = None
    kind: str | None = None
    programme: str | None = None
    outcome: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "assignment_id": self.assignment_id,
            "step": self.step,
            "contact_date": self.contact_date.isoformat() if self.contact_date else None,
            "kind": self.kind,
            "programme": self.programme,
            "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordState | None:
        """The stored state, or None when it is damaged (the list is shown again)."""
        assignment = data.get("assignment_id")
        step = data.get("step")
        if not isinstance(assignment, int) or isinstance(assignment, bool) or step not in STEPS:
            return None
        try:
            day = date.fromisoformat(data["contact_date"]) if data.get("contact_date") else None
        except (TypeError, ValueError):
            return None

        def code(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        return cls(assignment, step, day, code("kind"), code("programme"), code("outcome"))


@dataclass(frozen=True, slots=True)
class Contact:
    """A finished contact, to store."""

    assignment_id: int
    contact_date: date
    kind: str
    programme: str | None
    outcome: str
    note: str | None


def officer_list(followed: Sequence[Followed], labels: Labels) -> list[Outgoing]:
    if not followed:
        return [Text(labels.t("followup.list_empty"))]
    lines = [labels.t("followup.list_title", count=len(followed))]
    buttons = []
    for number, item in enumerate(followed, 1):
        last = (
            labels.t("followup.last_contact", date=item.last_contact.strftime("%d/%m/%Y"))
            if item.last_contact
            else labels.t("followup.never_contacted")
        )
        lines.append(
            f"{number}. {item.name} · {item.household_code} · {labels.group(item.group)} · {last}"
        )
        buttons.append(Choice(f"{number}. {item.name}", f"{RECORD}:a:{item.assignment_id}"))
    return [Choices("\n".join(lines), tuple(buttons))]


def ask(state: RecordState, person: str, labels: Labels) -> list[Outgoing]:
    """The question of ``state``'s step."""
    data = labels.data
    match state.step:
        case "date":
            return [
                Choices(
                    labels.t("followup.ask_date", name=person),
                    (Choice(labels.t("followup.today"), f"{RECORD}:d:today"),),
                )
            ]
        case "kind":
            return [_options(labels.t("followup.ask_kind"), "k", data.kinds, labels)]
        case "programme":
            return [_options(labels.t("followup.ask_programme"), "g", data.programmes, labels)]
        case "outcome":
            return [_options(labels.t("followup.ask_outcome"), "r", data.outcomes, labels)]
        case "note":
            return [
                Choices(
                    labels.t("followup.ask_note"),
                    (Choice(labels.t("followup.no_note"), f"{RECORD}:n:none"),),
                )
            ]
    raise AssertionError(state.step)


def _options(text: str, verb: str, items: Iterable[Any], labels: Labels) -> Choices:
    buttons = tuple(
        Choice(
            item.label.vi if labels.locale == "vi" else item.label.en, f"{RECORD}:{verb}:{item.id}"
        )
        for item in items
    )
    return Choices(text, buttons, columns=2)


@dataclass(frozen=True, slots=True)
class Next:
    """Store ``state`` and ask its step."""

    state: RecordState


@dataclass(frozen=True, slots=True)
class Done:
    contact: Contact


@dataclass(frozen=True, slots=True)
class Refused:
    """Bad input: the catalog key and its parameters; the step is asked again."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)


Step = Next | Done | Refused


def parse_contact_date(text: str, today: date) -> date | Refused:
    """ "hôm nay", "hôm qua", "5/12" (this year), "05/12/2026", "5-12-2026", "ngày 5 tháng 12
    năm 2026"; never after ``today``."""
    folded = fold(text)
    if folded in TODAY_WORDS:
        return today
    if folded in YESTERDAY_WORDS:
        return today - timedelta(days=1)
    short = DAY_MONTH.match(folded)
    if short:
        try:
            day = date(today.year, int(short.group(2)), int(short.group(1)))
        except ValueError:
            return Refused("forms.invalid_date", {"text": text.strip()})
    else:
        parsed = parse_date(text)
        if isinstance(parsed, Invalid):
            return Refused(parsed.key, dict(parsed.params))
        day = parsed
    if day > today:
        return Refused("followup.date_in_future", {"date": day.strftime("%d/%m/%Y")})
    return day


def typed(state: RecordState, text: str, today: date) -> Step:
    """Typed text at ``state``'s step: a date, a note, or a code typed instead of pressed."""
    if state.step == "date":
        day = parse_contact_date(text, today)
        if isinstance(day, Refused):
            return day
        return Next(replace(state, contact_date=day, step="kind"))
    if state.step == "note":
        note = " ".join(text.split())
        if len(note) > MAX_NOTE:
            return Refused("followup.note_too_long", {"max": MAX_NOTE})
        return _finish(state, None if note in ("", SKIP) else note)
    return Refused("followup.use_buttons")


def pressed(state: RecordState, verb: str, code: str, data: FollowupData, today: date) -> Step:
    """A button of the contact's questions; a code not in the data is refused."""
    match (state.step, verb):
        case ("date", "d") if code == "today":
            return Next(replace(state, contact_date=today, step="kind"))
        case ("kind", "k") if code in {item.id for item in data.kinds}:
            return Next(replace(state, kind=code, step="programme"))
        case ("programme", "g") if code in {item.id for item in data.programmes}:
            return Next(replace(state, programme=code, step="outcome"))
        case ("outcome", "r") if code in {item.id for item in data.outcomes}:
            return Next(replace(state, outcome=code, step="note"))
        case ("note", "n"):
            return _finish(state, None)
    return Refused("followup.stale")


def _finish(state: RecordState, note: str | None) -> Step:
    if state.contact_date is None or state.kind is None or state.outcome is None:
        return Refused("followup.stale")
    return Done(
        Contact(
            state.assignment_id,
            state.contact_date,
            state.kind,
            state.programme,
            state.outcome,
            note,
        )
    )


def recorded_reply(contact: Contact, person: str, labels: Labels) -> list[Outgoing]:
    data = labels.data
    lines = [
        labels.t("followup.recorded", name=person, date=contact.contact_date.strftime("%d/%m/%Y")),
        f"• {data.label('kinds', contact.kind, labels.locale)}",
    ]
    if contact.programme:
        lines.append(f"• {data.label('programmes', contact.programme, labels.locale)}")
    lines.append(f"• {data.label('outcomes', contact.outcome, labels.locale)}")
    if contact.note:
        lines.append(f"• {contact.note}")
    return [Text("\n".join(lines))]


# -- reminders ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reminder:
    """A message the bot sends on its own: to whom, what, once per key, not before when."""

    recipient_user_id: int
    text: str
    dedupe_key: str
    not_before: datetime


@dataclass(frozen=True, slots=True)
class ContactDate:
    assignment_id: int
    contact_date: date


def due_followups(
    assignments: Sequence[Followed],
    contacts: Iterable[ContactDate],
    interval: timedelta,
    now: datetime,
    tz: tzinfo,
    *,
    group: str,
    locale: str = "vi",
) -> list[Reminder]:
    """One reminder per officer listing their people of ``group`` (those without labour
    capacity) not visited within ``interval``: neither a contact nor the assignment itself
    that recent. Officers not using the bot (no user id) get none. The key names the
    officer and the period (``interval``-long, counted in days from 1970-01-01 in the
    commune's time zone), so a reminder is sent at most once per officer per period."""
    today = now.astimezone(tz).date()
    days = max(1, interval.days)
    last: dict[int, date] = {}
    for contact in contacts:
        seen = last.get(contact.assignment_id)
        if seen is None or contact.contact_date > seen:
            last[contact.assignment_id] = contact.contact_date
    due: dict[int, list[Followed]] = {}
    for item in assignments:
        if item.group != group or item.officer_user_id is None:
            continue
        latest = max(item.assigned_on, last.get(item.assignment_id, item.assigned_on))
        if (today - latest).days >= days:
            due.setdefault(item.officer_user_id, []).append(
                replace(item, last_contact=last.get(item.assignment_id))
            )
    period = (today - date(1970, 1, 1)).days // days
    reminders = []
    for officer, items in sorted(due.items()):
        lines = [translate("followup.reminder_title", locale, count=len(items), days=days)]
        for number, item in enumerate(items, 1):
            when = (
                translate(
                    "followup.last_contact", locale, date=item.last_contact.strftime("%d/%m/%Y")
                )
                if item.last_contact
                else translate("followup.never_contacted", locale)
            )
            lines.append(f"{number}. {item.name} · {item.household_code} · {when}")
        lines.append(translate("followup.reminder_hint", locale))
        reminders.append(
            Reminder(officer, "\n".join(lines), f"followup:{officer}:{days}:{period}", now)
        )
    return reminders
