"""Linking's decisions on plain values: who asks, the code typed and its person, the
account's wrong codes and whether the claim won. No database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.decisions import linking as core
from bot.decisions.linking import (
    Attach,
    Claim,
    CodeSeen,
    Decision,
    LockedOut,
    Person,
    Refuse,
    Store,
)
from bot.decisions.registration import Env
from bot.messages import Outgoing, Text
from locales.catalog import translate

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def menu(role: str, with_command_menu: bool) -> Sequence[Outgoing]:
    return [Text(f"MENU {role}")]


ENV = Env("vi", menu)
HOA = Person(7, "Hoa", "collaborator", active=True, platforms=("telegram",))
FRESH = CodeSeen(HOA, used=False, expires_at=NOW + timedelta(minutes=5))


def said(key: str, **params: object) -> Text:
    return Text(translate(key, "vi", **params))


def test_a_code_is_offered_for_ten_minutes_and_kept_hashed_by_the_shell() -> None:
    decision = core.offer(HOA, "K7PX3MQA", NOW, ENV)
    [text] = decision.replies
    assert isinstance(text, Text)
    assert "K7PX3MQA" in text.text and "/lienket K7PX3MQA" in text.text
    assert "10 phút" in text.text and "Đang dùng: Telegram." in text.text
    assert decision.effects == (Store("K7PX3MQA", NOW + timedelta(minutes=10)),)


def test_a_good_code_is_claimed_then_the_account_attached_and_the_person_shown_where_they_are() -> (
    None
):
    assert core.typed(0, FRESH, "zalo-bot", NOW, ENV) == Claim()
    decision = core.typed(0, FRESH, "zalo-bot", NOW, ENV, claimed=True)
    welcome = said(
        "linking.linked",
        name="Hoa",
        role="cộng tác viên",
        platform="Zalo",
        channels="Telegram, Zalo",
    )
    assert welcome.text.startswith("🔗 Đã liên kết: tài khoản Zalo này giờ là của Hoa")
    assert decision == Decision((welcome,), (Attach(7, moved=False),), then_where=True)


def test_a_claim_lost_to_another_account_a_moment_ago_is_a_used_code() -> None:
    decision = core.typed(0, FRESH, "zalo-bot", NOW, ENV, claimed=False)
    assert decision == Decision((said("linking.code_used"),), (Refuse("used"),))


@pytest.mark.parametrize(
    ("seen", "reason"),
    [
        (None, "unknown"),
        (CodeSeen(HOA, used=True, expires_at=NOW + timedelta(minutes=5)), "used"),
        (CodeSeen(HOA, used=False, expires_at=NOW), "expired"),
    ],
)
def test_wrong_codes_are_refused_and_counted(seen: CodeSeen | None, reason: str) -> None:
    decision = core.typed(0, seen, "zalo-bot", NOW, ENV)
    assert decision == Decision((said(f"linking.code_{reason}"),), (Refuse(reason),))  # type: ignore[arg-type]


def test_an_unknown_code_from_a_deactivated_account_is_told_it_is_deactivated() -> None:
    decision = core.typed(0, None, "zalo-bot", NOW, ENV, moving=True)
    assert decision == Decision((said("fallback.deactivated"),), (Refuse("unknown"),))


def test_a_locked_account_is_refused_whatever_it_types() -> None:
    decision = core.typed(5, FRESH, "zalo-bot", NOW, ENV)
    assert decision == Decision((said("registration.locked"),), (LockedOut(),))
    assert core.typed(4, FRESH, "zalo-bot", NOW, ENV) == Claim()


def test_a_second_account_on_a_platform_the_person_has_is_refused_and_nothing_replaced() -> None:
    decision = core.typed(0, FRESH, "telegram", NOW, ENV)
    assert decision == Decision((said("linking.platform_taken", platform="Telegram"),))
    [text] = decision.replies
    assert isinstance(text, Text) and "không có gì thay đổi" in text.text


def test_a_code_of_a_person_deactivated_since_links_nothing() -> None:
    gone = CodeSeen(
        Person(7, "Hoa", "collaborator", active=False, platforms=("telegram",)),
        used=False,
        expires_at=NOW + timedelta(minutes=5),
    )
    assert core.typed(0, gone, "zalo-bot", NOW, ENV) == Decision((said("linking.person_inactive"),))


def test_a_deactivated_persons_account_is_moved_to_the_codes_person() -> None:
    decision = core.typed(0, FRESH, "zalo-bot", NOW, ENV, moving=True, claimed=True)
    assert isinstance(decision, Decision)
    assert decision.effects == (Attach(7, moved=True),)


def test_an_account_of_someone_active_is_never_taken_over() -> None:
    lan = Person(9, "Lan", "supervisor", active=True, platforms=("zalo-bot",))
    decision = core.typed_by_member(lan, FRESH, "zalo-bot", ENV)
    assert decision == Decision(
        (said("linking.registered_elsewhere", name="Lan", platform="Zalo"),)
    )
    assert decision.effects == ()


def test_ones_own_code_typed_on_an_account_already_linked_says_so() -> None:
    both = Person(7, "Hoa", "collaborator", active=True, platforms=("telegram", "zalo-bot"))
    assert core.typed_by_member(both, FRESH, "zalo-bot", ENV) == Decision(
        (said("linking.already_yours"),)
    )


def test_any_platform_can_be_named_even_one_the_catalog_does_not_know() -> None:
    assert core.platform_name("zalo-oa", "vi") == "Zalo OA"
    assert core.platform_name("signal", "vi") == "signal"
    assert core.channel_list(("telegram", "zalo-bot"), "en") == "Telegram, Zalo"
