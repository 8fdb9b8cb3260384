"""`rasoat run` delivers the outbox through the fake Bot API, on both databases."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

from bot.messages import Text
from bot.push import encode
from locales.catalog import translate
from storage.models import ChatBinding
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.test_outbox import SUPERVISOR, people
from tests.test_telegram_e2e import ROOT, run_env, start_rasoat, stop


async def rasoat(env: dict[str, str], *args: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=full_env | env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output
    return output.decode()


async def test_messages_due_while_the_bot_was_down_are_sent_when_it_comes_back(
    database: Database, fake_telegram: FakeTelegram
) -> None:
    ids = await people(database, range(1001, 1003))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    async with UnitOfWork(database.sessions) as uow:
        for chat in (1001, 1002):
            await uow.outbox.enqueue(
                ids[chat], encode(Text(f"Nhắc {chat}")), f"r:{chat}", yesterday, yesterday
            )
        await uow.commit()
    fake_telegram.user(id=1002).block()
    fake_telegram.enforce_limits(30, 1.0)
    env = run_env(database, fake_telegram)
    process = await start_rasoat(env)
    try:
        [reminder] = await fake_telegram.wait_for_messages(1001, timeout=30)
        [note] = await fake_telegram.wait_for_messages(SUPERVISOR, timeout=30)
    finally:
        output = await stop(process)
    assert reminder["text"] == "Nhắc 1001"
    assert note["text"] == translate("outbox.blocked_note", "vi", name="Người 1002", areas="Ấp 1")
    assert fake_telegram.rate_limited == 0
    # The log names no one and shows no token.
    assert TOKEN not in output and "Người" not in output and "Nhắc" not in output
    async with UnitOfWork(database.sessions) as uow:
        binding = await uow.session.get(ChatBinding, (ids[1002], "telegram"))
        assert binding is not None and not binding.active
        counts = await uow.outbox.counts()
    assert (counts.pending, counts.sent, counts.failed) == (0, 2, 1)
    # Another start sends what is new, and nothing a second time.
    async with UnitOfWork(database.sessions) as uow:
        now = datetime.now(UTC)
        await uow.outbox.enqueue(ids[1001], encode(Text("Mới")), "r:new", now, now)
        await uow.commit()
    process = await start_rasoat(env)
    try:
        await fake_telegram.wait_for_messages(1001, timeout=30)
    finally:
        await stop(process)
    assert [m["text"] for m in fake_telegram.messages_to(1001)] == ["Nhắc 1001", "Mới"]
    assert len(fake_telegram.messages_to(SUPERVISOR)) == 1
    assert translate("outbox.counts", "vi", pending=0, sent=3, failed=1) in await rasoat(
        env, "outbox"
    )
