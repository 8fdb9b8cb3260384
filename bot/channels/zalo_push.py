"""The push seam (``bot.push``) on the Zalo Bot Platform: a message nobody asked for.

Choices go as a numbered list, as replies do; the list is stored as the one on the
person's screen before it is sent (``ZaloBotChannel.show``), so a number typed next picks
what they saw, after a restart or on another worker too. A plain text leaves the list
stored before it alone: a notice between a question and its answer does not change what
the question's numbers pick.

Zalo's answers as the outbox's outcomes: 429 carries no ``retry_after``, so the outbox is
paused for a bounded wait that doubles while Zalo keeps refusing (2 s up to a minute);
403 is Zalo's internal error, never a person who blocked the bot: tried again later, like
a network failure; 400 (a malformed message) is not tried again.
"""

from __future__ import annotations

from http import HTTPStatus

import httpx

from bot.channels.zalo_bot import PLATFORM, ZaloBotChannel, ZaloBotError
from bot.channels.zalo_text import split_message
from bot.messages import Choices
from bot.push import Failed, Pushable, PushResult, RetryAfter, Sent

FIRST_PAUSE = 2.0
LONGEST_PAUSE = 60.0


class ZaloBotPush:
    platform = PLATFORM

    def __init__(self, channel: ZaloBotChannel) -> None:
        self.channel = channel
        # 429s in a row: each pauses the outbox twice as long as the one before.
        self.refused = 0

    async def push(self, chat_id: str, message: Pushable) -> PushResult:
        channel = self.channel
        # A private chat's id is its person's (Zalo Bot serves private chats only).
        async with channel.screens.turn(chat_id):
            if isinstance(message, Choices):
                shown = channel.numbered(message)
                try:
                    await channel.show(chat_id, shown)
                except Exception as error:
                    # Sent without it, a number typed next could pick something else.
                    return Failed(f"list not stored: {type(error).__name__}")
                texts = list(shown.messages)
            else:
                texts = split_message(message.text)
            try:
                for text in texts:
                    await channel.api.call("sendMessage", {"chat_id": chat_id, "text": text})
            except ZaloBotError as error:
                return self._refused(error)
            except httpx.HTTPError as error:
                return Failed(type(error).__name__)
        self.refused = 0
        return Sent()

    def _refused(self, error: ZaloBotError) -> PushResult:
        if error.status == HTTPStatus.TOO_MANY_REQUESTS:
            pause = min(FIRST_PAUSE * 2**self.refused, LONGEST_PAUSE)
            self.refused += 1
            return RetryAfter(pause)
        return Failed(
            f"HTTP {error.status}: {error.description}",
            permanent=error.status == HTTPStatus.BAD_REQUEST,
        )
