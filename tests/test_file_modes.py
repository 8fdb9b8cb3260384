"""Files holding personal data are readable by their owner only; the webhook stays local."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.cli import build_parser
from storage.db import create_engine, upgrade
from storage.models import InterviewStatus
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.helpers import seed_areas
from tests.test_settings_and_cli import rasoat


def others_may_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


async def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "rasoat.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        files = [p for p in path.parent.iterdir() if p.name.startswith("rasoat.db")]
        assert path in files
        for file in files:  # the database and its -wal and -shm files
            assert not others_may_read(file), (file, oct(file.stat().st_mode))
    finally:
        await engine.dispose()


async def test_exported_files_are_private(database: Database, tmp_path: Path) -> None:
    await seed_areas(database.sessions)
    await insert_households(
        database.sessions, 2026, [Planned("HH-001", "87-MH-A1", 0, InterviewStatus.COMPLETED)]
    )
    out = tmp_path / "out"
    out.mkdir()
    for form in ("xlsx", "csv", "docx"):
        args = ("export", "--area", "87-MH-A1", "--year", "2026", "--format", form)
        done = rasoat(*args, "--output", str(out), env=database.env())
        assert done.returncode == 0, done.stderr
    written = list(out.iterdir())
    assert {p.suffix for p in written} >= {".xlsx", ".docx"}
    for file in written:
        assert not others_may_read(file), (file, oct(file.stat().st_mode))


def test_the_webhook_listens_on_this_machine_unless_told_otherwise() -> None:
    assert build_parser().parse_args(["run", "--webhook"]).listen == "127.0.0.1"
