"""`rasoat chat --demo`, run as a real process and typed into like a newcomer would."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.test_settings_and_cli import rasoat

ROOT = Path(__file__).resolve().parent.parent


def invite_codes(output: str) -> dict[str, str]:
    codes = re.findall(r"/start ([A-Z0-9]{8})", output)
    assert len(codes) == 3, output
    return dict(zip(("collaborator", "supervisor", "staff"), codes, strict=True))


def chat(cwd: Path, lines: list[str], user: str) -> subprocess.CompletedProcess[str]:
    return rasoat("chat", "--demo", "--user", user, cwd=cwd, input="\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder where `rasoat chat --demo` ran once (loading the demo takes seconds) and what
    that first run printed; each test works on a copy of it."""
    folder = tmp_path_factory.mktemp("demo")
    first = chat(folder, ["/quit"], user="an")
    assert first.returncode == 0, first.stderr
    return folder, first.stdout


@pytest.fixture
def demo(loaded: tuple[Path, str], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder, printed = loaded
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    return tmp_path, invite_codes(printed)


def test_newcomer_registers_and_reaches_the_main_menu(demo: tuple[Path, dict[str, str]]) -> None:
    tmp_path, codes = demo

    session = chat(tmp_path, [f"/start {codes['collaborator']}"], user="an")
    assert session.returncode == 0, session.stderr
    assert "cộng tác viên của Ấp 1" in session.stdout
    assert "Danh mục chính (cộng tác viên)" in session.stdout
    [number] = re.findall(r"(\d+)\. Thông tin của tôi", session.stdout)
    # Typing a button's number picks it, in a later run (the registration was stored).
    session = chat(tmp_path, ["/menu", number, "/help"], user="an")
    out = session.stdout
    assert "Vai trò: cộng tác viên" in out
    assert "/whoami" in out
    assert "Traceback" not in session.stderr


def test_demo_loads_once_and_other_roles_can_play(demo: tuple[Path, dict[str, str]]) -> None:
    tmp_path, codes = demo
    again = chat(tmp_path, [f"/start {codes['supervisor']}"], user="binh")
    assert "giám sát viên của Xã Mỹ Hòa" in again.stdout
    with sqlite3.connect(tmp_path / "data" / "demo.db") as db:
        [households] = db.execute("select count(*) from households").fetchone()
        [done] = db.execute("select count(*) from interviews where status='completed'").fetchone()
    # 36 households, of which those outside the collaborator's village are interviewed.
    assert (households, done) == (36, 27)


def test_unregistered_terminal_user_is_told_how_to_join(
    demo: tuple[Path, dict[str, str]],
) -> None:
    session = chat(demo[0], ["xin chào"], user="lan")
    assert "Bạn chưa được đăng ký" in session.stdout
