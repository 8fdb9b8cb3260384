"""Chat turns per second through ``Conversation.handle`` on SQLite, many chats at once.

Each chat is a collaborator interviewing a household of their own (the scripted household
of the tests), pressing the buttons the bot shows, as fast as the bot answers; each turn's
replies are then confirmed delivered, as a channel adapter does. No Telegram, no HTTP: the
write path alone (a durable commit per turn, or per group of turns). The database is a file
on disk (WAL, ``synchronous=FULL``), so commits pay for their fsync.

    python -m bench.writepath [--chats 1,8,32] [--rounds 1]

Prints, for each number of chats, turns per second, COMMITs per turn, and the process's CPU
time per turn (every thread's, the writer's included: less sensitive to a busy machine than
the rate). Information only: no target.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.admin import add_user
from bot.conversation import Conversation
from bot.messages import Incoming, Outgoing
from bot.settings import load_settings
from storage.db import create_engine, session_factory, upgrade
from storage.models import Area, Role
from storage.uow import UnitOfWork
from tests.helpers import seed_areas
from tests.interview_driver import (
    HOUSEHOLD_SCRIPT,
    MEMBER_SCRIPTS,
    ROSTER,
    Collaborator,
    scripted_household,
)
from tests.surfaces import ConversationSurface

VILLAGE = "87-MH-A1"


class Delivering:
    """A Conversation as a channel adapter uses it: replies sent, then confirmed."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.turns = 0

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        replies = await self.conversation.handle(incoming)
        self.turns += 1
        await self.conversation.delivered(incoming)
        return replies


async def interview(collab: Collaborator, code: str) -> None:
    await collab.say("/interview")
    await collab.say(code)
    [pick] = [data for label, data in collab.surface.buttons() if code in label]
    await collab.tap(pick)
    asked = await collab.walk(HOUSEHOLD_SCRIPT, await collab.confirm_roster())
    for (name, *_), script in zip(ROSTER, MEMBER_SCRIPTS, strict=True):
        asked = await collab.walk(script, asked, member=name)
    assert any(f"Đã hoàn thành phỏng vấn hộ {code}" in reply for reply in asked), asked


@dataclass
class Figures:
    turns_per_second: float
    commits_per_turn: float
    cpu_ms_per_turn: float


async def run(chats: int, rounds: int, folder: Path) -> Figures:
    """``chats`` collaborators each interviewing ``rounds`` households at once."""
    url = f"sqlite+aiosqlite:///{folder / f'bench-{chats}.db'}"
    engine = create_engine(url)
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        await seed_areas(sessions)
        year = datetime.now(UTC).year
        codes = [[f"WP-{chat:03d}-{n}" for n in range(rounds)] for chat in range(chats)]
        async with UnitOfWork(sessions) as uow:
            village = await uow.areas.by_code(VILLAGE)
            assert isinstance(village, Area)
            for code in itertools.chain.from_iterable(codes):
                uow.session.add(scripted_household(code, village.id, year))
            await uow.commit()
        for chat in range(chats):
            await add_user(
                sessions,
                platform="telegram",
                platform_user_id=str(5000 + chat),
                name=f"Cộng tác viên {chat}",
                role=Role.COLLABORATOR,
                area_codes=[VILLAGE],
                locale="vi",
            )
        settings = load_settings(DATABASE_URL=url, RASOAT_FLOOD_LIMIT=0, RASOAT_READING_TIME=0)
        core = Conversation(sessions, settings)
        assert core.writer is not None
        # The turns' COMMITs are the writer thread's.
        event.listen(core.writer.engine, "commit", commits.append)
        conversation = Delivering(core)
        keys: Iterator[int] = itertools.count(1)

        async def chat(index: int) -> None:
            user = str(5000 + index)
            surface = ConversationSurface(conversation, user, platform="telegram", update_keys=keys)
            collab = Collaborator(surface, sessions, "telegram", user)  # type: ignore[arg-type]
            for code in codes[index]:
                await interview(collab, code)

        commits.clear()
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(chat(index) for index in range(chats)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        turns = conversation.turns
        core.close()
        return Figures(turns / elapsed, len(commits) / turns, 1000 * cpu / turns)
    finally:
        await engine.dispose()


async def main(chat_counts: list[int], rounds: int) -> None:
    # On the disk the database would live on, not a tmpfs: the fsync is what is measured.
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        print(f"{'chats':>6} {'turns/s':>9} {'commits/turn':>13} {'CPU ms/turn':>12}")
        for chats in chat_counts:
            got = await run(chats, rounds, Path(folder))
            print(
                f"{chats:>6} {got.turns_per_second:>9.1f} {got.commits_per_turn:>13.2f} "
                f"{got.cpu_ms_per_turn:>12.2f}",
                flush=True,
            )


def parse(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(prog="python -m bench.writepath")
    parser.add_argument("--chats", default="1,8,32", help="comma-separated numbers of chats")
    parser.add_argument("--rounds", type=int, default=1, help="households per chat")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    asyncio.run(main([int(n) for n in args.chats.split(",")], args.rounds))
