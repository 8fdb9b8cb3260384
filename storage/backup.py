"""Backups of the whole database, taken while the bot runs.

SQLite: the online backup API of Python's sqlite3 copies a consistent snapshot page by page
(WAL content included) without stopping writers for long. PostgreSQL: ``pg_dump``, the
server's own tool, in its custom format (restore with ``pg_restore``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import URL, make_url


class BackupFailed(Exception):
    """The backup could not be made; ``key`` names the message, ``params`` fill it."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def backup(database_url: str, schema: str | None, target: Path) -> Path:
    if target.exists():
        raise BackupFailed("backup.exists", path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _backup_sqlite(Path(url.database or ""), target)
    else:
        _pg_dump(url, schema, target)
    return target


def _backup_sqlite(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupFailed("backup.no_database", path=source)
    # Owner-only from the first byte: the copy holds the same personal data.
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)


def _pg_dump(url: URL, schema: str | None, target: Path) -> None:
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupFailed("backup.no_pg_dump")
    command = [program, "--format=custom", f"--file={target}", "--no-owner"]
    if schema:
        command.append(f"--schema={schema}")
    # The password goes in the environment, not on the command line other users can list.
    plain = url.set(drivername="postgresql", password=None).render_as_string()
    env = os.environ | ({"PGPASSWORD": str(url.password)} if url.password else {})
    done = subprocess.run([*command, f"--dbname={plain}"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupFailed("backup.pg_dump_failed", detail=done.stderr.strip()[-500:])
    target.chmod(0o600)
