"""A press's answer handed to the webhook request waiting for it (button_answers)."""

from __future__ import annotations

import asyncio

from bot.channels.button_answers import Answered, ButtonAnswers


class Calls:
    """answerCallbackQuery as the library would make it: the toasts it was called with."""

    def __init__(self) -> None:
        self.toasts: list[str | None] = []

    async def __call__(self, toast: str | None) -> bool:
        self.toasts.append(toast)
        return True


async def nothing() -> None:
    pass


async def test_an_answer_given_while_the_webhook_waits_goes_to_it() -> None:
    answers, calls = ButtonAnswers(), Calls()
    waiting = asyncio.create_task(answers.wait(7, nothing))
    await asyncio.sleep(0)
    await answers.answering(7, calls)("đã lưu")
    assert await waiting == Answered("đã lưu") and calls.toasts == []


async def test_an_answer_given_before_the_wait_began_waiting_still_reaches_it() -> None:
    """The turn may answer during the hand-over itself (before wait_for is reached)."""
    answers, calls = ButtonAnswers(), Calls()

    async def hand_over_and_answer() -> None:
        await answers.answering(8, calls)(None)

    assert await answers.wait(8, hand_over_and_answer) == Answered(None)
    assert calls.toasts == []


async def test_an_answer_after_the_wait_gave_up_is_a_call() -> None:
    answers, calls = ButtonAnswers(wait_seconds=0.01), Calls()
    assert await answers.wait(9, nothing) is None
    await answers.answering(9, calls)("muộn")
    assert calls.toasts == ["muộn"]


async def test_a_turn_ended_without_an_answer_ends_the_wait_at_once() -> None:
    answers = ButtonAnswers(wait_seconds=60)
    waiting = asyncio.create_task(answers.wait(10, nothing))
    await asyncio.sleep(0)
    answers.release(10)
    assert await asyncio.wait_for(waiting, 5) is None


async def test_an_update_sent_twice_keeps_the_second_wait_when_the_first_ends() -> None:
    """Telegram may send an update again while its first request still waits: the first
    request's end does not take the second's wait away."""
    answers, calls = ButtonAnswers(wait_seconds=60), Calls()
    first = asyncio.create_task(answers.wait(11, nothing))
    await asyncio.sleep(0)
    second = asyncio.create_task(answers.wait(11, nothing))
    await asyncio.sleep(0)
    first.cancel()  # its connection closed, say
    await asyncio.gather(first, return_exceptions=True)
    await answers.answering(11, calls)("một lần")
    assert await second == Answered("một lần") and calls.toasts == []
