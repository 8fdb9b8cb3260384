"""Reading export replies back."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from bot.messages import Document, Outgoing, Text
from tests.helpers import message


def documents(replies: list[Outgoing]) -> list[Document]:
    return [reply for reply in replies if isinstance(reply, Document)]


def texts(replies: list[Outgoing]) -> str:
    return "\n".join(reply.text for reply in replies if isinstance(reply, Text))


def workbook(document: Document) -> Workbook:
    return load_workbook(io.BytesIO(document.content), read_only=False)


def table(book: Workbook, title: str) -> list[dict[str, Any]]:
    """A sheet's rows as dicts by header, skipping any preamble above the header row."""
    rows = list(book[title].iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row and row[0] in ("Mã hộ", "Diện hộ"))
    headers = [str(cell) for cell in rows[start]]
    return [dict(zip(headers, row, strict=True)) for row in rows[start + 1 :]]


def command(text: str, user_id: str) -> Any:
    return message(text, user_id=user_id)
