"""Short-lived signed download links: how a file reaches a platform that takes none (Zalo Bot).

A file waits on disk, readable by its owner only, in ``RASOAT_LINKS_DIR``, beside a small
JSON of whom it is for, its name, its type, when it expires and whether it may be fetched
once. Its link is ``{RASOAT_PUBLIC_URL}/files/{id}?e={expiry}&s={signature}``: the id is
random, and the signature an HMAC under the server's key (``bot.server_key``) over the id,
the person it is for and the expiry, so without the key nobody makes a link to another
file, for another person or for later, and the address holds no personal data (the person
is only inside the HMAC). A file fetched once (an export) is gone once fetched; every file
is gone once expired (swept at each new file and at each request).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from urllib.parse import urlencode

FILES_ROUTE = "/files"
# What a file id looks like (secrets.token_urlsafe(18)): anything else in a request is
# refused before the disk is looked at, so no path can be smuggled in.
FILE_ID = re.compile(r"[A-Za-z0-9_-]{24}")
SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
DATA, META, TAKEN = ".data", ".json", ".taken"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Kept:
    """A file waiting to be fetched, as its JSON holds it."""

    file_id: str
    owner: str
    filename: str
    media_type: str
    expires: int
    """Unix seconds."""
    once: bool


class Refused(Enum):
    # Not a link this server made: a wrong signature, another person's, a changed expiry.
    FORGED = "forged"
    # Made here, but expired, fetched already, or never there.
    GONE = "gone"


def sign(key: bytes, file_id: str, owner: str, expires: int) -> str:
    message = f"rasoat-link\n{file_id}\n{owner}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class LinkStore:
    def __init__(
        self,
        directory: Path,
        key: bytes,
        public_url: str,
        lifetime: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self.directory = directory
        self.key = key
        self.public_url = public_url.rstrip("/")
        self.lifetime = lifetime
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def put(
        self, owner: str, filename: str, content: bytes, media_type: str, *, once: bool
    ) -> Link:
        """Keep ``content`` for ``owner`` ("platform:id") and make its link. Blocking (disk)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.sweep()
        file_id = secrets.token_urlsafe(18)
        expires = self._now() + int(self.lifetime.total_seconds())
        kept = Kept(file_id, owner, filename, media_type, expires, once)
        _write_private(self._path(file_id, DATA), content)
        # The JSON last: a file without one is not served, and is swept.
        _write_private(self._path(file_id, META), json.dumps(asdict(kept)).encode())
        query = urlencode({"e": expires, "s": sign(self.key, file_id, owner, expires)})
        return Link(
            f"{self.public_url}{FILES_ROUTE}/{file_id}?{query}",
            datetime.fromtimestamp(expires, UTC),
        )

    def check(self, file_id: str, expires: str, signature: str) -> Kept | Refused:
        """The file a link names, if the link is one this server made and still works. The
        expired files go first, this one's too."""
        self.sweep()
        if not (FILE_ID.fullmatch(file_id) and SIGNATURE.fullmatch(signature)):
            return Refused.FORGED
        if not expires.isdigit() or len(expires) > 12:
            return Refused.FORGED
        kept = self._kept(file_id)
        if kept is None:
            return Refused.GONE
        expected = sign(self.key, file_id, kept.owner, int(expires))
        if not hmac.compare_digest(expected, signature):
            return Refused.FORGED
        if int(expires) != kept.expires or kept.expires <= self._now():
            return Refused.GONE
        return kept

    def take(self, kept: Kept) -> Path | None:
        """The file to send: a file fetched once is moved out of reach first (one request
        wins it); the caller removes it once sent (:meth:`discard`). None if it is gone."""
        data = self._path(kept.file_id, DATA)
        if not kept.once:
            return data if data.exists() else None
        taken = self._path(kept.file_id, TAKEN)
        try:
            os.rename(data, taken)
        except FileNotFoundError:
            return None
        self._path(kept.file_id, META).unlink(missing_ok=True)
        return taken

    @staticmethod
    def discard(path: Path) -> None:
        path.unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove the expired files (and what a crash left half-written); how many."""
        if not self.directory.is_dir():
            return 0
        now = self._now()
        removed = 0
        for meta in self.directory.glob(f"*{META}"):
            file_id = meta.name.removesuffix(META)
            if not FILE_ID.fullmatch(file_id):
                continue
            kept = self._kept(file_id)
            if kept is None or kept.expires <= now:
                self._remove(file_id)
                removed += 1
        for file_id, suffix, path in _written(self.directory):
            if suffix == META:
                continue
            if not self._path(file_id, META).exists() and self._stale(path):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _stale(self, path: Path) -> bool:
        # A file without its JSON: being written (a moment), being sent (a download), or
        # left by a crash; the last kind is removed once it would have expired anyway.
        with contextlib.suppress(FileNotFoundError):
            return path.stat().st_mtime < self.clock().timestamp() - self.lifetime.total_seconds()
        return False

    def _remove(self, file_id: str) -> None:
        for suffix in (DATA, META):
            self._path(file_id, suffix).unlink(missing_ok=True)

    def _kept(self, file_id: str) -> Kept | None:
        try:
            stored = json.loads(self._path(file_id, META).read_bytes())
            return Kept(**stored)
        except (OSError, ValueError, TypeError):
            return None

    def _path(self, file_id: str, suffix: str) -> Path:
        return self.directory / f"{file_id}{suffix}"


def forget_all(directory: Path) -> int:
    """Remove every file waiting in ``directory``, expired or not (a purge: which review
    year an export's names belong to is not known here); how many. A link sent already
    then answers as gone; its person asks for the file again."""
    if not directory.is_dir():
        return 0
    removed = set()
    for file_id, _suffix, path in _written(directory):
        path.unlink(missing_ok=True)
        removed.add(file_id)
    return len(removed)


def _written(directory: Path) -> Iterator[tuple[str, str, Path]]:
    """(file id, suffix, path) of what a store wrote in ``directory``: the folder may be
    shared with anything else, which is left alone."""
    for path in list(directory.iterdir()):
        file_id, dot, suffix = path.name.partition(".")
        if FILE_ID.fullmatch(file_id) and dot + suffix in (DATA, META, TAKEN):
            yield file_id, dot + suffix, path


def _write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
