"""What the webhook servers of every channel share: one POST route beside a health check,
a request body read with a bound, an event stored before its 200, and the server's life."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# At a stop, how long the requests in hand have to finish (storing takes milliseconds); one
# cut short was not answered 200, so the platform sends it again.
GRACEFUL_SECONDS = 10


class BodyTooLarge(ValueError):
    """A body past the bound: not what the platform sends."""


def one_route_app(path: str, receive: Callable[[Request], Awaitable[Response]]) -> Starlette:
    """POST ``/path`` goes to ``receive``; GET /healthz says "ok"; anything else is 404."""

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        # A wrong method on a known path too: nothing to tell a stranger.
        return Response(status_code=404)

    return Starlette(
        routes=[
            Route("/" + path.strip("/"), receive, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (BodyTooLarge) as soon as it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"a body of {declared} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"a body over {limit} bytes")
    return bytes(body)


def quiet_server(app: Starlette) -> uvicorn.Server:
    """uvicorn serving ``app`` with rasoat's own log set-up (bot.logs): no access log (a
    line per update says nothing), no server header, no proxy headers trusted."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            log_level=logging.WARNING,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
    )


class Keeper(Protocol):
    """A channel that stores an event before it is applied (bot.channels.events)."""

    platform: str

    async def keep(self, raw: dict[str, Any]) -> str | None: ...

    def start(self, raw: dict[str, Any]) -> asyncio.Task[None]: ...


async def stored_then_started(channel: Keeper, raw: dict[str, Any]) -> Response:
    """200 once ``raw`` is stored (then it is applied in the background); 500 if it could
    not be (the platform may send it again); 400 for an event the channel has no key for."""
    try:
        key = await channel.keep(raw)
    except Exception as error:
        log.error(
            "%s webhook: an event could not be stored (%s)", channel.platform, type(error).__name__
        )
        return Response(status_code=500)
    if key is None:
        return Response(status_code=400)
    channel.start(raw)
    return Response(status_code=200)


async def serve_until(
    app: Starlette,
    sock: socket.socket,
    stop: asyncio.Event,
    on_started: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve ``app`` on ``sock`` until ``stop``: ``on_started`` once it listens (setting a
    platform's webhook, say); then the requests in hand are finished."""
    server = quiet_server(app)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the webhook server stopped before it started")
            await asyncio.sleep(0.01)
        if on_started is not None:
            await on_started()
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
    finally:
        server.should_exit = True
        await serving
