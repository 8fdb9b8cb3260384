"""Registration's decisions: what `/start [CODE]` does, over what the shell loaded.

Three steps around the shell's reads and its one conditional write: ``start`` (the person
and the code typed: a reply, or the code to look up), ``check`` (the chat's recent wrong
codes and the invite found: locked, refused, or the invite to claim), and ``check`` again
with the claim's outcome (won: welcome; lost to someone else a moment ago: refused as used).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.messages import Outgoing, Text
from locales.catalog import translate

# Wrong codes one chat may send within the window before registration from it is locked
# (until they leave the window, or commune staff lift it with `rasoat invites unlock`):
# enough for typing slips, far too few to guess a code.
WRONG_CODES_ALLOWED = 5
# The window WRONG_CODES_ALLOWED counts in: a wrong code older than this counts for nothing.
WRONG_CODES_WINDOW = timedelta(days=1)

Reason = Literal["unknown", "used", "expired"]


def normalise_code(text: str) -> str:
    """Accept what people type: lower case, spaces, dashes ("k7px-3mqa")."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Env:
    locale: str
    menu: Callable[[str, bool], Sequence[Outgoing]]
    """The main menu of a role (its value); True: with the platform's command list."""

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)


@dataclass(frozen=True, slots=True)
class Member:
    """The person, already registered."""

    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class InviteSeen:
    """The invite a code names, as stored."""

    role: str
    area_name: str
    used: bool
    expires_at: datetime


# -- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookUp:
    """Read the chat's recent wrong codes and the invite ``code`` names, then ``check``."""

    code: str


@dataclass(frozen=True, slots=True)
class Claim:
    """Mark the invite used unless someone did first, then ``check`` again with the outcome."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Count a wrong code against the chat and audit it (the code itself is never kept)."""

    reason: Reason


@dataclass(frozen=True, slots=True)
class LockedOut:
    """A code from a locked chat: refused whatever it is, counted no further."""


@dataclass(frozen=True, slots=True)
class Register:
    """Create the person with the invite's role and area, bound to this chat."""

    name: str
    role: str


Effect = Refuse | LockedOut | Register


@dataclass(frozen=True, slots=True)
class Decision:
    replies: tuple[Outgoing, ...]
    effects: tuple[Effect, ...] = ()


def display_name(given: str, user_id: str) -> str:
    """The name a new person is registered under: the platform's, else their id."""
    return given or user_id


def start(member: Member | None, code: str, env: Env) -> Decision | LookUp:
    """`/start` with what was typed after it (normalised)."""
    if member is not None:
        if code:
            return Decision(
                (Text(env.t("registration.already_registered")), *env.menu(member.role, False))
            )
        welcome = env.t("registration.welcome_back", name=member.display_name)
        return Decision((Text(welcome), *env.menu(member.role, True)))
    if not code:
        return Decision(tuple(unknown_user(env.locale)))
    return LookUp(code)


def check(
    failures: int,
    invite: InviteSeen | None,
    now: datetime,
    name: str,
    env: Env,
    *,
    claimed: bool | None = None,
) -> Decision | Claim:
    """A code looked up: ``failures``, the chat's wrong codes within the window; ``invite``,
    the one the code names; ``claimed``, whether the claim that ``Claim`` asked for won."""
    if failures >= WRONG_CODES_ALLOWED:
        return Decision((Text(env.t("registration.locked")),), (LockedOut(),))
    reason = refusal(invite, now)
    if reason is None and claimed is False:
        reason = "used"  # by someone else, a moment ago
    if reason is not None:
        return Decision((Text(env.t(f"registration.code_{reason}")),), (Refuse(reason),))
    assert invite is not None  # an unknown code is a refusal
    if claimed is None:
        return Claim()
    welcome = env.t(
        "registration.welcome",
        name=name,
        role=env.t(f"role.{invite.role}"),
        area=invite.area_name,
    )
    return Decision((Text(welcome), *env.menu(invite.role, True)), (Register(name, invite.role),))


def refusal(invite: InviteSeen | None, now: datetime) -> Reason | None:
    if invite is None:
        return "unknown"
    if invite.used:
        return "used"
    if invite.expires_at <= now:
        return "expired"
    return None


def unknown_user(locale: str) -> list[Outgoing]:
    return [Text(translate("registration.unknown_user", locale))]
