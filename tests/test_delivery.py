"""Sending a turn's replies one by one (bot.delivery), with no platform and no database."""

from __future__ import annotations

import pytest

from bot.delivery import SendFailed, deliver, harmless, recovery
from bot.messages import Choice, Choices, CommandMenu, Document, Notice, Outgoing, Text
from locales.catalog import translate

TITLE = Text("Phần B. Thành viên")
QUESTION = Choices("Giới tính của Lê Thị Bảy?", (Choice("Nữ", "a:1:7:1"),))


async def test_the_replies_after_a_failed_one_still_go_then_the_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[Outgoing] = []

    async def send(reply: Outgoing) -> None:
        if reply is TITLE:
            raise SendFailed("sendMessage", "NetworkError: Internal Server Error")
        sent.append(reply)

    failed = await deliver([TITLE, QUESTION], send, "vi", turn="10007")
    assert failed == [TITLE]
    [question, notice] = sent
    assert question is QUESTION
    assert isinstance(notice, Choices)
    assert notice.text == translate("delivery.reply_lost", command="/tiep")
    assert [c.data for c in notice.choices] == ["cmd:tiep"]
    [line] = [record.getMessage() for record in caplog.records]
    assert line == (
        "reply 1 of 2 (text) of update 10007 not delivered: "
        "sendMessage failed: NetworkError: Internal Server Error"
    )


async def test_any_exception_is_contained_and_logged_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def send(reply: Outgoing) -> None:
        raise ValueError(f"cannot render {reply}")

    assert await deliver([QUESTION], send, "vi") == [QUESTION]
    assert all("Lê Thị Bảy" not in record.getMessage() for record in caplog.records)
    assert "(choices)" in caplog.records[0].getMessage()


def test_what_each_lost_reply_is_followed_by() -> None:
    chart = Document("viec-lam.png", b"png", again="/summary 87-MH 2026", inline=True)
    plain = Document("a.xlsx", b"xlsx")
    cosmetic: list[Outgoing] = [CommandMenu((("help", "Hướng dẫn"),)), Notice("Đã lưu")]
    assert recovery(cosmetic, "vi") == []
    [chart_notice, plain_notice] = recovery([chart, plain], "vi")
    assert chart_notice == Text(
        translate("delivery.file_lost", file="viec-lam.png", command="/summary 87-MH 2026")
    )
    assert plain_notice == Text(translate("delivery.file_lost_resend", file="a.xlsx"))
    [*_, notice] = recovery([chart, QUESTION], "en")
    assert isinstance(notice, Choices)
    assert notice.text == translate("delivery.reply_lost", "en", command="/tiep")


async def test_a_status_line_never_fails_the_work() -> None:
    shown: list[str] = []

    async def status(text: str) -> None:
        shown.append(text)
        raise AttributeError("'str' object has no attribute 'copy'")

    await harmless(status)("Đang xuất… 40%")
    assert shown == ["Đang xuất… 40%"]
