"""The least CPU a durable chat answer can cost in this stack: what the interview
benchmark's ``direct`` figure can at best approach.

A button answer, stripped to what any implementation of rasoat's promises must do (the
update claimed exactly once, the person and their place in the dialog read, the interview
read with its stored questionnaire state, the answer written, the interview and the dialog
moved on, committed before the reply), measured three ways on a SQLite file (WAL,
``synchronous=FULL``, as in production), 32 turns per COMMIT, each in a savepoint:

- ``sqlite3``: the six statements through Python's sqlite3 module, nothing else;
- ``SQLAlchemy Core``: the same statements, prebuilt, through a synchronous SQLAlchemy
  connection (rows as tuples, the state column through its JSON type);
- ``Questionnaire turn from JSON``: the pure part, as ``python -m bench.plan`` measures it
  (the state decoded, the answer checked and applied, the next question, the rows, the
  state encoded).

Then the ceiling they imply: answers per second of one process on one core, for the
statements through SQLAlchemy Core plus the questionnaire, before any routing, dialog,
rendering or ORM. CPU time, best of N runs. Information only: no target.

Usage: ``python -m bench.floor [--turns N] [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from bench.plan import questionnaire_json_turn, script
from forms.plan import compile_plan
from forms.questionnaire import Questionnaire
from forms.xlsform import load_bundled_form
from tests.forms.conftest import TODAY

GROUP = 32
SCHEMA = (
    "CREATE TABLE processed_updates (platform TEXT, update_key TEXT, processed_at TEXT,"
    " PRIMARY KEY (platform, update_key))",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, platform TEXT, platform_user_id TEXT,"
    " display_name TEXT, role TEXT, locale TEXT, active INTEGER)",
    "CREATE UNIQUE INDEX users_platform ON users (platform, platform_user_id)",
    "CREATE TABLE dialog_states (user_id INTEGER PRIMARY KEY, dialog TEXT, state TEXT,"
    " asked_at TEXT, seen_turn TEXT, updated_at TEXT)",
    "CREATE TABLE households (id INTEGER PRIMARY KEY, code TEXT, head_name TEXT,"
    " category TEXT, review_year INTEGER)",
    "CREATE TABLE interviews (id INTEGER PRIMARY KEY, household_id INTEGER, status TEXT,"
    " step INTEGER, prefill TEXT, plan_state TEXT, updated_at TEXT)",
    "CREATE TABLE answers (id INTEGER PRIMARY KEY, interview_id INTEGER, path TEXT,"
    " value TEXT, answered_by INTEGER, answered_at TEXT, UNIQUE (interview_id, path))",
)
CLAIM = "INSERT INTO processed_updates VALUES (:platform, :key, :at)"
USER = (
    "SELECT users.*, dialog_states.* FROM users LEFT JOIN dialog_states"
    " ON dialog_states.user_id = users.id"
    " WHERE users.platform = :platform AND users.platform_user_id = :user"
)
INTERVIEW = (
    "SELECT interviews.*, households.* FROM interviews JOIN households"
    " ON households.id = interviews.household_id WHERE interviews.id = :id"
)
ANSWER = (
    "INSERT INTO answers (interview_id, path, value, answered_by, answered_at)"
    " VALUES (:id, :path, :value, :by, :at) ON CONFLICT (interview_id, path) DO UPDATE SET"
    " value = excluded.value, answered_by = excluded.answered_by,"
    " answered_at = excluded.answered_at"
)
MOVE = "UPDATE interviews SET step = :step, plan_state = :state, updated_at = :at WHERE id = :id"
ASKED = "UPDATE dialog_states SET asked_at = :at, updated_at = :at WHERE user_id = :id"


def stored_state() -> str:
    """A questionnaire state as a turn finds it, halfway through the scripted household."""
    form = load_bundled_form()
    answers = script(form)
    value = Questionnaire.start(compile_plan(form), {}, today=TODAY)
    for path, answer in answers[: len(answers) // 2]:
        value = value.answer([(path, answer)])
    return json.dumps(value.to_json())


def seed(db: sqlite3.Connection, state: str) -> None:
    for statement in SCHEMA:
        db.execute(statement)
    db.execute("INSERT INTO users VALUES (1, 'telegram', '7001', 'CTV', 'collaborator', 'vi', 1)")
    db.execute("INSERT INTO dialog_states VALUES (1, 'interview', '{}', NULL, NULL, '')")
    db.execute("INSERT INTO households VALUES (1, 'HH-1', 'Nguyễn Văn A', 'poor', 2026)")
    db.execute("INSERT INTO interviews VALUES (1, 1, 'in_progress', 0, '{}', ?, '')", (state,))


def open_file(folder: Path, name: str, state: str) -> Path:
    path = folder / name
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    seed(db, state)
    db.close()
    return path


def turn_parameters(n: int, now: str, state: str) -> list[dict[str, Any]]:
    return [
        {"platform": "telegram", "key": str(n), "at": now},
        {"platform": "telegram", "user": "7001"},
        {"id": 1},
        {"id": 1, "path": f"q{n % 80}", "value": json.dumps("yes"), "by": 1, "at": now},
        {"step": n, "state": state, "at": now, "id": 1},
        {"at": now, "id": 1},
    ]


def raw_turns(path: Path, turns: int, first: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=FULL")
    now = datetime.now(UTC).isoformat()
    for start in range(first, first + turns, GROUP):
        db.execute("BEGIN IMMEDIATE")
        for n in range(start, min(start + GROUP, first + turns)):
            claim, user, interview, answer, move, asked = turn_parameters(n, now, "")
            db.execute("SAVEPOINT turn")
            db.execute(CLAIM, claim)
            db.execute(USER, user).fetchone()
            row = db.execute(INTERVIEW, interview).fetchone()
            move["state"] = json.dumps(json.loads(row[5]))
            db.execute(ANSWER, answer)
            db.execute(MOVE, move)
            db.execute(ASKED, asked)
            db.execute("RELEASE turn")
        db.execute("COMMIT")
    db.close()


def core_engine(path: Path) -> Engine:
    return create_engine(f"sqlite+pysqlite:///{path}", isolation_level="AUTOCOMMIT")


def core_turns(engine: Engine, turns: int, first: int) -> None:
    claim, user, interview = text(CLAIM), text(USER), text(INTERVIEW)
    answer, move, asked = text(ANSWER), text(MOVE), text(ASKED)
    now = datetime.now(UTC).isoformat()
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=FULL")
        for start in range(first, first + turns, GROUP):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            for n in range(start, min(start + GROUP, first + turns)):
                values = turn_parameters(n, now, "")
                connection.exec_driver_sql("SAVEPOINT turn")
                connection.execute(claim, values[0])
                connection.execute(user, values[1]).first()
                row = connection.execute(interview, values[2]).first()
                assert row is not None
                values[4]["state"] = json.dumps(json.loads(row[5]))
                connection.execute(answer, values[3])
                connection.execute(move, values[4])
                connection.execute(asked, values[5])
                connection.exec_driver_sql("RELEASE turn")
            connection.exec_driver_sql("COMMIT")


def best(runs: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args(argv)
    state = stored_state()
    form = load_bundled_form()
    plan, answers = compile_plan(form), script(form)
    with tempfile.TemporaryDirectory(prefix="rasoat-floor-") as folder:
        raw_path = open_file(Path(folder), "raw.db", state)
        core_path = open_file(Path(folder), "core.db", state)
        engine = core_engine(core_path)
        runs, turns = options.runs, options.turns
        # Each run claims update keys of its own: a key claimed twice would fail.
        firsts = iter(range(0, turns * runs * 2, turns))
        raw = best(runs, lambda: raw_turns(raw_path, turns, next(firsts))) / turns
        core = best(runs, lambda: core_turns(engine, turns, next(firsts))) / turns
        engine.dispose()
    pure = best(runs, lambda: questionnaire_json_turn(plan, answers)) / len(answers)
    ceiling = 1 / (core + pure)
    print(f"a durable button answer, its least CPU ({options.turns} turns, {GROUP} per COMMIT):")
    print(f"  {'six statements, sqlite3':<40} {raw * 1e6:8.0f} µs/answer")
    print(f"  {'six statements, SQLAlchemy Core':<40} {core * 1e6:8.0f} µs/answer")
    print(f"  {'Questionnaire turn from JSON':<40} {pure * 1e6:8.0f} µs/answer")
    print(f"  ceiling (Core + questionnaire, one core)  {ceiling:8.0f} answers/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
