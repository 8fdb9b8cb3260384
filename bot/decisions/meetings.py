"""Policy dialogues (đối thoại chính sách): the pure decisions.

Four parts, all over plain rows, none touching a database or a clock:

- the guided ``/doithoai`` dialog of a supervisor or commune staff (``decide`` over a typed
  :class:`Draft` or :class:`Recording`): schedule, list, change, cancel, status, attendance;
- who is invited (``invited_households``, ``sync_invitations``);
- which reminders and announcements are due (``due_reminders``, ``announcements``): each a
  :class:`OutboxMessage` value the shell writes in the transaction that caused it;
- what the status and the attendance look like.

Button data: ``mt:<verb>:<arg>`` for the organiser's dialog, ``mi:<invitation id>`` for the
collaborator's "Đã mời". Both are checked again by the shell against what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from bot.decisions.reminder_offsets import Offset
from bot.messages import Choice, Choices, Notice, Outgoing, Text
from forms.parsing import ascii_int
from locales.catalog import translate
from storage.text import fold

DIALOG = "meetings"
BUTTON = "mt"
INVITED = "mi"
CATEGORIES = ("poor", "near_poor", "escaped")
STEPS = ("when", "place", "villages", "categories", "groups", "confirm")
MAX_PLACE = 300
MAX_NOTE = 1000
# Statuses stored on a meeting (storage.models.MeetingStatus values).
OPEN_STATUSES = frozenset({"scheduled", "changed"})

LIST_WORDS = frozenset({"ds", "danhsach", "list"})
CANCEL_WORDS = frozenset({"huy", "cancel"})
CHANGE_WORDS = frozenset({"doi", "sua", "change"})
STATUS_WORDS = frozenset({"trangthai", "status"})
ATTENDANCE_WORDS = frozenset({"diemdanh", "ketqua", "attendance"})


@dataclass(frozen=True, slots=True)
class Option:
    """A button's value and its label (a village, a support group, a need)."""

    id: str
    label: str


# -- the dialog's stored state -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """A dialogue being scheduled (or changed: ``meeting_id``), one step at a time."""

    step: str = "when"
    meeting_id: int | None = None
    starts_at: datetime | None = None
    place: str = ""
    villages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": "draft",
            "step": self.step,
            "meeting_id": self.meeting_id,
            "starts_at": None if self.starts_at is None else self.starts_at.isoformat(),
            "place": self.place,
            "villages": list(self.villages),
            "categories": list(self.categories),
            "groups": list(self.groups),
        }


@dataclass(frozen=True, slots=True)
class Recording:
    """After a dialogue: one household's attendance and needs being recorded."""

    meeting_id: int
    invitation_id: int | None = None
    needs: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": "recording",
            "meeting_id": self.meeting_id,
            "invitation_id": self.invitation_id,
            "needs": list(self.needs),
            "note": self.note,
        }


State = Draft | Recording


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def state_from_json(data: Mapping[str, Any]) -> State | None:
    """The stored state; None for a damaged row (the dialog starts again)."""
    if data.get("mode") == "recording":
        meeting_id = _int(data.get("meeting_id"))
        if meeting_id is None:
            return None
        note = data.get("note")
        return Recording(
            meeting_id,
            _int(data.get("invitation_id")),
            _strings(data.get("needs")),
            note if isinstance(note, str) else "",
        )
    if data.get("mode") != "draft" or data.get("step") not in STEPS:
        return None
    starts_at: datetime | None = None
    raw = data.get("starts_at")
    if isinstance(raw, str):
        try:
            starts_at = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if starts_at.tzinfo is None:
            return None
    place = data.get("place")
    return Draft(
        step=str(data["step"]),
        meeting_id=_int(data.get("meeting_id")),
        starts_at=starts_at,
        place=place if isinstance(place, str) else "",
        villages=_strings(data.get("villages")),
        categories=_strings(data.get("categories")),
        groups=_strings(data.get("groups")),
    )


# -- what the dialog reads -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Env:
    locale: str
    tz: tzinfo
    now: datetime
    villages: tuple[Option, ...]
    """The villages of the organiser's areas, by area id."""
    groups: tuple[Option, ...]
    """The support groups of the rule set, by group id."""
    needs: tuple[Option, ...] = ()
    """The form's support choices, by code."""


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """/doithoai with what was typed after it."""

    args: str = ""


@dataclass(frozen=True, slots=True)
class Typed:
    text: str


@dataclass(frozen=True, slots=True)
class Pressed:
    verb: str
    arg: str


Event = Opened | Typed | Pressed


# -- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Save:
    """Store ``state`` (None: leave the dialog) and send ``replies``."""

    state: State | None
    replies: tuple[Outgoing, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    replies: tuple[Outgoing, ...]


@dataclass(frozen=True, slots=True)
class ShowList:
    """Read the organiser's meetings and show them (``render_list``)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Write the draft as a new meeting, or as the change of ``draft.meeting_id``."""

    draft: Draft


@dataclass(frozen=True, slots=True)
class StartChange:
    """Read meeting ``meeting_id`` and open it as a draft (``draft_of``)."""

    meeting_id: int


@dataclass(frozen=True, slots=True)
class AskCancel:
    meeting_id: int


@dataclass(frozen=True, slots=True)
class Cancel:
    meeting_id: int


@dataclass(frozen=True, slots=True)
class ShowStatus:
    """The status of ``meeting_id``, or of the next meeting ahead when None."""

    meeting_id: int | None


@dataclass(frozen=True, slots=True)
class ShowAttendance:
    """The invited households of ``meeting_id``, to pick one and record it."""

    meeting_id: int


@dataclass(frozen=True, slots=True)
class PickHousehold:
    """Open invitation ``invitation_id`` of ``meeting_id`` for recording."""

    meeting_id: int
    invitation_id: int


@dataclass(frozen=True, slots=True)
class Record:
    """Store what was recorded for an invitation, then show the list again."""

    meeting_id: int
    invitation_id: int
    attended: bool
    needs: tuple[str, ...] = ()
    note: str = ""


Decision = (
    Save
    | Reply
    | ShowList
    | Schedule
    | StartChange
    | AskCancel
    | Cancel
    | ShowStatus
    | ShowAttendance
    | PickHousehold
    | Record
)


def _t(env: Env, key: str, **params: object) -> str:
    return translate(key, env.locale, **params)


def _stale(env: Env) -> Reply:
    return Reply((Notice(_t(env, "interview.stale")),))


def decide(state: State | None, event: Event, env: Env) -> Decision:
    """What one event does to the dialog (``state``: the stored one, if any)."""
    match event:
        case Opened(args):
            return _opened(args, env)
        case Typed(text):
            if isinstance(state, Draft):
                return _typed(state, text, env)
            if isinstance(state, Recording) and state.invitation_id is not None:
                note = " ".join(text.split())[:MAX_NOTE]
                updated = replace(state, note=note)
                return Save(updated, tuple(render_needs(updated, env, noted=True)))
            return Reply((Text(_t(env, "meetings.usage")),))
        case Pressed(verb, arg):
            return _pressed(state, verb, arg, env)
    raise AssertionError(event)


def _opened(args: str, env: Env) -> Decision:
    words = args.lower().split()
    if not words:
        return Save(Draft(), (Text(_t(env, "meetings.ask_when")),))
    head, rest = words[0], words[1:]
    number = ascii_int(rest[0]) if rest else None
    if head in LIST_WORDS:
        return ShowList()
    if head in STATUS_WORDS:
        return ShowStatus(number)
    if number is None:
        return Reply((Text(_t(env, "meetings.usage")),))
    if head in CANCEL_WORDS:
        return AskCancel(number)
    if head in CHANGE_WORDS:
        return StartChange(number)
    if head in ATTENDANCE_WORDS:
        return ShowAttendance(number)
    return Reply((Text(_t(env, "meetings.usage")),))


def _typed(draft: Draft, text: str, env: Env) -> Decision:
    if draft.step == "when":
        when = parse_when(text, env.tz, env.now)
        if when is None:
            return Reply((Text(_t(env, "meetings.bad_when")),))
        if when <= env.now:
            return Reply((Text(_t(env, "meetings.past_when")),))
        moved = replace(draft, starts_at=when, step="place")
        return Save(moved, (Text(_t(env, "meetings.ask_place")),))
    if draft.step == "place":
        place = " ".join(text.split())
        if not place or len(place) > MAX_PLACE:
            return Reply((Text(_t(env, "meetings.bad_place", limit=MAX_PLACE)),))
        moved = replace(draft, place=place, step="villages")
        return Save(moved, tuple(render_step(moved, env)))
    # A button step: the buttons again, with a word on what to do.
    return Reply((Text(_t(env, "meetings.use_buttons")), *render_step(draft, env)))


def _toggle(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value) if value in values else (*values, value)


def _pressed(state: State | None, verb: str, arg: str, env: Env) -> Decision:
    if verb == "cx":
        # Yes to "cancel meeting N?".
        number = ascii_int(arg)
        return _stale(env) if number is None else Cancel(number)
    if verb == "a":
        meeting_id, _, invitation = arg.partition(".")
        m, i = ascii_int(meeting_id), ascii_int(invitation)
        return _stale(env) if m is None or i is None else PickHousehold(m, i)
    if isinstance(state, Recording):
        return _pressed_recording(state, verb, arg, env)
    if not isinstance(state, Draft):
        return _stale(env)
    draft = state
    if verb == "x":
        return Save(None, (Text(_t(env, "meetings.aborted")),))
    if verb == "v" and draft.step == "villages":
        if arg not in {o.id for o in env.villages}:
            return _stale(env)
        moved = replace(draft, villages=_toggle(draft.villages, arg))
        return Save(moved, tuple(render_step(moved, env, edit=True)))
    if verb == "c" and draft.step == "categories":
        if arg not in CATEGORIES:
            return _stale(env)
        moved = replace(draft, categories=_toggle(draft.categories, arg))
        return Save(moved, tuple(render_step(moved, env, edit=True)))
    if verb == "g" and draft.step == "groups":
        if arg not in {o.id for o in env.groups}:
            return _stale(env)
        moved = replace(draft, groups=_toggle(draft.groups, arg))
        return Save(moved, tuple(render_step(moved, env, edit=True)))
    if verb == "d" and draft.step in ("villages", "categories", "groups"):
        if draft.step == "villages" and not draft.villages:
            return Reply((Notice(_t(env, "meetings.need_village")),))
        if draft.step == "categories" and not draft.categories:
            return Reply((Notice(_t(env, "meetings.need_category")),))
        moved = replace(draft, step=STEPS[STEPS.index(draft.step) + 1])
        return Save(moved, tuple(render_step(moved, env)))
    if verb == "ok" and draft.step == "confirm":
        return Schedule(draft)
    return _stale(env)


def _pressed_recording(state: Recording, verb: str, arg: str, env: Env) -> Decision:
    if verb == "x":
        return Save(None, (Text(_t(env, "meetings.record_closed")),))
    if state.invitation_id is None:
        return _stale(env)
    if verb == "p" and arg in ("0", "1"):
        if arg == "0":
            return Record(state.meeting_id, state.invitation_id, attended=False)
        return Save(state, tuple(render_needs(state, env)))
    if verb == "n":
        if arg not in {o.id for o in env.needs}:
            return _stale(env)
        moved = replace(state, needs=_toggle(state.needs, arg))
        return Save(moved, tuple(render_needs(moved, env, edit=True)))
    if verb == "d":
        return Record(state.meeting_id, state.invitation_id, True, state.needs, state.note)
    return _stale(env)


# -- the dialog's screens ------------------------------------------------------------------


def category_label(code: str, locale: str) -> str:
    return translate(f"meetings.category.{code}", locale)


def render_step(draft: Draft, env: Env, *, edit: bool = False) -> list[Outgoing]:
    done = Choice(_t(env, "meetings.done"), f"{BUTTON}:d", action=True)
    abort = Choice(_t(env, "meetings.abort"), f"{BUTTON}:x", action=True)
    hint = _t(env, "meetings.toggle_hint")
    if draft.step == "villages":
        buttons = tuple(
            Choice(o.label, f"{BUTTON}:v:{o.id}", selected=o.id in draft.villages)
            for o in env.villages
        )
        text = _t(env, "meetings.ask_villages")
        return [Choices(text, (*buttons, done, abort), edit=edit, list_hint=hint)]
    if draft.step == "categories":
        buttons = tuple(
            Choice(category_label(c, env.locale), f"{BUTTON}:c:{c}", selected=c in draft.categories)
            for c in CATEGORIES
        )
        text = _t(env, "meetings.ask_categories")
        return [Choices(text, (*buttons, done, abort), edit=edit, list_hint=hint)]
    if draft.step == "groups":
        buttons = tuple(
            Choice(o.label, f"{BUTTON}:g:{o.id}", selected=o.id in draft.groups) for o in env.groups
        )
        text = _t(env, "meetings.ask_groups")
        return [Choices(text, (*buttons, done, abort), edit=edit, list_hint=hint)]
    if draft.step == "confirm":
        summary = describe(draft, env)
        ok = Choice(_t(env, "meetings.confirm"), f"{BUTTON}:ok", action=True)
        return [Choices(f"{_t(env, 'meetings.ask_confirm')}\n{summary}", (ok, abort))]
    key = "meetings.ask_when" if draft.step == "when" else "meetings.ask_place"
    return [Text(_t(env, key))]


def show_when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def describe(draft: Draft, env: Env) -> str:
    labels = {o.id: o.label for o in env.villages}
    groups = {o.id: o.label for o in env.groups}
    return _t(
        env,
        "meetings.summary",
        when=show_when(draft.starts_at, env.tz) if draft.starts_at else "—",
        place=draft.place,
        villages=", ".join(labels.get(v, v) for v in draft.villages) or "—",
        categories=", ".join(category_label(c, env.locale) for c in draft.categories) or "—",
        groups=", ".join(groups.get(g, g) for g in draft.groups) or _t(env, "meetings.all_groups"),
    )


def render_needs(
    state: Recording, env: Env, *, edit: bool = False, noted: bool = False
) -> list[Outgoing]:
    buttons = tuple(
        Choice(o.label, f"{BUTTON}:n:{o.id}", selected=o.id in state.needs) for o in env.needs
    )
    done = Choice(_t(env, "meetings.done"), f"{BUTTON}:d", action=True)
    text = _t(env, "meetings.ask_needs")
    if state.note:
        text += "\n" + _t(env, "meetings.note_shown", note=state.note)
    out: list[Outgoing] = []
    if noted:
        out.append(Text(_t(env, "meetings.note_saved")))
    out.append(
        Choices(text, (*buttons, done), edit=edit, list_hint=_t(env, "meetings.toggle_hint"))
    )
    return out


# -- parsing -------------------------------------------------------------------------------

_DATE = r"(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})(?:[/.-](?P<year>\d{2,4}))?"
_TIME = (
    r"(?P<hour>\d{1,2})"
    r"(?:\s*(?::|h|g|giờ|gio)\s*(?:(?P<minute>\d{2})\s*(?:phút|phut|p)?)?)?"
)
_ON = r"(?:ngày|ngay)?\s*"
_SEP = r"\s*(?:,|lúc|luc|ngày|ngay)?\s*"
# "15/12/2026 08:00", "ngày 15/12 lúc 8 giờ", and the time first: "8h30 ngày 15/12/2026".
_WHEN = (
    re.compile(rf"^\s*{_ON}{_DATE}(?:{_SEP}{_TIME})?\s*$", re.IGNORECASE),
    re.compile(rf"^\s*(?:lúc|luc)?\s*{_TIME}{_SEP}{_DATE}\s*$", re.IGNORECASE),
)


def parse_when(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """A local date and time as people write them ("15/12/2026 08:00", "15/12 8h30",
    "15-12-2026 8g", "8 giờ 30 ngày 15/12/2026") in the commune's zone, as UTC; None if it
    is not one. A date without a year is the next such date; without a time, 08:00."""
    match = next((m for pattern in _WHEN if (m := pattern.match(text)) is not None), None)
    if match is None:
        return None
    day, month, year, hour, minute = (
        match.groupdict().get(name) for name in ("day", "month", "year", "hour", "minute")
    )
    today = now.astimezone(tz).date()
    y = int(year) if year else today.year
    if year and len(year) == 2:
        y += 2000
    try:
        local = datetime.combine(
            date(y, int(month or 0), int(day or 0)),
            time(int(hour) if hour else 8, int(minute) if minute else 0),
            tzinfo=tz,
        )
    except ValueError:
        return None
    if not year and local.date() < today:
        try:
            local = local.replace(year=y + 1)
        except ValueError:
            return None
    return local.astimezone(UTC)


# -- meetings as the dialog shows them -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeetingRow:
    id: int
    starts_at: datetime
    place: str
    status: str
    villages: tuple[str, ...] = ()
    """Village names."""
    categories: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    reminders_done: tuple[str, ...] = ()
    frozen: bool = False
    organiser_id: int | None = None
    """Who scheduled it: told, with a later reminder, which collaborators are behind."""


def draft_of(meeting: MeetingRow, village_ids: Sequence[int]) -> Draft:
    """A stored meeting opened for change: every answer kept, the date asked first."""
    return Draft(
        step="when",
        meeting_id=meeting.id,
        starts_at=meeting.starts_at,
        place=meeting.place,
        villages=tuple(str(v) for v in village_ids),
        categories=meeting.categories,
        groups=meeting.groups,
    )


def change_started(meeting: MeetingRow, env: Env) -> list[Outgoing]:
    return [
        Text(
            _t(
                env,
                "meetings.change_started",
                id=meeting.id,
                when=show_when(meeting.starts_at, env.tz),
            )
        )
    ]


def render_list(meetings: Sequence[MeetingRow], env: Env) -> list[Outgoing]:
    if not meetings:
        return [Text(_t(env, "meetings.none"))]
    lines = [_t(env, "meetings.list_title")]
    for m in meetings:
        lines.append(
            _t(
                env,
                "meetings.list_line",
                id=m.id,
                when=show_when(m.starts_at, env.tz),
                place=m.place,
                villages=", ".join(m.villages),
                status=_t(env, f"meetings.status.{m.status}"),
            )
        )
    lines.append(_t(env, "meetings.list_help"))
    return [Text("\n".join(lines))]


def scheduled(
    meeting_id: int, draft: Draft, invited: int, env: Env, *, changed: bool
) -> list[Outgoing]:
    key = "meetings.changed" if changed else "meetings.scheduled"
    return [Text(_t(env, key, id=meeting_id, count=invited) + "\n" + describe(draft, env))]


def ask_cancel(meeting: MeetingRow, env: Env) -> list[Outgoing]:
    yes = Choice(_t(env, "meetings.cancel_yes"), f"{BUTTON}:cx:{meeting.id}", action=True)
    text = _t(env, "meetings.ask_cancel", id=meeting.id, when=show_when(meeting.starts_at, env.tz))
    return [Choices(text, (yes,))]


def not_found(env: Env) -> list[Outgoing]:
    return [Text(_t(env, "meetings.not_found"))]


# -- who is invited ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    id: int
    code: str
    head_name: str
    area_id: int
    category: str
    groups: frozenset[str] = frozenset()
    """The current support groups of its members."""


def invited_households(
    households: Iterable[HouseholdRow],
    villages: Iterable[int],
    categories: Iterable[str],
    groups: Iterable[str] = (),
) -> list[HouseholdRow]:
    """The households a meeting invites: of its villages and categories and, when groups
    are named, with a member in one of them. In code order."""
    village_set, category_set, group_set = set(villages), set(categories), set(groups)
    return sorted(
        (
            h
            for h in households
            if h.area_id in village_set
            and h.category in category_set
            and (not group_set or h.groups & group_set)
        ),
        key=lambda h: h.code,
    )


@dataclass(frozen=True, slots=True)
class NewInvitation:
    household_id: int
    area_id: int
    added_late: bool


@dataclass(frozen=True, slots=True)
class InvitationSync:
    add: tuple[NewInvitation, ...]
    remove: tuple[int, ...]
    """Invitation ids no longer meant (only before the list is frozen)."""


def sync_invitations(
    eligible: Sequence[HouseholdRow], existing: Mapping[int, int], *, frozen: bool
) -> InvitationSync:
    """``existing``: invitation id by household id. Before the reminders go out the list
    follows the meeting; once frozen, nobody told is taken off it, and a newcomer is added
    flagged late (its collaborator is told with the next reminder)."""
    wanted = {h.id for h in eligible}
    add = tuple(NewInvitation(h.id, h.area_id, frozen) for h in eligible if h.id not in existing)
    remove = () if frozen else tuple(i for hh, i in existing.items() if hh not in wanted)
    return InvitationSync(add, tuple(sorted(remove)))


def collaborator_for(area_id: int, collaborators: Mapping[int, Sequence[int]]) -> int | None:
    """The collaborator who invites a village's households: the first registered for it."""
    found = collaborators.get(area_id) or ()
    return min(found) if found else None


# -- reminders -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvitationRow:
    id: int
    household_id: int
    household_code: str
    head_name: str
    village: str
    collaborator_id: int | None
    invited: bool = False
    reminded: bool = False
    added_late: bool = False
    attended: bool | None = None
    needs: tuple[str, ...] = ()
    needs_note: str = ""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message the bot sends on its own: to whom, what, once (``dedupe_key``), not before."""

    user_id: int
    message: Outgoing
    dedupe_key: str
    not_before: datetime


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    messages: tuple[OutboxMessage, ...] = ()
    done: tuple[str, ...] = ()
    """Offset keys handled now: sent, or passed over."""
    dropped: tuple[str, ...] = ()
    """Offset keys that fell due while the bot was down and the meeting is no longer ahead
    (or a later reminder supersedes them): not sent, to be logged."""
    reminded: tuple[int, ...] = ()
    """Invitation ids sent to their collaborator now."""
    freeze: bool = False


def due_offsets(
    meeting: MeetingRow, offsets: Sequence[Offset], now: datetime, tz: tzinfo
) -> list[Offset]:
    """The offsets of ``meeting`` fallen due by ``now`` and not yet done, earliest first."""
    pending = [o for o in offsets if o.key not in meeting.reminders_done]
    return sorted(
        (o for o in pending if o.moment(meeting.starts_at, tz) <= now),
        key=lambda o: o.moment(meeting.starts_at, tz),
    )


def due_reminders(
    meeting: MeetingRow,
    invitations: Sequence[InvitationRow],
    offsets: Sequence[Offset],
    now: datetime,
    tz: tzinfo,
    locales: Mapping[int, str] | None = None,
    supervisors: Mapping[int, Sequence[int]] | None = None,
    names: Mapping[int, str] | None = None,
) -> ReminderPlan:
    """The reminders of ``meeting`` due at ``now``: one message per collaborator with their
    households not yet invited, each with a "Đã mời" button. Of several due together (the bot
    was down), only the latest is sent; all are marked done. A meeting already started,
    cancelled or held sends nothing and drops what fell due.

    From the second reminder on (the list frozen), the collaborators still behind are also
    named, with how many households each has left, to the organiser (all of them) and to
    each collaborator's supervisors (``supervisors``: collaborator id -> supervisor ids; their
    own collaborators), by their ``names``."""
    due = due_offsets(meeting, offsets, now, tz)
    if not due:
        return ReminderPlan()
    keys = tuple(o.key for o in due)
    if meeting.status not in OPEN_STATUSES or meeting.starts_at <= now:
        return ReminderPlan(done=keys, dropped=keys)
    latest = due[-1]
    by_collaborator: dict[int, list[InvitationRow]] = {}
    for invitation in invitations:
        if invitation.collaborator_id is not None and not invitation.invited:
            by_collaborator.setdefault(invitation.collaborator_id, []).append(invitation)
    messages = []
    reminded: list[int] = []
    for user_id in sorted(by_collaborator):
        rows = by_collaborator[user_id]
        locale = (locales or {}).get(user_id, "vi")
        messages.append(
            OutboxMessage(
                user_id,
                reminder_message(meeting, rows, tz, locale),
                f"meeting:{meeting.id}:reminder:{latest.key}:user:{user_id}",
                now,
            )
        )
        reminded += [r.id for r in rows if not r.reminded]
    if meeting.frozen:
        # A second reminder: the collaborators still behind got it above; whoever follows
        # them is told who they are.
        left = {user_id: len(rows) for user_id, rows in by_collaborator.items()}
        for reader, behind in _who_follows(meeting.organiser_id, left, supervisors or {}):
            messages.append(
                OutboxMessage(
                    reader,
                    behind_note(
                        meeting, behind, names or {}, tz, (locales or {}).get(reader, "vi")
                    ),
                    f"meeting:{meeting.id}:behind:{latest.key}:user:{reader}",
                    now,
                )
            )
    return ReminderPlan(
        tuple(messages), keys, keys[:-1], tuple(sorted(reminded)), freeze=not meeting.frozen
    )


def _who_follows(
    organiser: int | None, left: Mapping[int, int], supervisors: Mapping[int, Sequence[int]]
) -> list[tuple[int, dict[int, int]]]:
    """Who is told about which collaborators behind: the organiser about all of them, each
    supervisor about their own; in the order of their ids."""
    readers: dict[int, dict[int, int]] = {}
    for collaborator, count in left.items():
        for supervisor in supervisors.get(collaborator, ()):
            readers.setdefault(supervisor, {})[collaborator] = count
    if organiser is not None and left:
        readers[organiser] = dict(left)
    return sorted(readers.items())


def behind_note(
    meeting: MeetingRow, left: Mapping[int, int], names: Mapping[int, str], tz: tzinfo, locale: str
) -> Text:
    lines = [
        translate(
            "meetings.behind_note",
            locale,
            id=meeting.id,
            when=show_when(meeting.starts_at, tz),
            count=len(left),
        )
    ]
    for user_id, count in sorted(left.items(), key=lambda kv: (-kv[1], kv[0])):
        name = names.get(user_id, "—")
        lines.append(translate("meetings.status_behind", locale, name=name, count=count))
    lines.append(translate("meetings.behind_note_see", locale, id=meeting.id))
    return Text("\n".join(lines))


def reminder_message(
    meeting: MeetingRow, rows: Sequence[InvitationRow], tz: tzinfo, locale: str
) -> Outgoing:
    text = translate(
        "meetings.reminder",
        locale,
        id=meeting.id,
        when=show_when(meeting.starts_at, tz),
        place=meeting.place,
        count=len(rows),
    )
    buttons = tuple(
        Choice(
            translate(
                "meetings.invite_button",
                locale,
                code=r.household_code,
                name=r.head_name,
                late=translate("meetings.late_mark", locale) if r.added_late else "",
            ),
            f"{INVITED}:{r.id}",
        )
        for r in rows
    )
    return Choices(text, buttons, list_hint=translate("meetings.invite_hint", locale))


def announcements(
    before: MeetingRow,
    after: MeetingRow,
    invitations: Sequence[InvitationRow],
    now: datetime,
    tz: tzinfo,
    locales: Mapping[int, str] | None = None,
) -> tuple[OutboxMessage, ...]:
    """A change or a cancellation, told to every collaborator already reminded of the
    meeting (nobody else knew of it)."""
    told = sorted({i.collaborator_id for i in invitations if i.reminded and i.collaborator_id})
    cancelled = after.status == "cancelled"
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    out = []
    for user_id in told:
        locale = (locales or {}).get(user_id, "vi")
        key = "meetings.announce_cancel" if cancelled else "meetings.announce_change"
        text = translate(
            key,
            locale,
            id=after.id,
            old_when=show_when(before.starts_at, tz),
            old_place=before.place,
            when=show_when(after.starts_at, tz),
            place=after.place,
        )
        kind = "cancel" if cancelled else "change"
        out.append(
            OutboxMessage(
                user_id, Text(text), f"meeting:{after.id}:{kind}:{stamp}:user:{user_id}", now
            )
        )
    return tuple(out)


# -- "Đã mời" -------------------------------------------------------------------------------


def parse_invited(data: str) -> int | None:
    prefix, _, arg = data.partition(":")
    return ascii_int(arg) if prefix == INVITED else None


def invited_ack(row: InvitationRow, already: bool, locale: str) -> list[Outgoing]:
    key = "meetings.invited_already" if already else "meetings.invited_ok"
    return [Notice(translate(key, locale, code=row.household_code))]


# -- status --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    invited: int
    total: int
    behind: tuple[tuple[int | None, int], ...]
    """(collaborator id, households not yet invited), most behind first."""


def status_of(invitations: Sequence[InvitationRow]) -> Status:
    counts: dict[int | None, int] = {}
    for row in invitations:
        if not row.invited:
            counts[row.collaborator_id] = counts.get(row.collaborator_id, 0) + 1
    behind = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or 0)))
    return Status(sum(r.invited for r in invitations), len(invitations), behind)


def render_status(
    meeting: MeetingRow,
    invitations: Sequence[InvitationRow],
    names: Mapping[int, str],
    env: Env,
) -> list[Outgoing]:
    status = status_of(invitations)
    lines = [
        _t(
            env,
            "meetings.status_title",
            id=meeting.id,
            when=show_when(meeting.starts_at, env.tz),
            place=meeting.place,
            invited=status.invited,
            total=status.total,
        )
    ]
    if not meeting.frozen:
        lines.append(_t(env, "meetings.status_not_sent"))
    for user_id, missing in status.behind:
        who = (
            names.get(user_id, "—") if user_id is not None else _t(env, "meetings.no_collaborator")
        )
        lines.append(_t(env, "meetings.status_behind", name=who, count=missing))
    waiting = [r for r in invitations if not r.invited]
    if waiting:
        lines.append(_t(env, "meetings.status_waiting"))
        lines += [f"• {r.household_code} · {r.head_name} ({r.village})" for r in waiting]
    return [Text("\n".join(lines))]


# -- attendance and needs -------------------------------------------------------------------

ATTENDANCE_MARKS = {True: " ✅", False: " ❌", None: ""}


def render_attendance(
    meeting: MeetingRow, invitations: Sequence[InvitationRow], env: Env
) -> list[Outgoing]:
    if not invitations:
        return [Text(_t(env, "meetings.no_invitations"))]
    buttons = tuple(
        Choice(
            f"{r.household_code} · {r.head_name}{ATTENDANCE_MARKS[r.attended]}",
            f"{BUTTON}:a:{meeting.id}.{r.id}",
        )
        for r in invitations
    )
    close = Choice(_t(env, "meetings.close"), f"{BUTTON}:x", action=True)
    present = sum(r.attended is True for r in invitations)
    text = _t(
        env, "meetings.attendance_title", id=meeting.id, present=present, total=len(invitations)
    )
    return [Choices(text, (*buttons, close))]


def ask_attended(row: InvitationRow, env: Env) -> list[Outgoing]:
    yes = Choice(_t(env, "meetings.attended_yes"), f"{BUTTON}:p:1")
    no = Choice(_t(env, "meetings.attended_no"), f"{BUTTON}:p:0")
    text = _t(env, "meetings.ask_attended", code=row.household_code, name=row.head_name)
    return [Choices(text, (yes, no))]


def recording_of(meeting_id: int, row: InvitationRow) -> Recording:
    return Recording(meeting_id, row.id, row.needs, row.needs_note)


def needs_line(
    attended: bool | None, needs: Sequence[str], note: str, labels: Mapping[str, str], locale: str
) -> str:
    """One invitation's outcome in words, for the household's detail."""
    if attended is None:
        return translate("meetings.detail_unknown", locale)
    if not attended:
        return translate("meetings.detail_absent", locale)
    voiced = ", ".join(labels.get(code, code) for code in needs) or "—"
    text = translate("meetings.detail_present", locale, needs=voiced)
    return f"{text} ({note})" if note else text


# -- typed lists (the command line and imported files) -------------------------------------

CATEGORY_WORDS = {
    "poor": "poor",
    "ngheo": "poor",
    "ho ngheo": "poor",
    "near_poor": "near_poor",
    "can ngheo": "near_poor",
    "ho can ngheo": "near_poor",
    "escaped": "escaped",
    "thoat ngheo": "escaped",
    "moi thoat ngheo": "escaped",
    "ho moi thoat ngheo": "escaped",
}


def split_list(text: str) -> tuple[str, ...]:
    """ "A1, A2; A3" → ("A1", "A2", "A3")."""
    return tuple(part.strip() for part in re.split(r"[,;]", text) if part.strip())


def parse_categories(items: Iterable[str]) -> tuple[str, ...] | None:
    """Categories by code or Vietnamese name, accents optional; None if one is unknown."""
    found: list[str] = []
    for item in items:
        code = CATEGORY_WORDS.get(" ".join(fold(item).split()))
        if code is None:
            return None
        if code not in found:
            found.append(code)
    return tuple(found)


def household_detail(
    meetings: Sequence[tuple[MeetingRow, InvitationRow]],
    labels: Mapping[str, str],
    tz: tzinfo,
    locale: str,
) -> str:
    """The dialogues a household was invited to and what came of each, for its detail;
    empty when it was invited to none."""
    if not meetings:
        return ""
    lines = [translate("meetings.detail_title", locale)]
    for meeting, row in meetings:
        outcome = (
            translate(f"meetings.status.{meeting.status}", locale)
            if meeting.status == "cancelled"
            else needs_line(row.attended, row.needs, row.needs_note, labels, locale)
        )
        lines.append(
            translate(
                "meetings.detail_line",
                locale,
                when=show_when(meeting.starts_at, tz),
                place=meeting.place,
                outcome=outcome,
            )
        )
    return "\n".join(lines)
