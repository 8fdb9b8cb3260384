"""storage.lean: a chat turn's statements run on SQLite's cursor store and read exactly what
SQLAlchemy's own execution does, and what it cannot run so is left to SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, bindparam, create_engine, event, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.pool import StaticPool

from storage import lean
from storage.models import Base, DialogState, Role, User

USERS = cast(Table, User.__table__)
STATES = cast(Table, DialogState.__table__)
WHEN = datetime(2026, 3, 6, 21, 30, 15, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def connection() -> Iterator[Connection]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with engine.connect() as connection, connection.begin():
        yield connection
    engine.dispose()


def person(user_id: int, name: str = "Nguyễn Thị Lan") -> dict[str, Any]:
    return {
        "id": user_id,
        "platform": "telegram",
        "platform_user_id": str(1000 + user_id),
        "display_name": name,
        "role": Role.COLLABORATOR,
        "locale": "vi",
        "active": True,
        "created_at": WHEN,
    }


def state(user_id: int, **values: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "dialog": "interview",
        "state": {"household": 7, "note": "Ấp Tân Hòa"},
        "asked_at": WHEN,
        "updated_at": WHEN,
        **values,
    }


STATE_INSERT = insert(STATES)
USER_INSERT = insert(USERS)
STATE_READ = select(STATES.c.dialog, STATES.c.state, STATES.c.asked_at, STATES.c.seen_turn).where(
    STATES.c.user_id == bindparam("user")
)
STATE_UPDATE = (
    update(STATES)
    .where(STATES.c.user_id == bindparam("key_"))
    .values(asked_at=bindparam("asked_at"), updated_at=bindparam("updated_at"))
)


def stored_text(connection: Connection, table: str) -> list[tuple[Any, ...]]:
    """The rows as SQLite holds them: the stored formats, not the values read back."""
    return [tuple(row) for row in connection.exec_driver_sql(f"SELECT * FROM {table}")]


def test_writes_store_what_sqlalchemy_stores(connection: Connection) -> None:
    lean.execute(connection, USER_INSERT, person(1))
    lean.execute(connection, STATE_INSERT, state(1))
    connection.execute(USER_INSERT, person(2))
    connection.execute(STATE_INSERT, state(2))

    users = stored_text(connection, "users")
    states = stored_text(connection, "dialog_states")
    # Every column but the keys stored alike, down to the datetime's text and the JSON's.
    assert [row[0] for row in users] == [1, 2]
    assert users[0][1] == users[1][1] == "telegram"
    assert users[0][3:] == users[1][3:]
    assert states[0][1:] == states[1][1:]
    assert "2026-03-06 21:30:15.123456" in states[0]


def test_reads_give_the_types_sqlalchemy_gives(connection: Connection) -> None:
    connection.execute(USER_INSERT, person(1))
    connection.execute(STATE_INSERT, state(1, seen_turn=LATER))

    found = lean.execute(connection, STATE_READ, {"user": 1}).first()

    assert found == ("interview", {"household": 7, "note": "Ấp Tân Hòa"}, WHEN, LATER)
    assert found[2].tzinfo is UTC
    assert lean.execute(connection, STATE_READ, {"user": 2}).first() is None
    assert lean.execute(connection, STATE_READ, {"user": 2}).all() == []


def test_an_enum_is_read_as_its_member(connection: Connection) -> None:
    connection.execute(USER_INSERT, person(1))
    read = select(USERS.c.role, USERS.c.active).where(USERS.c.id == bindparam("id"))

    assert lean.execute(connection, read, {"id": 1}).all() == [(Role.COLLABORATOR, True)]


def test_an_update_counts_its_rows_once_or_many_times(connection: Connection) -> None:
    connection.execute(USER_INSERT, [person(1), person(2)])
    connection.execute(STATE_INSERT, [state(1), state(2)])

    one = lean.execute(
        connection, STATE_UPDATE, {"key_": 1, "asked_at": LATER, "updated_at": LATER}
    )
    many = lean.execute(
        connection,
        STATE_UPDATE,
        [
            {"key_": 1, "asked_at": LATER, "updated_at": LATER},
            {"key_": 2, "asked_at": LATER, "updated_at": LATER},
            {"key_": 3, "asked_at": LATER, "updated_at": LATER},
        ],
    )
    nobody = lean.execute(
        connection, STATE_UPDATE, {"key_": 9, "asked_at": LATER, "updated_at": LATER}
    )

    assert (one.rowcount, many.rowcount, nobody.rowcount) == (1, 2, 0)
    assert connection.execute(select(STATES.c.asked_at)).scalars().all() == [LATER, LATER]


def test_a_column_default_is_left_to_sqlalchemy(connection: Connection) -> None:
    # updated_at is not given: its onupdate (a Python function) is SQLAlchemy's to call.
    connection.execute(USER_INSERT, person(1))
    connection.execute(STATE_INSERT, state(1))
    asked = update(STATES).where(STATES.c.user_id == bindparam("key_")).values(asked_at=LATER)

    result = lean.execute(connection, asked, {"key_": 1})

    assert isinstance(result, CursorResult)
    stored = connection.execute(select(STATES.c.updated_at)).scalar_one()
    assert stored > WHEN


def test_expanding_in_and_returning_are_left_to_sqlalchemy(connection: Connection) -> None:
    connection.execute(USER_INSERT, [person(1), person(2), person(3)])
    among = select(USERS.c.id).where(USERS.c.id.in_(bindparam("ids", expanding=True)))
    renamed = (
        update(USERS)
        .where(USERS.c.id == bindparam("key_"))
        .values(display_name=bindparam("name"))
        .returning(USERS.c.id)
    )

    assert isinstance(lean.execute(connection, among, {"ids": [1, 3]}), CursorResult)
    assert lean.execute(connection, among, {"ids": [1, 3]}).all() == [(1,), (3,)]
    assert isinstance(
        lean.execute(connection, renamed, {"key_": 2, "name": "Lê Văn Bảy"}), CursorResult
    )


def test_whoever_listens_to_statements_sees_them(connection: Connection) -> None:
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(connection.engine, "before_cursor_execute", listen)
    try:
        lean.execute(connection, USER_INSERT, person(1))
    finally:
        event.remove(connection.engine, "before_cursor_execute", listen)
    lean.execute(connection, USER_INSERT, person(2))

    assert len(seen) == 1
    assert seen[0].startswith("INSERT INTO users")


def test_an_error_is_sqlalchemys_and_holds_no_values(connection: Connection) -> None:
    lean.execute(connection, USER_INSERT, person(1, "Trần Văn Riêng"))

    with pytest.raises(IntegrityError) as raised:
        lean.execute(connection, USER_INSERT, person(1, "Trần Văn Riêng"))

    assert "UNIQUE constraint failed: users.id" in str(raised.value)
    assert "Trần Văn Riêng" not in str(raised.value)
    assert "1001" not in str(raised.value)


def test_a_missing_value_is_refused_as_sqlalchemy_refuses_it(connection: Connection) -> None:
    with pytest.raises(InvalidRequestError, match="A value is required for bind parameter 'key_'"):
        lean.execute(connection, STATE_UPDATE, {"asked_at": LATER, "updated_at": LATER})


def test_past_the_limit_statements_go_through_sqlalchemy(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A statement built at each call would otherwise grow the cache for ever.
    monkeypatch.setattr(lean, "PREPARED_LIMIT", 0)
    connection.execute(USER_INSERT, person(1))
    fresh = select(USERS.c.display_name).where(USERS.c.id == bindparam("id"))

    result = lean.execute(connection, fresh, {"id": 1})

    assert isinstance(result, CursorResult)
    assert result.all() == [("Nguyễn Thị Lan",)]


def test_values_the_statement_holds_are_bound_with_the_given_ones(
    connection: Connection,
) -> None:
    connection.execute(USER_INSERT, [person(1), person(2, "Lê Văn Bảy")])
    connection.execute(STATE_INSERT, [state(1), state(2)])
    # "interview" is the statement's own value; the person is given, twice in one statement.
    read = select(USERS.c.display_name).where(
        USERS.c.id == bindparam("who"),
        USERS.c.id.in_(select(STATES.c.user_id).where(STATES.c.dialog == "interview")),
        USERS.c.id >= bindparam("who"),
    )

    for who, name in ((1, "Nguyễn Thị Lan"), (2, "Lê Văn Bảy"), (1, "Nguyễn Thị Lan")):
        assert lean.execute(connection, read, {"who": who}).all() == [(name,)]
    assert lean.execute(connection, read, {"who": 3}).all() == []


def test_a_value_computed_at_each_execution_is_computed_each_time(
    connection: Connection,
) -> None:
    connection.execute(USER_INSERT, [person(1), person(2, "Lê Văn Bảy")])
    chosen = iter((2, 1))
    read = select(USERS.c.display_name).where(
        USERS.c.id == bindparam("computed", callable_=lambda: next(chosen)),
        USERS.c.active == bindparam("active"),
    )

    first = lean.execute(connection, read, {"active": True}).all()
    second = lean.execute(connection, read, {"active": True}).all()

    assert (first, second) == ([("Lê Văn Bảy",)], [("Nguyễn Thị Lan",)])


def test_a_row_of_many_missing_a_value_is_refused_as_sqlalchemy_refuses_it(
    connection: Connection,
) -> None:
    rows = [
        {"key_": 1, "asked_at": LATER, "updated_at": LATER},
        {"asked_at": LATER, "updated_at": LATER},
    ]
    with pytest.raises(InvalidRequestError, match="A value is required for bind parameter 'key_'"):
        lean.execute(connection, STATE_UPDATE, rows)


def test_a_connection_not_in_a_transaction_is_left_to_sqlalchemy() -> None:
    # SQLAlchemy begins the transaction its commit ends; the cursor would not tell it.
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with engine.connect() as connection:
        result = lean.execute(connection, USER_INSERT, person(1))
        connection.commit()
        assert isinstance(result, CursorResult)
        assert connection.execute(select(USERS.c.id)).scalars().all() == [1]
    engine.dispose()
