"""The bare python-telegram-bot bots the interview benchmark compares the real bot with,
each run as a process of its own and reached by webhook, as ``rasoat run --webhook`` is.

``python -m bench.bots echo|button --port P --path PATH --secret S --webhook-url URL``,
with ``TELEGRAM_API_URL`` in the environment (the fake Bot API server):

- ``echo``: sends every text back (one ``sendMessage``);
- ``button``: on a tap, ``answerCallbackQuery`` and ``sendMessage`` of the next question
  with its button, alongside each other as the interview bot does them; on typed text,
  one ``sendMessage`` of the next question. Exactly the Bot API calls of an interview
  answer, with no database and no questionnaire: no bot answering buttons can be faster.

- ``durable``: the button bot keeping rasoat's promise, "durable before polite", in the
  fewest writes it allows: one write an update, committed before its 200 and so before the
  reply. A press's write holds the update and the answer it carries, as a rasoat turn
  stores a press with its answer (``--db URL``: SQLite, one writer thread owning a
  ``sqlite3`` connection, WAL and ``synchronous=FULL``, writes arriving together sharing one
  COMMIT; or PostgreSQL through asyncpg, one statement and so one round trip a write). No
  ORM, no questionnaire, no dialog: the ceiling of any bot that stores what it is told
  before saying so.

All are python-telegram-bot's "custom webhook server" pattern (an Application without an
updater, each update POSTed put on its ``update_queue``) on uvicorn and Starlette, the
server rasoat's own webhook uses, so the difference measured is the bot, not the server.
Updates are handled concurrently, as rasoat handles different people's.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.harness import BUTTON_DATA, MAX_CONNECTIONS, Json
from bot.channels.aiohttp_request import AiohttpRequest
from bot.channels.telegram import ALLOWED_UPDATES
from tests.fakes.telegram import TOKEN

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None and update.message is not None
    await context.bot.send_message(update.effective_chat.id, update.message.text or "")


async def question(chat_id: int, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Có", callback_data=BUTTON_DATA)]])
    await context.bot.send_message(chat_id, "Câu hỏi tiếp theo?", reply_markup=keyboard)


async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None and update.effective_chat is not None
    answering = asyncio.create_task(update.callback_query.answer())
    await question(update.effective_chat.id, context)
    await answering


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await question(update.effective_chat.id, context)


Row = tuple[str, str, str]
"""A row to store: its table, its key and its body."""


class Store(Protocol):
    async def write(self, rows: Sequence[Row]) -> None:
        """Commit ``rows`` together: all of them or none."""

    async def close(self) -> None: ...


UPDATES = "CREATE TABLE IF NOT EXISTS updates (key TEXT PRIMARY KEY, body TEXT NOT NULL)"
ANSWERS = "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, body TEXT NOT NULL)"


class SQLiteStore:
    """One writer thread owns the connection (datasette's shape); the writes waiting when
    it is free go in one transaction, so one COMMIT (one fsync) makes them all durable,
    and each caller returns only after it."""

    def __init__(self, path: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        self._waiting: list[tuple[Sequence[Row], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._db = self._thread.submit(self._open, path).result()

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(UPDATES)
        db.execute(ANSWERS)
        return db

    def _apply(self, batch: list[Row]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table, key, body in batch:
                self._db.execute(f"INSERT INTO {table} (key, body) VALUES (?, ?)", (key, body))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def write(self, rows: Sequence[Row]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting, []
            rows = [row for written, _ in batch for row in written]
            try:
                await loop.run_in_executor(self._thread, self._apply, rows)
            except Exception as error:
                for _, done in batch:
                    done.set_exception(error)
            else:
                for _, done in batch:
                    done.set_result(None)

    async def close(self) -> None:
        self._thread.submit(self._db.close).result()
        self._thread.shutdown()


class PostgresStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=4, max_size=MAX_CONNECTIONS)
        async with pool.acquire() as connection:
            await connection.execute(UPDATES)
            await connection.execute(ANSWERS)
        return cls(pool)

    async def write(self, rows: Sequence[Row]) -> None:
        # One statement: one round trip, and its rows committed together.
        inserts = ", ".join(
            f"w{n} AS (INSERT INTO {table} (key, body) VALUES (${2 * n + 1}, ${2 * n + 2}))"
            for n, (table, _, _) in enumerate(rows)
        )
        values = [value for _, key, body in rows for value in (key, body)]
        await self._pool.execute(f"WITH {inserts} SELECT 1", *values)

    async def close(self) -> None:
        await self._pool.close()


async def open_store(url: str) -> Store:
    if url.startswith("sqlite"):
        return SQLiteStore(url.split(":///", 1)[1])
    return await PostgresStore.open(url.replace("postgresql+asyncpg://", "postgresql://"))


def rows_of(body: Json) -> list[Row]:
    """What the durable bot stores of an update: the update, and the answer a press carries."""
    key = str(body["update_id"])
    rows = [("updates", key, json.dumps(body))]
    if "callback_query" in body:
        rows.append(("answers", key, body["callback_query"].get("data", "")))
    return rows


def application(kind: str, api: str) -> Application:
    built = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .updater(None)
        .concurrent_updates(True)
        # The Bot API requests over aiohttp, as rasoat's (bot.channels.aiohttp_request): the
        # bots differ in what they do, not in their HTTP client.
        .request(AiohttpRequest())
        .build()
    )
    if kind == "echo":
        built.add_handler(MessageHandler(filters.TEXT, echo))
    else:
        built.add_handler(CallbackQueryHandler(on_tap))
        built.add_handler(MessageHandler(filters.TEXT, on_text))
    return built


def web(app: Application, path: str, secret: str, store: Store | None = None) -> Starlette:
    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        body = await request.json()
        if store is not None:
            await store.write(rows_of(body))
        await app.update_queue.put(Update.de_json(body, app.bot))
        return Response()

    return Starlette(routes=[Route(f"/{path}", receive, methods=["POST"])])


async def serve(kind: str, port: int, path: str, secret: str, url: str, db: str) -> None:
    with tempfile.TemporaryDirectory(prefix="rasoat-durable-") as folder:
        if kind == "durable" and db == "sqlite":
            db = f"sqlite:///{Path(folder) / 'durable.db'}"
        store = await open_store(db) if kind == "durable" else None
        try:
            await _serve(kind, port, path, secret, url, store)
        finally:
            if store is not None:
                await store.close()


async def _serve(
    kind: str, port: int, path: str, secret: str, url: str, store: Store | None
) -> None:
    app = application(kind, os.environ["TELEGRAM_API_URL"])
    server = uvicorn.Server(
        uvicorn.Config(
            web(app, path, secret, store),
            host="127.0.0.1",
            port=port,
            log_config=None,
            log_level=logging.WARNING,
            access_log=False,
            lifespan="off",
        )
    )
    # uvicorn handles SIGTERM itself while serving: it stops, and so does this function.
    async with app:
        await app.start()
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the webhook server stopped before it started")
            await asyncio.sleep(0.01)
        await app.bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=list(ALLOWED_UPDATES),
            max_connections=MAX_CONNECTIONS,
        )
        await serving
        await app.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bots")
    parser.add_argument("kind", choices=("echo", "button", "durable"))
    parser.add_argument(
        "--db", default="sqlite", help="durable: 'sqlite' (a fresh file) or a PostgreSQL URL"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="telegram")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--webhook-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.kind, args.port, args.path, args.secret, args.webhook_url, args.db))
    return 0


if __name__ == "__main__":
    sys.exit(main())
