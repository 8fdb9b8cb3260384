"""Policy dialogues: the shell of :mod:`bot.decisions.meetings`.

A turn loads what the decision reads (the stored dialog state, the organiser's villages,
the meeting and its invitations), runs it, writes what it decided in the turn's
transaction, and hands back its replies. Messages the bot will send on its own (reminders,
announcements of a change or a cancellation) go through :func:`enqueue`, in the same
transaction as what caused them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.context import DialogContext
from bot.decisions import meetings as core
from bot.decisions.meetings import BUTTON, DIALOG, INVITED
from bot.dialogs.scope import scope_ids
from bot.dialogs.summary import default_year
from bot.messages import Choices, Notice, Outgoing, Text
from bot.push import encode
from bot.settings import Settings
from classification import rules_for
from classification.ruleset import Lang
from storage.models import Area, Meeting, MeetingInvitation, MeetingStatus, Role
from storage.uow import Work

__all__ = ["BUTTON", "DIALOG", "INVITED"]

log = logging.getLogger(__name__)


# -- the outbox seam --------------------------------------------------------------------------


def enqueue(work: Work, messages: Sequence[core.OutboxMessage]) -> None:
    """``messages`` into the durable outbox, in the transaction that caused them (a
    reminder sweep, a change, a cancellation); the same key twice is one message."""
    for m in messages:
        if not isinstance(m.message, Text | Choices):
            raise TypeError(f"the outbox sends text and buttons, not {type(m.message).__name__}")
        # Made when they are due: the core dates each message at the moment it decided.
        work.outbox.enqueue(m.user_id, encode(m.message), m.dedupe_key, m.not_before, m.not_before)


# -- rows for the core --------------------------------------------------------------------


def meeting_row(meeting: Meeting, villages: Sequence[Area]) -> core.MeetingRow:
    return core.MeetingRow(
        id=meeting.id,
        starts_at=meeting.starts_at,
        place=meeting.place,
        status=meeting.status.value,
        villages=tuple(v.name for v in villages),
        categories=tuple(meeting.categories),
        groups=tuple(meeting.support_groups),
        reminders_done=tuple(meeting.reminders_done),
        frozen=meeting.invitations_frozen_at is not None,
        organiser_id=meeting.created_by,
    )


def invitation_row(invitation: MeetingInvitation) -> core.InvitationRow:
    household = invitation.household
    return core.InvitationRow(
        id=invitation.id,
        household_id=household.id,
        household_code=household.code,
        head_name=household.head_name,
        village=household.area.name,
        collaborator_id=invitation.collaborator_id,
        invited=invitation.invited_at is not None,
        reminded=invitation.reminded_at is not None,
        added_late=invitation.added_late,
        attended=invitation.attended,
        needs=tuple(invitation.needs),
        needs_note=invitation.needs_note or "",
    )


def group_options(year: int, settings: Settings, locale: str) -> tuple[core.Option, ...]:
    """The rule set's support groups, the one vocabulary of groups (not the stable ones)."""
    rules = rules_for(year, settings.rules)
    lang: Lang = "vi" if locale == "vi" else "en"
    return tuple(
        core.Option(g.id, g.label.get(lang))
        for g in rules.labour_groups
        if g.id != rules.grouping.stable_group
    )


def need_options(year: int, settings: Settings, locale: str) -> tuple[core.Option, ...]:
    """The form's support choices (classification.vocabulary's support_needs codes)."""
    rules = rules_for(year, settings.rules)
    lang: Lang = "vi" if locale == "vi" else "en"
    return tuple(core.Option(n.id, n.label.get(lang)) for n in rules.support_needs)


def _villages(uow: Work, root_ids: Sequence[int]) -> list[Area]:
    """The villages under these areas: the leaves of the tree (its depth is data)."""
    areas = uow.areas.all()
    inside = uow.areas.subtree_ids(root_ids)
    parents = {a.parent_id for a in areas}
    return [a for a in areas if a.id in inside and a.id not in parents]


def _env(ctx: DialogContext, year: int) -> core.Env:
    assert ctx.user is not None
    roots = [a.id for a in ctx.user.areas]
    villages = _villages(ctx.uow, roots)
    return core.Env(
        locale=ctx.locale,
        tz=ctx.settings.tz,
        now=ctx.now,
        villages=tuple(core.Option(str(v.id), v.name) for v in villages),
        groups=group_options(year, ctx.settings, ctx.locale),
        needs=need_options(year, ctx.settings, ctx.locale),
    )


def _year(ctx: DialogContext) -> int:
    return default_year(ctx.uow.session, ctx.now.astimezone(ctx.settings.tz).year)


def _stored(ctx: DialogContext) -> core.State | None:
    assert ctx.user is not None
    row = ctx.uow.dialogs.get(ctx.user)
    if row is None or row.dialog != DIALOG:
        return None
    return core.state_from_json(row.state)


def _mine(ctx: DialogContext, meeting_id: int) -> Meeting | None:
    """The meeting, if it is in the organiser's areas (admins: any); a refusal is audited."""
    assert ctx.user is not None
    meeting = ctx.uow.meetings.get(meeting_id, for_update=True)
    if meeting is not None and ctx.user.role is not Role.ADMIN:
        scope = scope_ids(ctx)
        villages = {v.id for v in ctx.uow.meetings.villages(meeting.id)}
        if meeting.area_id not in scope and not villages & scope:
            meeting = None
    if meeting is None:
        ctx.uow.audit.record(
            "scope.refused", actor=ctx.user, entity="meeting", entity_id=str(meeting_id)
        )
    return meeting


# -- invitations ----------------------------------------------------------------------------


def sync(uow: Work, meeting: Meeting) -> list[MeetingInvitation]:
    """Bring the invitation list in line with the meeting (see core.sync_invitations)."""
    villages = [v.id for v in uow.meetings.villages(meeting.id)]
    candidates = uow.meetings.candidates(meeting.review_year, villages, meeting.categories)
    groups = (
        uow.meetings.household_groups(h.id for h in candidates) if meeting.support_groups else {}
    )
    rows = [
        core.HouseholdRow(
            h.id, h.code, h.head_name, h.area_id, h.category.value, frozenset(groups.get(h.id, ()))
        )
        for h in candidates
    ]
    eligible = core.invited_households(rows, villages, meeting.categories, meeting.support_groups)
    existing = uow.meetings.invitations(meeting.id)
    plan = core.sync_invitations(
        eligible,
        {i.household_id: i.id for i in existing},
        frozen=meeting.invitations_frozen_at is not None,
    )
    uow.meetings.remove_invitations(plan.remove)
    collaborators = uow.meetings.collaborators(villages)
    for new in plan.add:
        uow.meetings.add_invitation(
            MeetingInvitation(
                meeting_id=meeting.id,
                household_id=new.household_id,
                collaborator_id=core.collaborator_for(new.area_id, collaborators),
                needs=[],
                added_late=new.added_late,
            )
        )
    uow.flush()
    return uow.meetings.invitations(meeting.id)


def _locales(
    uow: Work, invitations: Sequence[MeetingInvitation], *also: int | None
) -> dict[int, str]:
    ids = [i.collaborator_id for i in invitations if i.collaborator_id]
    users = uow.meetings.users([*ids, *(u for u in also if u is not None)])
    return {user_id: user.locale for user_id, user in users.items()}


def send_due_reminders(
    uow: Work, settings: Settings, now: datetime, offsets: Sequence[core.Offset]
) -> list[core.OutboxMessage]:
    """Every reminder due at ``now``, written to the outbox with what it changes (the
    list frozen, the households marked reminded, the offsets done), in ``uow``'s
    transaction; returns what was enqueued. Run it periodically, and at start (what fell
    due while the bot was down). Synchronous, so the whole sweep is one transaction on
    SQLite's writer like a turn; on the event loop: ``await uow.run(...)``."""
    longest = max((o.before for o in offsets), default=timedelta(0)) + timedelta(days=2)
    sent: list[core.OutboxMessage] = []
    for found in uow.meetings.open_since(now - longest):
        meeting = uow.meetings.get(found.id, for_update=True)
        if meeting is None:
            continue
        invitations = (
            sync(uow, meeting) if meeting.starts_at > now else uow.meetings.invitations(meeting.id)
        )
        row = meeting_row(meeting, uow.meetings.villages(meeting.id))
        if not core.due_offsets(row, offsets, now, settings.tz):
            continue
        rows = [invitation_row(i) for i in invitations]
        # Only a second reminder names who is behind, to whoever follows them.
        behind = {
            i.collaborator_id
            for i in invitations
            if row.frozen and i.collaborator_id is not None and i.invited_at is None
        }
        supervisors = {c: [u.id for u in uow.outbox.supervisors_of(c)] for c in sorted(behind)}
        readers = {u for ids in supervisors.values() for u in ids}
        plan = core.due_reminders(
            row,
            rows,
            offsets,
            now,
            settings.tz,
            _locales(uow, invitations, meeting.created_by, *readers),
            supervisors,
            {c: u.display_name for c, u in uow.meetings.users(behind).items()},
        )
        if not plan.done:
            continue
        for key in plan.dropped:
            # No personal data: the meeting's id and the offset only.
            log.info("meeting %s: reminder %s not sent (missed or superseded)", meeting.id, key)
        meeting.reminders_done = [*meeting.reminders_done, *plan.done]
        if plan.messages and plan.freeze:
            meeting.invitations_frozen_at = now
        reminded = set(plan.reminded)
        for invitation in invitations:
            if invitation.id in reminded:
                invitation.reminded_at = now
        enqueue(uow, plan.messages)
        sent += plan.messages
    return sent


# -- the dialog -----------------------------------------------------------------------------


def _turn(ctx: DialogContext, state: core.State | None, event: core.Event) -> list[Outgoing]:
    assert ctx.user is not None
    year = _year(ctx)
    env = _env(ctx, year)
    decision = core.decide(state, event, env)
    match decision:
        case core.Reply(replies):
            return list(replies)
        case core.Save(new_state, replies):
            if new_state is None:
                ctx.uow.dialogs.clear(ctx.user)
            else:
                ctx.uow.dialogs.set(ctx.user, DIALOG, new_state.to_json())
            return list(replies)
        case core.ShowList():
            scope = None if ctx.user.role is Role.ADMIN else scope_ids(ctx)
            since = ctx.now - timedelta(days=30)
            found = ctx.uow.meetings.in_areas(scope, since=since)
            rows = [meeting_row(m, ctx.uow.meetings.villages(m.id)) for m in found]
            return core.render_list(rows, env)
        case core.Schedule(draft):
            return _schedule(ctx, draft, env, year)
        case core.StartChange(meeting_id):
            meeting = _mine(ctx, meeting_id)
            if meeting is None:
                return core.not_found(env)
            if meeting.status not in (MeetingStatus.SCHEDULED, MeetingStatus.CHANGED):
                return core.not_found(env)
            villages = ctx.uow.meetings.villages(meeting.id)
            draft = core.draft_of(meeting_row(meeting, villages), [v.id for v in villages])
            ctx.uow.dialogs.set(ctx.user, DIALOG, draft.to_json())
            return [
                *core.change_started(meeting_row(meeting, villages), env),
                *core.render_step(draft, env),
            ]
        case core.AskCancel(meeting_id):
            meeting = _mine(ctx, meeting_id)
            if meeting is None or meeting.status not in (
                MeetingStatus.SCHEDULED,
                MeetingStatus.CHANGED,
            ):
                return core.not_found(env)
            return core.ask_cancel(meeting_row(meeting, []), env)
        case core.Cancel(meeting_id):
            return _cancel(ctx, meeting_id, env)
        case core.ShowStatus(meeting_id):
            return _status(ctx, meeting_id, env)
        case core.ShowAttendance(meeting_id):
            meeting = _mine(ctx, meeting_id)
            if meeting is None or meeting.status is MeetingStatus.CANCELLED:
                return core.not_found(env)
            ctx.uow.dialogs.set(ctx.user, DIALOG, core.Recording(meeting.id).to_json())
            invitations = ctx.uow.meetings.invitations(meeting.id)
            return core.render_attendance(
                meeting_row(meeting, []), [invitation_row(i) for i in invitations], env
            )
        case core.PickHousehold(meeting_id, invitation_id):
            meeting = _mine(ctx, meeting_id)
            invitation = ctx.uow.meetings.invitation(invitation_id)
            if meeting is None or invitation is None or invitation.meeting_id != meeting.id:
                return core.not_found(env)
            row = invitation_row(invitation)
            ctx.uow.dialogs.set(ctx.user, DIALOG, core.recording_of(meeting.id, row).to_json())
            return core.ask_attended(row, env)
        case core.Record(meeting_id, invitation_id, attended, needs, note):
            meeting = _mine(ctx, meeting_id)
            invitation = ctx.uow.meetings.invitation(invitation_id)
            if meeting is None or invitation is None or invitation.meeting_id != meeting.id:
                return core.not_found(env)
            invitation.attended = attended
            invitation.needs = list(needs)
            invitation.needs_note = note or None
            if meeting.starts_at <= ctx.now and meeting.status is not MeetingStatus.CANCELLED:
                meeting.status = MeetingStatus.HELD
            ctx.uow.audit.record(
                "meeting.attendance",
                actor=ctx.user,
                entity="meeting_invitation",
                entity_id=str(invitation.id),
                details={"attended": attended, "needs": list(needs)},
            )
            ctx.uow.dialogs.set(ctx.user, DIALOG, core.Recording(meeting.id).to_json())
            ctx.uow.flush()
            invitations = ctx.uow.meetings.invitations(meeting.id)
            return core.render_attendance(
                meeting_row(meeting, []), [invitation_row(i) for i in invitations], env
            )
    raise AssertionError(decision)


def _schedule(ctx: DialogContext, draft: core.Draft, env: core.Env, year: int) -> list[Outgoing]:
    assert ctx.user is not None and draft.starts_at is not None
    village_ids = [int(v) for v in draft.villages]
    if draft.meeting_id is None:
        meeting = ctx.uow.meetings.add(
            Meeting(
                area_id=ctx.user.areas[0].id,
                review_year=year,
                starts_at=draft.starts_at,
                place=draft.place,
                categories=list(draft.categories),
                support_groups=list(draft.groups),
                status=MeetingStatus.SCHEDULED,
                reminders_done=[],
                created_by=ctx.user.id,
                created_at=ctx.now,
                updated_at=ctx.now,
            ),
            village_ids,
        )
        invitations = sync(ctx.uow, meeting)
        ctx.uow.audit.record(
            "meeting.scheduled", actor=ctx.user, entity="meeting", entity_id=str(meeting.id)
        )
        ctx.uow.dialogs.clear(ctx.user)
        return core.scheduled(meeting.id, draft, len(invitations), env, changed=False)
    meeting_or_none = _mine(ctx, draft.meeting_id)
    if meeting_or_none is None or meeting_or_none.status not in (
        MeetingStatus.SCHEDULED,
        MeetingStatus.CHANGED,
    ):
        ctx.uow.dialogs.clear(ctx.user)
        return core.not_found(env)
    meeting = meeting_or_none
    before = meeting_row(meeting, ctx.uow.meetings.villages(meeting.id))
    meeting.starts_at = draft.starts_at
    meeting.place = draft.place
    meeting.categories = list(draft.categories)
    meeting.support_groups = list(draft.groups)
    meeting.status = MeetingStatus.CHANGED
    meeting.updated_at = ctx.now
    if draft.starts_at != before.starts_at:
        # A new date: its reminders are due again at their new moments.
        meeting.reminders_done = []
    ctx.uow.meetings.set_villages(meeting, village_ids)
    invitations = sync(ctx.uow, meeting)
    after = meeting_row(meeting, ctx.uow.meetings.villages(meeting.id))
    rows = [invitation_row(i) for i in invitations]
    enqueue(
        ctx.uow,
        core.announcements(
            before, after, rows, ctx.now, ctx.settings.tz, _locales(ctx.uow, invitations)
        ),
    )
    ctx.uow.audit.record(
        "meeting.changed", actor=ctx.user, entity="meeting", entity_id=str(meeting.id)
    )
    ctx.uow.dialogs.clear(ctx.user)
    return core.scheduled(meeting.id, draft, len(invitations), env, changed=True)


def cancel_meeting(
    uow: Work, meeting: Meeting, settings: Settings, now: datetime
) -> tuple[core.OutboxMessage, ...]:
    """Cancel ``meeting`` and announce it to those already reminded (what was enqueued)."""
    before = meeting_row(meeting, [])
    meeting.status = MeetingStatus.CANCELLED
    meeting.updated_at = now
    after = meeting_row(meeting, [])
    invitations = uow.meetings.invitations(meeting.id)
    messages = core.announcements(
        before,
        after,
        [invitation_row(i) for i in invitations],
        now,
        settings.tz,
        _locales(uow, invitations),
    )
    enqueue(uow, messages)
    return messages


def _cancel(ctx: DialogContext, meeting_id: int, env: core.Env) -> list[Outgoing]:
    assert ctx.user is not None
    meeting = _mine(ctx, meeting_id)
    if meeting is None or meeting.status not in (MeetingStatus.SCHEDULED, MeetingStatus.CHANGED):
        return core.not_found(env)
    told = len(cancel_meeting(ctx.uow, meeting, ctx.settings, ctx.now))
    ctx.uow.audit.record(
        "meeting.cancelled", actor=ctx.user, entity="meeting", entity_id=str(meeting.id)
    )
    return [Text(ctx.t("meetings.cancelled", id=meeting.id, count=told))]


def _status(ctx: DialogContext, meeting_id: int | None, env: core.Env) -> list[Outgoing]:
    assert ctx.user is not None
    if meeting_id is None:
        scope = None if ctx.user.role is Role.ADMIN else scope_ids(ctx)
        ahead = [
            m
            for m in ctx.uow.meetings.in_areas(scope, since=ctx.now)
            if m.status in (MeetingStatus.SCHEDULED, MeetingStatus.CHANGED)
        ]
        if not ahead:
            return [Text(ctx.t("meetings.none"))]
        meeting_id = ahead[0].id
    meeting = _mine(ctx, meeting_id)
    if meeting is None:
        return core.not_found(env)
    invitations = (
        sync(ctx.uow, meeting)
        if meeting.status in (MeetingStatus.SCHEDULED, MeetingStatus.CHANGED)
        else ctx.uow.meetings.invitations(meeting.id)
    )
    users = ctx.uow.meetings.users(i.collaborator_id for i in invitations if i.collaborator_id)
    names: Mapping[int, str] = {uid: u.display_name for uid, u in users.items()}
    row = meeting_row(meeting, ctx.uow.meetings.villages(meeting.id))
    return core.render_status(row, [invitation_row(i) for i in invitations], names, env)


def start(ctx: DialogContext) -> list[Outgoing]:
    """/doithoai [ds | doi N | huy N | trangthai [N] | diemdanh N]."""
    return _turn(ctx, _stored(ctx), core.Opened(ctx.incoming.args))


def on_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    """Typed text while the dialog is open: the date, the place, or a household's note."""
    state = _stored(ctx)
    if state is None:
        return None
    if ctx.reply_lost and isinstance(state, core.Draft):
        # They may not have seen the step they answer: it is shown again, nothing stored.
        env = _env(ctx, _year(ctx))
        return [Text(ctx.t("meetings.shown_again")), *core.render_step(state, env)]
    return _turn(ctx, state, core.Typed(text))


def on_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    _, _, rest = data.partition(":")
    verb, _, arg = rest.partition(":")
    return _turn(ctx, _stored(ctx), core.Pressed(verb, arg))


def on_invited(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    """A collaborator's "Đã mời": the household is marked invited, once."""
    assert ctx.user is not None
    invitation_id = core.parse_invited(data)
    if invitation_id is None:
        return None
    invitation = ctx.uow.meetings.invitation(invitation_id)
    if invitation is None or (
        ctx.user.role is not Role.ADMIN and invitation.collaborator_id != ctx.user.id
    ):
        ctx.uow.audit.record(
            "scope.refused",
            actor=ctx.user,
            entity="meeting_invitation",
            entity_id=str(invitation_id),
        )
        return [Notice(ctx.t("scope.refused"))]
    already = invitation.invited_at is not None
    if not already:
        invitation.invited_at = ctx.now
        invitation.invited_by = ctx.user.id
    return core.invited_ack(invitation_row(invitation), already, ctx.locale)


def household_detail(ctx: DialogContext, household_id: int, year: int) -> str:
    """The household's dialogues and their outcome, for its detail (empty if none)."""
    found = ctx.uow.meetings.for_household(household_id)
    rows = [(meeting_row(m, []), invitation_row(i)) for m, i in found]
    labels = {o.id: o.label for o in need_options(year, ctx.settings, ctx.locale)}
    return core.household_detail(rows, labels, ctx.settings.tz, ctx.locale)
