"""Terminal channel: the same dialogs in a shell, choices shown as numbered lists."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.conversation import Conversation
from bot.delivery import deliver
from bot.messages import (
    Choices,
    Document,
    Incoming,
    Kind,
    Notice,
    Outgoing,
    Text,
    list_keys,
)

PLATFORM = "terminal"
QUIT_WORDS = {"/quit", "/exit", "/thoat"}

ReadLine = Callable[[], Awaitable[str | None]]
Write = Callable[[str], None]


class TerminalChannel:
    def __init__(
        self,
        conversation: Conversation,
        user_id: str,
        display_name: str,
        read_line: ReadLine,
        write: Write,
        download_dir: Path,
    ) -> None:
        self.conversation = conversation
        self.user_id = user_id
        self.display_name = display_name
        self.read_line = read_line
        self.write = write
        self.download_dir = download_dir
        # The buttons of the last choice list by what is typed to pick them ("2", "a").
        self.pending: dict[str, str] = {}

    def to_incoming(self, line: str) -> Incoming:
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "user_id": self.user_id,
            "chat_id": self.user_id,
            "display_name": self.display_name,
        }
        stripped = line.strip()
        if stripped.lower() in self.pending:
            return Incoming(kind=Kind.CHOICE, choice=self.pending[stripped.lower()], **base)
        kind, command, args = Incoming.parse_text(stripped)
        return Incoming(kind=kind, text=stripped, command=command, args=args, **base)

    async def show(self, replies: list[Outgoing]) -> None:
        # Numbers typed next refer to the newest list only; a text question has none.
        self.pending = {}
        locale = self.conversation.settings.locale
        await deliver(replies, self._show_one, locale)
        self.write("")

    async def _show_one(self, reply: Outgoing) -> None:
        if isinstance(reply, Text):
            self.write(reply.text)
        elif isinstance(reply, Notice):
            self.write(f"(i) {reply.text}")
        elif isinstance(reply, Choices):
            keys = list_keys(reply.choices)
            lines = [reply.text]
            lines += [
                f"  {key}. {'[x] ' if c.selected else ''}{c.label}"
                for key, c in zip(keys, reply.choices, strict=True)
            ]
            if reply.list_hint:
                lines.append(reply.list_hint)
            self.pending = {key: c.data for key, c in zip(keys, reply.choices, strict=True)}
            self.write("\n".join(lines))
        elif isinstance(reply, Document):
            self.download_dir.mkdir(parents=True, exist_ok=True)
            target = self.download_dir / reply.filename
            target.write_bytes(reply.content)
            self.write(f"📎 {reply.caption or reply.filename}: {target}")

    async def send(self, line: str) -> list[Outgoing]:
        replies = await self.conversation.handle(self.to_incoming(line), self._status)
        await self.show(replies)
        return replies

    async def _status(self, text: str) -> None:
        self.write(text)

    async def run(self) -> None:
        while True:
            line = await self.read_line()
            if line is None or line.strip().lower() in QUIT_WORDS:
                return
            if line.strip():
                await self.send(line)


async def stdin_line(prompt: str = "> ") -> str | None:
    """One line from the keyboard without blocking the event loop; None at end of input."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None
