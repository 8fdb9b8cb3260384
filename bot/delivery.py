"""Sending one turn's replies one by one, so a reply that fails never takes the others with it.

Every channel hands :func:`deliver` its own ``send`` (one reply, as platform calls). The answer
behind the replies is committed before any of them is sent (see ``bot.conversation``), so a
lost reply never becomes a lost answer: it is logged (which reply of the turn, which call
failed, never its text) and the user is told how to get it again: ``/tiep`` shows the current
question again on every platform, and a file comes again with its own command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.context import Progress
from bot.messages import Choice, Choices, Document, Outgoing, Text
from locales.catalog import translate

log = logging.getLogger(__name__)

# "Tiếp": shows the current question (or the menu) again; see bot.dialogs.interview.again.
AGAIN_COMMAND = "tiep"

Send = Callable[[Outgoing], Awaitable[None]]


class SendFailed(Exception):
    """A platform call that failed, named for the log (``sendMessage``), with a detail that
    carries no message text."""

    def __init__(self, method: str, detail: str) -> None:
        super().__init__(f"{method}: {detail}")
        self.method = method
        self.detail = detail


async def deliver(
    replies: Sequence[Outgoing], send: Send, locale: str, turn: str | None = None
) -> list[Outgoing]:
    """Send each reply on its own, then one notice for those that failed; returns them.

    ``turn`` identifies the update in the log (not the chat: the log holds no personal data).
    """
    failed: list[Outgoing] = []
    for index, reply in enumerate(replies, start=1):
        if not await _sent(send, reply, f"reply {index} of {len(replies)}", turn):
            failed.append(reply)
    for notice in recovery(failed, locale):
        await _sent(send, notice, "recovery notice", turn)
    return failed


async def _sent(send: Send, reply: Outgoing, which: str, turn: str | None) -> bool:
    try:
        await send(reply)
    except Exception as error:
        # Whatever the failure (a platform error, a broken answer, a bug of ours), the
        # other replies still go; the answer behind them is already stored.
        if isinstance(error, SendFailed):
            method, detail = error.method, error.detail
        else:
            method, detail = "-", type(error).__name__
        log.warning(
            "%s (%s) of update %s not delivered: %s failed: %s",
            which,
            kind(reply),
            turn or "-",
            method,
            detail,
        )
        return False
    return True


def kind(reply: Outgoing) -> str:
    return type(reply).__name__.lower()


def recovery(failed: Sequence[Outgoing], locale: str) -> list[Outgoing]:
    """What a user whose replies were lost is told: each file's way back, and /tiep for the
    question. A lost command menu or toast is cosmetic and says nothing."""
    out: list[Outgoing] = []
    for reply in failed:
        if isinstance(reply, Document):
            name = reply.filename
            if reply.again:
                text = translate("delivery.file_lost", locale, file=name, command=reply.again)
            else:
                text = translate("delivery.file_lost_resend", locale, file=name)
            out.append(Text(text))
    if any(isinstance(reply, Text | Choices) for reply in failed):
        command = f"/{AGAIN_COMMAND}"
        button = Choice(translate("delivery.again_button", locale), f"cmd:{AGAIN_COMMAND}")
        out.append(Choices(translate("delivery.reply_lost", locale, command=command), (button,)))
    return out


def harmless(progress: Progress) -> Progress:
    """The status line ``progress`` shows, made unable to fail the work it reports on."""

    async def show(text: str) -> None:
        try:
            await progress(text)
        except Exception as error:
            log.info("status line not shown: %s", type(error).__name__)

    return show
