"""Zalo Official Account messages, pure: text in 2,000-unit pieces and choices as buttons.

A question's choices are the numbered list of the Zalo Bot channel (bot.channels.zalo_text:
a key may be typed) with buttons under it (a template attachment). A button is
``oa.query.hide``: a tap comes back as a text event whose text is the button's payload, here
``BUTTON_PREFIX`` and the choice's data, so a tap names its question as a Telegram button
does (a stale one is refused by the dialog) and cannot be confused with typed text. A
message takes at most ``BUTTONS_PER_MESSAGE`` buttons: more go in messages of their own.
On a question of several answers the numbers are typed together ("1,3"), so only the
lettered actions are buttons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.zalo_text import NumberedList, split_message
from bot.messages import Choices, list_keys

BUTTON_PREFIX = "#rs:"
# Zalo's template buttons: at most this many a message, a title of at most 100 characters.
BUTTONS_PER_MESSAGE = 5
TITLE_LIMIT = 100

Message = dict[str, Any]


def texts(text: str) -> list[Message]:
    return [{"text": piece} for piece in split_message(text)]


def button(title: str, data: str) -> dict[str, Any]:
    return {"title": title[:TITLE_LIMIT], "type": "oa.query.hide", "payload": BUTTON_PREFIX + data}


def with_buttons(
    pages: Sequence[str], buttons: Sequence[dict[str, Any]], more: str
) -> list[Message]:
    """``pages`` of text, the first buttons under the last page, the rest in messages of
    their own, each headed by the line ``more``."""
    messages: list[Message] = [{"text": page} for page in pages]
    chunks = [
        list(buttons[i : i + BUTTONS_PER_MESSAGE])
        for i in range(0, len(buttons), BUTTONS_PER_MESSAGE)
    ]
    for index, chunk in enumerate(chunks):
        if index == 0 and messages:
            target = messages[-1]
        else:
            target = {"text": more}
            messages.append(target)
        target["attachment"] = {"type": "template", "payload": {"buttons": chunk}}
    return messages


def question(reply: Choices, listed: NumberedList, more: str) -> list[Message]:
    """A question: its numbered list as Zalo Bot shows it, with a button per key that may
    be tapped (each titled as its line: "2. Nông thôn")."""
    shown = [c for c in reply.choices if not (reply.several and c.finish)]
    keyed = zip(list_keys(tuple(shown)), shown, strict=True)
    buttons = [
        button(f"{key}. {choice.label}", choice.data)
        for key, choice in keyed
        if choice.action or not reply.several
    ]
    return with_buttons(listed.messages, buttons, more)


def pushed(reply: Choices, more: str) -> list[Message]:
    """A message sent on the bot's own (a reminder): buttons titled with their labels, no
    numbers (what is typed picks from the question on screen, not from a reminder)."""
    buttons = [button(choice.label, choice.data) for choice in reply.choices]
    return with_buttons(split_message(reply.text), buttons, more)


def chosen(text: str) -> str | None:
    """The choice data a tapped button's payload carries, if ``text`` is one."""
    return text[len(BUTTON_PREFIX) :] if text.startswith(BUTTON_PREFIX) else None


def media(attachment_id: str) -> Message:
    return {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "attachment_id": attachment_id}],
            },
        }
    }


def file(token: str) -> Message:
    return {"attachment": {"type": "file", "payload": {"token": token}}}
