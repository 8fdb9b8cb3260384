"""Help, the role's main menu, and who-am-I."""

from __future__ import annotations

from bot.commands import commands_for
from bot.context import DialogContext
from bot.messages import Choice, Choices, CommandMenu, Outgoing, Text


async def main_menu(ctx: DialogContext, *, with_command_menu: bool = False) -> list[Outgoing]:
    return menu_for(ctx, with_command_menu=with_command_menu)


def menu_for(ctx: DialogContext, *, with_command_menu: bool = False) -> list[Outgoing]:
    """The role's main menu: it reads nothing but the user's role and language."""
    assert ctx.user is not None
    specs = [spec for spec in commands_for(ctx.user.role) if spec.in_menu]
    buttons = tuple(Choice(ctx.t(f"menu.{spec.name}"), f"cmd:{spec.name}") for spec in specs)
    title = ctx.t("menu.title", role=ctx.t(f"role.{ctx.user.role.value}"))
    out: list[Outgoing] = [Choices(title, buttons, columns=2)]
    if with_command_menu:
        out.append(command_menu(ctx))
    return out


def command_menu(ctx: DialogContext) -> CommandMenu:
    assert ctx.user is not None
    return CommandMenu(
        tuple(
            (spec.name, ctx.t(f"command.{spec.name}"))
            for spec in commands_for(ctx.user.role)
            if spec.listed
        )
    )


async def show_menu(ctx: DialogContext) -> list[Outgoing]:
    return await main_menu(ctx)


async def show_help(ctx: DialogContext) -> list[Outgoing]:
    assert ctx.user is not None
    lines = [ctx.t(f"help.intro.{ctx.user.role.value}"), ""]
    lines += [
        f"/{spec.name} — {ctx.t(f'command.{spec.name}')}"
        for spec in commands_for(ctx.user.role)
        if spec.listed
    ]
    lines += ["", ctx.t("help.footer")]
    return [Text("\n".join(lines))]


async def who_am_i(ctx: DialogContext) -> list[Outgoing]:
    assert ctx.user is not None
    areas = ", ".join(f"{area.name} ({area.code})" for area in ctx.user.areas) or "—"
    return [
        Text(
            ctx.t(
                "whoami.text",
                name=ctx.user.display_name,
                role=ctx.t(f"role.{ctx.user.role.value}"),
                areas=areas,
            )
        )
    ]
