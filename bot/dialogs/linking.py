"""Linking accounts (`/lienket`, `/link`): the shell of :mod:`bot.decisions.linking`.

It loads what each decision needs (the person's accounts, the code typed and its person,
the account's recent wrong codes), claims the code with a conditional UPDATE when the core
says so, then writes the effects. Registration by invite stays in
:mod:`bot.dialogs.registration`: a code typed by an account not in use is tried as a link
code here first, and handed over when it is an invite.
"""

from __future__ import annotations

import logging

from bot.context import DialogContext
from bot.decisions import linking as core
from bot.decisions.registration import normalise_code
from bot.dialogs import fallback, interview, menu, registration
from bot.messages import Outgoing
from bot.server_key import server_key
from storage.models import LinkCode
from storage.rows import Person

log = logging.getLogger(__name__)

# The commands a code is typed with: an invite's `/start CODE` (a t.me link sends it too),
# and `/lienket CODE`; the code decides which it is, so either works for both.
CODE_COMMANDS = frozenset({"start", "lienket", "link"})


def _env(ctx: DialogContext) -> core.Env:
    return registration.menu_env(ctx.locale)


def _person(ctx: DialogContext, user: Person) -> core.Person:
    platforms = tuple(account.platform for account in ctx.uow.identities.accounts(user.id))
    return core.Person(user.id, user.display_name, user.role.value, user.active, platforms)


def command(ctx: DialogContext) -> list[Outgoing]:
    """`/lienket [CODE]` typed by a registered person: a code for their other account, or
    the code of another account typed here (refused: this account is someone already)."""
    assert ctx.user is not None
    person = _person(ctx, ctx.user)
    code = normalise_code(ctx.incoming.args)
    if not code:
        new = registration.new_code()
        decision = core.offer(person, new, ctx.now, _env(ctx))
    else:
        found = ctx.uow.identities.code(code, server_key(ctx.settings))
        decision = core.typed_by_member(person, _seen(ctx, found), ctx.incoming.platform, _env(ctx))
    return _apply(ctx, decision, None)


def from_outside(ctx: DialogContext) -> list[Outgoing]:
    """A code command typed by an account not in use: nobody's (a stranger), or a
    deactivated person's, whose account a link code moves to an active person."""
    incoming = ctx.incoming
    code = normalise_code(incoming.args)
    key = server_key(ctx.settings)
    if ctx.user is not None:
        if not code:
            return fallback.deactivated(ctx)
        return _typed(ctx, ctx.uow.identities.code(code, key))
    if not code:
        if incoming.command == "start":
            return registration.start(ctx)
        return list(core.stranger_hint(_env(ctx)).replies)
    found = ctx.uow.identities.code(code, key)
    if found is None and (incoming.command == "start" or ctx.uow.invites.by_code(code, key)):
        # An invite (or, typed with /start, a code that is neither: said as an invite's).
        return registration.start(ctx)
    return _typed(ctx, found)


def _seen(ctx: DialogContext, found: LinkCode | None) -> core.CodeSeen | None:
    if found is None:
        return None
    owner = ctx.uow.users.get(found.user_id)
    if owner is None:
        return None
    return core.CodeSeen(_person(ctx, owner), found.used_at is not None, found.expires_at)


def _typed(ctx: DialogContext, found: LinkCode | None) -> list[Outgoing]:
    incoming = ctx.incoming
    since = ctx.now - registration.WRONG_CODES_WINDOW
    failures = ctx.uow.registration_failures.count_since(incoming.platform, incoming.user_id, since)
    if found is not None:
        # Before the person's dialog state is read (to show where they stand), no turn of
        # another of their accounts may be half-way through it.
        ctx.uow.updates.hold_person(found.user_id)
    seen = _seen(ctx, found)
    moving = ctx.user is not None
    env = _env(ctx)
    decision = core.typed(failures, seen, incoming.platform, ctx.now, env, moving=moving)
    if isinstance(decision, core.Claim):
        assert found is not None
        claimed = ctx.uow.identities.claim(found, ctx.now)
        decision = core.typed(
            failures, seen, incoming.platform, ctx.now, env, moving=moving, claimed=claimed
        )
        assert isinstance(decision, core.Decision)
    return _apply(ctx, decision, found)


def _apply(ctx: DialogContext, decision: core.Decision, found: LinkCode | None) -> list[Outgoing]:
    incoming = ctx.incoming
    for effect in decision.effects:
        match effect:
            case core.Store(code=code, expires_at=expires_at):
                assert ctx.user is not None
                key = server_key(ctx.settings)
                ctx.uow.identities.issue(ctx.user.id, code, key, ctx.now, expires_at)
                ctx.uow.audit.record("link.code_issued", actor=ctx.user, entity="user")
            case core.LockedOut():
                log.warning("a link code from a locked account refused")
            case core.Refuse(reason=reason):
                registration.refused(ctx, "link", reason)
            case core.Attach(person=person_id, moved=moved):
                person = ctx.uow.users.get(person_id)
                assert person is not None and found is not None
                previous = ctx.user
                ctx.uow.identities.attach(person_id, incoming.platform, incoming.user_id, ctx.now)
                ctx.uow.users.bind_chat(person, incoming.platform, incoming.chat_id, ctx.now)
                ctx.uow.audit.record(
                    "user.linked",
                    actor=person,
                    entity="user",
                    entity_id=person_id,
                    platform=incoming.platform,
                    moved_from=previous.id if moved and previous is not None else None,
                )
                ctx.user = person
    replies = list(decision.replies)
    if decision.then_where:
        # The dialog state is the person's: an interview in progress goes on here. The
        # platform's command list for the role comes too (on Telegram, the chat's menu).
        replies += [*interview.again(ctx), menu.command_menu(ctx)]
    return replies
