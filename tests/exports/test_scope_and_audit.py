"""Who sees what, clear refusals, and an audit entry for every export and refusal."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEntry, User
from tests.conftest import Database
from tests.exports.conftest import Commune
from tests.exports.helpers import command, documents, table, texts, workbook


async def codes(commune: Commune, text: str, user_id: str) -> list[str]:
    [document] = documents(await commune.conversation.handle(command(text, user_id)))
    return [row["Mã hộ"] for row in table(workbook(document), "Hộ gia đình")]


async def audit(database: Database) -> list[tuple[str | None, str, str | None, dict]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(
                User.platform_user_id, AuditEntry.action, AuditEntry.entity_id, AuditEntry.details
            )
            .outerjoin(User, User.id == AuditEntry.actor_id)
            .where(AuditEntry.action.startswith("export."))
            .order_by(AuditEntry.id)
        )
        return [(who, action, area, details) for who, action, area, details in rows]


async def test_collaborator_sees_only_their_own_households(commune: Commune) -> None:
    assert await codes(commune, "/export", commune.collaborator) == [
        "HH-001",
        "HH-002",
        "HH-003",
        "HH-005",
    ]
    assert await codes(commune, "/export", commune.other_collaborator) == ["HH-004"]


async def test_collaborator_summary_counts_only_their_households(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/export", "c2")))
    rows = table(workbook(document), "Tổng hợp")
    near_poor = next(row for row in rows if row["Chỉ tiêu"] == "Tổng số hộ cận nghèo")
    poor = next(row for row in rows if row["Chỉ tiêu"] == "Tổng số hộ nghèo")
    assert (near_poor["Số lượng"], poor["Số lượng"]) == (1, 0)


async def test_supervisor_and_staff_see_their_areas(commune: Commune) -> None:
    assert await codes(commune, "/export", commune.supervisor) == ["HH-007", "HH-008"]
    staff = await codes(commune, "/export", commune.staff)
    assert staff == [f"HH-00{n}" for n in range(1, 9)]
    assert await codes(commune, "/export 87-MH-A2", commune.staff) == ["HH-007", "HH-008"]
    assert len(await codes(commune, "/export 87", commune.admin)) == 8


async def test_outside_scope_is_refused_and_audited(commune: Commune, database: Database) -> None:
    for user_id, area in (
        (commune.supervisor, "87-MH-A1"),
        (commune.collaborator, "87-MH-A2"),
        (commune.staff, "87"),
    ):
        replies = await commune.conversation.handle(command(f"/export {area}", user_id))
        assert not documents(replies)
        assert "không thuộc phạm vi của bạn" in texts(replies)
    replies = await commune.conversation.handle(command("/export XYZ", commune.staff))
    assert not documents(replies) and "XYZ" in texts(replies)
    entries = await audit(database)
    assert [(who, action, area) for who, action, area, _ in entries] == [
        ("s1", "export.refused", "87-MH-A1"),
        ("c1", "export.refused", "87-MH-A2"),
        ("k1", "export.refused", "87"),
        ("k1", "export.refused", "XYZ"),
    ]


async def test_collaborator_may_not_ask_for_the_report(commune: Commune) -> None:
    replies = await commune.conversation.handle(command("/report", commune.collaborator))
    assert not documents(replies)
    assert "không dành cho vai trò của bạn" in texts(replies)


async def test_every_export_is_audited(commune: Commune, database: Database) -> None:
    await commune.conversation.handle(command("/export 87-MH-A1 2026", commune.staff))
    await commune.conversation.handle(command("/export csv", commune.collaborator))
    await commune.conversation.handle(command("/report", commune.supervisor))
    entries = await audit(database)
    assert [(who, action, area) for who, action, area, _ in entries] == [
        ("k1", "export.xlsx", "87-MH-A1"),
        ("c1", "export.csv", "87-MH-A1"),
        ("s1", "export.docx", "87-MH-A2"),
    ]
    details = entries[0][3]
    assert details["year"] == 2026 and details["households"] == 6 and details["members"] == 14
    assert details["files"] == ["rasoat-87-MH-A1-2026.xlsx"]
    assert entries[1][3]["collaborator_only"] is True
