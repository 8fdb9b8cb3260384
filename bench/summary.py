"""/summary at district scale: ``build_report`` against one raw GROUP BY over the same tables.

A database of N members (default 1,000,000: 250,000 households of 4, all interviewed, in
10 communes of 10 villages) is generated with executemany (SQLite) or COPY (PostgreSQL)
straight into the migrated schema. Then, in the same run and on the same warm database:

* ``build_report`` for the district, i.e. everything /summary computes (the area tree, the
  roster counts, the member counts, the area figures, last year);
* the baseline: the single GROUP BY that counts the members by category, age band,
  capacity and status over the same tables (households ⋈ completed interviews ⋈ facts);
* for reference, the same member counts pivoted out of the EAV ``answers`` rows, the
  design ``member_facts`` replaces (``--no-eav`` skips generating those 3 rows per member).

Each is run ``--repeat`` times after one warm-up and the median is kept. PASS when
build_report takes at most TARGET times the baseline.

Usage: ``python -m bench.summary [--db sqlite|postgresql|both] [--members N] [--repeat K]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exports.stats import build_report
from exports.summary import render_summary
from storage.db import create_engine, session_factory, upgrade
from storage.models import Area
from storage.uow import UnitOfWork

TARGET = 2.0
YEAR = 2026
MEMBERS_PER_HOUSEHOLD = 4
COMMUNES, VILLAGES = 10, 10
POSTGRES_URL = os.environ.get(
    "RASOAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
CATEGORIES = ("poor",) * 4 + ("near_poor",) * 5 + ("escaped",)
ABLE_STATUSES = ("employed",) * 6 + ("no_job", "looking", "studying", "unwilling", "homemaker")

BASELINE = """
SELECT h.category, f.age >= 15, f.labour_capacity, f.employment_status, count(*)
FROM households h
JOIN interviews i ON i.household_id = h.id AND i.status = 'completed'
JOIN member_facts f ON f.interview_id = i.id
WHERE h.review_year = :year
GROUP BY h.category, f.age >= 15, f.labour_capacity, f.employment_status
"""
# The same counts from the answer rows: one row per member and question, pivoted.
EAV = """
SELECT category, age >= 15, capacity, status, count(*) FROM (
  SELECT h.category AS category, a.interview_id,
         substr(a.path, 9, instr(substr(a.path, 9), '/') - 1) AS member,
         max(CASE WHEN a.path LIKE '%/age' THEN {age} END) AS age,
         max(CASE WHEN a.path LIKE '%/labour_capacity' THEN {text} END) AS capacity,
         max(CASE WHEN a.path LIKE '%/employment_status' THEN {text} END) AS status
  FROM households h
  JOIN interviews i ON i.household_id = h.id AND i.status = 'completed'
  JOIN answers a ON a.interview_id = i.id
  WHERE h.review_year = :year AND a.path LIKE 'members/%'
  GROUP BY h.category, a.interview_id, member
) AS m
GROUP BY category, age >= 15, capacity, status
"""
EAV_SQL = {
    "sqlite": EAV.format(age="CAST(a.value AS INTEGER)", text="json_extract(a.value, '$')"),
    "postgresql": EAV.format(age="(a.value::text)::numeric", text="(a.value #>> '{}')").replace(
        "instr(substr(a.path, 9), '/')", "strpos(substr(a.path, 9), '/')"
    ),
}


# -- data --------------------------------------------------------------------------------


def people(
    households: int, seed: int = 7
) -> Iterator[tuple[int, int, int, str | None, str | None]]:
    """(household id, member index, age, capacity, status) for every member."""
    rng = random.Random(seed)
    for household in range(1, households + 1):
        for index in range(MEMBERS_PER_HOUSEHOLD):
            age = rng.choice((6, 12, 16, 30, 45, 60, 75))
            if age < 15:
                yield household, index, age, None, None
            elif rng.random() < 0.25:
                yield household, index, age, "no", "unable"
            else:
                yield household, index, age, "yes", rng.choice(ABLE_STATUSES)


def household_rows(count: int, village_ids: list[int], now: datetime) -> Iterator[tuple[Any, ...]]:
    for number in range(1, count + 1):
        yield (
            number,
            f"H{number:07d}",
            YEAR,
            village_ids[number % len(village_ids)],
            f"Chủ hộ {number}",
            f"chu ho {number}",
            CATEGORIES[number % len(CATEGORIES)],
            now,
        )


def interview_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for number in range(1, count + 1):
        yield (number, number, None, "household", "bench", "completed", 0, "{}", "bench", now, now)


def answer_rows(
    members: list[tuple[int, int, int, str | None, str | None]], now: datetime
) -> Iterator[tuple[Any, ...]]:
    next_id = 1
    for household, index, age, capacity, status in members:
        prefix = f"members/{index}/"
        values = [("age", age), ("labour_capacity", capacity), ("employment_status", status)]
        for name, value in values:
            if value is not None and not (name == "employment_status" and capacity == "no"):
                yield (next_id, household, prefix + name, json.dumps(value), now)
                next_id += 1


async def create_areas(engine: AsyncEngine) -> list[int]:
    sessions = session_factory(engine)
    async with UnitOfWork(sessions) as uow:
        district = Area(code="TM", name="Huyện Tháp Mười", level="huyện")
        uow.areas.add(district)
        await uow.session.flush()
        villages = []
        for c in range(COMMUNES):
            commune = Area(code=f"TM-{c:02d}", name=f"Xã {c}", level="xã", parent_id=district.id)
            uow.areas.add(commune)
            await uow.session.flush()
            for v in range(VILLAGES):
                village = Area(
                    code=f"TM-{c:02d}-{v:02d}",
                    name=f"Ấp {v} xã {c}",
                    level="ấp",
                    parent_id=commune.id,
                    total_households=4_000,
                )
                uow.areas.add(village)
                villages.append(village)
        await uow.session.flush()
        ids = [village.id for village in villages]
        await uow.commit()
    return ids


def fill_sqlite(path: Path, villages: list[int], households: int, eav: bool) -> None:
    now = datetime(2026, 11, 30, 8, tzinfo=UTC).isoformat(sep=" ")
    members = list(people(households))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA synchronous=OFF")
        db.executemany(
            "INSERT INTO households (id, code, review_year, area_id, head_name, "
            "head_name_search, category, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            household_rows(households, villages, now),  # type: ignore[arg-type]
        )
        db.executemany(
            "INSERT INTO interviews (id, household_id, collaborator_id, form_id, form_version, "
            "status, step, prefill, source, started_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            interview_rows(households, now),  # type: ignore[arg-type]
        )
        db.executemany(
            "INSERT INTO member_facts (interview_id, member_index, age, labour_capacity, "
            "employment_status) VALUES (?, ?, ?, ?, ?)",
            members,
        )
        if eav:
            db.executemany(
                "INSERT INTO answers (id, interview_id, path, value, answered_at) "
                "VALUES (?, ?, ?, ?, ?)",
                answer_rows(members, now),  # type: ignore[arg-type]
            )
        db.execute("ANALYZE")


async def fill_postgres(
    engine: AsyncEngine, villages: list[int], households: int, eav: bool
) -> None:
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)
    members = list(people(households))
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(
            "households",
            records=list(household_rows(households, villages, now)),
            columns=[
                "id", "code", "review_year", "area_id", "head_name", "head_name_search",
                "category", "created_at",
            ],
        )  # fmt: skip
        await driver.copy_records_to_table(
            "interviews",
            records=list(interview_rows(households, now)),
            columns=[
                "id", "household_id", "collaborator_id", "form_id", "form_version", "status",
                "step", "prefill", "source", "started_at", "updated_at",
            ],
        )  # fmt: skip
        await driver.copy_records_to_table(
            "member_facts",
            records=members,
            columns=["interview_id", "member_index", "age", "labour_capacity", "employment_status"],
        )
        if eav:
            await driver.copy_records_to_table(
                "answers",
                records=list(answer_rows(members, now)),
                columns=["id", "interview_id", "path", "value", "answered_at"],
            )
        await driver.execute("ANALYZE")
        await connection.commit()


# -- timing ------------------------------------------------------------------------------


async def median_seconds(run: Callable[[], Awaitable[object]], repeat: int) -> float:
    await run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(engine: AsyncEngine, label: str, members: int, repeat: int, eav: bool) -> bool:
    sessions = session_factory(engine)

    async def report() -> object:
        async with UnitOfWork(sessions) as uow:
            area = await uow.areas.by_code("TM")
            assert area is not None
            return await build_report(uow, area, YEAR)

    async def raw(sql: str) -> object:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql), {"year": YEAR})).all()

    summary = await report()
    total = sum(c.members for c in summary.categories.values())  # type: ignore[attr-defined]
    assert total == members, f"the report counted {total:,} members, not {members:,}"
    ours = await median_seconds(report, repeat)
    baseline = await median_seconds(lambda: raw(BASELINE), repeat)
    ratio = ours / baseline
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"[{label}] members: {members:,}")
    print(f"[{label}] build_report (district):      {ours * 1000:8.1f} ms")
    print(f"[{label}] raw GROUP BY, same tables:    {baseline * 1000:8.1f} ms")
    print(f"[{label}] ratio {ratio:.2f}x (target ≤ {TARGET:.0f}x): {verdict}")
    if eav:
        dialect = engine.dialect.name
        pivot = await median_seconds(lambda: raw(EAV_SQL[dialect]), max(1, repeat // 2))
        print(f"[{label}] same counts from EAV answers: {pivot * 1000:8.1f} ms (for reference)")
    started = time.perf_counter()
    render_summary(summary)  # type: ignore[arg-type]
    rendering = time.perf_counter() - started
    print(f"[{label}] render_summary:              {rendering * 1000:8.1f} ms")
    return ratio <= TARGET


async def run_sqlite(members: int, repeat: int, eav: bool) -> bool:
    households = members // MEMBERS_PER_HOUSEHOLD
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
            villages = await create_areas(engine)
            started = time.perf_counter()
            fill_sqlite(path, villages, households, eav)
            print(f"[sqlite] generated in {time.perf_counter() - started:.1f} s")
            return await measure(engine, "sqlite", members, repeat, eav)
        finally:
            await engine.dispose()


async def run_postgres(members: int, repeat: int, eav: bool) -> bool:
    households = members // MEMBERS_PER_HOUSEHOLD
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, schema=schema)
    try:
        await upgrade(engine)
        villages = await create_areas(engine)
        started = time.perf_counter()
        await fill_postgres(engine, villages, households, eav)
        print(f"[postgresql] generated in {time.perf_counter() - started:.1f} s")
        return await measure(engine, "postgresql", members, repeat, eav)
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def run(
    db: str = "both", members: int = 1_000_000, repeat: int = 5, eav: bool = True
) -> bool:
    """Every requested backend; True when all pass."""
    ok = True
    if db in ("sqlite", "both"):
        ok &= await run_sqlite(members, repeat, eav)
    if db in ("postgresql", "both"):
        ok &= await run_postgres(members, repeat, eav)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-eav", action="store_true", help="skip the EAV comparison")
    args = parser.parse_args(argv)
    ok = asyncio.run(run(args.db, args.members, args.repeat, not args.no_eav))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
