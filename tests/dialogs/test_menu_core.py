"""Menus, help, who-am-I and the fallbacks, as functions of the role and the language."""

from __future__ import annotations

import pytest

from bot.commands import commands_for
from bot.decisions import fallback, menu
from bot.messages import Choices, CommandMenu, Notice, Text
from locales.catalog import translate
from storage.models import Role


def test_a_collaborators_menu_has_the_interview_and_no_report() -> None:
    [shown] = menu.main_menu("collaborator", "vi", commands_for(Role.COLLABORATOR))
    assert isinstance(shown, Choices) and shown.columns == 2
    assert shown.text == "Danh mục chính (cộng tác viên) — chọn việc cần làm:"
    assert [c.data for c in shown.choices] == [
        "cmd:interview",
        "cmd:summary",
        "cmd:export",
        # Anyone may be a responsible officer of a person needing support (plan II.2).
        "cmd:theodoi",
        "cmd:whoami",
        "cmd:help",
    ]


def test_the_command_list_comes_with_the_menu_when_asked() -> None:
    shown = menu.main_menu(
        "supervisor", "en", commands_for(Role.SUPERVISOR), with_command_menu=True
    )
    assert [type(item) for item in shown] == [Choices, CommandMenu]
    commands = shown[1]
    assert isinstance(commands, CommandMenu)
    names = [name for name, _ in commands.commands]
    assert "report" in names and "interview" not in names and "start" not in names
    assert dict(commands.commands)["help"] == translate("command.help", "en")


def test_help_lists_the_roles_commands_after_its_introduction() -> None:
    [text] = menu.help_text("commune_staff", "vi", commands_for(Role.COMMUNE_STAFF))
    assert isinstance(text, Text)
    lines = text.text.splitlines()
    assert lines[0] == translate("help.intro.commune_staff", "vi")
    assert f"/report — {translate('command.report', 'vi')}" in lines
    assert not any(line.startswith(("/interview", "/start")) for line in lines)
    assert lines[-1] == translate("help.footer", "vi")


def test_who_am_i_names_the_areas_or_a_dash() -> None:
    [one] = menu.who_am_i("An", "collaborator", [("Ấp 1", "87-MH-A1")], "vi")
    [none] = menu.who_am_i("An", "collaborator", [], "vi")
    role = translate("role.collaborator", "vi")
    area = "Ấp 1 (87-MH-A1)"
    assert one == Text(translate("whoami.text", "vi", name="An", role=role, areas=area))
    assert none == Text(translate("whoami.text", "vi", name="An", role=role, areas="—"))


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_the_fallbacks_speak_the_persons_language(locale: str) -> None:
    assert fallback.unknown_command(locale, "khongco") == [
        Text(translate("fallback.unknown_command", locale, command="khongco"))
    ]
    assert fallback.not_allowed(locale, "report") == [
        Text(translate("fallback.not_allowed", locale, command="report"))
    ]
    assert fallback.stale_button(locale) == [Notice(translate("fallback.stale_button", locale))]
    assert fallback.button_not_allowed(locale) == [
        Notice(translate("fallback.button_not_allowed", locale))
    ]
    assert fallback.too_long(locale) == [Text(translate("fallback.too_long", locale, limit=1000))]
    assert fallback.idle_text(locale, [Text("MENU")]) == [
        Text(translate("fallback.idle_text", locale)),
        Text("MENU"),
    ]
