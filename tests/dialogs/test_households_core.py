"""The household list's decisions on plain values: pages, searches and picks, with an
in-memory roster standing for the page query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.decisions import households as core
from bot.decisions.households import (
    ListState,
    Opened,
    OpenHousehold,
    Page,
    Pressed,
    Reply,
    Row,
    ShowPage,
    Typed,
)
from bot.messages import Choices, Notice, Outgoing, Text
from locales.catalog import translate

STALE = Reply((Notice(translate("interview.stale", "vi")),))


def roster(count: int) -> list[Row]:
    statuses = [None, "completed", "in_progress", "cancelled"]
    return [
        Row(100 + n, f"HH-{n:03d}", f"Chủ hộ {n}", statuses[n % len(statuses)])
        for n in range(count)
    ]


@dataclass
class Shell:
    """Stands for the database: the stored state and a roster the page query reads."""

    rows: list[Row]
    state: ListState | None = None
    opened: list[int] = field(default_factory=list)

    def read(self, state: ListState) -> Page:
        matching = [r for r in self.rows if state.query.lower() in r.code.lower()]
        page = matching[state.offset : state.offset + core.PAGE_SIZE]
        return Page(state, page, len(matching))

    def send(self, event: core.Event) -> list[Outgoing]:
        decision = core.decide(self.state or ListState(), event, "vi")
        match decision:
            case Reply(replies):
                return list(replies)
            case ShowPage(state):
                page = self.read(state)
                if (last := core.past_end(page)) is not None:
                    page = self.read(last)
                self.state = page.state
                return core.render(page, "vi")
            case OpenHousehold(household_id, _):
                self.opened.append(household_id)
                return [Text("OPENED")]
        raise AssertionError(decision)


def keyboard(replies: list[Outgoing]) -> Choices:
    [shown] = replies
    assert isinstance(shown, Choices)
    return shown


def press(shell: Shell, replies: list[Outgoing], label: str) -> list[Outgoing]:
    [data] = [c.data for c in keyboard(replies).choices if c.label == label]
    verb, _, arg = data.partition(":")
    return shell.send(Pressed(verb, arg))


# -- decisions ------------------------------------------------------------------------------


def test_opening_the_list_shows_the_first_page_of_everything() -> None:
    assert core.decide(ListState("abc", 16), Opened(), "vi") == ShowPage(ListState("", 0))


def test_typed_text_searches_from_the_first_page_with_spaces_tidied() -> None:
    decision = core.decide(ListState("", 16), Typed("  Nguyễn   Văn  "), "vi")
    assert decision == ShowPage(ListState("Nguyễn Văn", 0))


def test_a_search_is_cut_at_fifty_characters() -> None:
    decision = core.decide(ListState(), Typed("x" * 80), "vi")
    assert decision == ShowPage(ListState("x" * 50, 0))


def test_a_page_button_keeps_the_search() -> None:
    assert core.decide(ListState("ap 1", 0), Pressed("hp", "8"), "vi") == ShowPage(
        ListState("ap 1", 8)
    )


def test_a_pick_opens_the_household_it_names() -> None:
    assert core.decide(ListState(), Pressed("h", "12"), "vi") == OpenHousehold(12, "12")


@pytest.mark.parametrize("arg", ["", "x", "-1", "1.5", "²", "12:3"])
@pytest.mark.parametrize("verb", ["h", "hp"])
def test_a_button_without_a_number_is_stale(verb: str, arg: str) -> None:
    assert core.decide(ListState(), Pressed(verb, arg), "vi") == STALE


# -- rendering ------------------------------------------------------------------------------


def test_an_empty_roster_and_a_search_finding_nothing_say_so() -> None:
    nothing = core.render(Page(ListState(), [], 0), "vi")
    assert nothing == [Text(translate("households.none", "vi"))]
    missed = core.render(Page(ListState("zz", 0), [], 0), "vi")
    assert missed == [Text(translate("households.none_found", "vi", query="zz"))]


def test_a_middle_page_has_both_arrows_and_marks_the_interviews() -> None:
    rows = roster(20)[8:16]
    [shown] = core.render(Page(ListState("", 8), rows, 20), "vi")
    assert isinstance(shown, Choices)
    assert "(9–16 / 20)" in shown.text
    labels = [c.label for c in shown.choices]
    assert labels[:4] == [
        "HH-008 · Chủ hộ 8",
        "HH-009 · Chủ hộ 9 ✅",
        "HH-010 · Chủ hộ 10 ⏳",
        "HH-011 · Chủ hộ 11",
    ]
    assert [c.data for c in shown.choices][-2:] == ["hp:0", "hp:16"]
    assert shown.choices[0].data == "h:108"


def test_the_last_page_has_no_forward_arrow_and_a_search_says_what_was_sought() -> None:
    [shown] = core.render(Page(ListState("HH", 16), roster(20)[16:], 20), "vi")
    assert isinstance(shown, Choices)
    assert shown.text.startswith('Kết quả tìm "HH" (17–20 / 20)')
    assert [c.label for c in shown.choices][-1] == "◀"


def test_walking_forward_shows_every_household_once() -> None:
    shell = Shell(roster(29))
    replies = shell.send(Opened())
    seen: list[str] = []
    while True:
        choices = keyboard(replies).choices
        seen += [c.data for c in choices if c.data.startswith("h:")]
        if choices[-1].label != "▶":
            break
        replies = press(shell, replies, "▶")
    assert seen == [f"h:{100 + n}" for n in range(29)]
    replies = press(shell, replies, "◀")
    assert shell.state == ListState("", 16)


def test_a_search_then_a_page_then_a_pick() -> None:
    shell = Shell(roster(40))
    shell.send(Typed("HH-01"))
    assert shell.state == ListState("HH-01", 0)
    replies = press(shell, shell.send(Pressed("hp", "8")), "HH-018 · Chủ hộ 18 ⏳")
    assert replies == [Text("OPENED")] and shell.opened == [118]
    assert shell.state == ListState("HH-01", 8)


def test_a_page_past_the_end_shows_the_last_page_instead() -> None:
    shell = Shell(roster(10))
    [shown] = shell.send(Pressed("hp", "24"))
    assert isinstance(shown, Choices) and "(9–10 / 10)" in shown.text
    assert shell.state == ListState("", 8)
    assert core.past_end(Page(ListState("", 8), roster(2), 10)) is None
    assert core.past_end(Page(ListState("zz", 8), [], 0)) is None


# -- the stored state ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [{"query": "", "offset": 0}, {"query": "Ấp 1", "offset": 16}])
def test_the_state_is_stored_as_it_always_was(data: dict[str, Any]) -> None:
    assert ListState.from_json(data).to_json() == data


@pytest.mark.parametrize(
    "data",
    [{}, {"query": 3, "offset": "8"}, {"offset": -8}, {"offset": True}, {"interview_id": 4}],
)
def test_a_damaged_state_reads_as_the_first_page(data: dict[str, Any]) -> None:
    state = ListState.from_json(data)
    assert state.offset == 0 and isinstance(state.query, str)


# -- random turns -----------------------------------------------------------------------------

events = st.one_of(
    st.just(Opened()),
    st.builds(Typed, st.one_of(st.sampled_from(["HH", "hh-00", "", "  01 ", "zz"]), st.text())),
    st.builds(
        Pressed,
        st.sampled_from(["h", "hp"]),
        st.one_of(st.sampled_from(["0", "8", "16", "105", "x", ""]), st.text(max_size=5)),
    ),
    st.just("arrow"),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=30), st.lists(events, min_size=1, max_size=20))
def test_any_sequence_of_turns_keeps_the_list_sound(count: int, sequence: list[Any]) -> None:
    shell = Shell(roster(count))
    replies = shell.send(Opened())
    for event in sequence:
        if event == "arrow":
            # Press an arrow of the page shown, if there is one.
            shown = replies[0]
            choices = shown.choices if isinstance(shown, Choices) else ()
            arrows = [c for c in choices if c.label in ("◀", "▶")]
            if not arrows:
                continue
            verb, _, arg = arrows[0].data.partition(":")
            event = Pressed(verb, arg)
        before = shell.state
        decision = core.decide(shell.state or ListState(), event, "vi")
        assert decision == core.decide(shell.state or ListState(), event, "vi")
        replies = shell.send(event)
        assert replies
        state = shell.state
        assert state is not None and state.offset >= 0
        assert len(state.query) <= core.MAX_QUERY and state.query == " ".join(state.query.split())
        if isinstance(decision, Reply | OpenHousehold):
            assert state == before
        if isinstance(replies[0], Choices):
            for choice in replies[0].choices:
                verb, _, arg = choice.data.partition(":")
                assert verb in ("h", "hp") and arg.isdigit()
                if verb == "hp":
                    # An arrow always leads to a page that has households on it.
                    assert shell.read(ListState(state.query, int(arg))).rows
