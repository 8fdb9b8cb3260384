"""Which commands exist and which roles may use them: data, read by help, menus and routing."""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import Role

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    roles: frozenset[Role]
    # Shown as a button in the role's main menu.
    in_menu: bool = True
    # Shown in /help and in the platform's command menu.
    listed: bool = True


# Order is the order of /help and of the menus. Handlers are bound in bot.router so this
# module stays importable by dialogs without cycles.
INTERVIEWERS = frozenset({Role.COLLABORATOR, Role.ADMIN})
REVIEWERS = frozenset({Role.SUPERVISOR, Role.COMMUNE_STAFF, Role.ADMIN})
# Who schedules policy dialogues (đối thoại chính sách) and records their outcome.
ORGANISERS = REVIEWERS
STAFF = frozenset({Role.COMMUNE_STAFF, Role.ADMIN})

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("interview", INTERVIEWERS),
    CommandSpec("back", INTERVIEWERS, in_menu=False),
    CommandSpec("skip", INTERVIEWERS, in_menu=False),
    CommandSpec("review", INTERVIEWERS, in_menu=False),
    CommandSpec("pause", INTERVIEWERS, in_menu=False),
    CommandSpec("cancel", INTERVIEWERS, in_menu=False),
    CommandSpec("summary", ALL_ROLES),
    CommandSpec("export", ALL_ROLES),
    CommandSpec("report", REVIEWERS),
    # Periodic reports (plan III.9): quarterly, six-monthly, yearly.
    CommandSpec("baocao", REVIEWERS),
    CommandSpec("doithoai", ORGANISERS),
    # The English name of /doithoai.
    CommandSpec("meeting", ORGANISERS, in_menu=False, listed=False),
    # Follow-up of support (plan II.2): staff assign a responsible officer to each person
    # on a support list; every officer records the contacts. The English names are
    # aliases, routed to the same dialogs and not listed twice.
    CommandSpec("phutrach", STAFF),
    CommandSpec("assign", STAFF, in_menu=False, listed=False),
    CommandSpec("theodoi", ALL_ROLES),
    CommandSpec("followup", ALL_ROLES, in_menu=False, listed=False),
    # "Tiếp": the current question again, the way back when a reply was lost on the way.
    CommandSpec("tiep", ALL_ROLES, in_menu=False),
    CommandSpec("menu", ALL_ROLES, in_menu=False),
    CommandSpec("whoami", ALL_ROLES),
    # One person on several platforms: a one-time code for another account (Zalo and
    # Telegram, say), typed there as `/lienket CODE`. `/link` is its English name.
    CommandSpec("lienket", ALL_ROLES, in_menu=False),
    CommandSpec("link", ALL_ROLES, in_menu=False, listed=False),
    CommandSpec("help", ALL_ROLES),
    CommandSpec("start", ALL_ROLES, in_menu=False, listed=False),
)

BY_NAME = {spec.name: spec for spec in COMMANDS}


def commands_for(role: Role) -> list[CommandSpec]:
    return [spec for spec in COMMANDS if role in spec.roles]
