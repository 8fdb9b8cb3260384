"""The channels ``rasoat run --channel`` knows: for each, how it is checked, started and
stopped inside one process, and its push (``bot.push``).

A channel is an async context manager, opened with its platform's outbox sender (made
first, started once every channel is open: it is told of the replies sent, and a channel
may wake it). Entered, it has applied what it stored and did not apply before the last
stop and receives updates (polling or webhook); it gives its push, and the object tests
attach to. Exited, it stops receiving and finishes the updates in hand. A new platform adds
a :class:`ChannelKind` to :data:`CHANNELS`.

The heavy libraries (python-telegram-bot, starlette, uvicorn) are imported inside the
openers, so that a process running one channel never loads another's.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.logs import redact, secrets_of
from bot.settings import Settings, SettingsError
from locales.catalog import translate

if TYPE_CHECKING:
    # Annotations only: `rasoat`'s parser reads the channels' names and addresses here, and
    # the runtime and the outbox bring in every dialog.
    from bot.outbox import OutboxSender
    from bot.push import Push
    from bot.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How one channel receives updates: by webhook on ``listen:port/path`` (the public
    ``url`` its platform posts to, with ``secret``), or by polling. A polled channel may
    still listen there (Zalo Bot serves its download links)."""

    webhook: bool
    listen: str
    port: int
    path: str
    secret: str | None = None
    url: str | None = None
    max_connections: int = 40


@dataclass(slots=True)
class Hooks:
    """What the process gives each channel it runs."""

    # The channel's platform's outbox sender: told of every message sent in reply (they
    # share the platform's limits), woken when messages wait no longer.
    sender: OutboxSender
    # Set by a channel whose receiving ended by itself (its server died): the process stops.
    ended: asyncio.Event

    def watch(self, receiving: asyncio.Task[Any]) -> None:
        """The process stops once ``receiving`` ends, by itself or not."""
        receiving.add_done_callback(lambda _: self.ended.set())


@dataclass(frozen=True, slots=True)
class Opened:
    push: Push
    # The channel object itself (the PTB Application, the ZaloBotChannel), for tests.
    handle: object


class ChannelUnavailable(Exception):
    """The platform refused the channel at start (a wrong token, an address that does not
    answer): one sentence for the person running rasoat, and the exit status."""

    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


Opener = Callable[
    [Settings, "Runtime", Endpoint, socket.socket | None, Hooks],
    AbstractAsyncContextManager[Opened],
]


@dataclass(frozen=True, slots=True)
class ChannelKind:
    name: str
    # What its people's ``users.platform`` is: the outbox routes their messages here.
    platform: str
    port: int
    path: str
    check: Callable[[Settings, Endpoint], None]
    # Whether it listens on its endpoint's port (a webhook, or files served when polling).
    listens: Callable[[Settings, Endpoint], bool]
    open: Opener
    # False for a platform that only posts to a webhook (Zalo OA): it always takes one.
    polls: bool = True


def check_telegram(settings: Settings, endpoint: Endpoint) -> None:
    settings.require_token()
    if not endpoint.webhook:
        return
    if not endpoint.secret:
        raise SettingsError(
            "WEBHOOK_SECRET is not set: give --secret or set WEBHOOK_SECRET, so that only "
            "Telegram can post updates to the webhook"
        )
    if not endpoint.url:
        raise SettingsError(
            "--webhook-url is not set: give the public HTTPS address Telegram should post "
            "updates to (your reverse proxy's, e.g. https://bot.example.vn/telegram)"
        )
    if not 1 <= endpoint.max_connections <= 100:
        raise SettingsError("--max-connections must be between 1 and 100 (Telegram's limits)")


@asynccontextmanager
async def open_telegram(
    settings: Settings,
    runtime: Runtime,
    endpoint: Endpoint,
    sock: socket.socket | None,
    hooks: Hooks,
) -> AsyncIterator[Opened]:
    from telegram.error import InvalidToken, NetworkError

    from bot.channels.telegram import TelegramPush, build_application, polling
    from bot.channels.webhook import receiving

    application = build_application(
        settings, runtime, webhook=endpoint.webhook, outbox=hooks.sender
    )
    started: AbstractAsyncContextManager[object]
    if endpoint.webhook:
        assert sock is not None and endpoint.secret and endpoint.url
        started = receiving(
            application,
            sock,
            path=endpoint.path,
            secret=endpoint.secret,
            url=endpoint.url,
            max_connections=endpoint.max_connections,
        )
    else:
        started = polling(application)
    try:
        async with started as running:
            if isinstance(running, asyncio.Task):
                hooks.watch(running)
            yield Opened(TelegramPush(application.bot), application)
    except InvalidToken:
        url = settings.telegram_api_url
        text = translate("cli.token_rejected", settings.locale, url=url)
        raise ChannelUnavailable(text, 2) from None
    except NetworkError as error:
        text = translate("cli.telegram_unreachable", settings.locale, url=settings.telegram_api_url)
        detail = redact(str(error), secrets_of(settings))
        raise ChannelUnavailable(f"{text}\n{detail}", 1) from None


def check_zalo_bot(settings: Settings, endpoint: Endpoint) -> None:
    settings.require_zalo_bot_token()
    if not endpoint.webhook:
        return
    if not (endpoint.secret and 8 <= len(endpoint.secret) <= 256):
        raise SettingsError(
            "WEBHOOK_SECRET is not set: give --secret or set WEBHOOK_SECRET (8 to 256 "
            "characters), so that only Zalo can post updates to the webhook"
        )
    if not endpoint.url:
        raise SettingsError(
            "--webhook-url is not set: give the public HTTPS address Zalo should post "
            "updates to (your reverse proxy's, e.g. https://bot.example.vn/zalo)"
        )


@asynccontextmanager
async def open_zalo_bot(
    settings: Settings,
    runtime: Runtime,
    endpoint: Endpoint,
    sock: socket.socket | None,
    hooks: Hooks,
) -> AsyncIterator[Opened]:
    from bot.channels import zalo_webhook
    from bot.channels.zalo_bot import open_channel
    from bot.channels.zalo_push import ZaloBotPush

    async with open_channel(settings, runtime) as channel:
        channel.replying = hooks.sender.replying
        if endpoint.webhook:
            assert sock is not None and endpoint.secret and endpoint.url
            started = zalo_webhook.webhook(
                channel, sock, path=endpoint.path, secret=endpoint.secret, url=endpoint.url
            )
        else:
            started = zalo_webhook.polling(channel, sock)
        async with started as running:
            hooks.watch(running)
            yield Opened(ZaloBotPush(channel), channel)


def check_zalo_oa(settings: Settings, endpoint: Endpoint) -> None:
    settings.require_zalo_oa()


@asynccontextmanager
async def open_zalo_oa(
    settings: Settings,
    runtime: Runtime,
    endpoint: Endpoint,
    sock: socket.socket | None,
    hooks: Hooks,
) -> AsyncIterator[Opened]:
    from bot.channels.zalo_oa import ZaloOaPush, open_channel
    from bot.channels.zalo_oa_tokens import NoToken
    from bot.channels.zalo_oa_webhook import receiving

    assert sock is not None
    async with AsyncExitStack() as stack:
        channel = await stack.enter_async_context(open_channel(settings, runtime))
        channel.outbox = hooks.sender
        try:
            served = await stack.enter_async_context(receiving(channel, sock, path=endpoint.path))
        except NoToken:
            text = translate("zalo_oa.cli_no_pair", settings.locale)
            raise ChannelUnavailable(text, 2) from None
        hooks.watch(served)
        yield Opened(ZaloOaPush(channel.api, settings.locale), channel)


CHANNELS: dict[str, ChannelKind] = {
    kind.name: kind
    for kind in (
        ChannelKind(
            "telegram",
            "telegram",
            port=8443,
            path="telegram",
            check=check_telegram,
            listens=lambda settings, endpoint: endpoint.webhook,
            open=open_telegram,
        ),
        ChannelKind(
            "zalo-bot",
            "zalo-bot",
            port=8444,
            path="zalo",
            check=check_zalo_bot,
            # Polled, it still serves its download links when there is a public address.
            listens=lambda settings, endpoint: endpoint.webhook or settings.public_url is not None,
            open=open_zalo_bot,
        ),
        ChannelKind(
            "zalo-oa",
            "zalo-oa",
            port=8445,
            path="zalo-oa",
            check=check_zalo_oa,
            listens=lambda settings, endpoint: True,
            open=open_zalo_oa,
            # The OA API has no polling.
            polls=False,
        ),
    )
}
