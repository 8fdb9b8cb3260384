"""The Zalo Official Account webhook: signed events, each stored before Zalo gets its 200.

Zalo signs each event: ``X-ZEvent-Signature: mac=<hex>``, the SHA-256 of the app id, the
body as sent, the event's timestamp and the OA secret key (the app id and the timestamp are
the body's own). A request whose signature does not match (compared in constant time), whose
app id is not ours, or whose timestamp is further than the window (``ZALO_OA_WEBHOOK_WINDOW``)
from now, is answered 401 and nothing of it is stored or applied. An event a person sent is
answered 200 once stored (500 if it could not be) and applied after; others (a follow, a
"seen") 200 and left. A replayed event is stored once and applied once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from bot.channels.http import one_route_app, read_body, serving, stored_then_started, until
from bot.channels.zalo_oa import PLATFORM, ZaloOaChannel, ZaloOaPush, open_channel
from bot.channels.zalo_oa_tokens import Clock
from bot.runtime import Runtime
from bot.sending import start_reminders, start_sender
from bot.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
# An event is a few kilobytes.
MAX_BODY = 1024 * 1024


def signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """The header Zalo sends with ``body`` (plain SHA-256, not an HMAC: Zalo's scheme)."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret_key.encode())
    return f"mac={digest.hexdigest()}"


def verified(
    body: bytes,
    given: str | None,
    *,
    app_id: str,
    secret_key: str,
    now: datetime,
    window_seconds: int,
) -> tuple[dict[str, Any] | None, str]:
    """The event in ``body`` if Zalo signed it for our app within the window, else None and
    why (for the log: never the body)."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        return None, "a body that is not JSON"
    if not isinstance(raw, dict) or given is None:
        return None, "no signature"
    stamp = str(raw.get("timestamp", ""))
    expected = signature(str(raw.get("app_id", "")), body, stamp, secret_key)
    if not hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode()):
        return None, "a wrong signature"
    if str(raw.get("app_id")) != app_id:
        return None, "another app's id"
    if not stamp.isdigit() or abs(now.timestamp() * 1000 - int(stamp)) > window_seconds * 1000:
        return None, "a timestamp outside the window"
    return raw, ""


def zalo_oa_webhook_app(
    channel: ZaloOaChannel,
    *,
    path: str,
    app_id: str,
    secret_key: str,
    window_seconds: int,
    clock: Callable[[], datetime],
) -> Starlette:
    async def receive(request: Request) -> Response:
        try:
            body = await read_body(request, MAX_BODY)
        except (ClientDisconnect, ValueError):
            return Response(status_code=400)
        raw, why = verified(
            body,
            request.headers.get(SIGNATURE_HEADER),
            app_id=app_id,
            secret_key=secret_key,
            now=clock(),
            window_seconds=window_seconds,
        )
        if raw is None:
            log.warning("Zalo OA webhook: a request with %s was refused", why)
            return Response(status_code=401)
        if channel.update_key(raw) is None:
            return Response(status_code=200)
        return await stored_then_started(channel, raw)

    return one_route_app(path, receive)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def serve_zalo_oa(
    settings: Settings,
    sock: socket.socket,
    *,
    path: str,
    stop: asyncio.Event,
    runtime: Runtime | None = None,
    clock: Clock = _utcnow,
    ready: Callable[[ZaloOaChannel], None] | None = None,
) -> None:
    """The OA alone (``rasoat run --channel zalo-oa`` runs it through bot.service): the
    channel receiving (:func:`receiving`), its outbox sender and the reminders; until
    ``stop``. ``ready`` is handed the channel once it listens (tests watch it)."""
    async with (
        open_channel(settings, runtime, clock=clock) as channel,
        receiving(channel, sock, path=path, clock=clock) as served,
    ):
        tasks: set[asyncio.Task[None]] = set()
        channel.outbox = start_sender(
            channel.runtime, ZaloOaPush(channel.api, settings.locale), tasks
        )
        reminders = start_reminders(channel.runtime, channel.outbox, tasks)
        try:
            if ready is not None:
                ready(channel)
            await until(stop, served)
        finally:
            reminders.stop()
            channel.outbox.stop()
            await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def receiving(
    channel: ZaloOaChannel, sock: socket.socket, *, path: str, clock: Clock = _utcnow
) -> AsyncIterator[asyncio.Task[None]]:
    """``channel`` receiving signed events on ``sock`` (the URL is set in Zalo's developer
    console: the OA API has no setWebhook), its token checked first (NoToken if none was
    set) and kept fresh meanwhile; the server's task is given (done if it stopped by
    itself). At exit the server finishes the requests in hand and the keeper stops."""
    settings = channel.runtime.settings
    app_id, _, secret_key = settings.require_zalo_oa()
    keeper = channel.api.tokens
    app = zalo_oa_webhook_app(
        channel,
        path=path,
        app_id=app_id,
        secret_key=secret_key,
        window_seconds=settings.zalo_oa_webhook_window,
        clock=clock,
    )
    stop_keeping = asyncio.Event()
    try:
        await keeper.stored()
        keeping = asyncio.create_task(keeper.run(stop_keeping))
        try:
            async with serving(app, sock) as served:
                log.info("Zalo OA webhook listening (%s)", PLATFORM)
                yield served
        finally:
            stop_keeping.set()
            await asyncio.gather(keeping, return_exceptions=True)
    finally:
        sock.close()
