"""Replies for everything no dialog expects, so the bot never goes silent: functions of
the language (and of what was sent) only."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Notice, Outgoing, Text
from locales.catalog import translate

# Longer than any answer the questionnaire needs; a paste this long is a mistake.
MAX_TEXT_LENGTH = 1000


def unknown_command(locale: str, command: str) -> list[Outgoing]:
    return [Text(translate("fallback.unknown_command", locale, command=command))]


def not_allowed(locale: str, command: str) -> list[Outgoing]:
    return [Text(translate("fallback.not_allowed", locale, command=command))]


def button_not_allowed(locale: str) -> list[Outgoing]:
    return [Notice(translate("fallback.button_not_allowed", locale))]


def deactivated(locale: str) -> list[Outgoing]:
    return [Text(translate("fallback.deactivated", locale))]


def unsupported(locale: str) -> list[Outgoing]:
    return [Text(translate("fallback.unsupported", locale))]


def too_long(locale: str) -> list[Outgoing]:
    return [Text(translate("fallback.too_long", locale, limit=MAX_TEXT_LENGTH))]


def stale_button(locale: str) -> list[Outgoing]:
    return [Notice(translate("fallback.stale_button", locale))]


def idle_text(locale: str, menu: Sequence[Outgoing]) -> list[Outgoing]:
    """Text no dialog expects: said so, then the person's menu."""
    return [Text(translate("fallback.idle_text", locale)), *menu]
