"""python-telegram-bot's requests to the Bot API over aiohttp (``telegram.request.BaseRequest``).

python-telegram-bot sends its requests through ``HTTPXRequest`` unless it is given another
``BaseRequest``, the interface it documents for "different asyncio HTTP libraries". Measured
on this machine (bench/README.md, "The Bot API requests over aiohttp"), a request over httpx
cost the channels' event loop about 1.2 ms of CPU and four passes of the loop before its
body was written (httpcore's anyio locks and stream each yield once); over aiohttp about
0.35 ms, written in the pass that asked for it. Under load a pass of the loop is what every
update is waiting for: httpx's were the largest part of the latency run's slowest replies.

The mapping (python-telegram-bot's own ``HTTPXRequest`` is the model, and ptbcontrib's
``AiohttpRequest``): parameters as a JSON body, files as multipart; PTB's per-call timeouts
as aiohttp's (``connect``: waiting for a connection of the pool and opening it; ``sock_read``:
the answer; a request that uploads files also gets ``write_timeout`` + ``read_timeout`` in
all, since aiohttp has no write timeout); a timeout raises ``TimedOut``, any other failure of
the client ``NetworkError``, as PTB expects of every ``BaseRequest``.

The proxy the environment names (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, except for
``NO_PROXY``'s hosts), as httpx used it, is read once for each host: aiohttp's own
``trust_env`` reads it again, and ``~/.netrc`` in the loop's executor, for every request (a
thread hop and a file read each: 0.7 ms of CPU a request measured, bench/README.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# python-telegram-bot's defaults for HTTPXRequest (seconds), and the pool of an Application's
# requests: 256 connections (ApplicationBuilder's default).
READ_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0
POOL_SIZE = 256


def _given(value: Any, default: float | None) -> float | None:
    """A timeout PTB passed, or ours where it passed none (BaseRequest.DEFAULT_NONE)."""
    return default if value is BaseRequest.DEFAULT_NONE else value


class AiohttpRequest(BaseRequest):
    """Requests to the Bot API over one aiohttp ClientSession (see the module). A request
    without files has no write timeout: its body is a few kilobytes the kernel takes at once."""

    def __init__(
        self,
        connection_pool_size: int = POOL_SIZE,
        read_timeout: float | None = READ_TIMEOUT,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
        media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        # Made at initialize, on the running loop (a ClientSession belongs to one loop).
        self._session: aiohttp.ClientSession | None = None
        # The proxy (or None) of each scheme and host:port asked, as the environment said
        # when it was first asked (see _proxy).
        self._proxy_of: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._proxy_of = {}
            # No total timeout: a long poll (getUpdates) waits as long as it asked to.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        files = request_data is not None and request_data.contains_files
        total = None
        if files:
            write = _given(write_timeout, self._media_write_timeout)
            total = None if write is None or read is None else write + read
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            data, content_type = _body(request_data)
            headers = {"User-Agent": self.USER_AGENT}
            if content_type is not None:
                headers["Content-Type"] = content_type
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            # The class names the failure when its message is empty (a dropped connection).
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for ``url``: its scheme's, else ALL_PROXY's, unless
        NO_PROXY names its host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_of:
            proxies = getproxies()
            proxy = proxies.get(parts.scheme) or proxies.get("all")
            if proxy and proxy_bypass(parts.netloc):
                proxy = None
            self._proxy_of[key] = proxy
        return self._proxy_of[key]


def _body(
    request_data: RequestData | None,
) -> tuple[aiohttp.FormData | bytes | None, str | None]:
    """The body and its content type: the parameters as JSON, multipart with files.

    The Bot API takes JSON bodies (not with files), and reads a JSON string in one as it
    reads a form's value: python-telegram-bot's parameters, each already a JSON string
    where it is an object (a keyboard), go as they would in a form. A form, as
    ``HTTPXRequest`` sends it, would URL-encode every byte of an interview's keyboards in
    Python (``urlencode``: 2% of the channels' loop at 200 answers/s), and the other side
    would decode them so."""
    if request_data is None:
        return None, None
    files = request_data.multipart_data
    if not files:
        if not request_data.parameters:
            return None, None
        return request_data.json_payload, "application/json"
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mime_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form, None
