"""Bad settings stop the program with one clear line and exit code 2; tokens never leak."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from storage.models import Role
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.helpers import seed_areas

ROOT = Path(__file__).resolve().parent.parent
SECRET_TOKEN = "987654:SUPER-SECRET-TOKEN-VALUE"


def rasoat(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, **kw: object):
    """Run the real console entry point in a fresh process."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "RASOAT_", "WEBHOOK_"))
    }
    # The tests' server key (see tests/conftest.py), so invites match and no key file is made.
    full_env["RASOAT_SECRET_KEY"] = INVITE_KEY.decode()
    # Nor is the form's check remembered in the working copy (see tests/conftest.py).
    full_env["RASOAT_CACHE_DIR"] = os.environ["RASOAT_CACHE_DIR"]
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=60,
        **kw,  # type: ignore[call-overload]
    )


def test_defaults(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./data/rasoat.db"
    assert settings.locale == "vi"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.reference_date == "year-end"
    assert settings.telegram_api_url == "https://api.telegram.org"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("RASOAT_LOCALE", "fr", "RASOAT_LOCALE"),
        ("RASOAT_TIMEZONE", "Mars/Olympus", "RASOAT_TIMEZONE"),
        ("RASOAT_REFERENCE_DATE", "31/12", "RASOAT_REFERENCE_DATE"),
        ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL"),
    ],
)
def test_invalid_setting_names_the_variable(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=needle):
        load_settings()


def test_plain_database_schemes_are_accepted(clean_env: None) -> None:
    assert load_settings(DATABASE_URL="postgresql://u@h/db").database_url.startswith(
        "postgresql+asyncpg://"
    )
    assert load_settings(DATABASE_URL="sqlite:///x.db").database_url.startswith(
        "sqlite+aiosqlite://"
    )


def test_cli_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    result = rasoat("db", "upgrade", env={"RASOAT_LOCALE": "fr"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "RASOAT_LOCALE" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_run_without_token_exits_2(tmp_path: Path) -> None:
    result = rasoat("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_is_never_printed(tmp_path: Path) -> None:
    # An unreachable API server makes the bot log its failure; the token must not appear.
    env = {
        "TELEGRAM_BOT_TOKEN": SECRET_TOKEN,
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "RASOAT_LOCALE": "xx",
    }
    result = rasoat("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert SECRET_TOKEN not in result.stdout + result.stderr
    assert "SUPER-SECRET" not in result.stdout + result.stderr


def test_db_upgrade_creates_the_default_sqlite_file(tmp_path: Path) -> None:
    result = rasoat("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "rasoat.db").exists()


async def test_invites_create_prints_code_and_deep_link(database: Database) -> None:
    await seed_areas(database.sessions)
    env = {**database.env(), "TELEGRAM_BOT_USERNAME": "xa_my_hoa_bot"}
    result = rasoat(
        "invites", "create", "--role", "collaborator", "--area", "87-MH-A1", "--count", "2", env=env
    )
    assert result.returncode == 0, result.stderr
    codes = re.findall(r"Mã mời: ([A-Z0-9]{8})", result.stdout)
    assert len(codes) == 2 and codes[0] != codes[1]
    assert f"https://t.me/xa_my_hoa_bot?start={codes[0]}" in result.stdout
    async with UnitOfWork(database.sessions) as uow:
        invite = await uow.invites.by_code(codes[1], INVITE_KEY)
        assert invite is not None and invite.role is Role.COLLABORATOR


async def test_invites_create_rejects_bad_role_and_area(database: Database) -> None:
    await seed_areas(database.sessions)
    bad_role = rasoat("invites", "create", "--role", "boss", "--area", "87", env=database.env())
    assert bad_role.returncode == 2 and "Vai trò 'boss'" in bad_role.stderr
    bad_area = rasoat(
        "invites", "create", "--role", "supervisor", "--area", "99", env=database.env()
    )
    assert bad_area.returncode == 2 and "99" in bad_area.stderr
    assert "Traceback" not in bad_role.stderr + bad_area.stderr


async def test_users_add(database: Database) -> None:
    await seed_areas(database.sessions)
    args = ["users", "add", "--id", "5001", "--name", "Lê Thị Hoa", "--role", "supervisor"]
    result = rasoat(*args, "--area", "87-MH", env=database.env())
    assert result.returncode == 0, result.stderr
    again = rasoat(*args, "--area", "87-MH", env=database.env())
    assert again.returncode == 2 and "đã tồn tại" in again.stderr
    async with UnitOfWork(database.sessions) as uow:
        user = await uow.users.by_platform_id("telegram", "5001")
        assert user is not None and user.role is Role.SUPERVISOR
        assert [area.code for area in user.areas] == ["87-MH"]


async def test_roster_import_errors_change_nothing(database: Database, tmp_path: Path) -> None:
    await seed_areas(database.sessions)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "mã hộ,mã ấp,chủ hộ,phân loại,họ tên thành viên,giới tính,ngày sinh,quan hệ với chủ hộ\n"
        "H1,87-MH-A1,Lê Văn Tám,hộ nghèo,Lê Văn Tám,nam,1970,chủ hộ\n"
        "H2,AP9,Trần Thị Chín,hộ giàu,Trần Thị Chín,nữ,2099,chủ hộ\n",
        encoding="utf-8",
    )
    result = rasoat("roster", "import", str(roster), "--year", "2026", env=database.env())
    assert result.returncode == 1
    assert "Dòng 3" in result.stderr and "AP9" in result.stderr
    assert "chưa nhập gì" in result.stderr and "Traceback" not in result.stderr
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.households.count() == 0

    good = tmp_path / "good.csv"
    good.write_text("\n".join(roster.read_text("utf-8").splitlines()[:2]) + "\n", "utf-8")
    first = rasoat("roster", "import", str(good), "--year", "2026", env=database.env())
    again = rasoat("roster", "import", str(good), "--year", "2026", env=database.env())
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.households.count() == 1


async def test_responses_import_from_the_cli(database: Database, tmp_path: Path) -> None:
    from tests.imports.responses_files import HouseholdData, kobo_export
    from tests.imports.test_responses import H001_MEMBERS, HOUSE
    from tests.interview_driver import HOUSEHOLD_CODE, seed_household

    await seed_areas(database.sessions)
    await seed_household(database.sessions, 2026)
    data = HouseholdData(HOUSEHOLD_CODE, {**HOUSE, "member_count": 5}, list(H001_MEMBERS))
    path = kobo_export(tmp_path / "giay.xlsx", [data])
    args = ("responses", "import", str(path), "--year", "2026")
    first = rasoat(*args, env=database.env())
    assert first.returncode == 0, first.stderr
    again = rasoat(*args, env=database.env())
    assert again.returncode == 0, again.stderr
    missing = rasoat("responses", "import", str(tmp_path / "none.xlsx"), env=database.env())
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    async with UnitOfWork(database.sessions) as uow:
        household = await uow.households.by_code(HOUSEHOLD_CODE, 2026)
        assert household is not None
        interview = await uow.interviews.latest_for_household(household.id)
        assert interview is not None and interview.source == "import:giay.xlsx"
        results = await uow.classifications.current_for(interview)
        assert len(results) == 6  # five members and the household, classified at import


async def test_summary_and_export_from_the_cli(database: Database, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from storage.models import InterviewStatus
    from tests.exports.data import Planned, insert_households

    await seed_areas(database.sessions)
    done = InterviewStatus.COMPLETED
    await insert_households(
        database.sessions,
        2026,
        [Planned("HH-001", "87-MH-A1", 0, done, None), Planned("HH-002", "87-MH-A2", 1, done)],
    )
    stats = tmp_path / "so-lieu.csv"
    stats.write_text("Mã địa bàn,Năm,Tổng số hộ\n87-MH,2026,3520\n87-MH,2025,3500\n", "utf-8")
    imported = rasoat("stats", "import", str(stats), env=database.env())
    assert imported.returncode == 0, imported.stderr

    summary = rasoat("summary", "--area", "87-MH", "--year", "2026", env=database.env())
    assert summary.returncode == 0, summary.stderr
    assert "a) Tổng số hộ nghèo" in summary.stdout and "Xã Mỹ Hòa" in summary.stdout
    unknown = rasoat("summary", "--area", "99-XX", env=database.env())
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "rasoat summary --area 87" in unknown.stderr and "/summary" not in unknown.stderr
    rebuilt = rasoat("stats", "rebuild", env=database.env())
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert re.fullmatch(r"Đã tính lại số liệu thống kê của \d+ thành viên\.\n", rebuilt.stdout)

    out = tmp_path / "out"
    out.mkdir()
    args = ("export", "--area", "87-MH-A1", "--year", "2026", "--output", str(out))
    export = rasoat(*args, env=database.env())
    assert export.returncode == 0, export.stderr
    [xlsx] = out.glob("*.xlsx")
    workbook = load_workbook(xlsx, read_only=True)
    assert len(workbook.sheetnames) >= 4
    report = rasoat(*args, "--format", "docx", env=database.env())
    assert report.returncode == 0 and list(out.glob("*.docx")), report.stderr


async def test_summary_from_the_cli_takes_a_name_and_lists_namesakes(database: Database) -> None:
    from bot.admin import AdminError
    from bot.dialogs.summary import summary_cli
    from storage.models import Area

    await seed_areas(database.sessions)
    async with UnitOfWork(database.sessions) as uow:
        province = await uow.areas.by_code("87")
        assert province is not None
        for code in ("88-TT", "87-TT"):
            uow.areas.add(Area(code=code, name="Tân Thạnh", level="xã", parent_id=province.id))
        await uow.commit()

    by_name = await summary_cli(
        database.sessions, "xa my hoa", 2026, False, "vi", current_year=2026
    )
    assert "Xã Mỹ Hòa" in by_name
    by_code = await summary_cli(database.sessions, "88-TT", 2026, False, "vi", current_year=2026)
    assert "Tân Thạnh" in by_code

    with pytest.raises(AdminError) as ambiguous:
        await summary_cli(database.sessions, "Tân Thạnh", 2026, False, "vi", current_year=2026)
    assert ambiguous.value.render("vi") == (
        "“Tân Thạnh” khớp với 2 địa bàn: Tân Thạnh (87-TT), Tân Thạnh (88-TT). "
        "Hãy ghi mã địa bàn, ví dụ: rasoat summary --area 87-TT"
    )
    with pytest.raises(AdminError) as unknown:
        await summary_cli(database.sessions, "Phú Lợi", 2026, False, "vi", current_year=2026)
    assert unknown.value.render("vi") == (
        "Không tìm thấy địa bàn “Phú Lợi”. Hãy ghi mã hoặc tên địa bàn, ví dụ: "
        "rasoat summary --area 87"
    )


def test_run_with_a_wrong_report_schedule_says_so_at_start(tmp_path: Path) -> None:
    schedule = tmp_path / "lich.toml"
    schedule.write_text('[[recipients]]\narea = "87-MH"\nroles = ["admin"]\ncron = "0 7 * *"\n')
    result = rasoat("run", env={"RASOAT_REPORT_SCHEDULE": str(schedule)}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Tệp lịch gửi báo cáo (RASOAT_REPORT_SCHEDULE) không hợp lệ: recipients #1: cron '0 7 * *'"
    )
