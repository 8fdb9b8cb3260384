"""A press's answer handed to the webhook request waiting for it (button_answers)."""

from __future__ import annotations

import asyncio
from typing import cast

from bot.channels.bot_api import BotApi, Turn, answer
from bot.channels.button_answers import Answered, ButtonAnswers
from bot.conversation import Conversation
from bot.messages import Incoming, Kind, Notice, Text


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


async def test_the_answer_is_given_when_called_before_it_is_awaited() -> None:
    """The turn's end may come before what the answer returned is awaited: the webhook has
    the answer already."""
    answers, calls = ButtonAnswers(wait_seconds=60), Calls()
    waiting = asyncio.create_task(answers.wait(12, nothing))
    await asyncio.sleep(0)
    given = answers.answering(12, calls)("sớm")
    answers.release(12)
    assert await waiting == Answered("sớm")
    assert await given is True and calls.toasts == []


class Replies:
    """The Bot API of a turn's replies (bot.channels.bot_api.BotApi) that notes, as each
    reply starts on its way, whether the webhook still waited for the press's answer: it ends
    the wait there (release), as a turn's end would."""

    def __init__(self, answers: ButtonAnswers, update_id: int) -> None:
        self.answers, self.update_id = answers, update_id
        self.sent: list[str] = []

    async def send_text(self, chat_id: int, text: str, rows: object = None) -> int:
        self.answers.release(self.update_id)
        self.sent.append(text)
        return len(self.sent)


class Answering:
    """A Conversation as bot.channels.bot_api.answer uses it: one turn's replies."""

    async def handle(self, incoming: Incoming, progress: object, in_order: bool) -> list[Text]:
        return [Notice("Đã lưu"), Text("Câu hỏi tiếp")]

    async def delivered(self, incoming: Incoming, last_message: int | None = None) -> None:
        pass


async def test_a_turn_gives_the_webhook_its_answer_before_its_replies_go() -> None:
    answers, calls = ButtonAnswers(wait_seconds=60), Calls()
    api = Replies(answers, 13)
    pressed = Incoming("telegram", "5", "5", "Hoa", Kind.CHOICE, choice="a:1", update_key="13")
    turn = Turn(pressed, None, answers.answering(13, calls))
    waiting = asyncio.create_task(answers.wait(13, nothing))
    await asyncio.sleep(0)
    await answer(cast(Conversation, Answering()), cast(BotApi, api), turn, "vi")
    assert await waiting == Answered("Đã lưu")
    assert api.sent == ["Câu hỏi tiếp"] and calls.toasts == []
