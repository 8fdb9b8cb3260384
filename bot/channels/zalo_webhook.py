"""The Zalo Bot webhook: each event stored before Zalo gets its 200, applied after.

A request is answered 401 without the right ``X-Bot-Api-Secret-Token`` (compared in
constant time; its body is not read), 400 if its body holds no event with a message id
(wrapped ``{"ok", "result"}`` or flat, both accepted), 500 if it could not be stored (Zalo
may send it again), and 200 once it is stored; it is applied after that, in the sender's
turn. A duplicated event is stored once and applied once (its key is claimed in its turn).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from bot.channels.http import one_route_app, read_body, serve_until, stored_then_started
from bot.channels.zalo_bot import ZaloBotChannel, open_channel, parse_body, sending
from bot.runtime import Runtime
from bot.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
# An event is a few kilobytes.
MAX_BODY = 1024 * 1024


def zalo_webhook_app(channel: ZaloBotChannel, *, path: str, secret: str) -> Starlette:
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

    return one_route_app(path, receive)


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
    """``rasoat run --channel zalo-bot --webhook``: what a stop interrupted is applied, the
    server listens, the webhook is set, the outbox sender and the reminders run; until
    ``stop``. Then the server finishes the requests in hand and the channel the updates in
    hand."""
    async with open_channel(settings, runtime) as channel, sending(channel):

        async def set_webhook() -> None:
            await channel.api.call("setWebhook", {"url": url, "secret_token": secret})
            log.info("Zalo webhook set")

        app = zalo_webhook_app(channel, path=path, secret=secret)
        await serve_until(app, sock, stop, set_webhook)
