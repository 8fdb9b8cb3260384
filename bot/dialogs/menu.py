"""Help, the role's main menu, and who-am-I: the shell of :mod:`bot.decisions.menu`,
which builds them from the user's role and language alone."""

from __future__ import annotations

from bot.commands import commands_for
from bot.context import DialogContext
from bot.decisions import menu as core
from bot.messages import CommandMenu, Outgoing
from storage.rows import Person


def _user(ctx: DialogContext) -> Person:
    assert ctx.user is not None
    return ctx.user


def main_menu(ctx: DialogContext, *, with_command_menu: bool = False) -> list[Outgoing]:
    return menu_for(ctx, with_command_menu=with_command_menu)


def menu_for(ctx: DialogContext, *, with_command_menu: bool = False) -> list[Outgoing]:
    """The role's main menu: it reads nothing but the user's role and language."""
    role = _user(ctx).role
    return core.main_menu(
        role.value, ctx.locale, commands_for(role), with_command_menu=with_command_menu
    )


def command_menu(ctx: DialogContext) -> CommandMenu:
    return core.command_menu(ctx.locale, commands_for(_user(ctx).role))


def show_menu(ctx: DialogContext) -> list[Outgoing]:
    return menu_for(ctx)


def show_help(ctx: DialogContext) -> list[Outgoing]:
    role = _user(ctx).role
    return core.help_text(role.value, ctx.locale, commands_for(role))


def who_am_i(ctx: DialogContext) -> list[Outgoing]:
    user = _user(ctx)
    areas = [(area.name, area.code) for area in user.areas]
    platforms = [account.platform for account in ctx.uow.identities.accounts(user.id)]
    return core.who_am_i(user.display_name, user.role.value, areas, ctx.locale, platforms)
