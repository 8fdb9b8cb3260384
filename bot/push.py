"""The push seam: how a channel delivers a message nobody asked for.

A channel adapter (Telegram, Zalo Bot) implements :class:`Push`, turning a platform's
answer into one of four outcomes the outbox sender acts on; :class:`Pushes` holds those of
the channels one process runs, so one sender routes each message to its person's platform.
Messages travel through the outbox as JSON: :func:`encode` and :func:`decode` are the only
two places that know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.messages import Choice, Choices, Text

Pushable = Text | Choices


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
class Failed:
    """Anything else; ``permanent`` when trying again cannot help (a malformed message)."""

    reason: str
    permanent: bool = False


PushResult = Sent | RetryAfter | Blocked | Failed


class Push(Protocol):
    platform: str

    async def push(self, chat_id: str, message: Pushable) -> PushResult: ...


class Pushes:
    """The pushes of the channels a process runs, by the platform their people are of."""

    def __init__(self, *pushes: Push) -> None:
        self.by_platform: dict[str, Push] = {}
        for push in pushes:
            self.add(push)

    def add(self, push: Push) -> None:
        self.by_platform[push.platform] = push

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_platform))

    async def push(self, platform: str, chat_id: str, message: Pushable) -> PushResult:
        found = self.by_platform.get(platform)
        if found is None:
            # Not claimed by a sender without the channel (storage.outbox.Outbox.claim).
            return Failed(f"no {platform} channel in this process")
        return await found.push(chat_id, message)


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
