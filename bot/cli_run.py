"""``rasoat run``: its options (which channels run in the process, and how each receives)
and the command itself (``run_bot``).

``--channel telegram,zalo-bot`` runs both. ``--webhook`` makes every channel receive by
webhook, ``--webhook zalo-bot`` only those named (the others poll). Each channel has its
own options, ``--telegram-port``, ``--zalo-bot-path``, ``--zalo-bot-webhook-url``,
``--zalo-bot-secret``, ``--zalo-bot-listen``…, made from the registry; the plain ones
(``--port``, ``--path``, ``--secret``, ``--webhook-url``, ``--listen``) apply to every
channel not given its own, and a channel given neither has its defaults (Telegram: port
8443, path /telegram; Zalo Bot: 8444, /zalo; Zalo OA, webhook only: 8445, /zalo-oa), so two
channels never meet on one port unless told to, which is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from bot.channels.registry import CHANNELS, ChannelKind, ChannelUnavailable, Endpoint
from bot.settings import Settings, SettingsError
from locales.catalog import translate

Plan = tuple[ChannelKind, Endpoint]
PER_CHANNEL = ("listen", "port", "path", "secret", "webhook-url")


def channel_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHANNELS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"use one or more of {', '.join(CHANNELS)}, separated by commas"
        )
    return list(dict.fromkeys(names))


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--channel",
        type=channel_names,
        default=["telegram"],
        metavar="CHANNELS",
        help=f"the platforms, comma-separated: {', '.join(CHANNELS)} (default: telegram)",
    )
    run.add_argument(
        "--webhook",
        nargs="?",
        const=list(CHANNELS),
        type=channel_names,
        default=[],
        metavar="CHANNELS",
        help="receive updates by webhook: every channel, or those named (the others poll)",
    )
    run.add_argument(
        "--listen",
        default="127.0.0.1",
        help="listen address (default: this machine only, behind a reverse proxy)",
    )
    run.add_argument("--port", type=int, help="listen port (default: per channel)")
    run.add_argument("--path", help="webhook URL path (default: per channel)")
    run.add_argument("--secret", help="webhook secret token (or WEBHOOK_SECRET)")
    run.add_argument("--webhook-url", help="public HTTPS URL the platform should call")
    run.add_argument(
        "--max-connections",
        type=int,
        default=40,
        help="webhook requests Telegram may have open at once (1-100, default 40)",
    )
    for name, kind in CHANNELS.items():
        group = run.add_argument_group(f"{name} only (instead of the options above)")
        group.add_argument(f"--{name}-listen", metavar="ADDRESS")
        group.add_argument(f"--{name}-port", type=int, metavar=f"PORT (default {kind.port})")
        group.add_argument(f"--{name}-path", metavar=f"PATH (default {kind.path})")
        group.add_argument(f"--{name}-secret", metavar="SECRET")
        group.add_argument(f"--{name}-webhook-url", metavar="URL")


def channel_plans(settings: Settings, args: argparse.Namespace) -> list[Plan]:
    """Each channel asked for, with how it receives; SettingsError for options that
    cannot work together."""
    names: list[str] = args.channel
    webhooks: list[str] = args.webhook
    strays = [name for name in webhooks if name not in names]
    if strays and webhooks != list(CHANNELS):
        raise SettingsError(
            f"--webhook names {', '.join(strays)}, which --channel does not run "
            f"(--channel {','.join(names)})"
        )
    default_secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    plans: list[Plan] = []
    for name in names:
        kind = CHANNELS[name]

        def own(option: str, kind: ChannelKind = kind) -> Any:
            return getattr(args, f"{kind.name}_{option}".replace("-", "_"))

        plans.append(
            (
                kind,
                Endpoint(
                    webhook=name in webhooks or not kind.polls,
                    listen=_first(own("listen"), args.listen),
                    port=_first(own("port"), args.port, kind.port),
                    path=_first(own("path"), args.path, kind.path),
                    secret=_first(own("secret"), args.secret, default_secret),
                    url=_first(own("webhook-url"), args.webhook_url),
                    max_connections=args.max_connections,
                ),
            )
        )
    _no_clash(settings, plans)
    return plans


def _first(*given: Any) -> Any:
    """The first value given (0 is a port: the system picks one)."""
    return next((value for value in given if value is not None), None)


def _no_clash(settings: Settings, plans: list[Plan]) -> None:
    listening = [(k, e) for k, e in plans if k.listens(settings, e)]
    for index, (kind, endpoint) in enumerate(listening):
        for other, theirs in listening[index + 1 :]:
            # Port 0: the system picks a free one for each.
            if endpoint.port and (endpoint.listen, endpoint.port) == (theirs.listen, theirs.port):
                raise SettingsError(
                    f"{kind.name} and {other.name} would both listen on port {endpoint.port}: "
                    f"give each its own (--{other.name}-port)"
                )
    urls = [(k.name, e.url) for k, e in plans if e.webhook and e.url]
    for index, (first, url) in enumerate(urls):
        for second, same in urls[index + 1 :]:
            if url == same:
                raise SettingsError(
                    f"{first} and {second} would have the same --webhook-url: give each its "
                    f"own (--{first}-webhook-url, --{second}-webhook-url)"
                )


def run_bot(settings: Settings, args: argparse.Namespace) -> int:
    """``rasoat run``: the channels of ``--channel`` in this process, until SIGTERM or
    Ctrl-C (bot.service)."""
    # Imported when the bot runs: the service brings in every dialog and channel, which
    # `rasoat`'s parser (it reads the options above) does without.
    from bot.dialogs.reports import load_schedule
    from bot.service import CannotListen, bind, serve
    from bot.turn_process import TurnProcessGone, fork

    # A wrong schedule of reports is said now, not in the log every minute.
    load_schedule(settings)
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

    # Before the event loop and any thread: the turns' process is a fork of this one.
    turns = fork(settings, sockets.values())

    async def until_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        await serve(settings, plans, sockets, stop, turns)

    try:
        asyncio.run(until_signal())
    except ChannelUnavailable as error:
        print(error.text, file=sys.stderr)
        return error.status
    except TurnProcessGone:
        print(translate("cli.turn_process_gone", settings.locale), file=sys.stderr)
        return 1
    return 0
