"""Registration's decisions on plain values: who is asking, the chat's wrong codes, the
invite found and whether its claim won."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.decisions import registration as core
from bot.decisions.registration import (
    Claim,
    Decision,
    Env,
    InviteSeen,
    LockedOut,
    LookUp,
    Member,
    Refuse,
    Register,
)
from bot.messages import Outgoing, Text
from locales.catalog import translate

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def menu(role: str, with_command_menu: bool) -> Sequence[Outgoing]:
    return [Text(f"MENU {role} {with_command_menu}")]


ENV = Env("vi", menu)
FRESH = InviteSeen("supervisor", "Xã Mỹ Hòa", used=False, expires_at=LATER)


def said(key: str, **params: object) -> Text:
    return Text(translate(key, "vi", **params))


@pytest.mark.parametrize(
    ("typed", "code"),
    [("k7px-3mqa", "K7PX3MQA"), (" K7PX 3MQA ", "K7PX3MQA"), ("", ""), ("--", "")],
)
def test_codes_are_read_the_way_people_type_them(typed: str, code: str) -> None:
    assert core.normalise_code(typed) == code


def test_a_registered_person_is_greeted_back_with_the_command_list() -> None:
    decision = core.start(Member("An", "collaborator"), "", ENV)
    assert decision == Decision(
        (said("registration.welcome_back", name="An"), Text("MENU collaborator True"))
    )


def test_a_registered_person_sending_a_code_is_told_and_nothing_is_looked_up() -> None:
    decision = core.start(Member("An", "admin"), "K7PX3MQA", ENV)
    assert decision == Decision((said("registration.already_registered"), Text("MENU admin False")))


def test_a_stranger_without_a_code_is_told_how_to_register() -> None:
    assert core.start(None, "", ENV) == Decision((said("registration.unknown_user"),))


def test_a_stranger_with_a_code_has_it_looked_up() -> None:
    assert core.start(None, "K7PX3MQA", ENV) == LookUp("K7PX3MQA")


def test_a_good_code_is_claimed_then_the_person_welcomed() -> None:
    assert core.check(0, FRESH, NOW, "An", ENV) == Claim()
    decision = core.check(0, FRESH, NOW, "An", ENV, claimed=True)
    welcome = said("registration.welcome", name="An", role="giám sát viên", area="Xã Mỹ Hòa")
    assert welcome.text == "Chào An! Bạn đã đăng ký là giám sát viên của Xã Mỹ Hòa."
    assert decision == Decision(
        (welcome, Text("MENU supervisor True")), (Register("An", "supervisor"),)
    )


def test_a_claim_lost_to_someone_else_a_moment_ago_is_a_used_code() -> None:
    decision = core.check(4, FRESH, NOW, "An", ENV, claimed=False)
    assert decision == Decision((said("registration.code_used"),), (Refuse("used"),))


@pytest.mark.parametrize(
    ("invite", "reason"),
    [
        (None, "unknown"),
        (InviteSeen("collaborator", "Ấp 1", used=True, expires_at=LATER), "used"),
        (InviteSeen("collaborator", "Ấp 1", used=False, expires_at=NOW), "expired"),
        (InviteSeen("collaborator", "Ấp 1", used=True, expires_at=NOW), "used"),
    ],
)
def test_a_wrong_code_is_refused_and_counted(
    invite: InviteSeen | None, reason: core.Reason
) -> None:
    decision = core.check(4, invite, NOW, "An", ENV)
    assert decision == Decision((said(f"registration.code_{reason}"),), (Refuse(reason),))


@pytest.mark.parametrize("invite", [None, FRESH])
def test_a_locked_chat_is_refused_whatever_the_code_and_not_counted_again(
    invite: InviteSeen | None,
) -> None:
    decision = core.check(5, invite, NOW, "An", ENV)
    assert decision == Decision((said("registration.locked"),), (LockedOut(),))


def test_the_name_is_the_platforms_else_the_id() -> None:
    assert core.display_name("An", "111") == "An"
    assert core.display_name("", "111") == "111"


invites = st.one_of(
    st.none(),
    st.builds(
        InviteSeen,
        st.sampled_from(["collaborator", "supervisor", "commune_staff", "admin"]),
        st.sampled_from(["Ấp 1", "Xã Mỹ Hòa"]),
        st.booleans(),
        st.sampled_from([NOW - timedelta(seconds=1), NOW, NOW + timedelta(seconds=1)]),
    ),
)


@given(st.integers(min_value=0, max_value=9), invites, st.sampled_from([None, True, False]))
def test_a_code_is_welcomed_only_unlocked_claimable_and_claimed(
    failures: int, invite: InviteSeen | None, claimed: bool | None
) -> None:
    decision = core.check(failures, invite, NOW, "An", ENV, claimed=claimed)
    claimable = invite is not None and not invite.used and invite.expires_at > NOW
    if failures >= core.WRONG_CODES_ALLOWED:
        assert isinstance(decision, Decision) and decision.effects == (LockedOut(),)
    elif claimable and claimed is None:
        assert decision == Claim()
    else:
        assert isinstance(decision, Decision)
        [effect] = decision.effects
        assert isinstance(effect, Register) == (claimable and claimed is True)
        assert isinstance(effect, Refuse) == (not claimable or claimed is False)
        assert decision.replies
