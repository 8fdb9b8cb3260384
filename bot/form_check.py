"""The form's check at every start, cheap when nothing it depends on changed.

Reading the workbook (pyxform and openpyxl, imported for it: about a second of CPU) is most
of what a short `rasoat` command costs. The check's verdict depends on the workbook's bytes
and on the code that reads and judges it (the forms package, the vocabulary, the database's
categories, :func:`bot.database.check_vocabulary`, the libraries that read a workbook) and
on nothing else: a check passed is remembered under a digest of them all, in a small file
of ``RASOAT_CACHE_DIR``. A digest not remembered (one byte of any of them changed) is
checked in full; a refusal is never remembered, so it is made, with the same message, at
every start until the workbook or the code is fixed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import forms.xlsform

log = logging.getLogger(__name__)

REMEMBERED = "form-check"
# The modules whose source decides the verdict, besides the workbook.
JUDGES = ("classification.vocabulary", "storage.models", "bot.database", __name__)
# Packages whose every module reads the workbook, and the libraries they read it with
# (an upgrade is seen by the files it installs).
READERS = ("forms",)
LIBRARIES = ("pyxform", "openpyxl")


def check_form(cache_dir: Path, check: Callable[[], None]) -> None:
    """``check()`` (which raises on a form it refuses), unless it passed on the same
    workbook and code before; remembered in ``cache_dir`` once it passes."""
    workbook = forms.xlsform.BUNDLED_FORM
    try:
        before = fingerprint(workbook, judged_sources())
    except OSError:
        check()  # the workbook unreadable: the check says so
        return
    remembered = cache_dir / REMEMBERED
    if _read(remembered) == before:
        return
    check()
    # The workbook edited while it was being checked: this verdict is the new bytes', not
    # those of the digest taken before.
    if fingerprint(workbook, judged_sources()) == before:
        _write(remembered, before)


def judged_sources() -> list[Path]:
    """The source files of the code that reads and judges the workbook."""
    files = [Path(str(sys.modules[name].__file__)) for name in JUDGES]
    for package in READERS:
        files += sorted(Path(str(sys.modules[package].__file__)).parent.glob("*.py"))
    return files


def fingerprint(workbook: Path, sources: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in (workbook, *sources):
        content = path.read_bytes()
        digest.update(f"{path.name}:{len(content)}:".encode())
        digest.update(content)
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        stat = os.stat(origin) if origin else None
        installed = (stat.st_mtime_ns, stat.st_size) if stat else None
        digest.update(f"{name}:{origin}:{installed}".encode())
    return digest.hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _write(path: Path, digest: str) -> None:
    """Written whole or not at all (another process may be reading it); a directory that
    cannot be written costs the full check at every start, nothing more."""
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(digest + "\n")
        os.replace(partial, path)
    except OSError as error:
        log.info("the form's check not remembered: %s", type(error).__name__)
        partial.unlink(missing_ok=True)
