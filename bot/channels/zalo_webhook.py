"""The Zalo Bot webhook: each event stored before Zalo gets its 200, applied after.

A request is answered 401 without the right ``X-Bot-Api-Secret-Token`` (compared in
constant time; its body is not read), 400 if its body holds no event with a message id
(wrapped ``{"ok", "result"}`` or flat, both accepted), 500 if it could not be stored (Zalo
may send it again), and 200 once it is stored; it is applied after that, in the sender's
turn. A duplicated event is stored once and applied once (its key is claimed in its turn).
"""

from __future__ import annotations

import hmac
import logging

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.channels.zalo_bot import ZaloBotChannel, parse_body

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
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
            body = await _body(request)
        except (ClientDisconnect, ValueError):
            return Response(status_code=400)
        raw = parse_body(body)
        if raw is None:
            log.warning("Zalo webhook: a request that is not an event was refused")
            return Response(status_code=400)
        try:
            key = await channel.keep(raw)
        except Exception as error:
            log.error("Zalo webhook: an event could not be stored (%s)", type(error).__name__)
            return Response(status_code=500)
        if key is None:
            return Response(status_code=400)
        channel.start(raw)
        return Response(status_code=200)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return Response(status_code=404)

    return Starlette(
        routes=[
            Route("/" + path.strip("/"), receive, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ValueError("too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ValueError("too large")
    return bytes(body)
