"""/phutrach and /theodoi: the shells of :mod:`bot.decisions.followup`.

/phutrach (commune staff, admins): village → person on a support list → officer (a
registered user of the area, or "Tên, số điện thoại" typed). /theodoi (anyone registered):
the people one follows up, and a contact recorded step by step. Each turn reads what its
step needs, asks the core, stores the dialog's state and what was decided, and returns the
replies; the area is checked on every button, whose data is never trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bot.context import DialogContext
from bot.decisions import followup as core
from bot.decisions.followup import ASSIGN, ASSIGN_DIALOG, PAGE_SIZE, RECORD, RECORD_DIALOG
from bot.dialogs.scope import scope_ids
from bot.dialogs.summary import default_year
from bot.messages import Notice, Outgoing, Text
from bot.push import encode
from bot.settings import Settings
from classification import rules_for
from classification.followup import followup_data, no_capacity_group, support_groups
from storage.followup import SupportPerson
from storage.models import Area, Household, Role, SupportAssignment, SupportContact
from storage.uow import Work

__all__ = ["ASSIGN", "ASSIGN_DIALOG", "RECORD", "RECORD_DIALOG"]


def _year(ctx: DialogContext) -> int:
    return default_year(ctx.uow.session, ctx.now.astimezone(ctx.settings.tz).year)


def _labels(ctx: DialogContext, year: int) -> core.Labels:
    rules = rules_for(year, ctx.settings.rules)
    groups = {g.id: g.short.vi if ctx.locale == "vi" else g.short.en for g in rules.labour_groups}
    return core.Labels(groups, followup_data(), ctx.locale)


def _groups(ctx: DialogContext, year: int) -> tuple[str, ...]:
    return support_groups(rules_for(year, ctx.settings.rules))


def _scope(ctx: DialogContext) -> set[int] | None:
    """The area ids the user may act on; None: every area (an admin)."""
    assert ctx.user is not None
    return None if ctx.user.role is Role.ADMIN else scope_ids(ctx)


def _villages(ctx: DialogContext) -> list[core.Village]:
    """The areas of the scope that have no child area: the villages households live in."""
    areas = ctx.uow.areas.all()
    scope = _scope(ctx)
    parents = {area.parent_id for area in areas}
    return [
        core.Village(area.id, area.name)
        for area in sorted(areas, key=lambda a: a.code)
        if area.id not in parents and (scope is None or area.id in scope)
    ]


def _in_scope(ctx: DialogContext, area_id: int) -> bool:
    scope = _scope(ctx)
    return scope is None or area_id in scope


def _officer_label(assignment: SupportAssignment, ctx: DialogContext) -> str:
    if assignment.officer_user_id is not None:
        user = ctx.uow.users.get(assignment.officer_user_id)
        if user is not None:
            return user.display_name
    phone = f" ({assignment.officer_phone})" if assignment.officer_phone else ""
    return f"{assignment.officer_name or '?'}{phone}"


# -- /phutrach ------------------------------------------------------------------------------


def assign(ctx: DialogContext) -> list[Outgoing]:
    """/phutrach: a button per village of the user's area."""
    assert ctx.user is not None
    ctx.uow.dialogs.set(ctx.user, ASSIGN_DIALOG, core.AssignState().to_json())
    return core.villages_reply(_villages(ctx), _labels(ctx, _year(ctx)))


def _stored_assign(ctx: DialogContext) -> core.AssignState:
    assert ctx.user is not None
    row = ctx.uow.dialogs.get(ctx.user)
    if row is None or row.dialog != ASSIGN_DIALOG:
        return core.AssignState()
    return core.AssignState.from_json(row.state)


def _refuse(ctx: DialogContext, entity: str, given: str) -> list[Outgoing]:
    ctx.uow.audit.record("scope.refused", actor=ctx.user, entity=entity, entity_id=given)
    return [Text(ctx.t("followup.person_gone"))]


def on_assign_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    assert ctx.user is not None
    button = core.parse_assign_button(data)
    if button is None:
        return None
    year = _year(ctx)
    labels = _labels(ctx, year)
    state = _stored_assign(ctx)
    if button.verb in ("v", "p"):
        village = next((v for v in _villages(ctx) if v.id == button.first), None)
        if village is None:
            ctx.uow.audit.record(
                "scope.refused", actor=ctx.user, entity="area", entity_id=str(button.first)
            )
            return [Text(ctx.t("scope.refused"))]
        return _show_people(ctx, village, button.second, year, labels)
    if button.verb == "m":
        person = ctx.uow.followup.person(button.first, button.second, _groups(ctx, year))
        if person is None or not _in_scope(ctx, person.village_id):
            return _refuse(ctx, "member", f"{button.first}:{button.second}")
        current = ctx.uow.followup.current(person.household_id, person.member_index)
        new = core.AssignState(
            person.village_id, state.offset, person.household_id, person.member_index
        )
        ctx.uow.dialogs.set(ctx.user, ASSIGN_DIALOG, new.to_json())
        officers = [
            core.Officer(user.id, user.display_name)
            for user in ctx.uow.followup.officers(_officer_areas(ctx, person.village_id))
        ]
        return core.officers_reply(
            _person(person),
            _officer_label(current, ctx) if current is not None else None,
            officers,
            labels,
        )
    # "o": an officer button, for the person the stored state names.
    officer = ctx.uow.users.get(button.first)
    if state.household_id is None or state.member_index is None:
        return [Notice(ctx.t("followup.stale"))]
    person = ctx.uow.followup.person(state.household_id, state.member_index, _groups(ctx, year))
    if person is None or not _in_scope(ctx, person.village_id):
        return _refuse(ctx, "member", f"{state.household_id}:{state.member_index}")
    allowed = {u.id for u in ctx.uow.followup.officers(_officer_areas(ctx, person.village_id))}
    if officer is None or officer.id not in allowed:
        ctx.uow.audit.record(
            "scope.refused", actor=ctx.user, entity="user", entity_id=str(button.first)
        )
        return [Text(ctx.t("followup.officer_gone"))]
    return _assign(ctx, person, year, labels, officer.id, None, None, officer.display_name)


def _officer_areas(ctx: DialogContext, village_id: int) -> set[int]:
    """Users assigned to the village or to any area above it are its officers."""
    village = ctx.uow.session.get(Area, village_id)
    return {area.id for area in ctx.uow.areas.path(village)} if village is not None else set()


def _person(person: SupportPerson) -> core.Person:
    return core.Person(
        person.household_id,
        person.household_code,
        person.member_index,
        person.member_name,
        person.group,
    )


def _show_people(
    ctx: DialogContext, village: core.Village, offset: int, year: int, labels: core.Labels
) -> list[Outgoing]:
    assert ctx.user is not None
    people, total = ctx.uow.followup.people(
        [village.id], year, _groups(ctx, year), offset=offset, limit=PAGE_SIZE
    )
    if not people and total and offset:
        offset = (total - 1) // PAGE_SIZE * PAGE_SIZE
        people, total = ctx.uow.followup.people(
            [village.id], year, _groups(ctx, year), offset=offset, limit=PAGE_SIZE
        )
    current = ctx.uow.followup.current_for({p.household_id for p in people})
    assigned = {(a.household_id, a.member_index): _officer_label(a, ctx) for a in current}
    ctx.uow.dialogs.set(ctx.user, ASSIGN_DIALOG, core.AssignState(village.id, offset).to_json())
    return core.people_page(village, [_person(p) for p in people], total, offset, assigned, labels)


def _assign(
    ctx: DialogContext,
    person: SupportPerson,
    year: int,
    labels: core.Labels,
    user_id: int | None,
    name: str | None,
    phone: str | None,
    shown: str,
) -> list[Outgoing]:
    assert ctx.user is not None
    chosen = _person(person)
    assignment = ctx.uow.followup.assign(
        SupportAssignment(
            review_year=year,
            household_id=chosen.household_id,
            member_index=chosen.member_index,
            member_name=chosen.name,
            group=chosen.group,
            officer_user_id=user_id,
            officer_name=name,
            officer_phone=phone,
            assigned_by=ctx.user.id,
        ),
        ctx.now,
    )
    ctx.uow.audit.record(
        "followup.assigned",
        actor=ctx.user,
        entity="support_assignment",
        entity_id=str(assignment.id),
    )
    state = _stored_assign(ctx)
    ctx.uow.dialogs.set(
        ctx.user, ASSIGN_DIALOG, core.AssignState(state.village_id, state.offset).to_json()
    )
    return core.assigned_reply(chosen, shown, labels)


def on_assign_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    """ "Tên, số điện thoại" for the person being assigned."""
    state = _stored_assign(ctx)
    if state.household_id is None or state.member_index is None:
        return None
    year = _year(ctx)
    labels = _labels(ctx, year)
    typed = core.parse_officer(text)
    if isinstance(typed, str):
        return [Text(ctx.t(typed))]
    person = ctx.uow.followup.person(state.household_id, state.member_index, _groups(ctx, year))
    if person is None or not _in_scope(ctx, person.village_id):
        return _refuse(ctx, "member", f"{state.household_id}:{state.member_index}")
    return _assign(
        ctx, person, year, labels, None, typed.name, typed.phone, f"{typed.name} ({typed.phone})"
    )


# -- /theodoi -------------------------------------------------------------------------------


def _followed(work: Work, assignments: Sequence[SupportAssignment]) -> list[core.Followed]:
    last = work.followup.last_contacts(a.id for a in assignments)
    codes: dict[int, str] = {}
    for assignment in assignments:
        if assignment.household_id not in codes:
            household = work.session.get(Household, assignment.household_id)
            codes[assignment.household_id] = household.code if household is not None else "?"
    return [
        core.Followed(
            a.id,
            a.officer_user_id,
            a.member_name,
            codes[a.household_id],
            a.group,
            a.assigned_at.date(),
            last.get(a.id),
        )
        for a in assignments
    ]


def follow(ctx: DialogContext) -> list[Outgoing]:
    """/theodoi: the people the user follows up, with their last contact."""
    assert ctx.user is not None
    assignments = ctx.uow.followup.of_officer(ctx.user.id)
    # The dialog state is left as it is: a collaborator's interview stays where it was.
    labels = _labels(ctx, _year(ctx))
    return core.officer_list(_followed(ctx.uow, assignments), labels)


def _own(ctx: DialogContext, assignment_id: int) -> SupportAssignment | None:
    assert ctx.user is not None
    assignment = ctx.uow.followup.get(assignment_id)
    if (
        assignment is None
        or assignment.ended_at is not None
        or assignment.officer_user_id != ctx.user.id
    ):
        return None
    return assignment


def _stored_record(ctx: DialogContext) -> core.RecordState | None:
    assert ctx.user is not None
    row = ctx.uow.dialogs.get(ctx.user)
    if row is None or row.dialog != RECORD_DIALOG:
        return None
    return core.RecordState.from_json(row.state)


def _today(ctx: DialogContext) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def on_record_choice(ctx: DialogContext, data: str) -> list[Outgoing] | None:
    assert ctx.user is not None
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != RECORD:
        return None
    verb, code = parts[1], parts[2]
    labels = _labels(ctx, _year(ctx))
    if verb == "a":
        number = core.ascii_int(code)
        assignment = _own(ctx, number) if number is not None else None
        if assignment is None:
            ctx.uow.audit.record(
                "scope.refused", actor=ctx.user, entity="support_assignment", entity_id=code
            )
            return [Text(ctx.t("followup.not_yours"))]
        fresh = core.RecordState(assignment.id)
        ctx.uow.dialogs.set(ctx.user, RECORD_DIALOG, fresh.to_json())
        return core.ask(fresh, assignment.member_name, labels)
    state = _stored_record(ctx)
    if state is None:
        return [Notice(ctx.t("followup.stale"))]
    return _step(ctx, state, core.pressed(state, verb, code, labels.data, _today(ctx)), labels)


def on_record_text(ctx: DialogContext, text: str) -> list[Outgoing] | None:
    state = _stored_record(ctx)
    if state is None:
        return None
    labels = _labels(ctx, _year(ctx))
    return _step(ctx, state, core.typed(state, text, _today(ctx)), labels)


def _step(
    ctx: DialogContext, state: core.RecordState, step: core.Step, labels: core.Labels
) -> list[Outgoing]:
    assert ctx.user is not None
    assignment = _own(ctx, state.assignment_id)
    if assignment is None:
        ctx.uow.dialogs.clear(ctx.user)
        return [Text(ctx.t("followup.not_yours"))]
    match step:
        case core.Refused(key=key, params=params):
            return [Text(ctx.t(key, **params)), *core.ask(state, assignment.member_name, labels)]
        case core.Next(state=new):
            ctx.uow.dialogs.set(ctx.user, RECORD_DIALOG, new.to_json())
            return core.ask(new, assignment.member_name, labels)
        case core.Done(contact=contact):
            ctx.uow.followup.record(
                SupportContact(
                    assignment_id=assignment.id,
                    contact_date=contact.contact_date,
                    kind=contact.kind,
                    programme=contact.programme,
                    outcome=contact.outcome,
                    note=contact.note,
                    recorded_by=ctx.user.id,
                    recorded_at=ctx.now,
                )
            )
            ctx.uow.audit.record(
                "followup.contact",
                actor=ctx.user,
                entity="support_assignment",
                entity_id=str(assignment.id),
            )
            ctx.uow.dialogs.clear(ctx.user)
            return core.recorded_reply(contact, assignment.member_name, labels)
    raise AssertionError(step)


def again(ctx: DialogContext) -> list[Outgoing]:
    """Typed text after a reply that may not have arrived: the current step again."""
    stored = _stored_record(ctx)
    if stored is not None and (assignment := _own(ctx, stored.assignment_id)) is not None:
        return core.ask(stored, assignment.member_name, _labels(ctx, _year(ctx)))
    return assign(ctx) if _stored_assign(ctx).village_id is None else follow(ctx)


# -- reminders ------------------------------------------------------------------------------


def due_reminders(work: Work, settings: Settings, now: datetime) -> list[core.Reminder]:
    """The follow-up reminders due now (people without labour capacity not visited within
    ``RASOAT_FOLLOWUP_INTERVAL_DAYS``) that the outbox did not have yet, written to it. A
    reminder stays due all its period: sweeps after the first find it there already."""
    year = default_year(work.session, now.astimezone(settings.tz).year)
    group = no_capacity_group(rules_for(year, settings.rules))
    assignments = work.followup.current_in_year(year, [group])
    followed = _followed(work, assignments)
    contacts = [
        core.ContactDate(c.assignment_id, c.contact_date)
        for c in work.followup.contacts(a.id for a in assignments)
    ]
    reminders = core.due_followups(
        followed,
        contacts,
        timedelta(days=settings.followup_interval_days),
        now,
        settings.tz,
        group=group,
        locale=settings.locale,
    )
    return outbox(work, reminders)


def outbox(work: Work, reminders: Sequence[core.Reminder]) -> list[core.Reminder]:
    """The reminders into the durable outbox, in the caller's transaction; a key already
    there (the same officer, interval and period) is not written twice. Those written."""
    return [
        r
        for r in reminders
        if work.outbox.enqueue(
            r.recipient_user_id, encode(Text(r.text)), r.dedupe_key, r.not_before, r.not_before
        )
    ]
