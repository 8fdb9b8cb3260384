"""The one entry point every channel calls: one incoming message, one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import DialogContext, Later, Progress
from bot.delivery import harmless
from bot.dialogs.interview import OPEN_INTERVIEW
from bot.flood import FloodGate, Verdict
from bot.messages import Choices, Deferred, Incoming, Kind, Notice, Outgoing, Text
from bot.router import route
from bot.settings import Settings
from locales.catalog import translate
from storage.db import sqlite_writer
from storage.repositories import APPLY_ATTEMPTS, Receipt, Received
from storage.rows import DialogStateRow
from storage.uow import UnitOfWork, Work

log = logging.getLogger(__name__)

# Waits before each new try after a lost database connection (see _reconnecting): about
# 3 s in all, enough for a server restart or a failover, short enough that the person is
# told to try again rather than left waiting.
RECONNECT_DELAYS = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6)
# SQLSTATEs of a server going away or not there yet: connection exceptions (08...), an
# administrator's or a crash's shutdown, and "the database system is starting up".
SERVER_AWAY_STATES = ("08", "57P01", "57P02", "57P03")
# Group chats already told that rasoat works in private chats only, remembered in memory
# (never stored: nothing of a group reaches the database), the oldest forgotten first.
GROUPS_REMEMBERED = 1000
# Turns (and other writes) applied in one SQLite transaction at most (see storage.writer):
# enough to share one fsync among every chat active at once, few enough that the first of
# them doesn't wait long for the COMMIT the last one shares.
GROUP_LIMIT = 32
# Turns whose replies are on their way, remembered for their receipts (see delivered()).
TURNS_REMEMBERED = 10_000
# Updates that raised EarlierFirst, remembered until tried again (see handle()).
RETRIES_REMEMBERED = 1000

T = TypeVar("T")
# A turn's replies all sent: the turn (turn_key) and the last message's number, if numbered.
Delivered = tuple[str, int | None]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Conversation:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        # SQLite has one writer at a time, and every update writes (the ledger row comes
        # first). This process's turns go to one thread that owns a connection, and are
        # applied one transaction at a time; those that arrive meanwhile share the next
        # one, with one COMMIT (one fsync) for them all (storage.writer). Other processes
        # are still kept out by SQLite's lock. On PostgreSQL each turn has its own
        # transaction: concurrency is the server's job.
        bind = sessions.kw.get("bind")
        dialect = getattr(getattr(bind, "dialect", None), "name", "")
        self.writer = sqlite_writer(bind, GROUP_LIMIT) if dialect == "sqlite" else None
        # Several workers may share this database (PostgreSQL): one person's updates can
        # then reach two of them (see bot.channels.in_order).
        self.shared = dialect != "sqlite"
        # Writes of one statement, or of statements that need not stand or fall together
        # (see write's ``alone``): on PostgreSQL each commits as it runs (autocommit), so
        # they cost no BEGIN and COMMIT round trips, and are as durable when they return.
        self._alone = sessions
        if self.shared and bind is not None:
            autocommit = bind.execution_options(isolation_level="AUTOCOMMIT")
            self._alone = async_sessionmaker(**{**sessions.kw, "bind": autocommit})
        self._groups_told: dict[str, None] = {}
        self._reading = timedelta(seconds=settings.reading_time)
        self._receipts: GroupCommit[Receipt] = GroupCommit(self._write_receipts)
        # Turns applied here whose replies are being sent, by turn_key, for their receipts;
        # the oldest forgotten first (a turn whose replies failed has no receipt).
        self._asked: dict[str, _Asked] = {}
        # Receipts being written that their people's next turns wait for (delivered_first,
        # PostgreSQL), by sender_key.
        self._receipts_first: dict[str, asyncio.Future[None]] = {}
        # Receipts handed on with their people's next turns (delivered_first's ``before``,
        # PostgreSQL), by that turn's turn_key: written in its transaction.
        self._riding: dict[str, list[Receipt]] = {}
        self._flood = FloodGate(settings.flood_limit) if settings.flood_limit else None
        # Updates that passed the flood gate and raised EarlierFirst: tried again once the
        # earlier ones are applied, they are not counted again; the oldest forgotten first.
        self._retrying: dict[str, bool] = {}

    def close(self) -> None:
        """Stops the writer thread (SQLite); what it applied is committed."""
        if self.writer is not None:
            self.writer.close()

    async def aclose(self) -> None:
        """:meth:`close`, for whoever holds a Conversation of either kind (bot.turn_process)."""
        self.close()

    @property
    def lost(self) -> bool:
        """Whether the turns can no longer be applied here (bot.turn_process: its process
        ended); never, in this process."""
        return False

    async def write(self, job: Callable[[Work], T], *, alone: bool = False) -> T:
        """What ``job`` returns once its changes are committed; if it raises, nothing of it
        is stored. Every write of this process goes here (turns, the outbox sender's claims
        and outcomes, the reminders' sweep): on SQLite the writer thread stays its only
        writer. ``alone``: each of ``job``'s statements may commit on its own (one
        statement, or each of them complete by itself)."""
        if self.writer is not None:
            return await self.writer.run(job)
        async with UnitOfWork(self._alone if alone else self.sessions) as uow:
            result = await uow.run(job)
            await uow.commit()
            return result

    async def handle(
        self, incoming: Incoming, progress: Progress | None = None, *, in_order: bool = False
    ) -> list[Outgoing]:
        """Apply one message and return the replies.

        The replies are returned only after the transaction committed: a reply never
        promises something the database doesn't hold. A redelivered update (same
        ``update_key``) is recognised inside that same transaction and changes nothing.
        With ``in_order``, where several workers share the database, raises
        :class:`EarlierFirst`, having stored nothing, if its sender's earlier updates are
        stored and not applied (see bot.channels.in_order); tried again after those, it is
        not counted towards its sender's flood limit a second time.
        """
        receipts = self._riding.pop(turn_key(incoming), None) if self._riding else None
        if receipts is None:
            return await self._handle(incoming, progress, in_order, None)
        riding = _Riding(receipts)
        try:
            return await self._handle(incoming, progress, in_order, riding)
        finally:
            if not riding.written:
                # Not applied (a duplicate, a flood, a failure...): written alone, before
                # the person's next turn, as any receipt handed on without one.
                self._write_first(receipts, [sender_key(incoming)] * len(receipts))

    async def _handle(
        self,
        incoming: Incoming,
        progress: Progress | None,
        in_order: bool,
        riding: _Riding | None,
    ) -> list[Outgoing]:
        if not incoming.private:
            await self._store(incoming)
            return self._outside_private_chat(incoming)
        incoming = incoming.cleaned()
        if self._flood is not None and not self._retrying.pop(turn_key(incoming), False):
            verdict = self._flood.check(sender_key(incoming), self.clock())
            if verdict is not Verdict.ALLOW:
                # Dropped before the turn: a flood costs no turn and no queue (and no
                # write, but an update received not stored yet).
                log.info("messages from one person over the flood limit dropped")
                await self._store(incoming)
                if verdict is Verdict.DROP:
                    return []
                return [Text(translate("error.too_fast", self.settings.locale))]
        if progress is not None:
            # A status line is a courtesy: whatever it meets, the work goes on.
            progress = harmless(progress)
        receipt = self._receipts_first.get(sender_key(incoming))
        if receipt is not None:
            # Its failure is logged where it ends (_receipt_written).
            await asyncio.wait([receipt])
        try:
            applied = await _reconnecting(lambda: self._apply(incoming, in_order, riding))
        except EarlierFirst:
            if self._flood is not None:
                self._retrying[turn_key(incoming)] = True
                if len(self._retrying) > RETRIES_REMEMBERED:
                    del self._retrying[next(iter(self._retrying))]
            raise
        except DatabaseAway:
            log.error("database server unreachable: an update was not applied")
            await self._store(incoming)
            return [Text(translate("error.database_unavailable", self.settings.locale))]
        except Exception:
            # The transaction was rolled back; say so instead of going silent, once: an
            # update failing again (applied again at a start) was answered the first time.
            log.exception("failed to handle an update")
            await self._store(incoming)
            if await self.failed(incoming.platform, incoming.update_key) > 1:
                return []
            return [Text(translate("error.internal", self.settings.locale))]
        if applied is None:
            return []
        replies, ctx = applied
        return [out for reply in replies for out in await self._resolve(reply, ctx, progress)]

    async def _store(self, incoming: Incoming) -> None:
        """An update received not stored yet (``Incoming.payload``), stored where its turn
        did not store it; raises :class:`NotStored` if it cannot be: whoever received it
        must not tell the platform it arrived."""
        if incoming.payload is None or incoming.update_key is None:
            return
        received = Received(incoming.update_key, incoming.user_id, incoming.payload)
        try:
            # Tried once: its receiver waits a moment only, then stores it itself.
            await self.keep(incoming.platform, [received])
        except Exception as error:
            raise NotStored(type(error).__name__) from None

    async def failed(self, platform: str, update_key: str | None) -> int:
        """How many times the stored update ``update_key`` failed, this one counted (0: not
        stored, or not counted); given up at APPLY_ATTEMPTS, which the log says by its
        platform and id only. Counted here for a turn that raised; a channel counts an
        update it could not read before its turn."""
        if update_key is None:
            return 0
        try:
            attempts = await self.write(lambda work: work.inbox.failed(platform, update_key))
        except Exception as error:
            log.warning("a failed update was not counted: %s", type(error).__name__)
            return 0
        if attempts == APPLY_ATTEMPTS:
            log.error(
                "update %s:%s failed %d times: kept, no longer applied at a start "
                "(rasoat inbox lists it)",
                platform,
                update_key,
                attempts,
            )
        return attempts

    async def keep(self, platform: str, updates: Sequence[Received]) -> None:
        """Store updates as received, before the platform is told they arrived: one a crash
        interrupts is applied at the next start (see :meth:`unapplied`)."""
        await self.write(lambda work: work.inbox.keep(platform, updates), alone=True)

    async def settle(self, platform: str, update_keys: list[str]) -> None:
        """Mark stored updates done without applying them (ones the platform adapter cannot
        read): they are no longer :meth:`unapplied`."""

        def claim(work: Work) -> None:
            for key in update_keys:
                work.updates.claim(platform, key)

        await self.write(claim)

    async def unapplied(self, platform: str) -> list[dict[str, Any]]:
        """Updates received but not applied (those a stop interrupted), in order; not those
        set aside after failing every time (``Inbox.given_up``), which a start's log
        counts."""
        async with UnitOfWork(self.sessions) as uow:
            pending = await uow.inbox.unapplied(platform)
            given_up = await uow.inbox.given_up(platform)
        if given_up:
            # Said at every start, to the operator: the people were told at the first failure.
            log.warning(
                "%d stored %s update(s) failed %d times and are not applied: rasoat inbox",
                len(given_up),
                platform,
                APPLY_ATTEMPTS,
            )
        return pending

    async def shown_list(self, platform: str, user_id: str) -> tuple[dict[str, str], bool] | None:
        """The numbered list last shown to a person where there are no buttons: the choice
        data by the key typed to pick it, and whether it takes several answers typed
        together ("1,3"); None if none was stored."""
        async with UnitOfWork(self.sessions) as uow:
            row = await uow.shown_lists.get(platform, user_id)
            return None if row is None else (dict(row.keys), row.several)

    async def show_list(
        self, platform: str, user_id: str, keys: dict[str, str], several: bool
    ) -> None:
        """Store the list about to be shown (no keys: a message without one), so that a
        key typed after a restart, or received by another worker, picks what was seen."""

        def store(work: Work) -> None:
            work.shown_lists.show(platform, user_id, keys, several, self.clock())

        await _reconnecting(lambda: self.write(store, alone=True))

    async def delivered(self, incoming: Incoming, last_message: int | None = None) -> None:
        """Every reply to ``incoming`` reached its person, the last numbered
        ``last_message`` in the chat where the platform numbers messages: typed text may be
        taken as an answer again (see DialogState.asked_at). Written together with other
        turns' receipts; a receipt that can't be written costs one question shown twice, so
        it never fails the caller."""
        asked = self._asked.pop(turn_key(incoming), None)
        if asked is None:
            return
        try:
            await self._receipts.add(asked.receipt(last_message))
        except Exception as error:
            log.warning("delivery receipt not stored: %s", type(error).__name__)

    def delivered_first(
        self, delivered: Sequence[Delivered], before: Incoming | None = None
    ) -> asyncio.Future[None] | None:
        """:meth:`delivered` for several turns applied here, each named by its
        :func:`turn_key` with its last message, written before any turn this Conversation is
        asked to apply after this call (bot.turn_process: the receipts ride on its next call,
        which may be the person's next turn, ``before``): asked of SQLite's one writer now,
        ahead of what comes next; on PostgreSQL, the receipts of ``before``'s sender in its
        turn's own transaction (no statement of their own: the turn writes the person's row
        anyway), the others awaited by their people's next turns before they read. Returns
        at once, with what is done once those written apart are written (None: nothing
        written apart), and never fails the caller (a lost receipt costs a question shown
        twice)."""
        receipts: list[Receipt] = []
        senders: list[str] = []
        riding: list[Receipt] = []
        rider = (
            sender_key(before)
            if before is not None and before.update_key is not None and self.writer is None
            else None
        )
        for turn, number in delivered:
            asked = self._asked.pop(turn, None)
            if asked is None:
                continue
            if asked.sender == rider:
                riding.append(asked.receipt(number))
            else:
                receipts.append(asked.receipt(number))
                senders.append(asked.sender)
        if riding and before is not None:
            self._riding.setdefault(turn_key(before), []).extend(riding)
        if not receipts:
            return None
        if self.writer is not None:
            written: asyncio.Future[None] = self.writer.ask(self._seen(receipts))
            written.add_done_callback(partial(self._receipt_written, senders))
            return written
        return self._write_first(receipts, senders)

    def _write_first(self, receipts: list[Receipt], senders: list[str]) -> asyncio.Future[None]:
        """Receipts written alone (PostgreSQL), each sender's next turn waiting for them."""
        written = asyncio.ensure_future(self._write_receipts(receipts))
        for sender in senders:
            self._receipts_first[sender] = written
        written.add_done_callback(partial(self._receipt_written, senders))
        return written

    def _receipt_written(self, senders: list[str], written: asyncio.Future[None]) -> None:
        for sender in senders:
            if self._receipts_first.get(sender) is written:
                del self._receipts_first[sender]
        if not written.cancelled() and (error := written.exception()) is not None:
            log.warning("delivery receipt not stored: %s", type(error).__name__)

    def _seen(self, receipts: list[Receipt]) -> Callable[[Work], None]:
        def write(work: Work) -> None:
            work.dialogs.seen(receipts, self.clock())

        return write

    async def _write_receipts(self, receipts: list[Receipt]) -> None:
        # Each receipt stands by itself: one a crash loses costs a question shown twice.
        await _reconnecting(lambda: self.write(self._seen(receipts), alone=True))

    def _remember_turn(self, incoming: Incoming, user_id: int, asked_at: datetime) -> None:
        self._asked[turn_key(incoming)] = _Asked(sender_key(incoming), user_id, asked_at)
        if len(self._asked) > TURNS_REMEMBERED:
            del self._asked[next(iter(self._asked))]

    def _outside_private_chat(self, incoming: Incoming) -> list[Outgoing]:
        """The one answer a group, supergroup or channel gets: rasoat works in private chats.

        Interviews and lists hold personal data, so nothing typed in a group is stored or
        applied to the sender's interview, and no list is ever posted there. A button press
        gets the answer as a toast, seen by the presser alone; a group is told once, not at
        every message of its members.
        """
        text = translate("error.private_only", self.settings.locale)
        if incoming.kind is Kind.CHOICE:
            return [Notice(text)]
        if incoming.chat_id in self._groups_told:
            return []
        self._groups_told[incoming.chat_id] = None
        if len(self._groups_told) > GROUPS_REMEMBERED:
            del self._groups_told[next(iter(self._groups_told))]
        return [Text(text)]

    async def _apply(
        self, incoming: Incoming, in_order: bool, riding: _Riding | None = None
    ) -> tuple[list[Outgoing], DialogContext] | None:
        """The update's effects and its replies, committed, with the receipts ``riding`` on
        it; None for a duplicate (the receipts not written)."""
        receipts = riding.receipts if riding is not None else ()
        applied = await self.write(lambda work: self._turn(work, incoming, in_order, receipts))
        if applied is None:
            return None
        if riding is not None:
            riding.written = True
        replies, ctx, asked = applied
        if asked is not None:
            self._remember_turn(incoming, *asked)
        return replies, ctx

    def _turn(
        self,
        work: Work,
        incoming: Incoming,
        in_order: bool = False,
        receipts: Sequence[Receipt] = (),
    ) -> tuple[list[Outgoing], DialogContext, tuple[int, datetime] | None] | None:
        """One turn in ``work``, synchronous: its replies, its context, and (user id,
        asked_at) if its replies must be seen; None for a duplicate. Whatever reads at
        length is Deferred, and runs after the commit."""
        platform, sender, key = incoming.platform, incoming.user_id, incoming.update_key
        # Asked under the lock, in the turn's own transaction: what another worker applied
        # meanwhile is seen as applied. The usual answer (nothing earlier) comes with the
        # turn's first read; a list of them costs a statement of its own.
        ordered = in_order and self.shared and key is not None
        # One person's updates one at a time, whichever worker holds them; the claim in the
        # same round trip (PostgreSQL).
        if key is None:
            work.updates.hold_sender(platform, sender)
        elif not work.updates.hold_and_claim(platform, sender, key, incoming.payload):
            if ordered:
                _earlier_first(work, platform, sender, key)
            log.info("duplicate update %s ignored", key)
            return None
        read = work.users.for_turn(platform, sender, OPEN_INTERVIEW, key if ordered else None)
        if ordered and read.earlier:
            # Raised, the claim just made is rolled back with the rest.
            _earlier_first(work, platform, sender, key)
        user, state = read.user, read.state
        if user is not None:
            work.dialogs.remember(user, state)
        if read.interview is not None:
            work.interviews.remember(read.interview)
        # The person's dialog state written once, at the end: most turns that move it also
        # mark it asked.
        work.dialogs.hold_writes()
        now = self.clock()
        if receipts:
            # The person's receipt handed on with this turn: applied to the state just
            # read under their lock, and written with the turn's own change of the row.
            work.dialogs.seen(receipts, now)
            if user is not None:
                state = work.dialogs.get(user)
        ctx = DialogContext(incoming=incoming, user=user, settings=self.settings, now=now, uow=work)
        ctx.reply_lost = state is not None and unseen(state, incoming, now, self._reading)
        replies = route(ctx)
        asked = None
        # The person as the turn leaves them: registered, or their account just linked.
        person = ctx.user
        if person is not None and incoming.update_key is not None and must_be_seen(replies):
            # Asked something on another platform than last time: the outbox reaches them
            # here from now on (the binding used last).
            before = work.dialogs.get(person)
            if before is None or before.asked_on != incoming.platform:
                work.users.bind_chat(person, incoming.platform, incoming.chat_id, now)
            # Until the channel confirms these replies went out (delivered()), typed text
            # is not taken as an answer: the person may not have seen the question.
            if work.dialogs.mark_asked(person, now, incoming.platform):
                asked = (person.id, now)
        work.dialogs.write_held()
        return replies, ctx, asked

    async def _resolve(
        self, reply: Outgoing, done: DialogContext, progress: Progress | None
    ) -> list[Outgoing]:
        """A reply as sent; deferred work runs now, after the message's commit, outside the
        write queue, in a transaction of its own."""
        if not isinstance(reply, Deferred):
            return [reply]
        try:
            return await _reconnecting(lambda: self._run_deferred(reply, done, progress))
        except DatabaseAway:
            log.error("database server unreachable: deferred work not done")
            return [Text(translate("error.database_unavailable", done.locale))]
        except Exception:
            log.exception("deferred work failed")
            return [Text(translate("error.internal", done.locale))]

    async def _run_deferred(
        self, reply: Deferred, done: DialogContext, progress: Progress | None
    ) -> list[Outgoing]:
        async with UnitOfWork(self.sessions) as uow:
            user = None
            if done.user is not None:
                user = await uow.users.by_platform_id(done.incoming.platform, done.incoming.user_id)
            ctx = Later(done.incoming, user, self.settings, done.now, uow, progress)
            out = await reply.run(ctx)
            await uow.commit()
            return [item for item in out if not isinstance(item, Deferred)]


def _earlier_first(work: Work, platform: str, sender: str, key: str | None) -> None:
    """Raises EarlierFirst if the sender has updates stored before ``key`` and not applied."""
    earlier = work.inbox.unapplied(platform, sender, key)
    if earlier:
        raise EarlierFirst(earlier)


def unseen(
    state: DialogStateRow, incoming: Incoming, now: datetime, reading: timedelta = timedelta(0)
) -> bool:
    """Whether the person may not have seen the replies of their latest turn when they sent
    ``incoming``: they went to another platform (an account linked to the same person),
    they were not confirmed sent, older replies came after them, they came after
    ``incoming`` was sent, or ``incoming`` came too soon after them to answer them.

    Where the platform numbers a chat's messages in order (Telegram), a message numbered
    below the last reply was sent before that reply arrived. Elsewhere the platform's
    timestamp tells, to its precision (Telegram's ``date`` is to the second, rounded down):
    a message stamped before the second in which the replies went out was surely sent
    before them. Neither sees a message typed before the question reached the phone but
    received after the question was sent (the question was on its way to the phone while
    the text was on its way back: someone retyping after a silence); no one reads a question
    and types its answer within ``reading`` (the setting RASOAT_READING_TIME), so text that
    soon is not taken as its answer (a button needs no such care: it names its question).
    """
    if state.asked_at is None:
        return False
    if state.asked_on is not None and state.asked_on != incoming.platform:
        # The latest replies went to the person's account on another platform: this chat
        # shows an older question, or none.
        return True
    if state.seen_turn != state.asked_at:
        # The latest turn's replies were not confirmed sent, or older ones arrived after them.
        return True
    typed = incoming.kind is Kind.TEXT
    if typed and state.seen_at is not None and now - state.seen_at < reading:
        return True
    if incoming.message_number is not None and state.seen_message is not None:
        return incoming.message_number < state.seen_message
    if incoming.sent_at is None or state.seen_at is None:
        return False
    return incoming.sent_at < state.seen_at.replace(microsecond=0)


def must_be_seen(replies: Sequence[Outgoing]) -> bool:
    """Whether these replies carry something the person must see before their next typed
    text means anything (a question, a list, an error), as opposed to a toast or a menu."""
    return any(isinstance(reply, Text | Choices) for reply in replies)


def sender_key(incoming: Incoming) -> str:
    """The account an update came from."""
    return f"{incoming.platform}:{incoming.user_id}"


@dataclass(slots=True)
class _Riding:
    """Receipts handed on with a turn (Conversation.delivered_first's ``before``), and
    whether its committed transaction wrote them."""

    receipts: list[Receipt]
    written: bool = False


class _Asked(NamedTuple):
    """A turn applied here whose replies must be seen: whose, and its asked_at."""

    sender: str
    user_id: int
    asked_at: datetime

    def receipt(self, last_message: int | None) -> Receipt:
        return Receipt(self.user_id, self.asked_at, last_message)


def turn_key(incoming: Incoming) -> str:
    """The update a turn applied, by which its receipt names it (:meth:`Conversation.delivered`)."""
    return f"{incoming.platform}:{incoming.update_key}"


class GroupCommit(Generic[T]):
    """Items written in batches: one write carries all that arrived while the previous one
    ran, so under load N receipts cost one transaction, not N (a group commit)."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        """Returns once ``item`` is written; raises what its write raised."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write([item for item, _ in batch])
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


async def _reconnecting(work: Callable[[], Awaitable[T]]) -> T:
    """``work()``, tried again on a new connection while the database server is away.

    A connection the server dropped (a PostgreSQL restart, a failover) is noticed on first
    use, and the pool then discards its other connections too. Nothing was applied, so
    another try on a fresh connection is safe, and cheaper than testing every connection
    before each use (``pool_pre_ping``), which costs a round trip per chat turn. During a
    restart new connections are refused for a moment, hence the growing waits; past them,
    :class:`DatabaseAway` lets the caller say "try again later".
    """
    for delay in RECONNECT_DELAYS:
        if delay:
            # (The first try goes at once: a sleep(0) would cost a pass of the event loop.)
            await asyncio.sleep(delay)
        try:
            return await work()
        except (DBAPIError, ConnectionError) as error:
            if not server_away(error):
                raise
            log.warning("database server unreachable; trying again on a new connection")
    raise DatabaseAway()


class EarlierFirst(Exception):
    """The sender's updates received before this one and not applied, which another worker
    holds, or held when it died: the channel applies them first, then this one again."""

    def __init__(self, updates: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(updates)} earlier update(s) of this sender to apply first")
        self.updates = updates

    def __reduce__(self) -> tuple[type[EarlierFirst], tuple[list[dict[str, Any]]]]:
        # Raised in the turn process, caught in the channel's (bot.turn_process).
        return (EarlierFirst, (self.updates,))


class DatabaseAway(Exception):
    """The database server stayed unreachable through every retry."""


class NotStored(Exception):
    """An update received not stored yet (``Incoming.payload``) could not be stored, nor
    applied: whoever received it must not tell the platform it arrived (which then sends
    it again). The message names the error's type, never the update."""


def server_away(error: BaseException) -> bool:
    if isinstance(error, ConnectionError):
        # Refused or reset while connecting: no server there (yet).
        return True
    if not isinstance(error, DBAPIError):
        return False
    state = getattr(error.orig, "sqlstate", None) or ""
    return error.connection_invalidated or state.startswith(SERVER_AWAY_STATES)
