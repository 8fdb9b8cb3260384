"""The bare python-telegram-bot bots the interview benchmark compares the real bot with,
each run as a process of its own and reached by webhook, as ``rasoat run --webhook`` is.

``python -m bench.bots echo|button --port P --path PATH --secret S --webhook-url URL``,
with ``TELEGRAM_API_URL`` in the environment (the fake Bot API server):

- ``echo``: sends every text back (one ``sendMessage``);
- ``button``: on a tap, ``answerCallbackQuery`` and ``sendMessage`` of the next question
  with its button, alongside each other as the interview bot does them; on typed text,
  one ``sendMessage`` of the next question. Exactly the Bot API calls of an interview
  answer, with no database and no questionnaire: no bot answering buttons can be faster.

Both are python-telegram-bot's "custom webhook server" pattern (an Application without an
updater, each update POSTed put on its ``update_queue``) on uvicorn and Starlette, the
server rasoat's own webhook uses, so the difference measured is the bot, not the server.
Updates are handled concurrently, as rasoat handles different people's.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import sys
from collections.abc import Sequence

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

from bench.harness import BUTTON_DATA, MAX_CONNECTIONS
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


def application(kind: str, api: str) -> Application:
    built = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .updater(None)
        .concurrent_updates(True)
        .build()
    )
    if kind == "echo":
        built.add_handler(MessageHandler(filters.TEXT, echo))
    else:
        built.add_handler(CallbackQueryHandler(on_tap))
        built.add_handler(MessageHandler(filters.TEXT, on_text))
    return built


def web(app: Application, path: str, secret: str) -> Starlette:
    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        await app.update_queue.put(Update.de_json(await request.json(), app.bot))
        return Response()

    return Starlette(routes=[Route(f"/{path}", receive, methods=["POST"])])


async def serve(kind: str, port: int, path: str, secret: str, url: str) -> None:
    app = application(kind, os.environ["TELEGRAM_API_URL"])
    server = uvicorn.Server(
        uvicorn.Config(
            web(app, path, secret),
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
    parser.add_argument("kind", choices=("echo", "button"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="telegram")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--webhook-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.kind, args.port, args.path, args.secret, args.webhook_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
