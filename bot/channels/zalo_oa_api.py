"""The Zalo Official Account API v3 calls the channel makes, over one httpx client.

``{api}/v3.0/oa/message/cs`` and the uploads carry the access token in an ``access_token``
header; every answer is ``{"error": 0, "data": ...}`` or ``{"error": -216, "message": ...}``
with HTTP 200, so the error code, not the status, says what happened. The token server
(``{oauth}/v4/oa/access_token``) takes the app's secret key in a ``secret_key`` header.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import httpx

from bot.channels.retry import Sleep, patiently
from bot.channels.zalo_oa_tokens import NewPair, NoAnswer, Refresh, Refused, TokenKeeper

# Zalo's error codes this channel acts on.
INVALID_TOKEN = -216
# The person has not written to the OA for too long (-230: 7 days), or is outside the
# window or no longer follows it (-213): nothing reaches them until they write again.
WINDOW_CLOSED = (-230, -213)


class ZaloOaError(Exception):
    """A call Zalo refused; never carries a message's text."""

    def __init__(self, call: str, status: int, code: int | None, description: str) -> None:
        super().__init__(f"{call}: HTTP {status}, error {code}: {description}")
        self.call = call
        self.status = status
        self.code = code
        self.description = description

    @property
    def rate_limited(self) -> bool:
        return self.status == HTTPStatus.TOO_MANY_REQUESTS

    @property
    def window_closed(self) -> bool:
        return self.code in WINDOW_CLOSED


def rate_limited(error: Exception) -> bool:
    return isinstance(error, ZaloOaError) and error.rate_limited


class ZaloOaApi:
    def __init__(
        self,
        api_url: str,
        client: httpx.AsyncClient,
        tokens: TokenKeeper,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.client = client
        self.tokens = tokens
        self.sleep = sleep

    async def call(self, name: str, method: str, path: str, **request: Any) -> dict[str, Any]:
        """One API call, its ``data``; on -216 (invalid access token) the token is
        refreshed and the call made once more."""
        token = await self.tokens.access()
        for attempt in (1, 2):
            response = await self.client.request(
                method, f"{self.api_url}{path}", headers={"access_token": token}, **request
            )
            body = _json(response)
            code = body.get("error") if isinstance(body, dict) else None
            if response.status_code != HTTPStatus.OK or not isinstance(code, int):
                raise ZaloOaError(name, response.status_code, None, _said(body))
            if code == 0:
                data = body.get("data")
                return data if isinstance(data, dict) else {}
            if code == INVALID_TOKEN and attempt == 1:
                fresh = await self.tokens.after_invalid(token)
                if fresh is not None:
                    token = fresh
                    continue
            raise ZaloOaError(name, response.status_code, code, _said(body))
        raise AssertionError("unreachable")

    async def send(self, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A consultation message (``/v3.0/oa/message/cs``) to ``user_id``."""
        body = {"recipient": {"user_id": user_id}, "message": message}
        return await self.call("message/cs", "POST", "/v3.0/oa/message/cs", json=body)

    async def send_patiently(self, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """:meth:`send`, made again after a bounded wait while Zalo answers 429."""
        return await patiently(lambda: self.send(user_id, message), rate_limited, self.sleep)

    async def upload(self, kind: str, filename: str, content: bytes, mime: str) -> dict[str, Any]:
        """``kind`` "file" (PDF, Word: ``data.token``) or "image" (``data.attachment_id``)."""
        files = {"file": (filename, content, mime)}
        return await self.call(f"upload/{kind}", "POST", f"/v2.0/oa/upload/{kind}", files=files)

    async def display_name(self, user_id: str) -> str:
        """The name the person shows on Zalo ("" if Zalo does not say)."""
        query = {"data": json.dumps({"user_id": user_id})}
        data = await self.call("user/detail", "GET", "/v3.0/oa/user/detail", params=query)
        return str(data.get("display_name") or "")


def token_server(
    oauth_url: str, app_id: str, app_secret: str, client: httpx.AsyncClient
) -> Refresh:
    """The refresh call of :class:`TokenKeeper` against Zalo's token server."""

    async def refresh(refresh_token: str) -> NewPair:
        try:
            response = await client.post(
                f"{oauth_url.rstrip('/')}/v4/oa/access_token",
                headers={"secret_key": app_secret},
                data={
                    "refresh_token": refresh_token,
                    "app_id": app_id,
                    "grant_type": "refresh_token",
                },
            )
        except httpx.HTTPError as error:
            raise NoAnswer(type(error).__name__) from None
        body = _json(response)
        if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR or not isinstance(body, dict):
            raise NoAnswer(f"HTTP {response.status_code}")
        try:
            return NewPair(
                str(body["access_token"]), str(body["refresh_token"]), int(body["expires_in"])
            )
        except (KeyError, TypeError, ValueError):
            # An answer without a new pair ({"error": ..., "error_description": ...}).
            raise Refused(_said(body)) from None

    return refresh


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _said(body: Any) -> str:
    """Zalo's own words for an error (they name the problem, never the message)."""
    if not isinstance(body, dict):
        return ""
    words = body.get("message") or body.get("error_description") or body.get("error_name")
    return str(words or "")[:200]
