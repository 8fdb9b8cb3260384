"""`rasoat chat [--demo]`: the bot in this terminal."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path

from bot.channels.terminal import TerminalChannel, stdin_line
from bot.conversation import Conversation
from bot.database import Sessions
from bot.demo.loader import load_demo
from bot.server_key import server_key
from bot.settings import Settings
from locales.catalog import translate
from storage.models import Role


async def chat(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    user_id = args.user or getpass.getuser()
    write = print
    write(translate("cli.chat_intro", settings.locale, user=user_id))
    if args.demo:
        invites = await load_demo(
            sessions, server_key(settings), settings.review_dates, datetime.now(UTC)
        )
        write(
            translate(
                "cli.demo_intro",
                settings.locale,
                collaborator=invites[Role.COLLABORATOR].code,
                supervisor=invites[Role.SUPERVISOR].code,
                staff=invites[Role.COMMUNE_STAFF].code,
            )
        )
    conversation = Conversation(sessions, settings)
    try:
        channel = TerminalChannel(
            conversation,
            user_id=user_id,
            display_name=user_id,
            read_line=stdin_line,
            write=write,
            download_dir=Path("data") / "downloads",
        )
        await channel.run()
    finally:
        # Stops its writer thread (SQLite) before the database is closed.
        conversation.close()
    return 0
