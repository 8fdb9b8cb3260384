"""The loopback load balancer (tests/fakes/balancer.py) in front of tiny aiohttp backends."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.balancer import Balancer

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@asynccontextmanager
async def backend(name: str, *, drop: bool = False) -> AsyncIterator[str]:
    """A backend answering with its name and what it received; ``drop``: it closes every
    connection without answering, like a worker killed mid-request."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if drop:
            assert request.transport is not None
            request.transport.abort()
        seen = {
            "name": name,
            "method": request.method,
            "path": request.path_qs,
            "secret": request.headers.get(SECRET_HEADER),
            "body": body.decode(),
        }
        status = 403 if request.headers.get(SECRET_HEADER) == "wrong" else 200
        return web.json_response(seen, status=status, headers={"X-Backend": name})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def nobody_listening() -> str:
    """A URL whose port refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def post(balancer: Balancer, **kwargs: Any) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(balancer.url + "/hook", **kwargs) as answer,
    ):
        text = await answer.text()
        return answer.status, json.loads(text) if answer.status < 500 else {"text": text}


async def test_requests_go_round_robin() -> None:
    async with backend("a") as a, backend("b") as b, Balancer([a, b]) as balancer:
        names = [(await post(balancer, data=b"x"))[1]["name"] for _ in range(4)]
        assert names == ["a", "b", "a", "b"]
        assert balancer.served == {a: 2, b: 2}


async def test_method_path_headers_and_body_pass_through() -> None:
    update = {"update_id": 1, "message": {"text": "Xin chào, ấp 1"}}
    async with backend("a") as a, Balancer([a]) as balancer:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                balancer.url + "/hook?x=1",
                json=update,
                headers={SECRET_HEADER: "s3cret"},
            ) as answer,
        ):
            seen = await answer.json()
            assert answer.status == 200 and answer.headers["X-Backend"] == "a"
        assert seen["method"] == "POST" and seen["path"] == "/hook?x=1"
        assert seen["secret"] == "s3cret"
        assert json.loads(seen["body"]) == update
        # The backend's own status comes back as it is, not just its successes.
        status, refused = await post(balancer, data=b"{}", headers={SECRET_HEADER: "wrong"})
        assert status == 403 and refused["secret"] == "wrong"


async def test_a_refusing_backend_is_passed_over() -> None:
    down = nobody_listening()
    async with backend("b") as b, Balancer([down, b]) as balancer:
        answers = [await post(balancer, data=b"x") for _ in range(4)]
        assert [(status, seen["name"]) for status, seen in answers] == [(200, "b")] * 4
        assert balancer.served == {b: 4}
        assert balancer.passed_over == 2 and balancer.bad_gateway == 0


async def test_a_backend_dropping_the_connection_is_passed_over() -> None:
    async with (
        backend("dropping", drop=True) as dropping,
        backend("b") as b,
        Balancer([dropping, b]) as balancer,
    ):
        answers = [await post(balancer, data=b"x") for _ in range(2)]
        assert [(status, seen["name"]) for status, seen in answers] == [(200, "b")] * 2
        assert balancer.passed_over == 1


async def test_502_when_every_backend_is_down() -> None:
    async with Balancer([nobody_listening(), nobody_listening()]) as balancer:
        status, _ = await post(balancer, data=b"x")
        assert status == 502 and balancer.bad_gateway == 1
        # Only the next backend is tried, once: not every backend of a long list.
        assert balancer.passed_over == 2
    async with Balancer() as empty:
        assert (await post(empty, data=b"x"))[0] == 502


async def test_backends_are_added_and_removed_while_it_runs() -> None:
    async with backend("a") as a, backend("b") as b, Balancer([a]) as balancer:
        assert (await post(balancer, data=b"x"))[1]["name"] == "a"
        balancer.add(b)
        names = {(await post(balancer, data=b"x"))[1]["name"] for _ in range(2)}
        assert names == {"a", "b"}
        balancer.remove(a)
        assert balancer.backends == [b]
        names = {(await post(balancer, data=b"x"))[1]["name"] for _ in range(3)}
        assert names == {"b"}
