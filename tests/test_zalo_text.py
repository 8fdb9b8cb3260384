"""Zalo's 2,000-unit messages and numbered lists (bot.channels.zalo_text), pure."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.zalo_text import MESSAGE_LIMIT, numbered, split_message, split_pieces, units
from bot.messages import Choice, Choices

# Words as people type them: Vietnamese letters, digits with separators, emoji (2 units).
WORD = st.text(
    alphabet=st.sampled_from([*"aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạệổữ0123456789.,", "😀"]),
    min_size=1,
    max_size=40,
)
LINE = st.lists(WORD, max_size=120).map(" ".join)
TEXT = st.lists(LINE, min_size=1, max_size=60).map("\n".join)


def test_units_count_utf16_code_units() -> None:
    assert units("Hộ nghèo") == 8
    assert units("😀") == 2
    assert units("a😀b") == 4


# Words are at most 80 units (40 emoji): within every limit tried, so none may be cut.
@given(TEXT, st.sampled_from([MESSAGE_LIMIT, 80, 120]))
def test_pieces_fit_join_back_and_cut_no_word(text: str, limit: int) -> None:
    pieces = split_pieces(text, limit)
    assert "".join(pieces) == text
    for piece in pieces[:-1]:
        # Every cut is right after a line break or a space: no word or number is cut.
        assert piece.endswith(("\n", " ")), piece[-10:]
        assert units(piece[:-1]) <= limit
    assert units(pieces[-1]) <= limit
    for message in split_message(text, limit):
        assert 0 < units(message) <= limit
    # Joined with the separators they were cut at, the messages are the text again (but
    # for blank pieces, which are not sent).
    words = re.findall(r"\S+", text)
    assert re.findall(r"\S+", " ".join(split_message(text, limit))) == (words or ["."])


def test_a_long_list_is_cut_between_lines_before_between_words() -> None:
    lines = [f"{n}. Hộ ông Nguyễn Văn {n} — 1.200.000 đồng/người/tháng" for n in range(1, 80)]
    text = "\n".join(lines)
    messages = split_message(text)
    assert len(messages) > 1
    assert all(units(m) <= MESSAGE_LIMIT for m in messages)
    assert [line for m in messages for line in m.split("\n")] == lines


def test_emoji_count_twice_against_the_limit() -> None:
    text = "😀" * 1500
    messages = split_message(text)
    assert [units(m) for m in messages] == [2000, 1000]


def test_choices_become_numbered_and_lettered_keys() -> None:
    reply = Choices(
        "Nguồn nước?",
        (
            Choice("Giếng khoan", "a:1:2:0"),
            Choice("Nước máy", "a:1:2:1"),
            Choice("Bỏ qua", "s", action=True),
        ),
        list_hint="Gõ số.",
    )
    shown = numbered(reply, "Gõ 1,3")
    assert shown.messages == ("Nguồn nước?\n1. Giếng khoan\n2. Nước máy\na. Bỏ qua\nGõ số.",)
    assert shown.keys == {"1": "a:1:2:0", "2": "a:1:2:1", "a": "s"}
    assert shown.picked(" A ") == "s" and shown.picked("2") == "a:1:2:1"


def test_several_answers_are_typed_and_have_no_done_item() -> None:
    reply = Choices(
        "Thiết bị?\nChọn rồi bấm Xong",
        (
            Choice("TV", "t:1:3:0"),
            Choice("Điện thoại", "t:1:3:1", selected=True),
            Choice("Xong ✔", "d:1:3", action=True, finish=True),
        ),
        several=True,
        pick_line="Chọn rồi bấm Xong",
    )
    shown = numbered(reply, "Gõ các số, ví dụ 1,3.")
    assert shown.messages == ("Thiết bị?\n1. TV\n2. ✅ Điện thoại\nGõ các số, ví dụ 1,3.",)
    # The numbers go to the dialog as typed text ("1,2"), which answers in one message.
    assert shown.keys == {"1": "t:1:3:0", "2": "t:1:3:1"}
    assert shown.picked("2") is None and shown.picked("1,2") is None


def test_a_long_list_is_paged_with_keys_running_on() -> None:
    choices = tuple(Choice(f"Hộ số {n} " + "x" * 60, f"h:{n}") for n in range(1, 61))
    shown = numbered(Choices("Chọn hộ:", choices), "")
    assert len(shown.messages) > 1
    assert all(units(m) <= MESSAGE_LIMIT for m in shown.messages)
    lines = [line for m in shown.messages for line in m.split("\n")]
    assert lines[0] == "Chọn hộ:"
    assert [line.split(".")[0] for line in lines[1:]] == [str(n) for n in range(1, 61)]
    assert shown.keys["60"] == "h:60"
