"""The download links' routes (``bot.links``), in the Zalo webhook's app or a small server
of their own when Zalo is polled.

A file fetched once (an export) is not given away by a GET: chat apps open every link they
show to draw a preview, which would spend it. GET shows a page with a "Tải về" button; its
POST sends the file and spends it. A chart (fetched by Zalo's servers for ``sendPhoto``,
maybe more than once) is sent by GET until it expires. A refused link gets a line in the
reader's language: 403 for one this server did not make (a wrong or another person's
signature), 410 for one expired or spent. Nothing about a request is logged.
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.links import FILES_ROUTE, Kept, LinkStore, Refused
from locales.catalog import translate

# No page or file of ours is kept by a proxy or a browser: each is for one person, once.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def file_routes(store: LinkStore, locale: str, tz: ZoneInfo) -> list[Route]:
    async def look(request: Request) -> Kept | Response:
        found = await asyncio.to_thread(
            store.check,
            request.path_params["file_id"],
            request.query_params.get("e", ""),
            request.query_params.get("s", ""),
        )
        if found is Refused.FORGED:
            return _said(translate("links.forged", locale), 403)
        if found is Refused.GONE:
            return _said(translate("links.gone", locale), 410)
        assert isinstance(found, Kept)
        return found

    async def page(request: Request) -> Response:
        kept = await look(request)
        if isinstance(kept, Response):
            return kept
        if not kept.once:
            return await send(kept)
        until = datetime.fromtimestamp(kept.expires, UTC).astimezone(tz)
        return HTMLResponse(
            _PAGE.format(
                lang=locale,
                title=html.escape(translate("links.page_title", locale)),
                text=html.escape(
                    translate(
                        "links.page_text",
                        locale,
                        file=kept.filename,
                        until=until.strftime("%H:%M %d/%m/%Y"),
                    )
                ),
                action=html.escape(f"{request.url.path}?{request.url.query}"),
                button=html.escape(translate("links.download_button", locale)),
            ),
            headers=PRIVATE,
        )

    async def download(request: Request) -> Response:
        kept = await look(request)
        if isinstance(kept, Response):
            return kept
        return await send(kept)

    async def send(kept: Kept) -> Response:
        path = await asyncio.to_thread(store.take, kept)
        if path is None:
            return _said(translate("links.gone", locale), 410)
        return FileResponse(
            path,
            media_type=kept.media_type,
            filename=kept.filename if kept.once else None,
            headers=PRIVATE,
            background=BackgroundTask(store.discard, path) if kept.once else None,
        )

    return [
        Route(f"{FILES_ROUTE}/{{file_id}}", page, methods=["GET"]),
        Route(f"{FILES_ROUTE}/{{file_id}}", download, methods=["POST"]),
    ]


def _said(text: str, status: int) -> Response:
    return PlainTextResponse(text, status_code=status, headers=PRIVATE)


_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto; padding: 0 1em">
<h1 style="font-size: 1.3em">{title}</h1><p>{text}</p>
<form method="post" action="{action}"><button type="submit"
 style="font-size: 1.2em; padding: 0.5em 1.5em">{button}</button></form>
</body></html>
"""
