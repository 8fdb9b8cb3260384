"""`rasoat backup`: a consistent, private copy of the whole database, taken while it runs."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

from locales.catalog import translate
from tests.conftest import Database
from tests.helpers import seed_areas
from tests.test_settings_and_cli import rasoat


async def test_a_backup_holds_the_data_and_only_its_owner_reads_it(
    database: Database, tmp_path: Path
) -> None:
    await seed_areas(database.sessions)
    target = tmp_path / "saved" / "copy"
    done = rasoat("backup", "--output", str(target), env=database.env())
    assert done.returncode == 0, done.stderr
    assert translate("backup.done", path=target) in done.stdout
    assert not target.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    if database.backend == "sqlite":
        with closing(sqlite3.connect(target)) as copy:
            names = [row[0] for row in copy.execute("SELECT name FROM areas ORDER BY code")]
        assert names == ["Tỉnh Đồng Tháp", "Xã Mỹ Hòa", "Ấp 1", "Ấp 2"]
    else:
        # pg_dump's custom format, restorable with pg_restore.
        assert target.read_bytes().startswith(b"PGDMP")

    again = rasoat("backup", "--output", str(target), env=database.env())
    assert again.returncode == 2
    assert translate("backup.exists", path=target) in again.stderr
