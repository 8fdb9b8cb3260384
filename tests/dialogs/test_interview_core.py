"""The interview dialog's decisions, on plain values: no database, no channel.

A small in-memory shell applies each decision the way ``bot.dialogs.interview`` writes it
(the cursor saved, answers recorded, the status set), so whole interviews and thousands of
random turns run in seconds. The questions expected come from the hand-written scripts of
``tests.interview_driver``, not from the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.decisions import interview as core
from bot.decisions.interview import (
    Close,
    Commanded,
    Cursor,
    Decision,
    Env,
    HouseholdInfo,
    Mode,
    Pressed,
    Save,
    Snapshot,
    Typed,
)
from bot.interview.session import decoded_prefill, plan_of, roster_answers
from bot.messages import Choices, Notice, Outgoing, Text
from classification import rules_for
from forms import HOUSEHOLD_CODE, load_bundled_form, set_answer
from forms.questionnaire import Questionnaire
from locales.catalog import translate
from tests import interview_driver as script

FORM = load_bundled_form()
TODAY = date(2026, 11, 30)
RULES = rules_for(2026, None)
INTERVIEW = 41
MENU = Text("MENU")


def roster() -> dict[str, Any]:
    members = []
    for name, sex, birth, relation in script.ROSTER:
        member: dict[str, Any] = {"name": name, "sex": sex, "relation": relation}
        if isinstance(birth, date):
            member |= {"birth_known": "full_date", "birth_date": birth.isoformat()}
        else:
            member |= {"birth_known": "year_only", "birth_year": birth}
        members.append(member)
    return {"category": "poor", "member_count": len(members), "members": members}


def env(locale: str = "vi") -> Env:
    return Env(
        locale=locale,
        rules=RULES,
        today=TODAY,
        menu=lambda: [MENU],
        roster_answers=lambda prefill: roster_answers(FORM, dict(prefill)),
    )


def questionnaire(prefill: Mapping[str, Any]) -> Questionnaire:
    suggested = set_answer(decoded_prefill(FORM, dict(prefill)), (HOUSEHOLD_CODE,), "HH-1")
    answers = set_answer({}, (HOUSEHOLD_CODE,), "HH-1")
    return Questionnaire.start(plan_of(FORM), answers, today=TODAY, prefill=suggested)


@dataclass
class Shell:
    """Stands for the database: applies decisions as bot.dialogs.interview writes them."""

    cursor: Cursor | None
    snapshot: Snapshot
    env: Env = field(default_factory=env)
    closed: Close | None = None
    decisions: list[Decision] = field(default_factory=list)

    @classmethod
    def new(cls) -> Shell:
        prefill = roster()
        snapshot = Snapshot(
            interview_id=INTERVIEW,
            status=core.IN_PROGRESS,
            step=0,
            household=HouseholdInfo("HH-1", script.ROSTER[0][0], "poor"),
            prefill=prefill,
            questionnaire=questionnaire(prefill),
            rows={},
        )
        shell = cls(None, snapshot)
        shell.apply(core.started(snapshot, shell.env))
        return shell

    def apply(self, decision: Decision) -> list[Outgoing]:
        self.decisions.append(decision)
        snapshot = self.snapshot
        for effect in decision.effects:
            if isinstance(effect, core.Record):
                assert dict(effect.before_rows) == dict(snapshot.rows)
                rows = dict(snapshot.rows)
                rows.update(effect.write)
                for key in effect.delete:
                    del rows[key]
                assert rows == dict(effect.after_rows) == dict(effect.after.rows())
                snapshot = replace(
                    snapshot, questionnaire=effect.after, rows=rows, step=snapshot.step + 1
                )
            elif isinstance(effect, core.SetPrefill):
                snapshot = replace(snapshot, prefill=effect.prefill)
            elif isinstance(effect, core.SetStatus):
                snapshot = replace(snapshot, status=effect.status)
        self.snapshot = snapshot
        if isinstance(decision.save, Save):
            assert decision.save.cursor.interview_id == INTERVIEW
            self.cursor = decision.save.cursor
        elif isinstance(decision.save, Close):
            self.cursor, self.closed = None, decision.save
        return list(decision.replies)

    def send(self, event: core.Event) -> list[Outgoing]:
        assert self.cursor is not None, "the dialog is closed"
        return self.apply(core.decide(self.cursor, event, self.snapshot, self.env))

    def keyboard(self) -> Choices:
        [*_, last] = self.decisions[-1].replies
        assert isinstance(last, Choices), last
        return last

    def press(self, label: str) -> list[Outgoing]:
        """Press the button whose label shows ``label``."""
        found = [c.data for c in self.keyboard().choices if label in c.label]
        assert len(found) == 1, (label, self.keyboard().choices)
        verb, _, rest = found[0].partition(":")
        interview_id, *args = rest.split(":")
        assert int(interview_id) == INTERVIEW
        return self.send(Pressed(verb, tuple(args)))

    def asked(self) -> str:
        """The question now shown: the last message's text."""
        [*_, last] = self.decisions[-1].replies
        assert isinstance(last, Text | Choices), last
        return last.text


def answer(shell: Shell, wanted: str | list[str] | script.Typed) -> list[Outgoing]:
    if isinstance(wanted, script.Typed):
        return shell.send(Typed(wanted.text))
    if isinstance(wanted, list):
        for label in wanted:
            shell.press(label)
        return shell.press("Xong")
    return shell.press(wanted)


def walk(shell: Shell) -> list[Outgoing]:
    """The scripted household from the roster's confirmation to the end."""
    replies = shell.press("Đúng")
    for members, expected in [(None, script.HOUSEHOLD_SCRIPT), *enumerate(script.MEMBER_SCRIPTS)]:
        for piece, wanted in expected:
            assert piece.lower() in shell.asked().lower(), (members, piece, shell.asked())
            replies = answer(shell, wanted)
    return replies


def texts(replies: list[Outgoing]) -> list[str]:
    return [r.text for r in replies if isinstance(r, Text | Choices | Notice)]


# -- whole interviews ---------------------------------------------------------------------


def test_a_scripted_household_from_roster_to_result() -> None:
    shell = Shell.new()
    assert "Đúng" in shell.keyboard().choices[0].label
    last = walk(shell)
    assert shell.snapshot.status == core.COMPLETED
    assert shell.closed == Close(finished=INTERVIEW)
    title = f"HH-1 · {script.ROSTER[0][0]}"
    # The last member's group, then the household's end.
    assert texts(last)[0].startswith(f"👤 {script.ROSTER[-1][0]}\n")
    assert texts(last)[1] == translate("interview.finished", "vi", household=title)
    assert last[-1] == MENU
    effects = [e for d in shell.decisions for e in d.effects]
    members = [e for e in effects if isinstance(e, core.StoreMember)]
    # Each member's result as soon as their last question is answered, in order.
    assert [m.index for m in members] == [0, 1, 2, 3, 4]
    [household] = [e for e in effects if isinstance(e, core.StoreHousehold)]
    assert len(household.result.members) == 5
    rows = shell.snapshot.rows
    assert rows["water_source"] == "drilled_well"
    assert rows["info_devices"] == ["tv", "smartphone"]
    assert rows["members/0/employment_status"] == "looking"
    assert rows["members/0/support_needs"] == ["vocational_training", "job_referral"]
    assert rows["members/4/incapacity_reason"] == "old_age"
    assert rows["members/1/name"] == "Trần Thị Lan"
    # One step per answer given: the roster's confirmation is one.
    given = 1 + len(script.HOUSEHOLD_SCRIPT) + sum(len(m) for m in script.MEMBER_SCRIPTS)
    assert shell.snapshot.step == given
    audits = [e.action for e in effects if isinstance(e, core.Audit)]
    assert audits == ["interview.started", "roster.confirmed", "interview.completed"]


def test_a_members_result_is_said_when_their_last_answer_is_given() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    for _, wanted in script.HOUSEHOLD_SCRIPT:
        answer(shell, wanted)
    *first_member, (_, last) = script.MEMBER_SCRIPTS[0]
    for _, wanted in first_member:
        answer(shell, wanted)
        assert not any(isinstance(e, core.StoreMember) for e in shell.decisions[-1].effects)
    said = texts(answer(shell, last))
    [stored] = [e for e in shell.decisions[-1].effects if isinstance(e, core.StoreMember)]
    assert stored.index == 0 and stored.result.group == "no_job"
    assert said[0].startswith(f"👤 {script.ROSTER[0][0]}\n")


def test_changing_an_answer_through_review_comes_back_to_the_list_and_is_audited() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    answer(shell, "Nông thôn")
    answer(shell, "Không bền chắc")
    shell.send(Commanded("review"))
    assert shell.cursor is not None and shell.cursor.mode is Mode.REVIEWING
    listing = shell.asked().splitlines()
    number = next(line.split(".")[0] for line in listing if "Tường nhà" in line)
    shell.send(Typed(number))
    assert "Tường nhà" in shell.asked()
    replies = shell.press("Bền chắc")
    assert shell.cursor.mode is Mode.REVIEWING
    assert any(
        "Tường nhà" in line and "Bền chắc" in line for line in texts(replies)[-1].split("\n")
    )
    assert shell.snapshot.rows["house_wall"] == "durable"
    [changed] = [e for e in shell.decisions[-1].effects if isinstance(e, core.Audit)]
    assert (changed.action, changed.details["old"], changed.details["new"]) == (
        "answer.changed",
        "not_durable",
        "durable",
    )


def test_back_returns_to_the_previous_question_and_not_past_the_first() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    answer(shell, "Nông thôn")
    step = shell.snapshot.step
    shell.send(Commanded("back"))
    assert shell.cursor is not None and shell.cursor.at == ("area_type",)
    assert "Hộ ở khu vực nào?" in shell.asked()
    # Before it, the answers the roster's confirmation gave, the category first.
    shell.send(Commanded("back"))
    assert "Hộ thuộc diện nào" in shell.asked()
    at_first = translate("interview.at_first", "vi")
    for _ in range(40):
        replies = shell.send(Commanded("back"))
        if texts(replies)[0] == at_first:
            break
    assert texts(replies)[0] == at_first
    assert shell.cursor.at != (HOUSEHOLD_CODE,)
    assert shell.snapshot.step == step


def test_a_button_of_an_earlier_step_changes_nothing() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    old = shell.keyboard()
    answer(shell, "Nông thôn")
    before = shell.snapshot
    verb, _, rest = old.choices[0].data.partition(":")
    replies = shell.send(Pressed(verb, tuple(rest.split(":")[1:])))
    assert replies == [Notice(translate("interview.stale", "vi"))]
    assert shell.snapshot == before and not shell.decisions[-1].effects


def test_typed_text_after_an_hours_silence_shows_where_things_stand_first() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    question = shell.asked()
    shell.snapshot = replace(shell.snapshot, idle_seconds=core.RESUME_AFTER_SECONDS + 1)
    replies = shell.send(Typed("1"))
    assert not shell.decisions[-1].effects
    assert f"HH-1 · {script.ROSTER[0][0]}" in texts(replies)[0]
    assert shell.asked() == question


def test_cancel_asks_first_and_ends_only_on_yes() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    shell.send(Commanded("cancel"))
    shell.press(translate("interview.cancel_no", "vi"))
    assert shell.cursor is not None and shell.cursor.mode is Mode.ASK
    shell.send(Commanded("cancel"))
    replies = shell.press(translate("interview.cancel_yes", "vi"))
    assert shell.snapshot.status == core.CANCELLED and shell.closed == Close()
    assert replies[-1] == MENU


def test_roster_members_added_and_removed_before_confirming() -> None:
    shell = Shell.new()
    shell.press(translate("interview.roster_add", "vi"))
    shell.send(Typed("  Đỗ   Văn Tư "))
    assert shell.snapshot.prefill["member_count"] == 6
    assert shell.snapshot.prefill["members"][-1] == {"name": "Đỗ Văn Tư"}
    shell.press(translate("interview.roster_remove", "vi"))
    shell.press("1. ")
    assert shell.snapshot.prefill["members"][0]["name"] == "Trần Thị Lan"
    assert shell.snapshot.step == 0
    shell.press("Đúng")
    assert shell.snapshot.rows["members/0/name"] == "Trần Thị Lan"
    assert shell.snapshot.rows["member_count"] == 5


def test_several_answers_are_ticked_then_given_at_once() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    for _, wanted in script.HOUSEHOLD_SCRIPT[:7]:
        answer(shell, wanted)
    shell.press("Ti vi")
    shell.press("radio")
    shell.press("Ti vi")
    assert shell.cursor is not None and shell.cursor.selected == ("radio",)
    assert shell.keyboard().edit
    shell.press("Xong")
    assert shell.snapshot.rows["info_devices"] == ["radio"]
    assert shell.cursor.selected == ()


def test_pause_closes_the_dialog_without_touching_the_interview() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    before = shell.snapshot
    replies = shell.send(Commanded("pause"))
    assert shell.closed == Close() and shell.snapshot == before and replies[-1] == MENU


@pytest.mark.parametrize(
    "data",
    [
        {"interview_id": 3, "mode": "ask"},
        {"interview_id": 3, "mode": "review", "at": "members/1/sex", "return_to": "review"},
        {"interview_id": 3, "mode": "ask", "selected": ["tv", "radio"]},
    ],
)
def test_the_cursor_is_stored_as_it_always_was(data: dict[str, Any]) -> None:
    cursor = Cursor.from_json(data)
    assert cursor is not None and cursor.to_json() == data


@pytest.mark.parametrize(
    "data",
    [{}, {"interview_id": "3"}, {"interview_id": True}, {"finished": 4}],
)
def test_a_row_that_is_not_a_cursor_is_refused(data: dict[str, Any]) -> None:
    assert Cursor.from_json(data) is None


def test_an_unknown_mode_reads_as_asking() -> None:
    assert Cursor.from_json({"interview_id": 1, "mode": "dancing"}) == Cursor(1)


# -- random turns -------------------------------------------------------------------------

STEP = "STEP"  # replaced by the interview's current step when the event is sent

events = st.one_of(
    st.builds(Typed, st.sampled_from(["1", "0", "2", "36", "abc", "", "1/2/1980", "-5", "Có"])),
    st.builds(Typed, st.text(max_size=12)),
    st.builds(
        Pressed,
        st.sampled_from([*sorted(core.VERBS), "zz"]),
        st.tuples(
            st.sampled_from([STEP, "0", "999", "x"]),
            st.sampled_from(["0", "1", "2", "5", "40", "-1", "²", "ok", "add", "del", "rm", "yes"]),
        ),
    ),
    st.builds(Commanded, st.sampled_from(sorted(core._COMMANDS))),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(events, min_size=1, max_size=25), st.integers(min_value=0, max_value=12))
def test_any_sequence_of_turns_keeps_the_dialog_sound(
    sequence: list[core.Event], scripted: int
) -> None:
    shell = Shell.new()
    shell.press("Đúng")
    for _, wanted in script.HOUSEHOLD_SCRIPT[:scripted]:
        answer(shell, wanted)
    for event in sequence:
        if shell.cursor is None:
            break
        if isinstance(event, Pressed) and event.args and event.args[0] == STEP:
            event = Pressed(event.verb, (str(shell.snapshot.step), *event.args[1:]))
        step, cursor, snapshot = shell.snapshot.step, shell.cursor, shell.snapshot
        decision = core.decide(cursor, event, snapshot, shell.env)
        # Pure: the same turn decides the same way.
        again = core.decide(cursor, event, snapshot, shell.env)
        assert again.replies == decision.replies and again.save == decision.save
        replies = shell.apply(decision)
        assert replies, event
        records = [e for e in decision.effects if isinstance(e, core.Record)]
        assert shell.snapshot.step == step + len(records) and len(records) <= 1
        if records:
            answering = isinstance(event, Typed) or (
                isinstance(event, Pressed) and event.verb in core.VERBS - {core.REVIEW, core.CANCEL}
            )
            assert answering or event == Commanded("skip"), event
            # /skip typed while a cancellation awaits its answer drops the cancellation
            # and skips the question on screen (the collaborator changed their mind).
            modes = (Mode.ASK, Mode.ROSTER_CHECK, Mode.ADD_MEMBER)
            if event == Commanded("skip"):
                modes += (Mode.CONFIRM_CANCEL,)
            assert cursor.mode in modes
            assert shell.cursor is None or shell.cursor.mode is not Mode.CONFIRM_CANCEL
        if (
            isinstance(event, Pressed)
            and event.verb in core.ANSWER_VERBS
            and event.args[0] != str(step)
        ):
            assert replies == [Notice(translate("interview.stale", "vi"))]
            assert not decision.effects
        if cursor.mode in (Mode.ROSTER_CHECK, Mode.CONFIRM_CANCEL) and isinstance(event, Typed):
            assert not decision.effects


def test_skip_typed_while_a_cancellation_awaits_drops_it_and_skips() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    for _, wanted in script.HOUSEHOLD_SCRIPT[:9]:
        answer(shell, wanted)
    step = shell.snapshot.step
    shell.apply(core.decide(shell.cursor, Commanded("cancel"), shell.snapshot, shell.env))
    assert shell.cursor is not None
    assert shell.cursor.mode is Mode.CONFIRM_CANCEL
    decision = core.decide(shell.cursor, Commanded("skip"), shell.snapshot, shell.env)
    shell.apply(decision)
    assert shell.snapshot.step == step + 1
    assert shell.cursor is not None
    assert shell.cursor.mode is Mode.ASK
    assert not any(isinstance(effect, core.SetStatus) for effect in decision.effects)


def test_skip_typed_on_the_review_list_shows_the_question_instead_of_skipping_it() -> None:
    shell = Shell.new()
    shell.press("Đúng")
    for _, wanted in script.HOUSEHOLD_SCRIPT[:9]:
        answer(shell, wanted)
    step = shell.snapshot.step
    shell.apply(core.decide(shell.cursor, Commanded("review"), shell.snapshot, shell.env))
    assert shell.cursor is not None
    assert shell.cursor.mode is Mode.REVIEWING
    decision = core.decide(shell.cursor, Commanded("skip"), shell.snapshot, shell.env)
    replies = shell.apply(decision)
    assert shell.snapshot.step == step  # nothing recorded
    assert not [effect for effect in decision.effects if isinstance(effect, core.Record)]
    assert shell.cursor is not None
    assert shell.cursor.mode is Mode.ASK
    assert (
        replies
        == shell.apply(core.decide(shell.cursor, Commanded("again"), shell.snapshot, shell.env))[1:]
    )
