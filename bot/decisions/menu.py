"""Help, the main menu and who-am-I: functions of the role's commands and the language.

The command table (``bot.commands``) names roles with the storage model's enum, so it is
passed in rather than imported: anything shaped like a ``CommandSpec`` will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.decisions import linking
from bot.messages import Choice, Choices, CommandMenu, Outgoing, Text
from locales.catalog import translate


class Command(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def in_menu(self) -> bool: ...
    @property
    def listed(self) -> bool: ...


def main_menu(
    role: str, locale: str, commands: Sequence[Command], *, with_command_menu: bool = False
) -> list[Outgoing]:
    """The role's main menu: a button per command of its menu; ``with_command_menu``: the
    platform's command list too (set on registration and /start)."""
    buttons = tuple(
        Choice(translate(f"menu.{spec.name}", locale), f"cmd:{spec.name}")
        for spec in commands
        if spec.in_menu
    )
    title = translate("menu.title", locale, role=translate(f"role.{role}", locale))
    out: list[Outgoing] = [Choices(title, buttons, columns=2)]
    if with_command_menu:
        out.append(command_menu(locale, commands))
    return out


def command_menu(locale: str, commands: Sequence[Command]) -> CommandMenu:
    return CommandMenu(
        tuple(
            (spec.name, translate(f"command.{spec.name}", locale))
            for spec in commands
            if spec.listed
        )
    )


def help_text(role: str, locale: str, commands: Sequence[Command]) -> list[Outgoing]:
    lines = [translate(f"help.intro.{role}", locale), ""]
    lines += [
        f"/{spec.name} — {translate(f'command.{spec.name}', locale)}"
        for spec in commands
        if spec.listed
    ]
    lines += ["", translate("help.footer", locale)]
    return [Text("\n".join(lines))]


def who_am_i(
    name: str,
    role: str,
    areas: Sequence[tuple[str, str]],
    locale: str,
    platforms: Sequence[str] = (),
) -> list[Outgoing]:
    """``areas``: (name, code) of each area the person is assigned; ``platforms``: those
    of their accounts (several once linked with /lienket)."""
    shown = ", ".join(f"{area} ({code})" for area, code in areas) or "—"
    role_name = translate(f"role.{role}", locale)
    text = translate("whoami.text", locale, name=name, role=role_name, areas=shown)
    if platforms:
        channels = linking.channel_list(platforms, locale)
        text += "\n" + translate("whoami.channels", locale, channels=channels)
    return [Text(text)]
