"""`rasoat chat --demo`, run as a real process and typed into like a newcomer would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_settings_and_cli import rasoat

ROOT = Path(__file__).resolve().parent.parent


def invite_codes(output: str) -> dict[str, str]:
    codes = re.findall(r"/start ([A-Z0-9]{8})", output)
    assert len(codes) == 3, output
    return dict(zip(("collaborator", "supervisor", "staff"), codes, strict=True))


def chat(cwd: Path, lines: list[str], user: str) -> subprocess.CompletedProcess[str]:
    return rasoat("chat", "--demo", "--user", user, cwd=cwd, input="\n".join(lines) + "\n")


def test_newcomer_registers_and_reaches_the_main_menu(tmp_path: Path) -> None:
    first = chat(tmp_path, ["/quit"], user="an")
    assert first.returncode == 0, first.stderr
    codes = invite_codes(first.stdout)

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


def test_demo_loads_once_and_other_roles_can_play(tmp_path: Path) -> None:
    codes = invite_codes(chat(tmp_path, ["/quit"], user="an").stdout)
    again = chat(tmp_path, [f"/start {codes['supervisor']}"], user="binh")
    assert "giám sát viên của Xã Mỹ Hòa" in again.stdout
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3; c=sqlite3.connect('data/demo.db');"
            "print(c.execute('select count(*) from households').fetchone()[0],"
            "c.execute(\"select count(*) from interviews where status='completed'\")"
            ".fetchone()[0])",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    # 36 households, of which those outside the collaborator's village are interviewed.
    assert result.stdout.split() == ["36", "27"]


def test_unregistered_terminal_user_is_told_how_to_join(tmp_path: Path) -> None:
    session = chat(tmp_path, ["xin chào"], user="lan")
    assert "Bạn chưa được đăng ký" in session.stdout
