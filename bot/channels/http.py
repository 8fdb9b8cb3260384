"""What the webhook servers of every channel share: one POST route beside a health check,
and a request body read with a bound."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

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
