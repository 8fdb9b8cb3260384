"""`rasoat report --period …` in a fresh process: the text, the two files, and clear
messages for a bad period or area."""

from __future__ import annotations

import stat
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import Database
from tests.reports.test_storage import _seed
from tests.test_settings_and_cli import rasoat


async def test_the_quarter_from_the_command_line(database: Database, tmp_path: Path) -> None:
    await _seed(database)
    out = tmp_path / "out"
    done = rasoat(
        "report", "--period", "2026-Q4", "--area", "87-MH", "--output", str(out), env=database.env()
    )
    assert done.returncode == 0, done.stderr
    assert "quý 4/2026 — Xã Mỹ Hòa" in done.stdout
    assert "1 người đã có việc làm; 1 người đã đi học nghề" in done.stdout
    assert "1 cuộc; mời 3 hộ, 2 hộ tham dự" in done.stdout
    xlsx, docx = out / "bao-cao-87-MH-2026-Q4.xlsx", out / "bao-cao-87-MH-2026-Q4.docx"
    assert sorted(out.iterdir()) == [docx, xlsx]
    assert stat.S_IMODE(xlsx.stat().st_mode) == 0o600
    names = load_workbook(xlsx).sheetnames
    assert names == [
        "Hỗ trợ theo nhóm",
        "Hỗ trợ theo dự án",
        "Hỗ trợ theo ấp",
        "Kết quả và đối thoại",
    ]

    bad = rasoat("report", "--period", "2026-Q5", env=database.env())
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "Quý 5 không có: ghi quý từ 1 đến 4." in bad.stderr
    unknown = rasoat("report", "--period", "2026", "--area", "99-XX", env=database.env())
    assert unknown.returncode == 2 and "Không có địa bàn mã “99-XX”." in unknown.stderr
