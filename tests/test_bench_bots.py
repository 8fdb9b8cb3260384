"""The durable bare bot stores what the benchmark says it stores: one write an update, a
press's answer in the same write, all of it or none."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bench.bots import open_store, rows_of
from bench.harness import fresh_database
from storage.db import create_engine

PRESS = {
    "update_id": 7,
    "callback_query": {"id": "q7", "data": "ans:1", "from": {"id": 1}, "chat_instance": "c"},
}
TEXT = {"update_id": 8, "message": {"message_id": 3, "date": 0, "text": "42"}}


async def stored(url: str) -> dict[str, list[tuple[str, str]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                table: [
                    tuple(row)
                    for row in await connection.execute(
                        text(f"SELECT key, body FROM {table} ORDER BY key")
                    )
                ]
                for table in ("updates", "answers")
            }
    finally:
        await engine.dispose()


async def test_a_press_is_stored_with_its_answer_in_one_write(backend: str) -> None:
    async with fresh_database(backend) as url:
        store = await open_store(url)
        try:
            await store.write(rows_of(PRESS))
            await store.write(rows_of(TEXT))
            # A write whose second row breaks a key: its first row is not kept either.
            with pytest.raises(Exception):  # noqa: B017 (sqlite3's and asyncpg's differ)
                await store.write([("updates", "9", "{}"), ("answers", "7", "again")])
        finally:
            await store.close()
        rows = await stored(url)
    assert [key for key, _ in rows["updates"]] == ["7", "8"]
    assert rows["answers"] == [("7", "ans:1")]
