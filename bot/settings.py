"""Runtime configuration, read from the environment and ``.env`` by pydantic-settings.

A bad setting must stop the program with one line a commune IT officer can act on, so
``load_settings`` turns pydantic's validation error into :class:`SettingsError` naming the
variable and the fix; the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.decisions.pacing import Limits
from bot.decisions.reminder_offsets import DEFAULT_OFFSETS, Offset, parse_offsets
from classification import ReferenceRule, ReviewDates, available_versions
from locales.catalog import SUPPORTED_LOCALES

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/rasoat.db"

_URL_SCHEMES = {
    # Users write the plain scheme; the async driver is an implementation detail.
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class SettingsError(Exception):
    """A setting is missing or invalid; the message says which one and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_bot_username: str | None = Field(default=None, alias="TELEGRAM_BOT_USERNAME")
    # Zalo Bot Platform (bot.channels.zalo_bot): the bot's token and the API's base URL.
    zalo_bot_token: SecretStr | None = Field(default=None, alias="ZALO_BOT_TOKEN")
    zalo_bot_api_url: str = Field(
        default="https://bot-api.zaloplatforms.com", alias="ZALO_BOT_API_URL"
    )
    # Zalo Official Account (bot.channels.zalo_oa): the app's id and secret (the token
    # refresh's secret_key), the OA secret key webhook events are signed with, the API's
    # and the token server's base URLs, and how old a signed event may be (seconds).
    zalo_oa_app_id: str | None = Field(default=None, alias="ZALO_OA_APP_ID")
    zalo_oa_app_secret: SecretStr | None = Field(default=None, alias="ZALO_OA_APP_SECRET")
    zalo_oa_secret_key: SecretStr | None = Field(default=None, alias="ZALO_OA_SECRET_KEY")
    zalo_oa_api_url: str = Field(default="https://openapi.zalo.me", alias="ZALO_OA_API_URL")
    zalo_oa_oauth_url: str = Field(default="https://oauth.zaloapp.com", alias="ZALO_OA_OAUTH_URL")
    zalo_oa_webhook_window: int = Field(default=300, alias="ZALO_OA_WEBHOOK_WINDOW", ge=10, le=3600)
    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    database_schema: str | None = Field(default=None, alias="DATABASE_SCHEMA")
    locale: str = Field(default="vi", alias="RASOAT_LOCALE")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", alias="RASOAT_TIMEZONE")
    # The day of the review year ages are counted at (classification.age.ReferenceRule).
    reference_date: str = Field(default="year-end", alias="RASOAT_REFERENCE_DATE")
    # The rule set to classify with; by default the one that applies to the review year.
    rules: str | None = Field(default=None, alias="RASOAT_RULES")
    invite_days: int = Field(default=7, alias="RASOAT_INVITE_DAYS", ge=1, le=365)
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    # What invite codes are hashed under (see bot.server_key); a key file when unset.
    secret_key: SecretStr | None = Field(default=None, alias="RASOAT_SECRET_KEY", min_length=32)
    secret_key_file: Path = Field(default=Path("data/rasoat.key"), alias="RASOAT_SECRET_KEY_FILE")
    # Messages one person may send in 10 seconds; more are dropped. 0 turns the limit off.
    flood_limit: int = Field(default=20, alias="RASOAT_FLOOD_LIMIT", ge=0)
    # Seconds at least between a question reaching a phone and a typed answer to it: text
    # sooner was typed before the question was seen (see bot.conversation.unseen). 0: off.
    # Days after which a person without labour capacity not visited is reminded to their
    # responsible officer (section II.2: "thường xuyên theo dõi").
    followup_interval_days: int = Field(
        default=30, alias="RASOAT_FOLLOWUP_INTERVAL_DAYS", ge=1, le=366
    )
    reading_time: float = Field(default=1.0, alias="RASOAT_READING_TIME", ge=0, le=10)
    # `rasoat run` applies the chat turns in a process of its own (bot.turn_process), on
    # another core than the channels' event loop; by default where there is another core.
    turn_process: bool = Field(
        default_factory=lambda: (os.cpu_count() or 1) > 1, alias="RASOAT_TURN_PROCESS"
    )
    # The platform's limits the outbox keeps to (Telegram: 30 messages a second, 1 per chat).
    push_rate: int = Field(default=30, alias="RASOAT_PUSH_RATE", ge=1, le=1000)
    push_chat_interval: float = Field(default=1.0, alias="RASOAT_PUSH_CHAT_INTERVAL", ge=0, le=60)
    # Of that rate, the slots of each second the outbox leaves free, so that many replies in
    # a second go at once even while it broadcasts.
    push_reserve: int = Field(default=0, alias="RASOAT_PUSH_RESERVE", ge=0)
    # Seconds added to the second the limit is kept over, for Telegram's rounding (the
    # network's delays are accounted for: see bot.decisions.pacing).
    push_margin: float = Field(default=0.002, alias="RASOAT_PUSH_MARGIN", ge=0, le=0.5)
    # When collaborators are reminded of a policy dialogue: days ("3d") or hours ("2h")
    # before it, or a local time on its day ("07:00").
    reminder_offsets: str = Field(default=DEFAULT_OFFSETS, alias="RASOAT_REMINDER_OFFSETS")
    # The staff's schedule of periodic reports (bot.decisions.report_schedule); none: off.
    report_schedule: Path | None = Field(default=None, alias="RASOAT_REPORT_SCHEDULE")
    # Where people reach rasoat's own HTTP server (its download links, bot.links): files go
    # to platforms that take none (Zalo Bot) as links only when it is set.
    public_url: str | None = Field(default=None, alias="RASOAT_PUBLIC_URL")
    # How long a download link works, and where its files wait (owner-only) meanwhile.
    link_minutes: int = Field(default=60, alias="RASOAT_LINK_MINUTES", ge=1, le=24 * 60)
    links_dir: Path = Field(default=Path("data/links"), alias="RASOAT_LINKS_DIR")
    # What rasoat remembers to spare work and may lose at no cost (bot.form_check).
    cache_dir: Path = Field(default=Path("data/cache"), alias="RASOAT_CACHE_DIR")

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in _URL_SCHEMES:
            raise ValueError(
                "use sqlite:///path/to/file.db or postgresql://user@host:5432/database"
            )
        return f"{_URL_SCHEMES[scheme]}://{rest}"

    @field_validator("database_schema")
    @classmethod
    def _check_schema(cls, value: str | None) -> str | None:
        if value and not value.replace("_", "").isalnum():
            raise ValueError("use letters, digits and underscores only")
        return value or None

    @field_validator("rules")
    @classmethod
    def _check_rules(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.endswith(".toml"):
            if not Path(value).is_file():
                raise ValueError(f"no rule file at {value}")
            return value
        if value not in available_versions():
            raise ValueError(f"use one of: {', '.join(available_versions())}, or a .toml file")
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _check_offsets(cls, value: str) -> str:
        parse_offsets(value)
        return value

    @property
    def offsets(self) -> tuple[Offset, ...]:
        return parse_offsets(self.reminder_offsets)

    @field_validator("telegram_api_url", "zalo_bot_api_url", "zalo_oa_api_url", "zalo_oa_oauth_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("use the server's base URL, e.g. https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError("use the address people reach the bot at, e.g. https://bot.example.vn")
        return value.rstrip("/")

    @field_validator("locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"use one of: {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("use an IANA time zone such as Asia/Ho_Chi_Minh") from error
        return value

    @field_validator("reference_date")
    @classmethod
    def _check_reference_date(cls, value: str) -> str:
        return str(ReferenceRule.parse(value))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def review_dates(self) -> ReviewDates:
        """Turns a moment into a review's reference date, in the commune's time zone."""
        return ReviewDates(ReferenceRule.parse(self.reference_date), self.tz)

    @property
    def push_limits(self) -> Limits:
        return Limits(
            self.push_rate,
            self.push_chat_interval,
            min(self.push_reserve, self.push_rate // 2),
            self.push_margin,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file, so its folder can be created before the first connection."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in ("", ":memory:") else Path(path)

    def require_token(self) -> str:
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value():
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in the "
                "environment or in .env (TELEGRAM_BOT_TOKEN=123456:ABC...)"
            )
        return self.telegram_bot_token.get_secret_value()

    def require_zalo_bot_token(self) -> str:
        if self.zalo_bot_token is None or not self.zalo_bot_token.get_secret_value():
            raise SettingsError(
                "ZALO_BOT_TOKEN is not set: put the token Zalo Bot Creator gave you in the "
                "environment or in .env (ZALO_BOT_TOKEN=12345689:abc-xyz)"
            )
        return self.zalo_bot_token.get_secret_value()

    def require_zalo_oa(self) -> tuple[str, str, str]:
        """The OA's app id, app secret and OA secret key, each named if missing."""
        missing = [
            (name, hint)
            for name, value, hint in (
                ("ZALO_OA_APP_ID", self.zalo_oa_app_id, "the app's ID"),
                ("ZALO_OA_APP_SECRET", _secret(self.zalo_oa_app_secret), "the app's secret key"),
                ("ZALO_OA_SECRET_KEY", _secret(self.zalo_oa_secret_key), "the OA secret key"),
            )
            if not value
        ]
        if missing:
            name, hint = missing[0]
            raise SettingsError(
                f"{name} is not set: put {hint} from the Zalo for Developers console "
                "(developers.zalo.me, your app) in the environment or in .env"
            )
        return (
            str(self.zalo_oa_app_id),
            _secret(self.zalo_oa_app_secret),
            _secret(self.zalo_oa_secret_key),
        )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        env_name = _env_name(field)
        reason = str(first["msg"]).removeprefix("Value error, ")
        # Never echo the input: it may be a token.
        raise SettingsError(f"{env_name} is invalid: {reason}") from None


def _env_name(field: str) -> str:
    for name, info in Settings.model_fields.items():
        if field in (name, info.alias):
            return info.alias or name.upper()
    return field.upper()
