"""A button press answered in the webhook's own answer, not by a Bot API call of its own.

Every button press must be answered (``answerCallbackQuery``) or its spinner turns on the
collaborator's phone. The answer to Telegram's webhook request may carry one Bot API request,
which Telegram then makes ("Making requests when getting updates"): answering the press
there spares the bot one HTTPS round trip to Telegram per press (the Bot API call it would
make, and its share of the bot's CPU), about half of what a press costs in calls.

The webhook stores the update first, as always, then waits, a moment at most, for the turn
to reach the point where the press is answered (its replies are known, and with them the
toast, if any). A turn that does not get there in time (a long export, a busy database)
answers the press by a call of its own, as do updates that came by polling. Telegram does
not say whether a request in a webhook's answer worked; a press left unanswered so only
stops spinning by itself a few seconds later, and nothing the turn stored depends on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# How long the webhook's 200 waits for the turn to answer the press: past it, the 200 goes
# without, and the turn answers by a call. Telegram sends a chat's next update only after
# the 200, and the bot would take it only after this turn anyway (one person's turns run
# one at a time), so waiting costs the chat nothing; it is short so that a slow turn holds
# none of Telegram's connections to the webhook for long.
WAIT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Answered:
    """The press answered, with this toast (None: no text, the spinner just stops)."""

    toast: str | None


class ButtonAnswers:
    """The presses whose webhook request waits for the answer, by update id.

    The webhook hands a press over and waits for its answer (:meth:`wait`); the channel answers
    the press through :meth:`answering`, which hands the answer to a waiting webhook or, if
    none waits any more, makes the call; :meth:`release` ends the wait of a turn that
    finished without answering (it failed, or had nothing to answer with)."""

    def __init__(self, wait_seconds: float = WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self._waiting: dict[int, asyncio.Future[Answered | None]] = {}

    async def wait(
        self, update_id: int, hand_over: Callable[[], Awaitable[object]]
    ) -> Answered | None:
        """``hand_over()`` (the update to the turns), then the press's answer once the turn
        gives it; None if the turn ended without one or took longer than ``wait_seconds``
        (then the turn answers by a call)."""
        future: asyncio.Future[Answered | None] = asyncio.get_running_loop().create_future()
        # Waited for before the turn can answer, which it may do as soon as it has it.
        self._waiting[update_id] = future
        try:
            await hand_over()
            # On a timeout the future is cancelled: an answer given after that is a call.
            return await asyncio.wait_for(future, self.wait_seconds)
        except TimeoutError:
            return None
        finally:
            # Unless the same update came again meanwhile (Telegram sent it twice): that
            # one's wait is its own.
            if self._waiting.get(update_id) is future:
                del self._waiting[update_id]

    def answering(
        self, update_id: int, call: Callable[[str | None], Awaitable[object]]
    ) -> Callable[[str | None], Awaitable[object]]:
        """How the turn answers the press of ``update_id``: in the webhook's answer if its
        request still waits, else by ``call`` (the library's answerCallbackQuery).

        The webhook's answer is given when ``answer`` is called, not when what it returns is
        awaited: a turn gives it before its replies start on their way, and Telegram's next
        update of the chat, which waits for this 200, is not held behind them."""

        def answer(toast: str | None) -> Awaitable[object]:
            future = self._waiting.get(update_id)
            if future is not None and not future.done():
                future.set_result(Answered(toast))
                given: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                given.set_result(True)
                return given
            return call(toast)

        return answer

    def release(self, update_id: int) -> None:
        """The turn of ``update_id`` is over: a webhook still waiting answers without it."""
        future = self._waiting.get(update_id)
        if future is not None and not future.done():
            future.set_result(None)
