"""The `rasoat` command: run the bot, chat in the terminal, and administer the database.

This module builds the parser and runs one command; each command is carried out by a
function of its own module (:data:`COMMANDS`), imported when that command runs. Importing
every command's implementation (the channels, the dialogs, the exports, the importers)
cost each `rasoat` process one to three seconds before it did anything, `--help` included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from bot.cli_run import add_run_arguments
from bot.logs import configure_logging, redact, secrets_of
from bot.settings import Settings, SettingsError, load_settings
from locales.catalog import translate

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./data/demo.db"
EXIT_USAGE = 2

# "module:function" carrying out each command. `run` and `backup` open no database here
# (`run` opens its own runtime, `backup` copies the database whole): theirs is called with
# the settings and the arguments; every other one as `await f(sessions, settings, args, now)`
# inside the migrated database (bot.database), and returns the exit status.
COMMANDS: dict[str, str] = {
    "run": "bot.cli_run:run_bot",
    "backup": "bot.cli_admin:make_backup",
    "chat": "bot.cli_chat:chat",
    "db": "bot.cli_admin:db",
    "areas": "bot.cli_imports:areas",
    "roster": "bot.cli_imports:roster",
    "followup": "bot.cli_imports:followup",
    "responses": "bot.cli_imports:responses",
    "stats": "bot.cli_imports:stats",
    "reclassify": "bot.cli_review:reclassify",
    "summary": "bot.cli_review:summary",
    "export": "bot.cli_review:export",
    "report": "bot.cli_review:report",
    "meetings": "bot.meetings_cli:command",
    "users": "bot.cli_admin:users",
    "invites": "bot.cli_admin:invites",
    "purge": "bot.cli_admin:purge",
    "outbox": "bot.cli_admin:outbox",
    "inbox": "bot.cli_admin:inbox",
    "zalo-oa": "bot.cli_admin:zalo_oa",
}
WITHOUT_DATABASE = frozenset({"run", "backup"})


def this_year(settings: Settings, now: datetime) -> int:
    """The review year at ``now``: the one a command without ``--year`` works on."""
    return now.astimezone(settings.tz).year


def command_function(command: str) -> Callable[..., Any]:
    """The function carrying out ``command``, its module imported now (see COMMANDS)."""
    module, name = COMMANDS[command].split(":")
    function: Callable[..., Any] = getattr(import_module(module), name)
    return function


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rasoat", description=translate("cli.description"))
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the chat bot: one or several channels")
    add_run_arguments(run)

    chat = commands.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--demo", action="store_true", help="use the bundled demo commune")
    chat.add_argument("--user", default=None, help="who you are in the chat (default: login)")

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply migrations")

    areas = commands.add_parser("areas", help="administrative areas").add_subparsers(
        dest="areas_command", required=True
    )
    areas.add_parser("import", help="import areas from .csv or .xlsx").add_argument("file")

    roster = commands.add_parser("roster", help="household roster").add_subparsers(
        dest="roster_command", required=True
    )
    roster_import = roster.add_parser("import", help="import households from .xlsx or .csv")
    roster_import.add_argument("file")
    roster_import.add_argument("--year", type=int, default=None, help="review year")

    followup = commands.add_parser(
        "followup", help="responsible officers of the people on the support lists"
    ).add_subparsers(dest="followup_command", required=True)
    followup_import = followup.add_parser(
        "import", help="import the filled-in 'Người phụ trách' column of the exported lists"
    )
    followup_import.add_argument("file")
    followup_import.add_argument("--year", type=int, default=None, help="review year")

    reclassify = commands.add_parser(
        "reclassify", help="recompute stored classifications under a rule set"
    )
    reclassify.add_argument("--rules", required=True, help="rule set version, e.g. 2027-2030")
    reclassify.add_argument("--area", default=None, help="limit to an area (and below)")

    responses = commands.add_parser("responses", help="interviews done on paper, ODK or Kobo")
    responses_sub = responses.add_subparsers(dest="responses_command", required=True)
    responses_import = responses_sub.add_parser(
        "import", help="import completed interviews from an ODK/Kobo .xlsx export"
    )
    responses_import.add_argument("file")
    responses_import.add_argument("--year", type=int, default=None, help="review year")

    summary = commands.add_parser("summary", help="an area's review statistics")
    summary.add_argument("--area", required=True, help="area code or name")
    summary.add_argument("--year", type=int, default=None)
    summary.add_argument("--villages", action="store_true", help="one line per child area")

    stats = commands.add_parser("stats", help="area figures").add_subparsers(
        dest="stats_command", required=True
    )
    stats.add_parser("import", help="total households per area and year (.csv/.xlsx)").add_argument(
        "file"
    )
    stats.add_parser("rebuild", help="recompute member_facts from the answers")

    export = commands.add_parser("export", help="an area's lists (.xlsx/.csv) or report (.docx)")
    export.add_argument("--area", default=None, help="area code (default: every area)")
    export.add_argument("--format", choices=["xlsx", "csv", "docx"], default="xlsx")
    export.add_argument("--year", type=int, default=None, help="review year")
    export.add_argument("--sheet", default=None, help="csv: one sheet, e.g. thanh-vien")
    export.add_argument("--output", default=".", help="folder for the files")

    # /baocao's report; /report's Word file of section II is `export --format docx`.
    periodic = commands.add_parser(
        "report", help="the periodic report (quarter, half year, year): text, .xlsx, .docx"
    )
    periodic.add_argument("--period", required=True, help="2026-Q3, 2026-H1 or 2026")
    periodic.add_argument("--area", default=None, help="area code (default: the top area)")
    periodic.add_argument("--output", default=".", help="folder for the files")

    meetings = commands.add_parser(
        "meetings", help="policy dialogues (đối thoại chính sách)"
    ).add_subparsers(dest="meetings_command", required=True)
    meeting_add = meetings.add_parser("add", help="schedule a policy dialogue")
    meeting_add.add_argument(
        "--when", required=True, help='local date and time: "15/12/2026 08:00"'
    )
    meeting_add.add_argument("--place", required=True)
    meeting_add.add_argument("--villages", required=True, help="village codes: 87-MH-A1,87-MH-A2")
    meeting_add.add_argument(
        "--categories", required=True, help="poor,near_poor,escaped (or hộ nghèo, cận nghèo…)"
    )
    meeting_add.add_argument("--groups", default="", help="support group ids (default: all)")
    meetings.add_parser("list", help="every dialogue, with how many households are invited")
    meetings.add_parser("cancel", help="cancel a dialogue (announced)").add_argument("id", type=int)
    meetings.add_parser("import", help="dialogues from a .csv or .xlsx file").add_argument("file")
    meetings.add_parser("remind", help="send the reminders due now (for cron)")

    users = commands.add_parser("users", help="users").add_subparsers(
        dest="users_command", required=True
    )
    user_add = users.add_parser("add", help="add a user directly (without an invite)")
    user_add.add_argument(
        "--platform",
        default="telegram",
        choices=["telegram", "zalo-bot", "zalo-oa", "zalo", "terminal"],
    )
    user_add.add_argument("--id", required=True, help="the user's platform id")
    user_add.add_argument("--name", required=True)
    user_add.add_argument("--role", required=True)
    user_add.add_argument("--area", required=True, action="append", help="area code (repeatable)")

    for verb, text in (("deactivate", "stop a user's access"), ("activate", "restore it")):
        switch = users.add_parser(verb, help=text)
        switch.add_argument("who", help="the user, as platform:id (telegram:12345)")

    invites = commands.add_parser("invites", help="invite codes").add_subparsers(
        dest="invites_command", required=True
    )
    invite_create = invites.add_parser("create", help="create one-time invite codes")
    invite_create.add_argument("--role", required=True)
    invite_create.add_argument("--area", required=True, help="area code")
    invite_create.add_argument("--days", type=int, default=None, help="days until expiry")
    invite_create.add_argument("--count", type=int, default=1)
    purge = commands.add_parser(
        "purge", help="delete or anonymise a past review year's personal data"
    )
    purge.add_argument("--year", type=int, required=True, help="a past review year")
    how = purge.add_mutually_exclusive_group(required=True)
    how.add_argument("--delete", action="store_true", help="delete the year's households")
    how.add_argument(
        "--anonymise", action="store_true", help="keep the statistics, remove who they are"
    )
    purge.add_argument("--yes", action="store_true", help="do it (without: say what it would do)")
    commands.add_parser("outbox", help="how many messages the bot sent on its own, and waits to")
    commands.add_parser(
        "inbox", help="messages received that failed every time, no longer applied"
    ).add_argument(
        "--retry", action="store_true", help="apply each once more, at the next start of the bot"
    )
    zalo_oa = commands.add_parser("zalo-oa", help="the Zalo Official Account").add_subparsers(
        dest="zalo_oa_command", required=True
    )
    tokens = zalo_oa.add_parser("tokens", help="the OA's access and refresh tokens")
    tokens_do = tokens.add_subparsers(dest="tokens_command", required=True)
    tokens_set = tokens_do.add_parser(
        "set", help="store a new pair (at the start, or after Zalo refused a refresh)"
    )
    tokens_set.add_argument(
        "--refresh-token", default=None, help="the refresh token (default: read from stdin)"
    )
    tokens_set.add_argument("--access-token", default="", help="its access token, if at hand")
    tokens_set.add_argument(
        "--expires-in", type=int, default=0, help="seconds the access token has left"
    )
    tokens_do.add_parser("status", help="when the access token expires, and what went wrong")
    backup = commands.add_parser(
        "backup", help="copy the whole database to a file, while the bot runs"
    )
    backup.add_argument("--output", type=Path, default=None, help="file to write (new)")
    unlock = invites.add_parser(
        "unlock",
        help="list chats locked out for too many wrong codes, or lift a lock-out",
    )
    unlock.add_argument("who", nargs="?", help="the chat to unlock, as listed (telegram:12345)")
    unlock.add_argument("--all", action="store_true", help="lift every lock-out")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Everything rasoat writes (the database, exported lists, downloads) holds personal data:
    # readable by the account that runs it, nobody else.
    os.umask(0o077)
    secrets: list[str] = []
    try:
        overrides = {"DATABASE_URL": DEMO_DATABASE_URL} if getattr(args, "demo", False) else {}
        settings = load_settings(**overrides)
        secrets = secrets_of(settings)
        configure_logging(settings, verbose=args.verbose)
        if args.command in WITHOUT_DATABASE:
            status: int = command_function(args.command)(settings, args)
            return status
        return asyncio.run(dispatch(settings, args))
    except SettingsError as error:
        print(translate("cli.settings_error", detail=str(error)), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # Imported once a command failed: the errors' classes belong to the commands'
        # modules, which a command that succeeds does not all load (see COMMANDS).
        from bot.cli_errors import explain

        explained = explain(error)
        if explained is not None:
            return explained
        # Unexpected: the traceback is what a maintainer needs, but libraries quote the token
        # in their messages (python-telegram-bot's InvalidToken does).
        print(redact(traceback.format_exc(), secrets), file=sys.stderr)
        return 1


async def dispatch(
    settings: Settings, args: argparse.Namespace, now: datetime | None = None
) -> int:
    """Run one command; ``now`` (the clock, injectable for tests) dates the review."""
    command: Callable[..., Awaitable[int]] = command_function(args.command)
    # Imported here with the commands it serves: bot.database brings SQLAlchemy, Alembic and
    # the form, which `--help`, a mistyped option and `run`'s early refusals do without.
    from bot.database import database

    async with database(settings) as opened:
        return await command(opened.sessions, settings, args, now or datetime.now(UTC))


if __name__ == "__main__":
    sys.exit(main())
