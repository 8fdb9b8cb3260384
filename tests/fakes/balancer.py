"""A loopback HTTP load balancer: one URL in front of several backends, like nginx's
``upstream`` in front of several ``rasoat run --webhook`` workers.

Each request goes to the next backend in turn (round robin) with its method, path and query,
headers (``X-Telegram-Bot-Api-Secret-Token`` among them) and body; the backend's status,
headers and body go back to the client. A backend that refuses the connection or drops it
before answering is passed over: the request goes to the next backend, once; when that one
fails too, the client gets 502 Bad Gateway. Backends can be added and removed while it runs.

    async with Balancer(["http://127.0.0.1:8001", "http://127.0.0.1:8002"]) as balancer:
        ...  # point Telegram (the fake) at balancer.url + "/hook"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import aiohttp
from aiohttp import web

__all__ = ["Balancer"]

# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the request; the
# lengths and the host are set again for the connection to the backend.
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
# What counts as "refused or dropped": no connection, or the connection closed (or reset)
# before a whole answer came back.
_BACKEND_GONE = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
)


class Balancer:
    def __init__(
        self,
        backends: Iterable[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._backends: list[str] = []
        self._next = 0
        # Requests answered by each backend; backends passed over (refused or dropped a
        # request); requests no backend answered (502) or answered in time (504).
        self.served: Counter[str] = Counter()
        self.passed_over = 0
        self.bad_gateway = 0
        self.gateway_timeout = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        for backend in backends:
            self.add(backend)

    # -- backends ----------------------------------------------------------------------

    @property
    def backends(self) -> list[str]:
        return list(self._backends)

    def add(self, backend: str) -> None:
        backend = backend.rstrip("/")
        if backend not in self._backends:
            self._backends.append(backend)

    def remove(self, backend: str) -> None:
        backend = backend.rstrip("/")
        if backend in self._backends:
            self._backends.remove(backend)

    def _turn(self) -> list[str]:
        """This request's backend, then the one after it (tried if the first is gone).

        The rotation moves one step per request, whichever backend ends up answering it: a
        backend that is down costs each request that lands on it one refused connection,
        and every other request goes straight to a working one.
        """
        if not self._backends:
            return []
        count = len(self._backends)
        first = self._next % count
        self._next = first + 1
        return [self._backends[(first + step) % count] for step in range(min(2, count))]

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        # No limit on connections to the backends: the clients' own limit applies.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            auto_decompress=False,
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Balancer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- proxying ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        for backend in self._turn():
            try:
                return await self._forward(backend, request, headers, body)
            except TimeoutError:
                # Too slow, not gone: it may be working on the request still, so the request
                # is not sent to another one (aiohttp's timeouts are connection errors too).
                self.gateway_timeout += 1
                return web.Response(status=504, text="504 Gateway Timeout\n")
            except _BACKEND_GONE:
                self.passed_over += 1
        self.bad_gateway += 1
        return web.Response(status=502, text="502 Bad Gateway: no backend answered\n")

    async def _forward(
        self, backend: str, request: web.Request, headers: dict[str, str], body: bytes
    ) -> web.Response:
        assert self._session is not None, "the balancer is not started"
        async with self._session.request(
            request.method,
            backend + request.path_qs,
            headers=headers,
            data=body if body else None,
            allow_redirects=False,
        ) as answer:
            content = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            # The body is passed on as received (not decompressed), with its encoding header.
            self.served[backend] += 1
            return web.Response(status=answer.status, body=content, headers=kept)
