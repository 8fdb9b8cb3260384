"""The platform-neutral seam between dialogs and chat channels.

An adapter turns a platform update into one :class:`Incoming`, and turns each outgoing
message back into platform calls. Dialogs see nothing else, which is how the same
conversation runs on Telegram, Zalo and the terminal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.text import without_controls


class Kind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"
    # Stickers, photos, voice...: content the questionnaire can't use.
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Incoming:
    platform: str
    user_id: str
    chat_id: str
    display_name: str
    kind: Kind
    text: str = ""
    command: str | None = None
    args: str = ""
    # The callback data of a pressed button.
    choice: str | None = None
    # Platform-unique id of this delivery, for exactly-once handling.
    update_key: str | None = None
    # What was sent when kind is UNSUPPORTED ("sticker", "photo", ...).
    content_type: str | None = None
    language: str | None = None
    # False in a group, supergroup or channel: rasoat holds personal data and answers only
    # in a one-to-one chat.
    private: bool = True
    # When the person sent it, as the platform stamped it (to the second), if it says.
    sent_at: datetime | None = None
    # Its number in the chat where the platform numbers a chat's messages in order, the
    # bot's and the person's together (Telegram's message_id).
    message_number: int | None = None
    # The update as received, where it is not stored yet: its turn stores it, in its own
    # transaction (a button press a webhook received on a shared database: its answer
    # waits for the turn anyway; see bot.channels.webhook). Never in a repr: it is what the
    # person sent.
    payload: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def cleaned(self) -> Incoming:
        """The message without control characters, in every field people type."""
        return replace(
            self,
            text=without_controls(self.text),
            args=without_controls(self.args),
            choice=None if self.choice is None else without_controls(self.choice),
            display_name=without_controls(self.display_name),
        )

    @staticmethod
    def parse_text(text: str) -> tuple[Kind, str | None, str]:
        """Split "/start@rasoat_bot ABC" into (COMMAND, "start", "ABC")."""
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            head, _, args = stripped[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            if name.replace("_", "").isalnum():
                return Kind.COMMAND, name, args.strip()
        return Kind.TEXT, None, ""


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    # Short opaque id (Telegram allows 64 bytes); never user text.
    data: str
    selected: bool = False
    # Not an answer but something done to the question (keep, skip, done). Channels that
    # show numbered lists label these with letters (see list_keys), so a typed number is
    # always an answer or the choice with that number, never one of these.
    action: bool = False
    # The action that ends picking several answers one toggle at a time ("Xong"): where the
    # answers are typed in one message instead ("1,3", on Zalo) it is not offered.
    finish: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Choices:
    text: str
    choices: tuple[Choice, ...]
    # Buttons per row where the platform has buttons.
    columns: int = 1
    # Replace the buttons of the message whose button was just pressed (toggles),
    # instead of sending a new message.
    edit: bool = False
    # How to pick from the list where it is shown as numbered (and lettered) lines: said
    # only there, since buttons need no explanation.
    list_hint: str = ""
    # The choices are toggles of a question of several answers, which platforms without
    # buttons take typed in one message ("1,3"); ``pick_line``, the text's line telling
    # how to pick them with buttons, is left out there.
    several: bool = False
    pick_line: str = ""


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def list_keys(choices: tuple[Choice, ...]) -> tuple[str, ...]:
    """What a user types to pick each choice where there are no buttons (terminal, Zalo):
    "1", "2"… for choices, "a", "b"… for actions."""
    numbers, letters = iter(range(1, len(choices) + 1)), iter(LETTERS)
    return tuple(next(letters) if c.action else str(next(numbers)) for c in choices)


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    content: bytes
    caption: str = ""
    # The command that sends this file again ("/export csv"), offered if it is lost on the way.
    again: str = ""
    # An image shown in the chat itself (a chart) where the platform can, not a download.
    inline: bool = False


@dataclass(frozen=True, slots=True)
class CommandMenu:
    """The list of commands the platform shows in its menu for this chat."""

    commands: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """A short acknowledgement of a button press (a toast on Telegram)."""

    text: str


@dataclass(frozen=True, slots=True)
class Deferred:
    """Work a dialog hands back to run after its message's transaction has committed.

    Long reads (exports) must not hold the write transaction every other chat waits on; the
    conversation runs ``run(context)`` in a transaction of its own and sends what it returns.
    Channels never see this type.
    """

    run: Callable[[Any], Awaitable[list[Any]]]


Outgoing = Text | Choices | Document | CommandMenu | Notice | Deferred
