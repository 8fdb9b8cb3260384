"""/summary's decisions on plain values: an area tree in memory, who asks, what they typed
or pressed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.decisions import summary as core
from bot.decisions.summary import (
    AreaRef,
    Button,
    Reply,
    Request,
    Show,
    ShowVillages,
    Viewer,
)
from bot.messages import Choice, Choices, Notice, Text
from exports.stats import AreaNode, AreaTree
from locales.catalog import translate

# A province, a district, two communes, villages under the first.
TREE = AreaTree(
    [
        AreaNode(1, "87", "Tỉnh Đồng Tháp", "province", None, None),
        AreaNode(2, "87-TM", "Huyện Tháp Mười", "district", 1, None),
        AreaNode(3, "87-MH", "Xã Mỹ Hòa", "commune", 2, None),
        AreaNode(4, "87-TK", "Xã Thạnh Lợi", "commune", 2, None),
        AreaNode(5, "87-MH-A1", "Ấp 1", "village", 3, None),
        AreaNode(6, "87-MH-A2", "Ấp 2", "village", 3, None),
    ]
)
MY_HOA = AreaRef(3, "87-MH", "Xã Mỹ Hòa")
AP_1 = AreaRef(5, "87-MH-A1", "Ấp 1")
SUPERVISOR = Viewer(admin=False, areas=(MY_HOA,), locale="vi")
ADMIN = Viewer(admin=True, areas=(), locale="vi")
STALE = Reply((Notice(translate("fallback.stale_button", "vi")),))


def test_without_an_area_ones_own_is_shown() -> None:
    assert core.asked(Request("", None, False), 2025, TREE, SUPERVISOR) == Show(3, 2025, False)


def test_several_own_areas_are_offered_as_buttons_keeping_the_detail_asked() -> None:
    viewer = Viewer(admin=False, areas=(AP_1, AreaRef(6, "87-MH-A2", "Ấp 2")), locale="vi")
    decision = core.asked(Request("", None, True), 2024, TREE, viewer)
    assert decision == Reply(
        (
            Choices(
                "Chọn địa bàn để xem số liệu năm 2024:",
                (
                    Choice("Ấp 1 (87-MH-A1)", "sm:5:2024:v"),
                    Choice("Ấp 2 (87-MH-A2)", "sm:6:2024:v"),
                ),
            ),
        )
    )


def test_an_admin_with_no_area_is_offered_the_top_of_the_tree() -> None:
    assert core.asked(Request("", None, False), 2025, TREE, ADMIN) == Show(1, 2025, False)


def test_someone_with_no_area_is_told_so() -> None:
    nobody = Viewer(admin=False, areas=(), locale="vi")
    decision = core.asked(Request("", None, False), 2025, TREE, nobody)
    assert decision == Reply((Text(translate("summary.no_area", "vi")),))


def test_an_area_below_ones_own_is_shown_by_name_with_the_villages_asked() -> None:
    assert core.asked(Request("ap 2", 2023, True), 2023, TREE, SUPERVISOR) == Show(6, 2023, True)


def test_an_area_outside_ones_own_is_refused_and_named_for_the_audit() -> None:
    decision = core.asked(Request("87-TK", None, False), 2025, TREE, SUPERVISOR)
    assert isinstance(decision, Reply) and decision.refused == "87-TK"
    [text] = decision.replies
    assert text == Text(
        "Bạn không có quyền xem số liệu của Xã Thạnh Lợi (87-TK). "
        "Bạn chỉ xem được địa bàn được phân công: Xã Mỹ Hòa (87-MH)."
    )


def test_an_admin_sees_any_area() -> None:
    assert core.asked(Request("87-TK", None, False), 2025, TREE, ADMIN) == Show(4, 2025, False)


def test_an_unknown_area_gives_an_example_to_copy() -> None:
    decision = core.asked(Request("Hà Nội", None, False), 2025, TREE, SUPERVISOR)
    assert decision == Reply(
        (
            Text(
                "Không tìm thấy địa bàn “Hà Nội”. Hãy gõ mã hoặc tên địa bàn, "
                "ví dụ: /summary 87-MH 2025"
            ),
        )
    )


@pytest.mark.parametrize(
    ("data", "button"),
    [
        ("sm:5:2024:s", Button(5, 2024, False)),
        ("sm:5:2024:v", Button(5, 2024, True)),
        ("sm:5:1999:x", Button(5, 1999, False)),
        ("sm:5:2024", None),
        ("sm:5:2024:v:1", None),
        ("sm:x:2024:v", None),
        ("sm:5:24:v", None),
        ("sm:5:2024\n:v", None),
        ("hp:5:2024:v", None),
        ("", None),
    ],
)
def test_button_data_is_read_strictly(data: str, button: Button | None) -> None:
    assert core.parse_button(data) == button


def test_a_button_is_checked_again_against_the_tree_and_the_scope() -> None:
    assert core.pressed(Button(6, 2024, True), TREE, SUPERVISOR) == ShowVillages(6, 2024)
    assert core.pressed(Button(3, 2024, False), TREE, SUPERVISOR) == Show(3, 2024, False)
    assert core.pressed(Button(99, 2024, False), TREE, SUPERVISOR) == STALE
    refused = core.pressed(Button(2, 2024, False), TREE, SUPERVISOR)
    assert isinstance(refused, Reply) and refused.refused == "87-TM"


def test_a_viewer_sees_their_areas_and_everything_below() -> None:
    assert core.allowed(TREE, SUPERVISOR) == {3, 5, 6}
    assert core.allowed(TREE, ADMIN) is None


viewers = st.builds(
    Viewer,
    st.booleans(),
    st.lists(st.sampled_from([MY_HOA, AP_1, AreaRef(4, "87-TK", "Xã Thạnh Lợi")]), unique=True).map(
        tuple
    ),
    st.just("vi"),
)
words = st.sampled_from(["87", "87-MH", "ap", "ap 1", "my hoa", "thap", "2024", "chi tiết", "x"])


@given(st.lists(words, max_size=4).map(" ".join), viewers)
def test_whatever_is_asked_nothing_outside_the_scope_is_shown(args: str, viewer: Viewer) -> None:
    request = core.parse_args(args)
    decision = core.asked(request, request.year or 2025, TREE, viewer)
    scope = core.allowed(TREE, viewer)
    shown: list[int] = []
    if isinstance(decision, Show | ShowVillages):
        shown = [decision.node_id]
    elif isinstance(decision, Reply):
        for reply in decision.replies:
            if isinstance(reply, Choices):
                # Every button offered reads back as a button of an area the viewer may see.
                buttons = [core.parse_button(choice.data) for choice in reply.choices]
                assert all(b is not None and b.villages == request.villages for b in buttons)
                shown += [b.area_id for b in buttons if b is not None]
        if decision.refused is not None:
            assert scope is not None
    assert scope is None or set(shown) <= scope
