"""The push seam: how a channel delivers a message nobody asked for.

A channel adapter (Telegram now, Zalo later) implements :class:`Push`, turning a platform's
answer into one of five outcomes the outbox sender acts on. Messages travel through the
outbox as JSON: :func:`encode` and :func:`decode` are the only two places that know it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.messages import Choice, Choices, Text

Pushable = Text | Choices

# Around each message a channel sends in reply in a chat (its id): the outbox sender's
# ``replying``, which shares the platform's limits between the replies and the pushes.
Replying = Callable[[str], AbstractAsyncContextManager[None]]


@dataclass(frozen=True, slots=True)
class Sent:
    pass


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """The platform's flood control: nothing more may be sent for ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Blocked:
    """The person blocked the bot (or left the platform): never try this chat again."""


@dataclass(frozen=True, slots=True)
class WindowClosed:
    """The platform delivers to this person only once they write to the bot again (Zalo
    OA's interaction window): kept until they do, and their supervisors told."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Anything else; ``permanent`` when trying again cannot help (a malformed message)."""

    reason: str
    permanent: bool = False


PushResult = Sent | RetryAfter | Blocked | WindowClosed | Failed


class Push(Protocol):
    platform: str

    async def push(self, chat_id: str, message: Pushable) -> PushResult: ...


def encode(message: Pushable) -> dict[str, Any]:
    """The message as the outbox stores it: text, and button rows of (label, data)."""
    if isinstance(message, Text):
        return {"text": message.text}
    return {
        "text": message.text,
        "choices": [[choice.label, choice.data] for choice in message.choices],
        "columns": message.columns,
        "list_hint": message.list_hint,
    }


def decode(stored: dict[str, Any]) -> Pushable:
    if "choices" not in stored:
        return Text(str(stored["text"]))
    return Choices(
        str(stored["text"]),
        tuple(Choice(str(label), str(data)) for label, data in stored["choices"]),
        columns=int(stored.get("columns", 1)),
        list_hint=str(stored.get("list_hint", "")),
    )
