"""Logging set-up that never lets the bot token or the webhook secret reach a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.settings import Settings

MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def secrets_of(settings: Settings) -> list[str]:
    return [
        value.get_secret_value()
        for value in (
            settings.telegram_bot_token,
            settings.zalo_bot_token,
            settings.zalo_oa_app_secret,
            settings.zalo_oa_secret_key,
            settings.webhook_secret,
            settings.secret_key,
        )
        if value is not None and value.get_secret_value()
    ]


class RedactingFormatter(logging.Formatter):
    """Masks secrets in the whole formatted record, traceback included.

    httpx logs request URLs, Telegram puts the token in the URL, and python-telegram-bot's
    ``InvalidToken`` quotes the token in its message: a filter on the message alone would
    miss the exception text a traceback prints.
    """

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def configure_logging(settings: Settings, *, verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets_of(settings))
    )
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    # Request lines carry the token and would flood the log at one line per long poll.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
