"""The server's secret key: what invite codes are hashed under (HMAC), kept out of the database.

From ``RASOAT_SECRET_KEY`` when set (needed when several machines share one database: each
must hash alike); otherwise from a key file that the first run creates, readable by its
owner only. Losing the key only voids the invites not yet used.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path

from bot.settings import Settings


def server_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode("utf-8")
    return _key_file(settings.secret_key_file.resolve())


@cache
def _key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        # Another process created it meanwhile: theirs is the key.
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path.read_bytes().strip()
