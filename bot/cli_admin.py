"""`rasoat db|users|invites|purge|outbox|inbox|zalo-oa|backup`: administering the database."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from bot.admin import (
    add_user,
    create_invites,
    locked_chats,
    parse_role,
    set_active,
    unlock_chats,
)
from bot.channels.zalo_oa_tokens import set_tokens
from bot.cli import EXIT_USAGE
from bot.database import Sessions
from bot.retention import Purge, purge_year
from bot.server_key import server_key
from bot.settings import Settings
from locales.catalog import translate
from storage.backup import BackupFailed, backup
from storage.repositories import APPLY_ATTEMPTS
from storage.uow import UnitOfWork


async def db(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    # Opening the database migrated it (bot.database).
    print(translate("cli.db_upgraded", settings.locale))
    return 0


async def users(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    if args.users_command in ("activate", "deactivate"):
        active = args.users_command == "activate"
        user = await set_active(sessions, args.who, active=active)
        key = "cli.user_activated" if active else "cli.user_deactivated"
        print(translate(key, settings.locale, name=user.display_name))
        return 0
    user = await add_user(
        sessions,
        platform=args.platform,
        platform_user_id=args.id,
        name=args.name,
        role=parse_role(args.role),
        area_codes=args.area,
        locale=settings.locale,
    )
    print(translate("cli.user_added", settings.locale, name=user.display_name, id=user.id))
    return 0


async def invites(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    if args.invites_command == "unlock":
        await _unlock(sessions, settings, args)
    else:
        await _create_invites(sessions, settings, args)
    return 0


async def _unlock(sessions: Sessions, settings: Settings, args: argparse.Namespace) -> None:
    if args.who or args.all:
        lifted = await unlock_chats(sessions, None if args.all else args.who)
        print(translate("cli.unlocked", settings.locale, count=lifted))
        return
    locked = await locked_chats(sessions)
    if not locked:
        print(translate("cli.none_locked", settings.locale))
        return
    for chat in locked:
        when = chat.last_failure.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
        print(f"  {chat.who}  {chat.display_name}  ({when})")
    print(translate("cli.unlock_hint", settings.locale))


async def _create_invites(sessions: Sessions, settings: Settings, args: argparse.Namespace) -> None:
    created = await create_invites(
        sessions,
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


async def purge(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    if args.year >= datetime.now(settings.tz).year:
        print(translate("purge.not_past", settings.locale, year=args.year), file=sys.stderr)
        return EXIT_USAGE
    mode = Purge.DELETE if args.delete else Purge.ANONYMISE
    result = await purge_year(
        sessions, args.year, mode, apply=args.yes, links_dir=settings.links_dir
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


async def outbox(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    async with UnitOfWork(sessions) as uow:
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


async def inbox(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    """The updates given up (see storage.repositories.Inbox.given_up): listed by platform
    and id, the person's message left in the database; or each given one more try."""
    async with UnitOfWork(sessions) as uow:
        if args.retry:
            count = await uow.inbox.retry()
            await uow.commit()
            print(translate("inbox.retry", settings.locale, count=count))
            return 0
        given_up = await uow.inbox.given_up()
    if not given_up:
        print(translate("inbox.none_given_up", settings.locale))
        return 0
    print(
        translate("inbox.given_up", settings.locale, count=len(given_up), attempts=APPLY_ATTEMPTS)
    )
    for update in given_up:
        received = update.received_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
        print(f"  {update.platform}:{update.update_key}  ({received})")
    print(translate("inbox.retry_hint", settings.locale))
    return 1


async def zalo_oa(
    sessions: Sessions, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    if args.tokens_command == "set":
        refresh = args.refresh_token or sys.stdin.readline().strip()
        if not refresh:
            print(translate("zalo_oa.cli_no_token", settings.locale), file=sys.stderr)
            return EXIT_USAGE
        await set_tokens(sessions, refresh, args.access_token, args.expires_in)
        print(translate("zalo_oa.cli_tokens_set", settings.locale))
        return 0
    async with UnitOfWork(sessions) as uow:
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


def make_backup(settings: Settings, args: argparse.Namespace) -> int:
    output: Path | None = args.output
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
