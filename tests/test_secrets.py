"""The bot token and the webhook secret never reach a log line or the error output."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import traceback
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.logs import RedactingFormatter
from locales.catalog import translate
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
WRONG_TOKEN = "999999:WRONG-token-that-must-not-leak"


def test_a_traceback_quoting_the_token_is_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s", [WRONG_TOKEN]))
    logger = logging.getLogger("tests.secrets")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"The token `{WRONG_TOKEN}` was rejected by the server.")
        except RuntimeError:
            logger.error(
                "calling https://api.telegram.org/bot%s/getMe failed", WRONG_TOKEN, exc_info=True
            )
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert WRONG_TOKEN not in output
    assert "The token `***` was rejected" in output and "/bot***/getMe" in output


async def run_once(env: dict[str, str]) -> tuple[int, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=full_env | env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_a_rejected_token_is_said_plainly_and_never_printed(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    code, output = await run_once(
        {
            "TELEGRAM_BOT_TOKEN": WRONG_TOKEN,
            "TELEGRAM_API_URL": fake_telegram.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'rasoat.db'}",
        }
    )
    assert code == 2
    assert translate("cli.token_rejected", url=fake_telegram.base_url) in output
    assert WRONG_TOKEN not in output
    assert WRONG_TOKEN.split(":")[1] not in output


async def test_an_unreachable_api_is_said_plainly_and_the_token_never_printed(
    tmp_path: Path,
) -> None:
    # Port 9 (discard) has no listener here: the connection is refused at once.
    url = "http://127.0.0.1:9"
    code, output = await run_once(
        {
            "TELEGRAM_BOT_TOKEN": WRONG_TOKEN,
            "TELEGRAM_API_URL": url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'rasoat.db'}",
        }
    )
    assert code == 1
    assert translate("cli.telegram_unreachable", url=url) in output
    assert WRONG_TOKEN not in output


async def test_a_failed_statement_does_not_quote_personal_data(database: Database) -> None:
    name = "Nguyễn Thị Bí Mật"
    with pytest.raises(DBAPIError) as failure:
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO areas (id, code, name, level) VALUES (:id, :code, :name, :level)"
                ),
                [{"id": 1, "code": "X", "name": name, "level": "xã"}] * 2,
            )
    assert name not in str(failure.value)
    assert name not in "".join(traceback.format_exception(failure.value))
