"""The `rasoat` command: run the bot, chat in the terminal, and administer the database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot import meetings_cli
from bot.admin import (
    AdminError,
    add_user,
    create_invites,
    locked_chats,
    parse_role,
    set_active,
    unlock_chats,
)
from bot.channels.terminal import TerminalChannel, stdin_line
from bot.cli_run import add_run_arguments, channel_plans
from bot.decisions.reports import PeriodError
from bot.demo.loader import load_demo
from bot.dialogs.reports import load_schedule, report_to_files
from bot.dialogs.summary import summary_cli
from bot.export_cli import export_to_files
from bot.interview.results import classify_interviews
from bot.logs import configure_logging, redact, secrets_of
from bot.reclassify import reclassify
from bot.retention import Purge, purge_year
from bot.runtime import Runtime, runtime
from bot.server_key import server_key
from bot.settings import Settings, SettingsError, load_settings
from classification import RuleFileError, available_versions
from classification.vocabulary import VocabularyError
from exports.export_scope import ExportRefused
from exports.stats_import import import_area_stats
from locales.catalog import translate
from storage.backup import BackupFailed, backup
from storage.imports import ImportFailed, import_areas, import_roster
from storage.imports.followup import import_followup
from storage.imports.responses import import_responses
from storage.models import Role
from storage.stats_facts import rebuild_member_facts
from storage.uow import UnitOfWork

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./data/demo.db"
EXIT_USAGE = 2


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
        if args.command == "run":
            # A wrong schedule of reports is said now, not in the log every minute.
            load_schedule(settings)
            return run_bot(settings, args)
        if args.command == "backup":
            return make_backup(settings, args.output)
        return asyncio.run(dispatch(settings, args))
    except SettingsError as error:
        print(translate("cli.settings_error", detail=str(error)), file=sys.stderr)
        return EXIT_USAGE
    except AdminError as error:
        print(error.render(_locale()), file=sys.stderr)
        return EXIT_USAGE
    except ImportFailed as error:
        print(translate("cli.import_failed", _locale(), count=len(error.errors)), file=sys.stderr)
        for row_error in error.errors:
            print("  " + row_error.render(_locale()), file=sys.stderr)
        return 1
    except ExportRefused as error:
        print(translate(error.key, _locale(), **error.params), file=sys.stderr)
        return EXIT_USAGE
    except PeriodError as error:
        print(error.text(_locale()), file=sys.stderr)
        return EXIT_USAGE
    except (RuleFileError, VocabularyError) as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception:
        # Unexpected: the traceback is what a maintainer needs, but libraries quote the token
        # in their messages (python-telegram-bot's InvalidToken does).
        print(redact(traceback.format_exc(), secrets), file=sys.stderr)
        return 1


def _rule_version(version: str) -> str:
    if version.endswith(".toml") and Path(version).is_file():
        return version
    if version not in available_versions():
        raise AdminError("admin.bad_rules", rules=version, choices=", ".join(available_versions()))
    return version


def _locale() -> str:
    try:
        return load_settings().locale
    except SettingsError:
        return "vi"


async def dispatch(
    settings: Settings, args: argparse.Namespace, now: datetime | None = None
) -> int:
    """Run one command; ``now`` (the clock, injectable for tests) dates the review."""
    progress = sys.stderr.isatty()
    now = now or datetime.now(UTC)
    this_year = now.astimezone(settings.tz).year
    async with runtime(settings) as rt:
        if args.command == "db":
            print(translate("cli.db_upgraded", settings.locale))
        elif args.command == "areas":
            result = await import_areas(rt.sessions, Path(args.file), progress=progress)
            print(result.render(settings.locale))
        elif args.command == "roster":
            year = args.year or this_year
            result = await import_roster(
                rt.sessions,
                Path(args.file),
                year=year,
                progress=progress,
                reference_date=settings.review_dates.reference(year, now),
            )
            print(result.render(settings.locale))
        elif args.command == "followup":
            result = await import_followup(
                rt.sessions,
                Path(args.file),
                year=args.year or this_year,
                rules=settings.rules,
                now=now,
            )
            print(result.render(settings.locale))
        elif args.command == "reclassify":
            report = await reclassify(
                rt.sessions,
                _rule_version(args.rules),
                area_code=args.area,
                dates=settings.review_dates,
                locale=settings.locale,
            )
            print(report.render(settings.locale))
        elif args.command == "responses":
            year = args.year or this_year

            async def derive(uow: UnitOfWork, interview_ids: list[int]) -> None:
                await classify_interviews(
                    uow, interview_ids, rules_spec=settings.rules, dates=settings.review_dates
                )

            result = await import_responses(
                rt.sessions,
                Path(args.file),
                year=year,
                progress=progress,
                reference_date=settings.review_dates.reference(year, now),
                now=now,
                after_write=derive,
            )
            print(result.render(settings.locale))
        elif args.command == "summary":
            text = await summary_cli(
                rt.sessions,
                args.area,
                args.year,
                args.villages,
                settings.locale,
                current_year=this_year,
            )
            print(text)
        elif args.command == "stats":
            if args.stats_command == "import":
                stats_result = await import_area_stats(
                    rt.sessions, Path(args.file), progress=progress
                )
                print(stats_result.render(settings.locale))
            else:
                members = await rebuild_member_facts(rt.sessions)
                print(translate("cli.stats_rebuilt", settings.locale, members=members))
        elif args.command == "export":
            written = await export_to_files(
                rt.sessions,
                settings,
                area=args.area,
                fmt=args.format,
                year=args.year,
                sheet=args.sheet,
                output=Path(args.output),
                now=now,
            )
            for path in written:
                print(path)
        elif args.command == "report":
            produced = await report_to_files(
                rt.sessions,
                settings,
                period_code=args.period,
                area_code=args.area,
                output=Path(args.output),
            )
            print(produced.text)
            for path in produced.files:
                print(path)
        elif args.command == "meetings":
            print(await _meetings(rt, settings, args, now))
        elif args.command == "users" and args.users_command in ("activate", "deactivate"):
            active = args.users_command == "activate"
            user = await set_active(rt.sessions, args.who, active=active)
            key = "cli.user_activated" if active else "cli.user_deactivated"
            print(translate(key, settings.locale, name=user.display_name))
        elif args.command == "users":
            user = await add_user(
                rt.sessions,
                platform=args.platform,
                platform_user_id=args.id,
                name=args.name,
                role=parse_role(args.role),
                area_codes=args.area,
                locale=settings.locale,
            )
            print(translate("cli.user_added", settings.locale, name=user.display_name, id=user.id))
        elif args.command == "purge":
            return await _purge(rt, settings, args)
        elif args.command == "invites" and args.invites_command == "unlock":
            await _unlock(rt, settings, args)
        elif args.command == "invites":
            await _create_invites(rt, settings, args)
        elif args.command == "chat":
            await _chat(rt, settings, args)
        elif args.command == "zalo-oa":
            return await _zalo_oa_tokens(rt, settings, args)
        elif args.command == "outbox":
            async with UnitOfWork(rt.sessions) as uow:
                counts = await uow.outbox.counts()
            print(
                translate(
                    "outbox.counts",
                    settings.locale,
                    pending=counts.pending,
                    sent=counts.sent,
                    failed=counts.failed,
                )
            )
    return 0


async def _zalo_oa_tokens(rt: Runtime, settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.zalo_oa_tokens import set_tokens

    if args.tokens_command == "set":
        refresh = args.refresh_token or sys.stdin.readline().strip()
        if not refresh:
            print(translate("zalo_oa.cli_no_token", settings.locale), file=sys.stderr)
            return EXIT_USAGE
        await set_tokens(rt.sessions, refresh, args.access_token, args.expires_in)
        print(translate("zalo_oa.cli_tokens_set", settings.locale))
        return 0
    async with UnitOfWork(rt.sessions) as uow:
        token = await uow.zalo_oa_tokens.current()
    if token is None:
        print(translate("zalo_oa.cli_no_pair", settings.locale))
        return 1

    def local(moment: datetime) -> str:
        return moment.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")

    print(
        translate(
            "zalo_oa.cli_status",
            settings.locale,
            expires=local(token.access_expires_at),
            since=local(token.created_at),
            source=token.source,
        )
    )
    if token.refused_at is not None:
        print(translate("zalo_oa.cli_refused", settings.locale, at=local(token.refused_at)))
        return 1
    if token.refreshing_until is not None:
        print(translate("zalo_oa.cli_refreshing", settings.locale))
    return 0


async def _meetings(
    rt: Runtime, settings: Settings, args: argparse.Namespace, now: datetime
) -> str:
    command = args.meetings_command
    if command == "add":
        return await meetings_cli.add_meeting(
            rt.sessions,
            settings,
            when=args.when,
            place=args.place,
            villages=args.villages,
            categories=args.categories,
            groups=args.groups,
            now=now,
        )
    if command == "cancel":
        return await meetings_cli.cancel_meeting(rt.sessions, settings, args.id, now=now)
    if command == "import":
        return await meetings_cli.import_meetings(rt.sessions, settings, Path(args.file), now=now)
    if command == "remind":
        return await meetings_cli.remind(rt.sessions, settings, now=now)
    return await meetings_cli.list_meetings(rt.sessions, settings, now=now)


async def _purge(rt: Runtime, settings: Settings, args: argparse.Namespace) -> int:
    if args.year >= datetime.now(settings.tz).year:
        print(translate("purge.not_past", settings.locale, year=args.year), file=sys.stderr)
        return EXIT_USAGE
    mode = Purge.DELETE if args.delete else Purge.ANONYMISE
    result = await purge_year(
        rt.sessions, args.year, mode, apply=args.yes, links_dir=settings.links_dir
    )
    key = f"purge.{'done' if result.applied else 'would'}.{mode.value}"
    print(
        translate(
            key,
            settings.locale,
            year=result.year,
            households=result.households,
            interviews=result.interviews,
        )
    )
    return 0


async def _unlock(rt: Runtime, settings: Settings, args: argparse.Namespace) -> None:
    if args.who or args.all:
        lifted = await unlock_chats(rt.sessions, None if args.all else args.who)
        print(translate("cli.unlocked", settings.locale, count=lifted))
        return
    locked = await locked_chats(rt.sessions)
    if not locked:
        print(translate("cli.none_locked", settings.locale))
        return
    for chat in locked:
        when = chat.last_failure.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
        print(f"  {chat.who}  {chat.display_name}  ({when})")
    print(translate("cli.unlock_hint", settings.locale))


async def _create_invites(rt: Runtime, settings: Settings, args: argparse.Namespace) -> None:
    created = await create_invites(
        rt.sessions,
        parse_role(args.role),
        args.area,
        days=args.days or settings.invite_days,
        key=server_key(settings),
        count=max(1, args.count),
    )
    username = settings.telegram_bot_username
    for invite in created:
        expires = invite.expires_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
        print(
            translate(
                "cli.invite_created",
                settings.locale,
                code=invite.code,
                role=translate(f"role.{invite.role.value}", settings.locale),
                area=f"{invite.area_name} ({invite.area_code})",
                expires=expires,
            )
        )
        link = invite.link(username)
        print("  " + (link or translate("cli.invite_no_username", settings.locale)))


async def _chat(rt: Runtime, settings: Settings, args: argparse.Namespace) -> None:
    user_id = args.user or getpass.getuser()
    write = print
    write(translate("cli.chat_intro", settings.locale, user=user_id))
    if args.demo:
        invites = await load_demo(
            rt.sessions, server_key(settings), settings.review_dates, datetime.now(UTC)
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
    channel = TerminalChannel(
        rt.conversation,
        user_id=user_id,
        display_name=user_id,
        read_line=stdin_line,
        write=write,
        download_dir=Path("data") / "downloads",
    )
    await channel.run()


def make_backup(settings: Settings, output: Path | None) -> int:
    stamp = datetime.now(settings.tz).strftime("%Y%m%d-%H%M%S")
    suffix = ".db" if settings.is_sqlite else ".dump"
    target = output or Path("data") / "backups" / f"rasoat-{stamp}{suffix}"
    try:
        written = backup(settings.database_url, settings.database_schema, target)
    except BackupFailed as error:
        print(translate(error.key, settings.locale, **error.params), file=sys.stderr)
        return EXIT_USAGE
    print(translate("backup.done", settings.locale, path=written))
    return 0


def run_bot(settings: Settings, args: argparse.Namespace) -> int:
    """``rasoat run``: the channels of ``--channel`` in this process, until SIGTERM or
    Ctrl-C (bot.service)."""
    from bot.channels.registry import ChannelUnavailable
    from bot.service import CannotListen, bind, serve

    plans = channel_plans(settings, args)
    for kind, endpoint in plans:
        kind.check(settings, endpoint)
    try:
        # Bound first: a port in use stops the start before anything else is done.
        sockets = bind(settings, plans)
    except CannotListen as error:
        print(
            translate(
                "cli.cannot_listen", settings.locale, address=error.address, error=error.detail
            ),
            file=sys.stderr,
        )
        return 1

    async def until_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        await serve(settings, plans, sockets, stop)

    try:
        asyncio.run(until_signal())
    except ChannelUnavailable as error:
        print(error.text, file=sys.stderr)
        return error.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
