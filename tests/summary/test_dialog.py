"""/summary through the platform-neutral Conversation: scoping by role, arguments, buttons,
the chart, refusals and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.admin import create_invites
from bot.conversation import Conversation
from bot.dialogs.summary import Request, parse_args, summary_cli
from bot.messages import Choices, Document, Outgoing, Text
from bot.settings import Settings
from storage.models import AuditEntry, HouseholdCategory, Role
from tests.conftest import INVITE_KEY, Database
from tests.helpers import message, press, seed_areas
from tests.summary.population import Population

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", Request("", None, False)),
        ("2025", Request("", 2025, False)),
        ("Ấp 1 2024 theo ấp", Request("Ấp 1", 2024, True)),
        ("chi tiết 87-MH", Request("87-MH", None, True)),
        ("my hoa  Chi Tiet 2026", Request("my hoa", 2026, True)),
        ("ap 2025 theo ap", Request("ap", 2025, True)),
        ("villages xã 12", Request("xã 12", None, True)),
    ],
)
def test_arguments(args: str, expected: Request) -> None:
    assert parse_args(args) == expected


@pytest.fixture
async def conversation(database: Database, settings: Settings) -> Conversation:
    from storage.uow import UnitOfWork
    from tests.summary.population import add_population

    await seed_areas(database.sessions)
    async with UnitOfWork(database.sessions) as uow:
        villages = [(await uow.areas.by_code(f"87-MH-A{n}")) for n in (1, 2)]
        village_ids = [v.id for v in villages if v is not None]
    await add_population(
        database.sessions,
        village_ids,
        2026,
        {
            HouseholdCategory.POOR: Population(
                households=6, children=3, unable=2, statuses={"employed": 4, "looking": 3}
            ),
            HouseholdCategory.NEAR_POOR: Population(households=4, statuses={"no_job": 5}),
        },
    )
    return Conversation(database.sessions, settings, clock=lambda: NOW)


async def register(
    conversation: Conversation, database: Database, user_id: str, role: Role, area: str
) -> None:
    [invite] = await create_invites(database.sessions, role, area, days=7, now=NOW, key=INVITE_KEY)
    await conversation.handle(message(f"/start {invite.code}", user_id=user_id))


def text_of(replies: Sequence[Outgoing]) -> str:
    return "\n".join(r.text for r in replies if isinstance(r, Text | Choices))


async def audit(database: Database, action: str) -> list[AuditEntry]:
    async with database.sessions() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows)


async def test_supervisor_sees_their_commune_with_chart_and_button(
    conversation: Conversation, database: Database
) -> None:
    await register(conversation, database, "1", Role.SUPERVISOR, "87-MH")
    replies = await conversation.handle(message("/summary", user_id="1"))
    text = text_of(replies)
    assert text.startswith("Kết quả rà soát hộ nghèo, hộ cận nghèo năm 2026: Xã Mỹ Hòa")
    assert "a) Tổng số hộ nghèo: 06 hộ, với 12 nhân khẩu (trong đó, có 09 người nghèo" in text
    assert "trên địa bàn xã còn 03 người" in text
    [chart] = [r for r in replies if isinstance(r, Document)]
    assert chart.filename == "viec-lam-87-MH-2026.png"
    assert chart.content.startswith(b"\x89PNG")
    [menu] = [r for r in replies if isinstance(r, Choices)]
    [button] = menu.choices
    villages = await conversation.handle(press(button.data, user_id="1"))
    lines = text_of(villages).splitlines()
    assert lines[1] == "Theo từng địa bàn trực thuộc:"
    assert lines[2].startswith("• Ấp 1: hộ nghèo 03 (—), hộ cận nghèo 02 (—)")
    # A child area by accent-free name, a year, and the breakdown asked for inline.
    child = text_of(await conversation.handle(message("/summary ap 2 2026", user_id="1")))
    assert "năm 2026: Ấp 2" in child
    entries = await audit(database, "summary.viewed")
    assert [(e.entity_id, e.details["villages"]) for e in entries] == [
        ("87-MH", False),
        ("87-MH", True),
        ("87-MH-A2", False),
    ]


async def test_out_of_scope_is_refused_and_audited(
    conversation: Conversation, database: Database
) -> None:
    await register(conversation, database, "1", Role.SUPERVISOR, "87-MH")
    await register(conversation, database, "2", Role.COLLABORATOR, "87-MH-A1")
    refused = text_of(await conversation.handle(message("/summary 87", user_id="1")))
    assert refused.startswith("Bạn không có quyền xem số liệu của Tỉnh Đồng Tháp (87)")
    assert "Xã Mỹ Hòa (87-MH)" in refused
    own = text_of(await conversation.handle(message("/summary", user_id="2")))
    assert "năm 2026: Ấp 1" in own
    sibling = text_of(await conversation.handle(message("/summary Ấp 2", user_id="2")))
    assert sibling.startswith("Bạn không có quyền xem số liệu của Ấp 2")
    # A forged button for the province is refused just the same.
    async with database.sessions() as session:
        from storage.models import Area

        province = await session.scalar(select(Area.id).where(Area.code == "87"))
    forged = await conversation.handle(press(f"sm:{province}:2026:s", user_id="2"))
    assert text_of(forged).startswith("Bạn không có quyền")
    refusals = await audit(database, "scope.refused")
    assert [(e.entity, e.entity_id) for e in refusals] == [
        ("area", "87"),
        ("area", "87-MH-A2"),
        ("area", "87"),
    ]
    unknown = text_of(await conversation.handle(message("/summary Ấp 9", user_id="1")))
    assert unknown.startswith("Không tìm thấy địa bàn “Ấp 9”")


async def test_admin_sees_everything_with_the_breakdown(
    conversation: Conversation, database: Database
) -> None:
    await register(conversation, database, "9", Role.ADMIN, "87")
    replies = await conversation.handle(message("/summary 87 theo xã", user_id="9"))
    text = text_of(replies)
    assert "năm 2026: Tỉnh Đồng Tháp" in text
    assert "• Xã Mỹ Hòa: hộ nghèo 06 (—), hộ cận nghèo 04 (—)" in text
    # Several matches: one button each.
    picks = await conversation.handle(message("/summary ấp", user_id="9"))
    [menu] = [r for r in picks if isinstance(r, Choices)]
    assert [c.label for c in menu.choices] == ["Ấp 1 (87-MH-A1)", "Ấp 2 (87-MH-A2)"]


async def test_cli(conversation: Conversation, database: Database) -> None:
    text = await summary_cli(database.sessions, "87-MH", 2026, True, "en", current_year=2026)
    assert text.startswith("Review of poor and near-poor households, 2026: Xã Mỹ Hòa")
    assert "• Ấp 1: poor 3 (—)" in text


def test_area_names_are_found_forgivingly() -> None:
    from bot.dialogs.summary import find_areas
    from exports.stats import AreaNode

    nodes = [
        AreaNode(1, "87", "Tỉnh Đồng Tháp", "tỉnh", None, None),
        AreaNode(2, "87-MH", "Xã Mỹ Hòa", "xã", 1, None),
        AreaNode(3, "87-MH-A1", "Ấp 1", "ấp", 2, None),
        AreaNode(4, "87-MH-A10", "Ấp 10", "ấp", 2, None),
        AreaNode(5, "87-TM", "Xã Tháp Mười", "xã", 1, None),
    ]

    def codes(query: str) -> list[str]:
        return [node.code for node in find_areas(nodes, query)]

    assert codes("87-mh") == ["87-MH"]
    assert codes("my hoa") == ["87-MH"]
    assert codes("XÃ MỸ HÒA") == ["87-MH"]
    assert codes("ấp 1") == ["87-MH-A1"]
    assert codes("ap") == ["87-MH-A1", "87-MH-A10"]
    assert codes("thap") == ["87", "87-TM"]
    assert codes("thap m") == ["87-TM"]
    assert codes("dong thap") == ["87"]
    assert codes("khong co") == []
