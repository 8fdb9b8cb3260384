"""Zalo Bot Platform text, pure: its 2,000-unit messages and choices as numbered lists.

Zalo counts a message's length in UTF-16 code units, as its backend (Java) does: an emoji
outside the Basic Multilingual Plane counts 2, a Vietnamese letter with its marks (NFC) 1.
Zalo has no buttons: a choice list is a numbered (and lettered, for actions) list, answered
by typing the key, paged so that each message fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Choices, list_keys

# sendMessage's limit, in UTF-16 code units.
MESSAGE_LIMIT = 2000
# Where a long text may be cut, in order of preference: between lines, then between words.
LINE_BREAK = "\n"
SPACES = (" ", "\t")


def units(text: str) -> int:
    """The length of ``text`` as Zalo counts it (UTF-16 code units)."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _fitting(text: str, limit: int) -> int:
    """How many characters of ``text``, from the start, fit in ``limit`` units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_pieces(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` cut into pieces that join back into it exactly, each ending where it was
    cut: after a line break if there is one in reach, else after a space, so no word or
    number is cut (only a single word longer than a whole message is). A piece is at most
    ``limit`` units with its trailing separator left out (see :func:`split_message`)."""
    pieces: list[str] = []
    rest = text
    while units(rest) > limit:
        # A separator just past the limit still ends a piece that fits once it is dropped.
        reach = _fitting(rest, limit)
        window = rest[: reach + 1]
        cut = window.rfind(LINE_BREAK)
        if cut <= 0:
            cut = max(window.rfind(space) for space in SPACES)
        if cut <= 0:
            # One word longer than a message: no way but to cut it.
            pieces.append(rest[:reach])
            rest = rest[reach:]
            continue
        pieces.append(rest[: cut + 1])
        rest = rest[cut + 1 :]
    pieces.append(rest)
    return pieces


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The messages that say ``text`` on Zalo, each at most ``limit`` units: the pieces of
    :func:`split_pieces` without the separator they were cut after, and none that would be
    blank (Zalo refuses an empty text)."""
    messages = []
    for piece in split_pieces(text, limit):
        if piece.endswith((LINE_BREAK, *SPACES)):
            piece = piece[:-1]
        if piece.strip():
            messages.append(piece)
    return messages or ["."]


@dataclass(frozen=True, slots=True)
class NumberedList:
    """A :class:`Choices` as Zalo shows it: the messages to send, and the choice's data by
    the key that is typed to pick it."""

    messages: tuple[str, ...]
    keys: dict[str, str]
    # Several answers: numbers are typed in one message ("1,3") and read by the dialog as
    # text; only the lettered actions are picked by their key.
    several: bool = False

    def picked(self, typed: str) -> str | None:
        """The data of the choice ``typed`` picks, if it picks one."""
        key = typed.strip().lower()
        if self.several and key.isdigit():
            return None
        return self.keys.get(key)


def numbered(reply: Choices, several_hint: str, limit: int = MESSAGE_LIMIT) -> NumberedList:
    """The question, its numbered choices and lettered actions, paged to fit ``limit``.

    A question of several answers (``reply.several``) is answered in one message by its
    numbers ("1,3"), which the dialog reads as the answer: there is no "done" to press, so
    the choice that finishes toggling is left out and ``several_hint`` says how to answer.
    """
    shown = tuple(c for c in reply.choices if not (reply.several and c.finish))
    keys = list_keys(shown)
    lines = [
        f"{key}. {'✅ ' if c.selected else ''}{c.label}" for key, c in zip(keys, shown, strict=True)
    ]
    hints = [several_hint] if reply.several else []
    if reply.list_hint:
        hints.append(reply.list_hint)
    text = reply.text
    if reply.several and reply.pick_line:
        # It says to press "Xong", which is not there.
        text = "\n".join(line for line in text.split("\n") if line != reply.pick_line)
    messages = _paged(split_message(text, limit), lines, hints, limit)
    return NumberedList(
        tuple(messages),
        {key: c.data for key, c in zip(keys, shown, strict=True)},
        reply.several,
    )


def _paged(head: list[str], lines: list[str], hints: list[str], limit: int) -> list[str]:
    """The question's messages with the list's lines after its last one, a new message
    begun whenever the next line would not fit; a line longer than a message is split."""
    messages = head[:-1]
    current = head[-1]
    for line in [*lines, *hints]:
        for part in split_message(line, limit):
            joined = f"{current}\n{part}" if current else part
            if units(joined) <= limit:
                current = joined
            else:
                messages.append(current)
                current = part
    messages.append(current)
    return messages
