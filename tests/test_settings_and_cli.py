"""Bad settings stop the program with one clear line and exit code 2; tokens never leak."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
SECRET_TOKEN = "987654:SUPER-SECRET-TOKEN-VALUE"


def rasoat(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, **kw: object):
    """Run the real console entry point in a fresh process."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "RASOAT_", "WEBHOOK_"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=60,
        **kw,  # type: ignore[call-overload]
    )


def test_defaults(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./data/rasoat.db"
    assert settings.locale == "vi"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.telegram_api_url == "https://api.telegram.org"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("RASOAT_LOCALE", "fr", "RASOAT_LOCALE"),
        ("RASOAT_TIMEZONE", "Mars/Olympus", "RASOAT_TIMEZONE"),
        ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL"),
    ],
)
def test_invalid_setting_names_the_variable(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=needle):
        load_settings()


def test_plain_database_schemes_are_accepted(clean_env: None) -> None:
    assert load_settings(DATABASE_URL="postgresql://u@h/db").database_url.startswith(
        "postgresql+asyncpg://"
    )
    assert load_settings(DATABASE_URL="sqlite:///x.db").database_url.startswith(
        "sqlite+aiosqlite://"
    )


def test_cli_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    result = rasoat("db", "upgrade", env={"RASOAT_LOCALE": "fr"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "RASOAT_LOCALE" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_run_without_token_exits_2(tmp_path: Path) -> None:
    result = rasoat("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_is_never_printed(tmp_path: Path) -> None:
    # An unreachable API server makes the bot log its failure; the token must not appear.
    env = {
        "TELEGRAM_BOT_TOKEN": SECRET_TOKEN,
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "RASOAT_LOCALE": "xx",
    }
    result = rasoat("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert SECRET_TOKEN not in result.stdout + result.stderr
    assert "SUPER-SECRET" not in result.stdout + result.stderr


def test_db_upgrade_creates_the_default_sqlite_file(tmp_path: Path) -> None:
    result = rasoat("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "rasoat.db").exists()
