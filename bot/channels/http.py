"""What the HTTP servers of every channel share: routes beside a health check, a request
body read with a bound, an event stored before its 200, the listening socket and the
server's life."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# At a stop, how long the requests in hand have to finish (storing takes milliseconds); one
# cut short was not answered 200, so the platform sends it again.
GRACEFUL_SECONDS = 10


class BodyTooLarge(ValueError):
    """A body past the bound: not what the platform sends."""


def one_route_app(
    path: str,
    receive: Callable[[Request], Awaitable[Response]],
    others: Sequence[BaseRoute] = (),
) -> Starlette:
    """POST ``/path`` goes to ``receive`` (and ``others`` where they go); GET /healthz says
    "ok"; anything else is 404."""
    return routes_app([Route("/" + path.strip("/"), receive, methods=["POST"]), *others])


def routes_app(routes: Sequence[BaseRoute]) -> Starlette:
    """``routes`` beside GET /healthz ("ok"); anything else is 404."""

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        # A wrong method on a known path too: nothing to tell a stranger.
        return Response(status_code=404)

    return Starlette(
        routes=[*routes, Route(HEALTH_PATH, health, methods=["GET"])],
        exception_handlers={404: not_found, 405: not_found},
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a port in use is an error before anything starts.

    Made TCP by name (IPPROTO_TCP, not the default 0): asyncio turns Nagle's algorithm off
    (TCP_NODELAY) only on the connections of such a socket. Left on, an answer written in
    two parts (the headers, then a body: the button press's answer in a webhook's 200, a
    file) waits for the first part's ACK, which the other side delays: 40 ms an answer.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # A restarted worker may bind while the last one's connections are in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


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


@asynccontextmanager
async def serving(app: Starlette, sock: socket.socket) -> AsyncIterator[asyncio.Task[None]]:
    """``app`` served on ``sock`` (by :func:`quiet_server`), listening once entered; the
    server's task is given, done if the server stopped by itself. At exit it stops
    accepting and finishes the requests in hand."""
    server = quiet_server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.01)
        yield task
    finally:
        server.should_exit = True
        await task


async def until(stop: asyncio.Event, *ended: asyncio.Future[Any]) -> None:
    """Return once ``stop`` is set or any of ``ended`` is done."""
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({stopping, *ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


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
    """Serve ``app`` on ``sock`` until ``stop`` (or until the server stops by itself):
    ``on_started`` once it listens (setting a platform's webhook, say); then the requests
    in hand are finished."""
    async with serving(app, sock) as served:
        if on_started is not None:
            await on_started()
        await until(stop, served)
