"""The outbox: messages the bot sends on its own, stored with what caused them.

Enqueued inside the transaction of the change that calls for the message, so a message
exists exactly when its cause was committed. A sender claims due rows for a lease, pushes
them outside any transaction and records each outcome (bot/outbox.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Area, ChatBinding, OutboxMessage, Role, User, UserArea, UserIdentity

BLOCKED = "blocked"
# Before any binding was used (bindings made before their use was recorded).
NEVER = datetime.min.replace(tzinfo=UTC)
# The platform takes messages to this person only once they write again (Zalo OA's
# interaction window): kept failed until they do, then due again (see reopen).
WINDOW_CLOSED = "window-closed"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due message a sender holds until ``claimed_until``."""

    id: int
    user_id: int
    platform: str
    chat_id: str
    message: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    failed: int


@functools.cache
def _insert_ignoring_duplicates(dialect: str) -> Any:
    table = cast(Table, OutboxMessage.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.dedupe_key])


def _pending() -> ColumnElement[bool]:
    return and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))


@functools.cache
def _mark_sent() -> Any:
    """Run with many (message_id, at) rows at once: the driver's executemany."""
    table = cast(Table, OutboxMessage.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("message_id"), _pending())
        .values(sent_at=bindparam("at"), claimed_by=None, claimed_until=None)
    )


def _on(platform: str | None) -> ColumnElement[bool]:
    """Messages to people on ``platform`` (all of them for None): each channel's sender
    pushes its own platform's."""
    return OutboxMessage.platform == platform if platform is not None else true()


def _person(platform: str, platform_user_id: str) -> ColumnElement[bool]:
    """Messages to the person of this account, on its platform (a person's accounts on
    other platforms have windows of their own)."""
    return and_(
        OutboxMessage.platform == platform,
        OutboxMessage.user_id.in_(
            select(UserIdentity.user_id).where(
                UserIdentity.platform == platform,
                UserIdentity.platform_user_id == platform_user_id,
            )
        ),
    )


def _preference(binding: ChatBinding) -> tuple[bool, datetime]:
    """Open before blocked, then the one used last (or blocked last, among blocked)."""
    used = binding.last_used_at if binding.active else binding.blocked_at
    return binding.active, used or NEVER


class Outbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    def enqueue(
        self,
        user_id: int,
        message: dict[str, Any],
        dedupe_key: str,
        not_before: datetime,
        now: datetime,
    ) -> bool:
        """Store a message for ``user_id``, due at ``not_before``; False if one with this
        ``dedupe_key`` exists already (nothing is changed then).

        The chat is where the person was last asked something, among their chat bindings
        that are not blocked (see :meth:`reach`). A message to someone who blocked the bot
        everywhere is kept, as failed, so it shows among the undelivered.
        """
        platform, chat_id, blocked = self.reach(user_id)
        result = self.session.execute(
            _insert_ignoring_duplicates(self._dialect),
            {
                "user_id": user_id,
                "platform": platform,
                "chat_id": chat_id,
                "message": message,
                "dedupe_key": dedupe_key,
                "not_before": not_before,
                "created_at": now,
                "attempts": 0,
                "failed_at": now if blocked else None,
                "failure": BLOCKED if blocked else None,
            },
        )
        return bool(getattr(result, "rowcount", 0))

    def reach(self, user_id: int) -> tuple[str, str, bool]:
        """(platform, chat, blocked) where a message to ``user_id`` goes: the binding they
        used last among those not blocked, else the one blocked last; for someone added
        without registering in a chat, their platform id (a private chat's id is its
        user's)."""
        bindings = list(
            self.session.scalars(select(ChatBinding).where(ChatBinding.user_id == user_id))
        )
        if bindings:
            best = max(bindings, key=_preference)
            return best.platform, best.chat_id, not best.active
        user = self.session.get(User, user_id)
        if user is None:
            raise ValueError(f"no user {user_id}")
        return user.platform, user.platform_user_id, False

    def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        platform: str | None = None,
    ) -> list[Claimed]:
        """Up to ``limit`` due messages (to people on ``platform``, if given), oldest first,
        held by ``worker`` until now + lease.

        On PostgreSQL rows another sender is claiming are skipped (FOR UPDATE SKIP LOCKED),
        not waited for; SQLite has one sender. The UPDATE repeats the conditions, so a row
        claimed meanwhile by someone else is not taken over. Committed by the caller.
        """
        due = and_(
            _pending(),
            _on(platform),
            OutboxMessage.not_before <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        query = (
            select(OutboxMessage.id)
            .where(due)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(self.session.scalars(query))
        if not ids:
            return []
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), due)
            .values(
                claimed_by=worker,
                claimed_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        rows = self.session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.user_id,
                OutboxMessage.platform,
                OutboxMessage.chat_id,
                OutboxMessage.message,
                OutboxMessage.attempts,
            )
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
        )
        return [Claimed(*row) for row in rows]

    def next_due(self, platform: str | None = None) -> datetime | None:
        """When the earliest pending message (to people on ``platform``, if given) may be
        claimed (its time, or its lease's end)."""
        unclaimed = self.session.scalar(
            select(func.min(OutboxMessage.not_before)).where(
                _pending(), _on(platform), OutboxMessage.claimed_until.is_(None)
            )
        )
        leased = self.session.scalar(
            select(func.min(OutboxMessage.claimed_until)).where(
                _pending(), _on(platform), OutboxMessage.claimed_until.is_not(None)
            )
        )
        times = [t for t in (unclaimed, leased) if t is not None]
        return min(times) if times else None

    def sent(self, message_id: int, at: datetime) -> None:
        self.sent_all([(message_id, at)])

    def sent_all(self, messages: Iterable[tuple[int, datetime]]) -> None:
        """Each of ``messages`` (id, when) went: one statement for them all."""
        rows = [{"message_id": message_id, "at": at} for message_id, at in messages]
        if rows:
            self.session.execute(_mark_sent(), rows)

    def again(
        self, message_ids: Iterable[int], not_before: datetime, *, counted: bool = True
    ) -> None:
        """Back to pending, due at ``not_before``: after a transient failure, or, not
        ``counted`` as an attempt, after flood control or claimed and never tried."""
        ids = list(message_ids)
        if ids:
            attempts = OutboxMessage.attempts if counted else OutboxMessage.attempts - 1
            self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), _pending())
                .values(
                    not_before=not_before, claimed_by=None, claimed_until=None, attempts=attempts
                )
                .execution_options(synchronize_session=False)
            )

    def release(self, message_ids: Iterable[int]) -> None:
        """Claimed and never tried: free for the next claim, as if never claimed."""
        ids = list(message_ids)
        if ids:
            self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), _pending())
                .values(claimed_by=None, claimed_until=None, attempts=OutboxMessage.attempts - 1)
                .execution_options(synchronize_session=False)
            )

    def failed(self, message_id: int, at: datetime, reason: str) -> None:
        self._set(
            message_id, failed_at=at, failure=reason[:200], claimed_by=None, claimed_until=None
        )

    def _set(self, message_id: int, **values: Any) -> None:
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, _pending())
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def block(self, user_id: int, at: datetime, platform: str) -> bool:
        """The user blocked the bot on ``platform``: stop sending there (their bindings on
        other platforms stay open); False if that was known already.

        Their other pending messages there fail with them, rather than each meeting a 403."""
        binding = self.session.get(ChatBinding, (user_id, platform))
        if binding is not None and not binding.active:
            return False
        if binding is None:
            user = self.session.get(User, user_id)
            if user is None:
                return False
            binding = ChatBinding(user_id=user_id, platform=platform, chat_id=user.platform_user_id)
            self.session.add(binding)
        binding.active = False
        binding.blocked_at = at
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.user_id == user_id, OutboxMessage.platform == platform, _pending())
            .values(failed_at=at, failure=BLOCKED, claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return True

    def undeliverable(self, message_id: int, user_id: int, at: datetime) -> bool:
        """The platform refused the message until its person writes again (their
        interaction window closed): kept, failed as WINDOW_CLOSED. True if none of their
        messages was waiting so already: the first of this silence, which their supervisors
        are told of."""
        first = not self._waiting_for_window(OutboxMessage.user_id == user_id)
        self.failed(message_id, at, WINDOW_CLOSED)
        return first

    def waiting_for_window(self, platform: str, platform_user_id: str) -> int:
        """How many messages to this person wait for them to write again."""
        return self._waiting_for_window(_person(platform, platform_user_id))

    def reopen(self, platform: str, platform_user_id: str, now: datetime) -> int:
        """The person wrote: their window is open, what waited for it is due now; how
        many messages."""
        result = self.session.execute(
            update(OutboxMessage)
            .where(_person(platform, platform_user_id), OutboxMessage.failure == WINDOW_CLOSED)
            .values(failed_at=None, failure=None, not_before=now, attempts=0)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _waiting_for_window(self, whose: ColumnElement[bool]) -> int:
        count = self.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(whose, OutboxMessage.failure == WINDOW_CLOSED)
        )
        return int(count or 0)

    def supervisors_of(self, user_id: int) -> list[User]:
        """The active supervisors of an area of ``user_id`` or of an area above it."""
        own = list(
            self.session.scalars(select(UserArea.area_id).where(UserArea.user_id == user_id))
        )
        parents: dict[int, int | None] = {
            area_id: parent_id
            for area_id, parent_id in self.session.execute(select(Area.id, Area.parent_id))
        }
        above: set[int] = set()
        for area_id in own:
            current: int | None = area_id
            while current is not None and current not in above:
                above.add(current)
                current = parents.get(current)
        if not above:
            return []
        query = (
            select(User)
            .join(UserArea, UserArea.user_id == User.id)
            .where(
                UserArea.area_id.in_(above),
                User.role == Role.SUPERVISOR,
                User.active.is_(True),
                User.id != user_id,
            )
            .order_by(User.id)
            .distinct()
        )
        return list(self.session.scalars(query))

    def known(self, dedupe_keys: Iterable[str]) -> set[str]:
        """Which of ``dedupe_keys`` the outbox holds already (sent or not): a sweep skips
        working out a message that would be ignored."""
        keys = list(dict.fromkeys(dedupe_keys))
        if not keys:
            return set()
        return set(
            self.session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))
            )
        )

    def counts(self) -> OutboxCounts:
        rows = self.session.execute(
            select(
                func.count().filter(_pending()),
                func.count().filter(OutboxMessage.sent_at.is_not(None)),
                func.count().filter(OutboxMessage.failed_at.is_not(None)),
            ).select_from(OutboxMessage)
        )
        pending, sent, failed = rows.one()
        return OutboxCounts(pending, sent, failed)
