"""rasoat's webhook server: each update Telegram posts is stored before it is answered 200.

python-telegram-bot's "custom webhook server" pattern (an Application without an updater,
updates put on its ``update_queue``), served by uvicorn, in place of PTB's tornado server,
which compares the secret token with ``!=`` and, on a body it cannot read, logs the whole
update (names, messages) at error level.

A request is answered:

- 403 without the right ``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time); its
  body is not read;
- 400 if its body is not a JSON object with an integer ``update_id`` (logged without it);
- 500 if the update could not be stored (the database is away): Telegram sends it again;
- 200 once it is stored (``DurableQueue.storing``, a committed transaction), and only then. An
  update python-telegram-bot cannot read is stored, logged by its id and the error's type
  alone, and answered 200 all the same, or Telegram would send it forever. The 200 of a
  button press waits, a second at most, for its turn's answer to the press, and carries it
  (``bot.channels.button_answers``). A button press goes to its turn unstored: its 200 waits
  for the turn anyway, so the turn stores it, in its own transaction (``Incoming.payload``),
  which spares a write of its own (on SQLite, a crossing to the turn process and back);
  where the turn does not answer in time, the press is stored here before the 200. Any
  other update goes to its turn, on SQLite, while it is being stored (the one writer
  applies the store first, often in the same COMMIT); on a database several workers share,
  once it is stored.

Several workers may serve one URL behind a reverse proxy, sharing one PostgreSQL database:
each sets the webhook at start (the same URL each time) and none deletes it at stop, which
would cut off the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from telegram import Bot, Update
from telegram.ext import Application

from bot.channels.http import BodyTooLarge, one_route_app, read_body, serving, until
from bot.channels.telegram import ALLOWED_UPDATES, DurableQueue

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's own default: at most this many requests at once from Telegram.
MAX_CONNECTIONS = 40
# An update is a few kilobytes; a body past this is not one.
MAX_BODY = 1024 * 1024


class _NotAnUpdate(ValueError):
    pass


def webhook_app(queue: DurableQueue, bot: Bot | None, *, path: str, secret: str) -> Starlette:
    """The ASGI app: POST ``/path`` takes updates onto ``queue``; GET /healthz says "ok"."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        # Header values are latin-1 text to starlette: back to the bytes that were sent.
        if given is None or not hmac.compare_digest(given.encode("latin-1"), expected):
            log.warning("webhook: a request without the right secret token was refused")
            return Response(status_code=403)
        try:
            raw = _update(await _body(request))
        except ClientDisconnect:
            log.info("webhook: a request was cut off before its body was read")
            return Response(status_code=400)
        except _NotAnUpdate as refused:
            log.warning("webhook: a request that is not an update was refused (%s)", refused)
            return Response(status_code=400)
        if queue.answers is not None and "callback_query" in raw:
            return await _press(queue, bot, raw)
        update_id = raw["update_id"]
        early = queue.writes_in_order
        storing = queue.storing([raw])
        # Handed over once stored, or (where the database applies writes in the order
        # asked) at once: answered, either way, only once stored.
        if not early and not await _stored(storing, update_id):
            return Response(status_code=500)
        response, _ = await _hand_over(queue, bot, raw)
        if early and not await _stored(storing, update_id):
            return Response(status_code=500)
        return response

    return one_route_app(path, receive)


async def _press(queue: DurableQueue, bot: Bot | None, raw: dict[str, Any]) -> Response:
    """A button press: handed over unstored, its turn stores it in its own transaction
    (``Incoming.payload``), sparing a write and a wait before the turn; its 200 waits for
    the turn anyway. A press its turn did not answer in time, or could not store, is stored
    here before the 200."""
    update_id = raw["update_id"]
    queue.received[update_id] = raw
    try:
        response, answered = await _hand_over(queue, bot, raw)
    finally:
        queue.received.pop(update_id, None)
    if answered:
        return response
    if not await _stored(queue.storing([raw]), update_id):
        return Response(status_code=500)
    return response


async def _stored(storing: asyncio.Task[None], update_id: int) -> bool:
    try:
        await storing
    except Exception as error:
        log.error(
            "webhook: update %s could not be stored (%s); Telegram will send it again",
            update_id,
            type(error).__name__,
        )
        return False
    return True


async def _hand_over(
    queue: DurableQueue, bot: Bot | None, raw: dict[str, Any]
) -> tuple[Response, bool]:
    """The update on the queue; its answer to Telegram (a press's, once its turn answered),
    and whether its turn answered it (a turn answers only once it applied the update or
    stored it)."""
    update_id = raw["update_id"]
    try:
        update = Update.de_json(raw, bot)
    except Exception as error:
        queue.stored.discard(update_id)
        # Its content is no one's business in a log: the id and the kind of error.
        log.warning(
            "update %s could not be read (%s) and was skipped", update_id, type(error).__name__
        )
        return Response(status_code=200), False
    query = update.callback_query
    answers = queue.answers
    if query is None or answers is None:
        await queue.put(update)
        return Response(status_code=200), False
    # The press's answer rides on the 200 (bot.channels.button_answers).
    answered = await answers.wait(update_id, partial(queue.put, update))
    if answered is None:
        return Response(status_code=200), False
    return JSONResponse(answer_request(query.id, answered.toast)), True


def answer_request(query_id: str, toast: str | None) -> dict[str, str]:
    """answerCallbackQuery as a webhook's answer carries it."""
    request = {"method": "answerCallbackQuery", "callback_query_id": query_id}
    if toast:
        request["text"] = toast
    return request


async def _body(request: Request) -> bytes:
    try:
        return await read_body(request, MAX_BODY)
    except BodyTooLarge as error:
        raise _NotAnUpdate(str(error)) from None


def _update(body: bytes) -> dict[str, Any]:
    """The update in a request body; the reason (never the content) if it is none."""
    try:
        raw = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise _NotAnUpdate(f"not JSON: {type(error).__name__}") from None
    if not isinstance(raw, dict):
        raise _NotAnUpdate(f"a JSON {type(raw).__name__}, not an object")
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise _NotAnUpdate("no integer update_id")
    return raw


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; PostgreSQL would refuse to store them.
    raise ValueError(name)


async def serve_webhook(
    application: Application,
    sock: socket.socket,
    *,
    path: str,
    secret: str,
    url: str,
    max_connections: int = MAX_CONNECTIONS,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``application`` (built without an updater) by webhook on ``sock`` until ``stop``
    is set, or, without ``stop``, until SIGTERM or SIGINT (see :func:`receiving`)."""
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        # uvicorn catches these signals while it serves, and raises them again once it has
        # stopped: to these handlers then, which only ask for the stop already under way.
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
            signals.append(number)
    try:
        async with receiving(
            application, sock, path=path, secret=secret, url=url, max_connections=max_connections
        ) as served:
            await until(stop, served)
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


@asynccontextmanager
async def receiving(
    application: Application,
    sock: socket.socket,
    *,
    path: str,
    secret: str,
    url: str,
    max_connections: int = MAX_CONNECTIONS,
) -> AsyncIterator[asyncio.Task[None]]:
    """``application`` (built without an updater) receiving updates by webhook on ``sock``;
    the server's task is given (done if it stopped by itself).

    In order: what was stored and not applied before the last stop is applied (the
    application's ``post_init``), the server listens, the webhook is set. At exit the
    server stops accepting and finishes the requests in hand, the application the updates
    in hand, and what ``post_shutdown`` closes is closed. The webhook stays set: other
    workers may serve the same URL.
    """
    queue = application.update_queue
    if not isinstance(queue, DurableQueue):
        raise TypeError("the application's update queue must be a DurableQueue")
    app = webhook_app(queue, application.bot, path=path, secret=secret)
    try:
        async with application:
            try:
                if application.post_init is not None:
                    # The database, what a stop interrupted, the command menu.
                    await application.post_init(application)
                await application.start()
                async with serving(app, sock) as served:
                    await application.bot.set_webhook(
                        url,
                        secret_token=secret,
                        allowed_updates=list(ALLOWED_UPDATES),
                        max_connections=max_connections,
                    )
                    log.info("webhook set; receiving updates on %s", _address(sock))
                    yield served
                log.info("webhook server stopped")
            finally:
                if application.running:
                    await application.stop()  # the updates in hand are finished first
                if application.post_shutdown is not None:
                    await application.post_shutdown(application)  # closes the database
    finally:
        sock.close()


def _address(sock: socket.socket) -> str:
    with contextlib.suppress(OSError):
        host, port, *_ = sock.getsockname()
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return "?"
