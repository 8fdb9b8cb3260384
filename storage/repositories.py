"""Repositories: the only place that knows how aggregates map to queries."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from storage import lean
from storage.models import (
    Answer,
    Area,
    AreaYearStats,
    AuditEntry,
    Base,
    ChatBinding,
    Classification,
    DialogState,
    Household,
    InboxUpdate,
    Interview,
    InterviewStatus,
    Invite,
    MemberFact,
    ProcessedUpdate,
    RegistrationFailure,
    Role,
    ShownList,
    User,
    UserIdentity,
    utcnow,
)
from storage.rows import (
    AREA_COLUMNS,
    AREAS,
    DIALOG_STATE_COLUMNS,
    DIALOG_STATES,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS,
    INTERVIEW_COLUMNS,
    INTERVIEWS,
    USER_AREAS,
    USER_COLUMNS,
    USERS,
    DialogStateRow,
    InterviewRow,
    Person,
    UserRow,
    dialog_state_row,
    interview_row,
    interview_select,
    user_row,
)
from storage.text import fold


def hash_code(code: str, key: bytes) -> str:
    """The stored form of an invite code: an HMAC under the server's key.

    An 8-character code is about 8.5e11 possibilities, which one GPU exhausts in minutes
    against a plain SHA-256; without the key, kept outside the database, a leaked table is
    of no use.
    """
    return hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest()


def legacy_hash_code(code: str) -> str:
    # Invites made before keyed hashes, honoured until they expire (at most a year).
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


# The key of a session's ``info`` under which its owner may leave the connection whose
# transaction the session works in (SQLite's writer does): Core statements run on it
# without the session joining that transaction first, which costs a turn of one or two
# statements more than they do (the session joins at its first ORM statement, if any).
CONNECTION = "rasoat.connection"


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _core(self, statement: Any, parameters: Any = None) -> Any:
        """A Core statement run on the transaction's connection, past the session's ORM
        execution (its events, options and autoflush): a chat turn runs several, and that
        layer costs as much CPU as SQLite takes to run them."""
        connection = self.session.info.get(CONNECTION)
        if connection is None:
            connection = self.session.connection()
        return lean.execute(connection, statement, parameters)


class AreaRepository(_Repository):
    def by_code(self, code: str) -> Area | None:
        return self.session.scalar(select(Area).where(Area.code == code))

    def by_codes(self, codes: Iterable[str]) -> dict[str, Area]:
        wanted = list(set(codes))
        if not wanted:
            return {}
        rows = self.session.scalars(select(Area).where(Area.code.in_(wanted)))
        return {area.code: area for area in rows}

    def all(self) -> Sequence[Area]:
        return (self.session.scalars(select(Area).order_by(Area.code))).all()

    def subtree_ids(self, root_ids: Iterable[int]) -> set[int]:
        """The given areas and all their descendants, whatever the depth of the tree."""
        parents: dict[int | None, list[int]] = {}
        for area_id, parent_id in self.session.execute(select(Area.id, Area.parent_id)):
            parents.setdefault(parent_id, []).append(area_id)
        found: set[int] = set()
        frontier = list(root_ids)
        while frontier:
            area_id = frontier.pop()
            if area_id in found:
                continue
            found.add(area_id)
            frontier.extend(parents.get(area_id, []))
        return found

    def path(self, area: Area) -> list[Area]:
        """From the root down to ``area``, for display ("Đồng Tháp › Mỹ Hòa › Ấp 1")."""
        chain = [area]
        while chain[-1].parent_id is not None:
            parent = self.session.get(Area, chain[-1].parent_id)
            if parent is None:
                break
            chain.append(parent)
        return list(reversed(chain))

    def add(self, area: Area) -> None:
        self.session.add(area)


def _dialect(session: Session) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def _upsert(dialect: str, model: type[Base], keys: Sequence[str], columns: Sequence[str]) -> Any:
    """INSERT of a row of ``model``'s table that, where a row with the same ``keys`` is
    there, sets its ``columns`` instead. On the table: a Core INSERT skips the ORM's
    bulk-insert machinery (nothing here needs it: no object is loaded or refreshed)."""
    table = cast(Table, model.__table__)
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys],
        set_={column: upsert.excluded[column] for column in columns},
    )


@functools.cache
def _answer_upsert(dialect: str) -> Any:
    # Built once: constructing ON CONFLICT clauses costs more than executing them.
    return _upsert(
        dialect, Answer, ("interview_id", "path"), ("value", "answered_by", "answered_at")
    )


@functools.cache
def _answer_and_advance() -> Any:
    """PostgreSQL: one answer stored and its interview advanced in one statement, the
    answer's upsert in a WITH (PostgreSQL runs a data-modifying WITH once, read or not):
    each round trip of a turn costs its process about as much CPU as its statement costs
    the server, and an answer's turn had two for these."""
    answers = cast(Table, Answer.__table__)
    interviews = cast(Table, Interview.__table__)
    upsert = postgresql.insert(answers).values(
        interview_id=bindparam("key_", type_=answers.c.interview_id.type),
        path=bindparam("answer_path", type_=answers.c.path.type),
        value=bindparam("answer_value", type_=answers.c.value.type),
        answered_by=bindparam("answered_by", type_=answers.c.answered_by.type),
        answered_at=bindparam("updated_at", type_=answers.c.answered_at.type),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[answers.c.interview_id, answers.c.path],
        set_={
            column: upsert.excluded[column] for column in ("value", "answered_by", "answered_at")
        },
    )
    return (
        update(interviews)
        .where(interviews.c.id == bindparam("key_"))
        .values(
            step=bindparam("step"),
            plan_state=bindparam("plan_state"),
            updated_at=bindparam("updated_at"),
        )
        .add_cte(upsert.cte("answered"))
    )


@functools.cache
def _row_update(model: type[Base], key: str, *columns: str) -> Any:
    """UPDATE of ``columns`` of one row of ``model``'s table, found by ``key``: built once
    per set of columns (a chat turn writes the same two rows every time)."""
    table = cast(Table, model.__table__)
    return (
        update(table)
        .where(table.c[key] == bindparam("key_"))
        .values({column: bindparam(column) for column in columns})
    )


@functools.cache
def _user_with_dialog_state() -> Any:
    # Built once, like every statement a chat turn runs: composing it costs more CPU than
    # the database takes to answer it. Plain columns, no objects: a row per area of the
    # person (most have one), each with the person and their dialog state.
    # The person is found through the account (user_identities): any of theirs.
    identities = cast(Table, UserIdentity.__table__)
    return (
        select(*USER_COLUMNS, *DIALOG_STATE_COLUMNS, *AREA_COLUMNS)
        .join_from(identities, USERS, USERS.c.id == identities.c.user_id)
        .outerjoin(DIALOG_STATES, DIALOG_STATES.c.user_id == USERS.c.id)
        .outerjoin(USER_AREAS, USER_AREAS.c.user_id == USERS.c.id)
        .outerjoin(AREAS, AREAS.c.id == USER_AREAS.c.area_id)
        .where(
            identities.c.platform == bindparam("platform"),
            identities.c.platform_user_id == bindparam("platform_user_id"),
        )
        .order_by(AREAS.c.id)
    )


class InterviewInState(NamedTuple):
    """Where a person's dialog state names their open interview: the dialog, and the key of
    its state holding the interview's id (the dialogs' knowledge, handed down)."""

    dialog: str
    key: str


class TurnRead(NamedTuple):
    """What every chat turn reads first (see :meth:`UserRepository.for_turn`)."""

    user: UserRow | None
    state: DialogStateRow | None
    interview: InterviewRow | None
    """The open interview the state names, locked until commit; None: none, or the person
    is not active (a deactivated person's turn must not hold an interview's row)."""
    earlier: bool
    """Whether the sender may have earlier updates stored and not applied: asked only with
    ``earlier_than``, and True whenever it could not be told (an unknown sender)."""


@functools.cache
def _turn_read(dialect: str, opened: InterviewInState, earlier: bool) -> Any:
    # Built once, like every statement a chat turn runs: composing it costs more CPU than
    # the database takes to answer it. The person with their dialog state and areas, the
    # open interview with its household beside them (one round trip where there were two).
    condition = and_(DIALOG_STATES.c.dialog == opened.dialog, USERS.c.active.is_(True))
    query = _user_with_dialog_state()
    if dialect == "postgresql":
        # FOR UPDATE may not lock the nullable side of an outer join, but a subquery may
        # lock its own rows: a LATERAL one, per person. The id is cast only if it is one (a
        # state damaged by hand must not fail every turn; the dialog then finds no cursor).
        text_id = DIALOG_STATES.c.state[opened.key].as_string()
        wanted = case((text_id.regexp_match("^[0-9]{1,9}$"), text_id.cast(Integer)))
        opened_row = (
            interview_select()
            .where(INTERVIEWS.c.id == wanted, condition)
            .with_for_update(of=INTERVIEWS)
            .lateral("opened")
        )
        columns = list(opened_row.c)
        query = query.outerjoin(opened_row, true())
    else:
        columns = [*INTERVIEW_COLUMNS, *HOUSEHOLD_COLUMNS]
        # No CAST: a number that is no id (1.5) finds nothing, as on PostgreSQL.
        found = func.json_extract(DIALOG_STATES.c.state, f'$."{opened.key}"')
        query = query.outerjoin(INTERVIEWS, and_(INTERVIEWS.c.id == found, condition)).outerjoin(
            HOUSEHOLDS, HOUSEHOLDS.c.id == INTERVIEWS.c.household_id
        )
    if earlier:
        columns.append(_earlier_unapplied().label("earlier"))
    return query.with_only_columns(
        *USER_COLUMNS, *DIALOG_STATE_COLUMNS, *columns, *AREA_COLUMNS, maintain_column_froms=True
    )


class UserRepository(_Repository):
    def by_platform_id(self, platform: str, platform_user_id: str) -> User | None:
        """The person an account belongs to: the one they registered with or one linked."""
        return self.session.scalar(
            select(User)
            .join(UserIdentity, UserIdentity.user_id == User.id)
            .where(
                UserIdentity.platform == platform,
                UserIdentity.platform_user_id == platform_user_id,
            )
        )

    def for_turn(
        self,
        platform: str,
        platform_user_id: str,
        opened: InterviewInState,
        earlier_than: str | None = None,
    ) -> TurnRead:
        """The person, their areas, their dialog state and the open interview it names, in
        one round trip; with ``earlier_than`` (an update's key, PostgreSQL), whether the
        sender may have earlier updates stored and not applied (:meth:`Inbox.unapplied`
        tells which). Read under the sender's lock, in statements after it: what the
        previous holder committed is seen."""
        earlier = earlier_than is not None and _dialect(self.session) == "postgresql"
        statement = _turn_read(_dialect(self.session), opened, earlier)
        parameters: dict[str, str | None] = {
            "platform": platform,
            "platform_user_id": platform_user_id,
        }
        if earlier:
            parameters["before"] = earlier_than
        rows = self._core(statement, parameters).all()
        if not rows:
            return TurnRead(None, None, None, earlier)
        first = rows[0]
        start = len(USER_COLUMNS) + len(DIALOG_STATE_COLUMNS)
        end = start + len(INTERVIEW_COLUMNS) + len(HOUSEHOLD_COLUMNS)
        interview = None if first[start] is None else interview_row(first[start:end])
        return TurnRead(
            user_row(rows),
            dialog_state_row(first, len(USER_COLUMNS)),
            interview,
            earlier and bool(first[end]),
        )

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def add(self, user: User) -> User:
        """A new person, found from now on by the account they registered with."""
        self.session.add(user)
        self.session.flush()
        self.session.add(
            UserIdentity(
                platform=user.platform,
                platform_user_id=user.platform_user_id,
                user_id=user.id,
                linked_at=user.created_at,
            )
        )
        self.session.flush()
        return user

    def bind_chat(self, user: Person, platform: str, chat_id: str, now: datetime) -> None:
        """Where the outbox reaches ``user`` on ``platform``: this chat, used ``now``.

        A person writing here again (after unblocking the bot: Telegram's "Restart" sends
        /start) reopens the chat to the outbox."""
        values = {"chat_id": chat_id, "last_used_at": now, "active": True, "blocked_at": None}
        dialect_insert = (
            postgresql.insert if _dialect(self.session) == "postgresql" else sqlite.insert
        )
        self.session.execute(
            dialect_insert(cast(Table, ChatBinding.__table__))
            .values(user_id=user.id, platform=platform, **values)
            .on_conflict_do_update(index_elements=["user_id", "platform"], set_=values)
        )


class InviteRepository(_Repository):
    def by_code(self, code: str, key: bytes) -> Invite | None:
        digests = (hash_code(code, key), legacy_hash_code(code))
        return self.session.scalar(select(Invite).where(Invite.code_hash.in_(digests)))

    def claim(self, invite: Invite, now: datetime) -> bool:
        """Mark ``invite`` used, unless another transaction did first.

        Two people sending the same code at once both read it unused; the conditional
        UPDATE lets only one of them through (on PostgreSQL the second waits on the row
        lock, then finds ``used_at`` set and changes nothing).
        """
        claimed = self.session.scalar(
            update(Invite)
            .where(Invite.id == invite.id, Invite.used_at.is_(None))
            .values(used_at=now)
            .returning(Invite.id)
        )
        return claimed is not None

    def add(self, code: str, key: bytes, role: Role, area: Area, expires_at: datetime) -> Invite:
        invite = Invite(
            code_hash=hash_code(code, key), role=role, area_id=area.id, expires_at=expires_at
        )
        self.session.add(invite)
        self.session.flush()
        return invite

    def prune(self, before: datetime) -> None:
        """Forget the invites used, or expired unused, before ``before``; a code typed after
        is answered as unknown. The newest stays: SQLite would give its id again, and the
        audit log names invites by id."""
        newest = select(func.max(Invite.id)).scalar_subquery()
        self.session.execute(
            delete(Invite).where(
                func.coalesce(Invite.used_at, Invite.expires_at) < before, Invite.id < newest
            )
        )


class RegistrationFailureRepository(_Repository):
    def record(self, platform: str, user_id: str, display_name: str, at: datetime) -> None:
        self.session.add(
            RegistrationFailure(
                platform=platform,
                platform_user_id=user_id,
                display_name=display_name[:128],
                at=at,
            )
        )

    def count_since(self, platform: str, user_id: str, since: datetime) -> int:
        query = select(func.count(RegistrationFailure.id)).where(
            RegistrationFailure.platform == platform,
            RegistrationFailure.platform_user_id == user_id,
            RegistrationFailure.lifted_at.is_(None),
            RegistrationFailure.at > since,
        )
        return int(self.session.scalar(query) or 0)

    def locked(self, since: datetime, limit: int) -> list[tuple[str, str, str, datetime]]:
        """(platform, user id, name, last failure) of everyone at or over ``limit``."""
        query = (
            select(
                RegistrationFailure.platform,
                RegistrationFailure.platform_user_id,
                func.max(RegistrationFailure.display_name),
                func.max(RegistrationFailure.at),
            )
            .where(RegistrationFailure.lifted_at.is_(None), RegistrationFailure.at > since)
            .group_by(RegistrationFailure.platform, RegistrationFailure.platform_user_id)
            .having(func.count(RegistrationFailure.id) >= limit)
            .order_by(func.max(RegistrationFailure.at))
        )
        return [(p, u, n, at) for p, u, n, at in (self.session.execute(query)).all()]

    def lift(self, now: datetime, platform: str | None = None, user_id: str | None = None) -> int:
        """Forgive the failures of one person, or of everyone; how many were forgiven."""
        query = update(RegistrationFailure).where(RegistrationFailure.lifted_at.is_(None))
        if platform is not None and user_id is not None:
            query = query.where(
                RegistrationFailure.platform == platform,
                RegistrationFailure.platform_user_id == user_id,
            )
        result = self.session.execute(query.values(lifted_at=now))
        return int(getattr(result, "rowcount", 0) or 0)

    def prune(self, before: datetime) -> None:
        """Forget the failures before ``before``, lifted or not."""
        self.session.execute(delete(RegistrationFailure).where(RegistrationFailure.at < before))


class HouseholdRepository(_Repository):
    def by_code(self, code: str, year: int) -> Household | None:
        return self.session.scalar(
            select(Household).where(Household.code == code, Household.review_year == year)
        )

    def get(self, household_id: int) -> Household | None:
        return self.session.get(Household, household_id)

    def with_members(self, household_id: int) -> Household | None:
        return self.session.scalar(
            select(Household)
            .where(Household.id == household_id)
            .options(selectinload(Household.members))
        )

    def in_areas(
        self,
        area_ids: Iterable[int],
        year: int,
        *,
        query: str = "",
        offset: int = 0,
        limit: int = 8,
    ) -> tuple[list[Household], int]:
        """One page of an area's households, by code, and the total; ``query`` matches the
        code or the accent-free head name."""
        condition = and_(Household.area_id.in_(list(area_ids)), Household.review_year == year)
        if query:
            folded = fold(query)
            condition = and_(
                condition,
                or_(
                    func.lower(Household.code).contains(query.strip().lower(), autoescape=True),
                    Household.head_name_search.contains(folded, autoescape=True),
                ),
            )
        total = self.session.scalar(select(func.count(Household.id)).where(condition))
        page = self.session.scalars(
            select(Household).where(condition).order_by(Household.code).offset(offset).limit(limit)
        )
        return list(page), int(total or 0)

    def count(self) -> int:
        return int(self.session.scalar(select(func.count(Household.id))) or 0)


@functools.cache
def _interview_for_update() -> Any:
    # Built once: every chat turn of an interview runs it, and composing the statement
    # costs more CPU than SQLite takes to run it. Plain columns, no objects: the household
    # comes along (the dialogs show its code and name), not its area.
    return (
        interview_select()
        .where(INTERVIEWS.c.id == bindparam("interview_id"))
        .with_for_update(of=INTERVIEWS)
    )


class InterviewRepository(_Repository):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        # Interviews this transaction read locked (with the person, see remember), as they
        # now stand: the lock keeps other transactions from changing them, and change()
        # keeps them up to date here.
        self._locked: dict[int, InterviewRow] = {}

    def remember(self, interview: InterviewRow) -> None:
        """``interview`` was read locked in this transaction: get_for_update hands it back."""
        self._locked[interview.id] = interview

    def get(self, interview_id: int) -> Interview | None:
        return self.session.get(Interview, interview_id)

    def get_for_update(self, interview_id: int) -> InterviewRow | None:
        """The interview, its row locked until commit (PostgreSQL; SQLite's single writer
        lock does the same). Two workers handling the same interview then take turns, so
        each sees the step the other committed and no step number is used twice."""
        if interview_id in self._locked:
            return self._locked[interview_id]
        found = self._core(_interview_for_update(), {"interview_id": interview_id}).first()
        return None if found is None else interview_row(found)

    def change(self, interview: InterviewRow, **values: Any) -> InterviewRow:
        """Store ``values`` of these columns of the interview: one UPDATE of them alone;
        the row as it now stands."""
        statement = _row_update(Interview, "id", *sorted(values))
        self._core(statement, {"key_": interview.id, **values})
        return self._changed(interview, values)

    def _changed(self, interview: InterviewRow, values: dict[str, Any]) -> InterviewRow:
        """The interview as ``values`` of its columns, just stored, left it."""
        # An object of the same interview this transaction loaded is told the new values
        # as stored, so that it neither shows nor writes back the old ones.
        objects = self.session.identity_map
        loaded = (
            objects.get(self.session.identity_key(Interview, interview.id)) if objects else None
        )
        if loaded is not None:
            for key, value in values.items():
                set_committed_value(loaded, key, value)
        changed = dataclasses.replace(interview, **values)
        if interview.id in self._locked:
            self._locked[interview.id] = changed
        return changed

    def open_for_household(self, household_id: int) -> Interview | None:
        return self.session.scalar(
            select(Interview).where(
                Interview.household_id == household_id,
                Interview.status == InterviewStatus.IN_PROGRESS,
            )
        )

    def latest_for_household(self, household_id: int) -> Interview | None:
        """The open interview, else the last completed one."""
        return self.session.scalar(
            select(Interview)
            .where(
                Interview.household_id == household_id,
                Interview.status != InterviewStatus.CANCELLED,
            )
            .order_by(Interview.status == InterviewStatus.COMPLETED, Interview.id.desc())
            .limit(1)
        )

    def add(self, interview: Interview) -> Interview:
        self.session.add(interview)
        self.session.flush()
        return interview

    def answers(self, interview: Interview | InterviewRow) -> list[tuple[str, Any]]:
        rows = self.session.execute(
            select(Answer.path, Answer.value).where(Answer.interview_id == interview.id)
        )
        return [(path, value) for path, value in rows]

    def save_answers(
        self,
        interview: Interview | InterviewRow,
        rows: dict[str, Any],
        by: Person | None,
        at: datetime,
    ) -> None:
        """Insert or overwrite the given answers ({path: JSON value}) in one statement.

        The caller knows the previous values (it holds all answers), so nothing is read
        back; ON CONFLICT makes it one round trip whether or not a row exists.
        """
        if not rows:
            return
        statement = _answer_upsert(_dialect(self.session))
        by_id = by.id if by else None
        self._core(
            statement,
            [
                {
                    "interview_id": interview.id,
                    "path": path,
                    "value": value,
                    "answered_by": by_id,
                    "answered_at": at,
                }
                for path, value in rows.items()
            ],
        )

    def delete_answers(self, interview: Interview | InterviewRow, paths: Iterable[str]) -> None:
        wanted = list(paths)
        if wanted:
            self.session.execute(
                delete(Answer).where(Answer.interview_id == interview.id, Answer.path.in_(wanted))
            )

    def record_step(
        self,
        interview: InterviewRow,
        rows: dict[str, Any],
        by: Person | None,
        at: datetime,
        step: int,
        plan_state: dict[str, Any],
    ) -> InterviewRow:
        """:meth:`save_answers` of ``rows``, then the interview moved to ``step`` at ``at``,
        its questionnaire state with it: on PostgreSQL, where ``rows`` is one answer (most
        steps), in one statement."""
        if len(rows) != 1 or _dialect(self.session) != "postgresql":
            self.save_answers(interview, rows, by, at)
            return self.change(interview, step=step, updated_at=at, plan_state=plan_state)
        ((path, value),) = rows.items()
        self._core(
            _answer_and_advance(),
            {
                "key_": interview.id,
                "answer_path": path,
                "answer_value": value,
                "answered_by": by.id if by else None,
                "step": step,
                "plan_state": plan_state,
                "updated_at": at,
            },
        )
        return self._changed(interview, {"step": step, "updated_at": at, "plan_state": plan_state})

    def statuses(self, household_ids: Iterable[int]) -> dict[int, InterviewStatus]:
        """Each household's most advanced interview status (completed beats in progress)."""
        ids = list(household_ids)
        if not ids:
            return {}
        rows = self.session.execute(
            select(Interview.household_id, Interview.status).where(
                Interview.household_id.in_(ids), Interview.status != InterviewStatus.CANCELLED
            )
        )
        found: dict[int, InterviewStatus] = {}
        for household_id, status in rows:
            if found.get(household_id) is not InterviewStatus.COMPLETED:
                found[household_id] = status
        return found


@functools.cache
def _classifications_retired(household: bool) -> Any:
    """UPDATE: the current results of the members ``indices`` of the interview, and with
    ``household`` its household's, no longer current."""
    table = cast(Table, Classification.__table__)
    members = table.c.member_index.in_(bindparam("indices", expanding=True))
    return (
        update(table)
        .where(
            table.c.interview_id == bindparam("interview"),
            table.c.current.is_(True),
            or_(members, table.c.member_index.is_(None)) if household else members,
        )
        .values(current=False)
    )


class ClassificationRepository(_Repository):
    def current_for(self, interview: Interview | InterviewRow) -> list[Classification]:
        rows = self.session.scalars(
            select(Classification).where(
                Classification.interview_id == interview.id, Classification.current.is_(True)
            )
        )
        return list(rows)

    def replace(self, interview: Interview | InterviewRow, rows: Sequence[Classification]) -> None:
        """Make ``rows`` the current results for their members (and household) of ``interview``;
        earlier results of the same members stay, no longer current."""
        indices = {row.member_index for row in rows}
        # Results added earlier in this transaction are in the table before they are
        # retired with the others (a member's, then the household's at the end).
        self.session.flush()
        # One UPDATE built once, where the current results were loaded as objects (their
        # inputs and details decoded) to flip a flag: a member's result is stored at every
        # member the chat completes.
        self._core(
            _classifications_retired(None in indices),
            {"interview": interview.id, "indices": [i for i in indices if i is not None]},
        )
        self.session.add_all(rows)

    def completed_interviews(self, area_ids: Iterable[int] | None) -> list[Interview]:
        query = select(Interview).where(Interview.status == InterviewStatus.COMPLETED)
        if area_ids is not None:
            query = query.join(Household, Household.id == Interview.household_id).where(
                Household.area_id.in_(list(area_ids))
            )
        return list(self.session.scalars(query.order_by(Interview.id)))


ENTITY_ID_LENGTH = 64  # storage.models.AuditEntry.entity_id


@functools.cache
def _audit_insert() -> Any:
    return insert(cast(Table, AuditEntry.__table__))


def audit_values(
    action: str, actor: Person | None, entity: str | None, entity_id: object, details: Any
) -> dict[str, Any]:
    """The columns of an audit row."""
    return {
        "at": utcnow(),
        "actor_id": actor.id if actor else None,
        "action": action,
        "entity": entity,
        # What a person typed can name the entity (an area code given to /export): cut to
        # the column, the audit row must never fail the turn it records.
        "entity_id": None if entity_id is None else str(entity_id)[:ENTITY_ID_LENGTH],
        "details": details,
    }


class AuditRepository(_Repository):
    def record(
        self,
        action: str,
        *,
        actor: Person | None = None,
        entity: str | None = None,
        entity_id: object = None,
        **details: Any,
    ) -> None:
        # One INSERT, now: nothing reads the row back, so the unit of work's flush (its
        # bookkeeping of a new object) is spared.
        self._core(_audit_insert(), audit_values(action, actor, entity, entity_id, details))

    def recent(self, limit: int = 50) -> Sequence[AuditEntry]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        return (self.session.scalars(query)).all()


@functools.cache
def _ledger_claim(dialect: str) -> Any:
    # On the table rather than the mapped class: a plain Core INSERT skips the ORM's
    # bulk-insert machinery, and every update runs this first.
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(cast(Table, ProcessedUpdate.__table__)).on_conflict_do_nothing()


def sender_lock_key(platform: str, sender: str) -> int:
    """The advisory lock of one sender: a signed 64-bit number, the same in every worker."""
    digest = hashlib.blake2b(f"{platform}:{sender}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# The advisory locks of people (two int4 keys: this one and the user id), a key space apart
# from the senders' single 64-bit keys.
PERSON_LOCKS = 0x72736F74


def _sender_lock() -> Any:
    """The expression that takes a sender's advisory lock (PostgreSQL), waiting for it."""
    # The person the account belongs to, if any: locked as a person, so that the turns of
    # their accounts on two platforms take turns too; an account of nobody as itself.
    person = (
        select(UserIdentity.user_id)
        .where(
            UserIdentity.platform == bindparam("of_platform"),
            UserIdentity.platform_user_id == bindparam("of_sender"),
        )
        .scalar_subquery()
    )
    return case(
        (person.is_(None), func.pg_advisory_xact_lock(bindparam("sender_key"))),
        else_=func.pg_advisory_xact_lock(PERSON_LOCKS, person),
    )


@functools.cache
def _hold_sender() -> Any:
    return select(_sender_lock())


@functools.cache
def _inbox_applied() -> Any:
    """Marks the inbox's row of an update applied (if the inbox holds it)."""
    inbox = cast(Table, InboxUpdate.__table__)
    return (
        update(inbox)
        .where(
            inbox.c.platform == bindparam("of_platform"),
            inbox.c.update_key == bindparam("of_key"),
        )
        .values(applied=True)
    )


@functools.cache
def _held_claim(kept: bool = False) -> Any:
    # The lock, the claim and the inbox's mark in one round trip: the SELECT feeding the
    # INSERT yields its row only once its WHERE has taken the lock, so the ledger is looked
    # at (by ON CONFLICT, which sees rows committed meanwhile, whatever the statement's
    # snapshot) with the sender held. What the turn reads next, it reads in later
    # statements, whose snapshots see what the previous holder committed. ``kept``: the
    # update is stored in the inbox by this statement, applied (stored meanwhile by
    # whoever received it: marked so).
    table = cast(Table, ProcessedUpdate.__table__)
    inbox = cast(Table, InboxUpdate.__table__)
    held = (
        select(
            bindparam("of_platform", type_=table.c.platform.type).label("platform"),
            bindparam("of_key", type_=table.c.update_key.type).label("update_key"),
            bindparam("processed_at", type_=table.c.processed_at.type).label("processed_at"),
        )
        .where(_sender_lock().is_not(None))
        .cte("held")
    )
    # Joined to the held row, the mark locks the inbox's row only after the sender's lock:
    # taken before it, two workers handed the same update could each hold what the other
    # waits for. The parameters are named apart from the inbox's columns: SQLAlchemy would
    # add one named like a column to the mark's SET.
    if kept:
        upsert = postgresql.insert(inbox).from_select(
            ["platform", "update_key", "sender", "payload", "received_at", "applied"],
            select(
                held.c.platform,
                held.c.update_key,
                # (Named as the lock's sender: the same value, one parameter.)
                bindparam("of_sender"),
                bindparam("kept_payload", type_=inbox.c.payload.type),
                held.c.processed_at,
                true(),
            ),
        )
        marked = upsert.on_conflict_do_update(
            index_elements=[inbox.c.platform, inbox.c.update_key], set_={"applied": True}
        ).cte("marked")
    else:
        marked = (
            update(inbox)
            .where(inbox.c.platform == held.c.platform, inbox.c.update_key == held.c.update_key)
            .values(applied=True)
            .cte("marked")
        )
    return (
        postgresql.insert(table)
        .from_select(["platform", "update_key", "processed_at"], select(held))
        .on_conflict_do_nothing()
        .add_cte(marked)
    )


class UpdateLedger(_Repository):
    """Remembers which platform updates were applied, for exactly-once handling."""

    def hold_sender(self, platform: str, sender: str) -> None:
        """Wait until no other transaction applies an update of this sender, or of another
        account of the same person, and keep them out until this one ends.

        Several workers share one PostgreSQL, and Telegram may hand one person's updates to
        two of them at once, or the person writes on two platforms at once: the
        transaction-scoped advisory lock (one statement, one round trip) applies them one at
        a time, so the dialog state each turn reads is the one the previous turn wrote.
        SQLite needs nothing: it has one writer, which applies one turn after another, and
        rasoat one process on it.
        """
        if _dialect(self.session) != "postgresql":
            return
        self._core(
            _hold_sender(),
            {
                "of_platform": platform,
                "of_sender": sender,
                "sender_key": sender_lock_key(platform, sender),
            },
        )

    def hold_person(self, user_id: int) -> None:
        """As :meth:`hold_sender`, for a person known by id: a turn that links an account
        to them holds them before it reads their dialog state."""
        if _dialect(self.session) != "postgresql":
            return
        self.session.execute(select(func.pg_advisory_xact_lock(PERSON_LOCKS, user_id)))

    def hold_and_claim(
        self, platform: str, sender: str, update_key: str, payload: dict[str, Any] | None = None
    ) -> bool:
        """:meth:`hold_sender`, then :meth:`claim`: on PostgreSQL in one statement (every
        update of a shared database costs both, and each round trip costs the event loop
        as much CPU as its statement). With ``payload``, the update not stored yet is
        stored in the inbox (``Inbox.keep``) by the same statement, applied."""
        if _dialect(self.session) != "postgresql":
            if payload is not None:
                Inbox(self.session).keep(platform, [Received(update_key, sender, payload)])
            return self.claim(platform, update_key)
        parameters = {
            "of_platform": platform,
            "of_sender": sender,
            "sender_key": sender_lock_key(platform, sender),
            "of_key": update_key,
            "processed_at": utcnow(),
        }
        if payload is None:
            result = self._core(_held_claim(), parameters)
        else:
            result = self._core(_held_claim(kept=True), {**parameters, "kept_payload": payload})
        return bool(getattr(result, "rowcount", 0))

    def claim(self, platform: str, update_key: str) -> bool:
        """True if this update is new; False if it was already applied.

        ON CONFLICT DO NOTHING keeps two workers racing on a redelivered update from
        erroring: one inserts the row, the other learns it lost.
        """
        result = self._core(
            _ledger_claim(_dialect(self.session)),
            {"platform": platform, "update_key": update_key, "processed_at": utcnow()},
        )
        self._core(_inbox_applied(), {"of_platform": platform, "of_key": update_key})
        return bool(getattr(result, "rowcount", 0))

    def prune(self, before: datetime) -> None:
        """Forget updates older than any platform redelivers (Telegram keeps them 24 h),
        except those still in the inbox: without their row they would be applied again."""
        stored = select(InboxUpdate.id).where(
            InboxUpdate.platform == ProcessedUpdate.platform,
            InboxUpdate.update_key == ProcessedUpdate.update_key,
        )
        self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before, ~stored.exists())
        )


class Receipt(NamedTuple):
    """Replies of one turn that reached their person: whose (user id), which turn (its
    ``asked_at``), and the number of the last of them where the platform numbers messages."""

    user: int
    turn: datetime
    number: int | None


class Received(NamedTuple):
    """An update as a platform sent it: its unique key, its sender's platform id (if it
    has one) and the payload, kept as received."""

    key: str
    sender: str | None
    payload: dict[str, Any]


class ShownLists(_Repository):
    """The numbered list last shown to each person where there are no buttons (see
    :class:`storage.models.ShownList`)."""

    def get(self, platform: str, platform_user_id: str) -> ShownList | None:
        return self.session.get(ShownList, (platform, platform_user_id))

    def show(
        self,
        platform: str,
        platform_user_id: str,
        keys: dict[str, str],
        several: bool,
        now: datetime,
    ) -> None:
        dialect_insert = (
            postgresql.insert if _dialect(self.session) == "postgresql" else sqlite.insert
        )
        values = {"keys": keys, "several": several, "shown_at": now}
        self.session.execute(
            dialect_insert(cast(Table, ShownList.__table__))
            .values(platform=platform, platform_user_id=platform_user_id, **values)
            .on_conflict_do_update(index_elements=["platform", "platform_user_id"], set_=values)
        )

    def prune(self, before: datetime) -> None:
        """Forget the lists shown before ``before``: a key typed after is taken as text."""
        self.session.execute(delete(ShownList).where(ShownList.shown_at < before))


# Applications of a stored update that may raise before a start no longer applies it: one
# failure may pass (a lock, a restart), the same update failing at three separate moments
# is a bug an operator must look at (`rasoat inbox`).
APPLY_ATTEMPTS = 3


class GivenUp(NamedTuple):
    """A stored update never applied, no longer applied at a start (see Inbox.given_up)."""

    platform: str
    update_key: str
    received_at: datetime
    attempts: int


class Inbox(_Repository):
    """Updates as received (see :class:`storage.models.InboxUpdate`)."""

    def keep(self, platform: str, updates: Sequence[Received]) -> None:
        if not updates:
            return
        dialect_insert = (
            postgresql.insert if _dialect(self.session) == "postgresql" else sqlite.insert
        )
        now = utcnow()
        self.session.execute(
            dialect_insert(cast(Table, InboxUpdate.__table__)).on_conflict_do_nothing(),
            [
                {
                    "platform": platform,
                    "update_key": update.key,
                    "sender": update.sender,
                    "payload": update.payload,
                    "received_at": now,
                }
                for update in updates
            ],
        )

    def unapplied(
        self, platform: str, sender: str | None = None, before: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored updates no turn has applied yet, in the order they arrived: all of them,
        or one sender's received before the update ``before``; not those given up."""
        query = select(InboxUpdate.payload).where(
            InboxUpdate.platform == platform,
            ~InboxUpdate.applied,
            InboxUpdate.attempts < APPLY_ATTEMPTS,
        )
        if sender is not None:
            query = query.where(InboxUpdate.sender == sender)
        if before is not None:
            position = select(InboxUpdate.id).where(
                InboxUpdate.platform == platform, InboxUpdate.update_key == before
            )
            query = query.where(InboxUpdate.id < position.scalar_subquery())
        return list((self.session.scalars(query.order_by(InboxUpdate.id))).all())

    def failed(self, platform: str, update_key: str) -> int:
        """Count one more application of a stored update that raised; how many so far (0:
        not stored). From APPLY_ATTEMPTS on, it is no longer :meth:`unapplied` but
        :meth:`given_up`: kept, and applied again only if the platform sends it again."""
        attempts = self.session.scalar(
            update(InboxUpdate)
            .where(InboxUpdate.platform == platform, InboxUpdate.update_key == update_key)
            .values(attempts=InboxUpdate.attempts + 1)
            .returning(InboxUpdate.attempts)
        )
        return int(attempts or 0)

    def given_up(self, platform: str | None = None) -> list[GivenUp]:
        """Stored updates never applied whose application raised APPLY_ATTEMPTS times (of
        one platform, or all), in the order they arrived."""
        query = select(
            InboxUpdate.platform,
            InboxUpdate.update_key,
            InboxUpdate.received_at,
            InboxUpdate.attempts,
        ).where(InboxUpdate.attempts >= APPLY_ATTEMPTS, ~InboxUpdate.applied)
        if platform is not None:
            query = query.where(InboxUpdate.platform == platform)
        rows = self.session.execute(query.order_by(InboxUpdate.id)).all()
        return [GivenUp(*row) for row in rows]

    def retry(self) -> int:
        """Give every update given up one more application, at the next start (a second
        failure there gives it up again, without a word to its sender); how many."""
        result = self.session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.attempts >= APPLY_ATTEMPTS, ~InboxUpdate.applied)
            .values(attempts=APPLY_ATTEMPTS - 1)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def prune(self, before: datetime) -> None:
        """Forget the updates received before ``before`` and applied; one never applied
        stays, for the next start to apply."""
        self.session.execute(
            delete(InboxUpdate).where(InboxUpdate.received_at < before, InboxUpdate.applied)
        )


def _earlier_unapplied() -> Any:
    """Whether the sender (``platform_user_id``) has updates stored before the update
    ``before``, not applied and not given up (as :meth:`Inbox.unapplied` asks it)."""
    inbox = cast(Table, InboxUpdate.__table__).alias("earlier")
    position = cast(Table, InboxUpdate.__table__).alias("position")
    before = select(position.c.id).where(
        position.c.platform == bindparam("platform"),
        position.c.update_key == bindparam("before"),
    )
    return (
        select(inbox.c.id)
        .where(
            inbox.c.platform == bindparam("platform"),
            inbox.c.sender == bindparam("platform_user_id"),
            ~inbox.c.applied,
            inbox.c.attempts < APPLY_ATTEMPTS,
            inbox.c.id < before.scalar_subquery(),
        )
        .exists()
    )


# The dialog of someone in none: the menu, or nothing yet.
IDLE = "idle"


@functools.cache
def _seen_update(numbered: bool) -> Any:
    # Built once, like the other statements of every chat turn (a receipt follows each).
    table = cast(Table, DialogState.__table__)
    newer = (
        or_(table.c.seen_message.is_(None), table.c.seen_message < bindparam("number"))
        if numbered
        else or_(table.c.seen_turn.is_(None), table.c.seen_turn < bindparam("turn"))
    )
    return (
        update(table)
        .where(table.c.user_id == bindparam("user"), newer)
        .values(
            seen_turn=bindparam("turn"),
            seen_message=bindparam("number"),
            seen_at=bindparam("seen_at"),
        )
    )


def _newer(state: DialogStateRow, receipt: Receipt) -> bool:
    """Whether ``receipt`` is newer than what ``state`` saw: _seen_update's condition."""
    if receipt.number is not None:
        return state.seen_message is None or state.seen_message < receipt.number
    return state.seen_turn is None or state.seen_turn < receipt.turn


@functools.cache
def _dialog_state_get() -> Any:
    return select(*DIALOG_STATE_COLUMNS).where(DIALOG_STATES.c.user_id == bindparam("user"))


@functools.cache
def _dialog_state_insert() -> Any:
    return insert(DIALOG_STATES)


class DialogStateRepository(_Repository):
    """Each person's dialog state, as plain rows (see :mod:`storage.rows`): every chat turn
    reads it and most write it."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        # The states this transaction read or wrote, as they now stand (None: the user has
        # none), so the state loaded along with the user costs no second query.
        self._known: dict[int, DialogStateRow | None] = {}
        # Changes of stored states not written yet, by user (see hold_writes); None: each
        # is written as it is made.
        self._held: dict[int, dict[str, Any]] | None = None

    def remember(self, user: Person, state: DialogStateRow | None) -> None:
        self._known[user.id] = state

    def hold_writes(self) -> None:
        """From now on, keep the changes of stored states until :meth:`write_held`: a chat
        turn that moves the person's dialog and then marks them asked (see mark_asked)
        writes their row once. Nothing else reads the table meanwhile: a state is read
        through :meth:`get`, which knows the changes."""
        self._held = {}

    def write_held(self) -> None:
        """Write the changes kept since :meth:`hold_writes` (one UPDATE a row), and each
        change as it is made from now on."""
        held, self._held = self._held or {}, None
        for user_id, values in held.items():
            self._write(user_id, values)

    def get(self, user: Person) -> DialogStateRow | None:
        if user.id in self._known:
            return self._known[user.id]
        found = self._core(_dialog_state_get(), {"user": user.id}).first()
        state = self._known[user.id] = None if found is None else dialog_state_row(found)
        return state

    def set(self, user: Person, dialog: str, state: dict[str, Any]) -> None:
        current = self.get(user)
        if current is None:
            row = DialogStateRow(user.id, dialog, state, None, None, None, None, None, utcnow())
            self._core(_dialog_state_insert(), dataclasses.asdict(row))
            self._known[user.id] = row
        else:
            self._update(current, dialog=dialog, state=dict(state))

    def mark_asked(self, user: Person, at: datetime, platform: str) -> bool:
        """Replies that must be seen were sent at ``at`` on ``platform`` (see
        DialogState.asked_at and asked_on); False if the user has no dialog state to mark."""
        current = self.get(user)
        if current is None:
            return False
        if current.asked_on == platform:
            self._update(current, asked_at=at)
        else:
            self._update(current, asked_at=at, asked_on=platform)
        return True

    def _update(self, current: DialogStateRow, **values: Any) -> None:
        values["updated_at"] = utcnow()
        self._known[current.user_id] = dataclasses.replace(current, **values)
        if self._held is None:
            self._write(current.user_id, values)
        else:
            # A later change of a column wins, as its UPDATE would have.
            self._held.setdefault(current.user_id, {}).update(values)

    def _write(self, user_id: int, values: dict[str, Any]) -> None:
        # Every chat turn writes here: one UPDATE of the columns it changes.
        statement = _row_update(DialogState, "user_id", *sorted(values))
        self._core(statement, {"key_": user_id, **values})

    def seen(self, receipts: Sequence[Receipt], now: datetime) -> None:
        """Replies that reached their people: each receipt's turn becomes the one whose
        message is newest in the chat, unless a newer one is recorded already (by message
        number where the platform numbers messages, else by turn). Where writes are held
        (a chat turn) and the person's state was read in this transaction (under their
        lock), the receipt changes that state and is written with the turn's own change."""
        apart: list[Receipt] = []
        for receipt in receipts:
            current = self._known.get(receipt.user) if self._held is not None else None
            if current is None:
                apart.append(receipt)
            elif _newer(current, receipt):
                self._update(
                    current, seen_turn=receipt.turn, seen_message=receipt.number, seen_at=now
                )
        # updated_at given, not left to the column's onupdate: a statement whose every
        # value is given runs prepared (storage.lean).
        rows = [
            {"user": r.user, "turn": r.turn, "number": r.number, "seen_at": now, "updated_at": now}
            for r in apart
        ]
        numbered = [row for row in rows if row["number"] is not None]
        unnumbered = [row for row in rows if row["number"] is None]
        if numbered:
            self._core(_seen_update(numbered=True), numbered)
        if unnumbered:
            self._core(_seen_update(numbered=False), unnumbered)

    def clear(self, user: Person, last: dict[str, Any] | None = None) -> None:
        """Out of any dialog, ``last`` saying what was done last (a finished interview).

        The row stays, idle: it keeps whether the person saw the last replies (see
        DialogState.asked_at), so a lost "interview finished" is noticed like a lost question.
        """
        self.set(user, IDLE, dict(last or {}))


# -- statistics (summary) ------------------------------------------------------------------


@functools.cache
def _member_fact_insert() -> Any:
    return insert(cast(Table, MemberFact.__table__))


@functools.cache
def _member_fact_upsert(dialect: str) -> Any:
    # Built once, like every statement a chat turn runs: an answer that changes a member's
    # facts writes them in one statement, where a DELETE and an INSERT were built and run.
    return _upsert(dialect, MemberFact, ("interview_id", "member_index"), MEMBER_FACT_VALUES)


@functools.cache
def _member_facts_delete() -> Any:
    table = cast(Table, MemberFact.__table__)
    return delete(table).where(
        table.c.interview_id == bindparam("interview_id"),
        table.c.member_index.in_(bindparam("indices", expanding=True)),
    )


# The columns of a member's facts, beside its key.
MEMBER_FACT_VALUES = ("age", "labour_capacity", "employment_status")


# (member_index, age, labour_capacity, employment_status)
FactRow = tuple[int, int | None, str | None, str | None]


class AreaYearStatsRepository(_Repository):
    def for_years(self, years: Iterable[int]) -> list[AreaYearStats]:
        wanted = sorted(set(years))
        if not wanted:
            return []
        rows = self.session.scalars(select(AreaYearStats).where(AreaYearStats.year.in_(wanted)))
        return list(rows)

    def for_areas(self, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], AreaYearStats]:
        """The stored rows of the given (area id, year) pairs."""
        wanted = list(set(pairs))
        found: dict[tuple[int, int], AreaYearStats] = {}
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            rows = self.session.scalars(
                select(AreaYearStats).where(
                    tuple_(AreaYearStats.area_id, AreaYearStats.year).in_(batch)
                )
            )
            found.update({(row.area_id, row.year): row for row in rows})
        return found

    def add(self, stats: AreaYearStats) -> None:
        self.session.add(stats)


class MemberFactRepository(_Repository):
    """The ``member_facts`` projection of interview answers (see storage/stats_facts.py)."""

    def for_interview(self, interview_id: int) -> dict[int, FactRow]:
        rows = self.session.execute(
            select(
                MemberFact.member_index,
                MemberFact.age,
                MemberFact.labour_capacity,
                MemberFact.employment_status,
            ).where(MemberFact.interview_id == interview_id)
        )
        return {row[0]: (row[0], row[1], row[2], row[3]) for row in rows}

    def replace(self, interview_id: int, facts: Sequence[FactRow]) -> bool:
        """Make ``facts`` the interview's members, writing only what differs (one answer
        changes at most one member); returns whether anything was written."""
        stored = self.for_interview(interview_id)
        wanted = {fact[0]: fact for fact in facts}
        stale = [index for index, fact in stored.items() if wanted.get(index) != fact]
        fresh = [fact for index, fact in wanted.items() if stored.get(index) != fact]
        self.replace_members(interview_id, stale, fresh)
        return bool(stale or fresh)

    def replace_members(
        self, interview_id: int, indices: Sequence[int], facts: Sequence[FactRow]
    ) -> None:
        """Make ``facts`` the stored facts of the members ``indices`` of the interview (one
        of them without a fact: no longer a member); the others are left as they are."""
        kept = {fact[0] for fact in facts}
        gone = [index for index in indices if index not in kept]
        if gone:
            self._core(_member_facts_delete(), {"interview_id": interview_id, "indices": gone})
        if facts:
            self._core(
                _member_fact_upsert(_dialect(self.session)),
                [_fact_values(interview_id, fact) for fact in facts],
            )

    def replace_many(self, items: Sequence[tuple[int, Sequence[FactRow]]]) -> int:
        """Bulk version for imports and rebuilds: deletes the interviews' facts and inserts
        the new ones with executemany; returns how many facts were written."""
        written = 0
        for start in range(0, len(items), 1000):
            batch = items[start : start + 1000]
            self.session.execute(
                delete(MemberFact).where(
                    MemberFact.interview_id.in_([interview_id for interview_id, _ in batch])
                )
            )
            values = [
                _fact_values(interview_id, fact) for interview_id, facts in batch for fact in facts
            ]
            if values:
                self.session.execute(_member_fact_insert(), values)
            written += len(values)
        return written


def _fact_values(interview_id: int, fact: FactRow) -> dict[str, Any]:
    index, age, capacity, status = fact
    return {
        "interview_id": interview_id,
        "member_index": index,
        "age": age,
        "labour_capacity": capacity,
        "employment_status": status,
    }
