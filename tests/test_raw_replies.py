"""A turn's replies over python-telegram-bot's ``do_api_request`` (bot.channels.telegram.PtbApi):
what Telegram receives and keeps, the message id read from the Bot API's JSON, no sent message
parsed back into a ``Message``, and PTB's warning about the typed methods silenced."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, Message

from bot.channels.aiohttp_request import AiohttpRequest
from bot.channels.telegram import NotAMessage, PtbApi, expect_raw_requests, sent_id
from bot.delivery import SendFailed
from tests.fakes.telegram import TOKEN, Failure, FakeTelegram

CHAT = 4343
ROWS = [[("Có", "y"), ("Không", "n")], [("Quay lại", "back")]]


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    started = Bot(TOKEN, base_url=f"{fake_telegram.base_url}/bot", request=AiohttpRequest())
    async with started:
        yield started


async def test_a_reply_its_keyboard_and_its_edits_reach_telegram(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    api = PtbApi(bot)
    first = await api.send_text(CHAT, "Hộ có người khuyết tật không?", ROWS)
    second = await api.send_text(CHAT, "Cảm ơn.")
    [asked, thanked] = fake_telegram.messages_to(CHAT)
    assert (first, second) == (asked["message_id"], thanked["message_id"])
    assert first != second
    assert asked["text"] == "Hộ có người khuyết tật không?"
    assert asked["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Có", "callback_data": "y"}, {"text": "Không", "callback_data": "n"}],
            [{"text": "Quay lại", "callback_data": "back"}],
        ]
    }
    assert "reply_markup" not in thanked

    await api.edit_rows(CHAT, first, [[("Có ✓", "y")]])
    assert fake_telegram.message(CHAT, first)["reply_markup"] == {
        "inline_keyboard": [[{"text": "Có ✓", "callback_data": "y"}]]
    }
    await api.edit_text(CHAT, first, "Hộ có người khuyết tật không? Có")
    edited = fake_telegram.message(CHAT, first)
    assert edited["text"] == "Hộ có người khuyết tật không? Có"
    assert "reply_markup" not in edited


async def test_a_sent_message_is_not_parsed_back(
    bot: Bot, fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> Message:
        raise AssertionError("a sent message parsed into a Message")

    monkeypatch.setattr(Message, "de_json", refuse)
    api = PtbApi(bot)
    sent = await api.send_text(CHAT, "Câu hỏi", ROWS)
    await api.edit_rows(CHAT, sent, [[("Có", "y")]])
    await api.edit_text(CHAT, sent, "Câu hỏi: Có")
    assert fake_telegram.message(CHAT, sent)["text"] == "Câu hỏi: Có"


async def replies_warned(bot: Bot, silenced: bool) -> list[str]:
    """The warnings a reply and its two edits raise with every filter off, but the one
    bot.channels.telegram installs at import if ``silenced``."""
    api = PtbApi(bot)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if silenced:
            expect_raw_requests()
        sent = await api.send_text(CHAT, "Câu hỏi", ROWS)
        await api.edit_rows(CHAT, sent, [[("Có", "y")]])
        await api.edit_text(CHAT, sent, "Câu hỏi: Có")
    return [str(warning.message) for warning in caught]


async def test_ptbs_warning_about_the_typed_methods_is_silenced(bot: Bot) -> None:
    assert await replies_warned(bot, silenced=True) == []


async def test_the_silenced_warning_is_ptbs_own(bot: Bot) -> None:
    """What the filter matches is PTB's wording: without it, one warning a request."""
    shown = await replies_warned(bot, silenced=False)
    assert [text.split("'")[1] for text in shown] == [
        "Bot.sendMessage",
        "Bot.editMessageReplyMarkup",
        "Bot.editMessageText",
    ]


async def test_an_answer_that_is_not_a_message_fails_the_send_by_its_kind_alone(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    """A broken proxy's 200 whose result is not a message: the send fails (the delivery
    then tells the person), named by the error's type, with nothing of the message."""
    fake_telegram.fail("sendMessage", how=Failure.GARBLED)
    with pytest.raises(SendFailed) as failed:
        await PtbApi(bot).send_text(CHAT, "Câu hỏi bí mật", ROWS)
    assert str(failed.value) == "sendMessage: NotAMessage"


def test_an_edit_answered_true_has_no_message_id() -> None:
    # Telegram answers an edit of a message another bot sent (inline mode) with true.
    assert sent_id(True) == 0
    assert sent_id({"message_id": 12, "chat": {"id": 1}}) == 12
    with pytest.raises(NotAMessage):
        sent_id({"message_id": "12"})
