"""`rasoat` imports a command's implementation only when that command runs, so `--help`, a
mistyped option or `backup` start without the form's workbook reader or a chat platform's
library (bot.cli's COMMANDS). Speed itself is measured by bench/, never here: this checks
which libraries a fresh process loaded."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each costs a `rasoat` process a quarter to half a second to import.
HEAVY = ("pyxform", "openpyxl", "telegram", "aiogram", "starlette", "docx", "matplotlib")

RUN_AND_LIST = """
import json, sys
{prelude}
from bot.cli import main
try:
    status = main({argv!r})
except SystemExit as done:
    status = done.code
print(json.dumps({{"status": status, "loaded": sorted(
    name for name in {heavy!r} if name in sys.modules
)}}))
"""


def loaded_by(argv: list[str], tmp_path: Path, prelude: str = "") -> tuple[object, list[str]]:
    """The exit status of `rasoat ARGV` run in a fresh process, and which of HEAVY it loaded."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "RASOAT_", "WEBHOOK_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'rasoat.db'}"
    program = RUN_AND_LIST.format(prelude=prelude, argv=argv, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["status"], report["loaded"]


def test_help_loads_no_heavy_library(tmp_path: Path) -> None:
    assert loaded_by(["--help"], tmp_path) == (0, [])
    assert loaded_by(["run", "--help"], tmp_path) == (0, [])


def test_a_mistyped_command_loads_no_heavy_library(tmp_path: Path) -> None:
    assert loaded_by(["invites", "delete"], tmp_path) == (2, [])


def test_backup_loads_no_heavy_library(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "rasoat.db").close()
    target = tmp_path / "copy.db"
    assert loaded_by(["backup", "--output", str(target)], tmp_path) == (0, [])
    assert target.is_file()


def test_the_check_sees_a_library_loaded(tmp_path: Path) -> None:
    status, loaded = loaded_by(["--help"], tmp_path, prelude="import telegram")
    assert (status, loaded) == (0, ["telegram"])


def test_every_command_names_a_function_that_exists_and_the_parser_knows() -> None:
    # A mistyped "module:function" would otherwise surface only when someone runs it.
    from bot.cli import COMMANDS, build_parser, command_function

    parser = build_parser()
    for command in COMMANDS:
        assert callable(command_function(command)), command
        with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as done:
            parser.parse_args([command, "--help"])
        assert done.value.code == 0, command
