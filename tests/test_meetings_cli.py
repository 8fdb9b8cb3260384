"""`rasoat meetings add|list|cancel|import|remind` on both databases, with the clock given."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.admin import AdminError
from bot.cli import build_parser, dispatch
from bot.settings import Settings
from storage.imports.errors import ImportFailed
from storage.models import Meeting, MeetingInvitation, MeetingStatus
from tests.conftest import Database
from tests.test_meetings import seed

NOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


async def run(settings: Settings, *argv: str) -> None:
    assert await dispatch(settings, build_parser().parse_args(list(argv)), now=NOW) == 0


async def test_add_list_remind_and_cancel(
    database: Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(database)
    await run(
        settings,
        "meetings",
        "add",
        "--when",
        "15/12/2026 08:00",
        "--place",
        "Hội trường UBND xã",
        "--villages",
        "87-MH-A1, 87-MH-A2",
        "--categories",
        "hộ nghèo, mới thoát nghèo",
    )
    assert capsys.readouterr().out == "Đã lên lịch buổi đối thoại số 1; 3 hộ được mời.\n"
    async with database.sessions() as session:
        meeting = (await session.scalars(select(Meeting))).one()
        assert meeting.starts_at == datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
        assert meeting.categories == ["poor", "escaped"]
    await run(settings, "meetings", "list")
    assert capsys.readouterr().out == (
        "1\t08:00 15/12/2026\tHội trường UBND xã\tẤp 1, Ấp 2\tđã lên lịch\tđã mời 0/3\n"
    )
    await run(settings, "meetings", "remind")
    assert capsys.readouterr().out == "Đã đưa 0 tin nhắc vào hàng gửi.\n"
    await run(settings, "meetings", "cancel", "1")
    assert (
        capsys.readouterr().out
        == "Đã huỷ buổi đối thoại số 1; 0 cộng tác viên sẽ nhận thông báo.\n"
    )
    async with database.sessions() as session:
        assert (await session.scalars(select(Meeting))).one().status is MeetingStatus.CANCELLED
    with pytest.raises(AdminError) as refused:
        await run(settings, "meetings", "cancel", "1")
    assert refused.value.render("vi") == "Không có buổi đối thoại số 1 đang chờ tổ chức."


async def test_bad_input_is_refused_in_vietnamese(database: Database, settings: Settings) -> None:
    await seed(database)
    base = ["meetings", "add", "--place", "Xã", "--categories", "poor"]
    with pytest.raises(AdminError) as refused:
        await run(settings, *base, "--when", "mai", "--villages", "87-MH-A1")
    assert refused.value.render("vi").startswith("Chưa hiểu ngày giờ này.")
    with pytest.raises(AdminError) as refused:
        await run(settings, *base, "--when", "15/12 08:00", "--villages", "87-XX")
    assert refused.value.render("vi").startswith("mã ấp không có: 87-XX")


async def test_import_is_all_or_nothing(
    database: Database, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(database)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Ngày giờ,Địa điểm,Mã ấp,Nhóm hộ\n"
        "15/12/2026 08:00,Hội trường,87-MH-A1,hộ nghèo\n"
        "31/02/2026 08:00,Nhà văn hoá,87-MH-A9,giàu\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as failed:
        await run(settings, "meetings", "import", str(bad))
    rendered = [e.render("vi") for e in failed.value.errors]
    assert len(rendered) == 3 and all(line.startswith("Dòng 3") for line in rendered)
    async with database.sessions() as session:
        assert (await session.scalars(select(Meeting))).all() == []

    good = tmp_path / "good.csv"
    good.write_text(
        "Ngày giờ,Địa điểm,Mã ấp,Nhóm hộ,Nhóm hỗ trợ\n"
        '15/12/2026 08:00,Hội trường,87-MH-A1,"hộ nghèo, cận nghèo",\n'
        "16/12/2026 14:00,Nhà văn hoá,87-MH-A2,poor,no_job\n",
        encoding="utf-8",
    )
    await run(settings, "meetings", "import", str(good))
    assert capsys.readouterr().out == "Đã lên lịch 2 buổi đối thoại.\n"
    async with database.sessions() as session:
        meetings = (await session.scalars(select(Meeting).order_by(Meeting.id))).all()
        assert [m.support_groups for m in meetings] == [[], ["no_job"]]
        invited = (await session.scalars(select(MeetingInvitation))).all()
        # Ấp 1: A1-01 (poor) and A1-02 (near-poor); Ấp 2's poor household has no member
        # classified in no_job, so the second meeting invites nobody.
        assert len(invited) == 2
