"""The Zalo Bot channel's HTTP side: the webhook, each event stored before Zalo gets its
200 and applied after; the download links' routes beside it (``bot.channels.files``); and
getUpdates, with those routes on a small server of their own.

A request is answered 401 without the right ``X-Bot-Api-Secret-Token`` (compared in
constant time; its body is not read), 400 if its body holds no event with a message id
(wrapped ``{"ok", "result"}`` or flat, both accepted), 500 if it could not be stored (Zalo
may send it again), and 200 once it is stored; it is applied after that, in the sender's
turn. A duplicated event is stored once and applied once (its key is claimed in its turn).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bot.channels.files import file_routes
from bot.channels.http import (
    one_route_app,
    read_body,
    routes_app,
    serving,
    stored_then_started,
    until,
)
from bot.channels.zalo_bot import POLL_SECONDS, ZaloBotChannel, open_channel, parse_body
from bot.runtime import Runtime
from bot.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
# An event is a few kilobytes.
MAX_BODY = 1024 * 1024


def zalo_webhook_app(channel: ZaloBotChannel, *, path: str, secret: str) -> Starlette:
    """POST ``/path`` takes Zalo's events; the download links are served beside it."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode("latin-1"), expected):
            log.warning("Zalo webhook: a request without the right secret token was refused")
            return Response(status_code=401)
        try:
            body = await read_body(request, MAX_BODY)
        except (ClientDisconnect, ValueError):
            return Response(status_code=400)
        raw = parse_body(body)
        if raw is None:
            log.warning("Zalo webhook: a request that is not an event was refused")
            return Response(status_code=400)
        return await stored_then_started(channel, raw)

    return one_route_app(path, receive, link_routes(channel))


def link_routes(channel: ZaloBotChannel) -> list[Route]:
    if channel.links is None:
        return []
    settings = channel.runtime.settings
    return file_routes(channel.links, settings.locale, settings.tz)


async def serve_zalo_webhook(
    settings: Settings,
    sock: socket.socket,
    *,
    path: str,
    secret: str,
    url: str,
    stop: asyncio.Event,
    runtime: Runtime | None = None,
) -> None:
    """The webhook on a channel of its own (on ``runtime``, or a runtime of its own) until
    ``stop``, or until its server stops by itself."""
    async with (
        open_channel(settings, runtime) as channel,
        webhook(channel, sock, path=path, secret=secret, url=url) as served,
    ):
        await until(stop, served)


@asynccontextmanager
async def webhook(
    channel: ZaloBotChannel, sock: socket.socket, *, path: str, secret: str, url: str
) -> AsyncIterator[asyncio.Task[None]]:
    """``channel`` receiving by webhook on ``sock``: the server listens, then the webhook is
    set; the server's task is given (done if it stopped by itself). At exit the server
    finishes the requests in hand (the channel, opened by the caller, the updates)."""
    try:
        async with serving(zalo_webhook_app(channel, path=path, secret=secret), sock) as served:
            await channel.api.call("setWebhook", {"url": url, "secret_token": secret})
            log.info("Zalo webhook set")
            yield served
    finally:
        sock.close()


@asynccontextmanager
async def polling(
    channel: ZaloBotChannel, sock: socket.socket | None, *, seconds: int = POLL_SECONDS
) -> AsyncIterator[asyncio.Task[None]]:
    """``channel`` receiving by getUpdates (Zalo serves it only while no webhook is set:
    the webhook is deleted first), with the download links served on ``sock`` if the
    channel sends links; the poll's task is given. At exit the poll in hand is waited for,
    rather than dropping what it brings."""
    await channel.api.call("deleteWebhook", {})
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        if sock is not None:
            stack.callback(sock.close)
            routes = link_routes(channel)
            if routes:
                await stack.enter_async_context(serving(routes_app(routes), sock))
        task = asyncio.create_task(channel.poll(stop, seconds))
        try:
            yield task
        finally:
            stop.set()
            await task
