"""Linking accounts: one person on several platforms (`/lienket`, `/link`).

A registered person types `/lienket` and gets a one-time code (``offer``). Typed on another
platform by an account not in use (`/lienket CODE`, or `/start CODE`: on Zalo the code is
what is typed), it makes that account the person's (``typed``): the same roles, areas and
dialog state, an interview in progress included. An account of an active person is never
taken over (``typed_by_member``), and a person has one account per platform: a second one
is refused, the first kept, and both are said. The wrong-code lock-out is registration's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.decisions.registration import (
    WRONG_CODES_ALLOWED,
    Claim,
    Env,
    LockedOut,
    Reason,
    Refuse,
)
from bot.messages import Outgoing, Text
from locales.catalog import translate

# Long enough to pick up the other phone and type it; short enough that a code seen over
# someone's shoulder is soon worth nothing.
LINK_CODE_LIFETIME = timedelta(minutes=10)


def platform_name(platform: str, locale: str) -> str:
    """How a platform is named to people ("Zalo"); a platform without a name in the
    catalog by its own name, so any platform can be linked."""
    key = f"platform.{platform}"
    name = translate(key, locale)
    return platform if name == key else name


def channel_list(platforms: Sequence[str], locale: str) -> str:
    return ", ".join(platform_name(platform, locale) for platform in platforms)


@dataclass(frozen=True, slots=True)
class Person:
    """A registered person as the decisions see them."""

    id: int
    name: str
    role: str
    active: bool
    # The platforms of their accounts, the one they registered with first.
    platforms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CodeSeen:
    """The link code typed, as stored, with the person it links to."""

    person: Person
    used: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Store:
    """Keep ``code`` (its hash) as the person's link code; their earlier one expires."""

    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Attach:
    """This account becomes the code's person's (moved from the deactivated person it
    was registered as, if ``moved``)."""

    person: int
    moved: bool


Effect = Store | Attach | Refuse | LockedOut


@dataclass(frozen=True, slots=True)
class Decision:
    replies: tuple[Outgoing, ...]
    effects: tuple[Effect, ...] = ()
    # Followed by where the person stands (their current question, or the menu): the
    # shell's to show, from the dialog state the account now shares.
    then_where: bool = False


def offer(person: Person, code: str, now: datetime, env: Env) -> Decision:
    """`/lienket` typed by a registered person: a code for their other account."""
    minutes = int(LINK_CODE_LIFETIME.total_seconds() // 60)
    text = env.t(
        "linking.code",
        code=code,
        minutes=minutes,
        channels=channel_list(person.platforms, env.locale),
    )
    return Decision((Text(text),), (Store(code, now + LINK_CODE_LIFETIME),))


def typed_by_member(member: Person, seen: CodeSeen | None, here: str, env: Env) -> Decision:
    """`/lienket CODE` typed on an account already registered (and active)."""
    if seen is not None and seen.person.id == member.id:
        return Decision((Text(env.t("linking.already_yours")),))
    text = env.t(
        "linking.registered_elsewhere", name=member.name, platform=platform_name(here, env.locale)
    )
    return Decision((Text(text),))


def refusal(seen: CodeSeen | None, now: datetime) -> Reason | None:
    if seen is None:
        return "unknown"
    if seen.used:
        return "used"
    if seen.expires_at <= now:
        return "expired"
    return None


def typed(
    failures: int,
    seen: CodeSeen | None,
    here: str,
    now: datetime,
    env: Env,
    *,
    moving: bool = False,
    claimed: bool | None = None,
) -> Decision | Claim:
    """A link code typed on an account not in use: nobody's (registration found no invite
    for it), or a deactivated person's (``moving``). ``failures``: the account's wrong
    codes within the window; ``claimed``: whether the claim that ``Claim`` asked for won."""
    if failures >= WRONG_CODES_ALLOWED:
        return Decision((Text(env.t("registration.locked")),), (LockedOut(),))
    reason = refusal(seen, now)
    if reason is None and claimed is False:
        reason = "used"  # by another account, a moment ago
    if reason is not None:
        key = "fallback.deactivated" if moving and reason == "unknown" else f"linking.code_{reason}"
        return Decision((Text(env.t(key)),), (Refuse(reason),))
    assert seen is not None
    person = seen.person
    here_name = platform_name(here, env.locale)
    if not person.active:
        return Decision((Text(env.t("linking.person_inactive")),))
    if here in person.platforms:
        # One account per platform: the one they have stays theirs, this one nobody's.
        return Decision((Text(env.t("linking.platform_taken", platform=here_name)),))
    if claimed is None:
        return Claim()
    channels = channel_list((*person.platforms, here), env.locale)
    welcome = env.t(
        "linking.linked",
        name=person.name,
        role=env.t(f"role.{person.role}"),
        platform=here_name,
        channels=channels,
    )
    return Decision((Text(welcome),), (Attach(person.id, moved=moving),), then_where=True)


def stranger_hint(env: Env) -> Decision:
    """`/lienket` without a code, on an account nobody registered."""
    return Decision((Text(env.t("linking.how")),))


__all__ = [
    "LINK_CODE_LIFETIME",
    "WRONG_CODES_ALLOWED",
    "Attach",
    "Claim",
    "CodeSeen",
    "Decision",
    "Effect",
    "LockedOut",
    "Person",
    "Refuse",
    "Store",
    "channel_list",
    "offer",
    "platform_name",
    "refusal",
    "stranger_hint",
    "typed",
    "typed_by_member",
]
