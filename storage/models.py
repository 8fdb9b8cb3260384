"""The relational schema. Alembic migrations under ``storage/migrations`` create it.

Times are stored in UTC; the commune's time zone is applied only when text is shown.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    COLLABORATOR = "collaborator"
    SUPERVISOR = "supervisor"
    COMMUNE_STAFF = "commune_staff"
    ADMIN = "admin"


class HouseholdCategory(enum.StrEnum):
    POOR = "poor"
    NEAR_POOR = "near_poor"
    # Escaped poverty within the last 36 months (hộ mới thoát nghèo).
    ESCAPED = "escaped"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK rather than a native PostgreSQL ENUM: adding a value
    # later is then an ordinary migration on both databases.
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e])


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Area(Base):
    """A node of the administrative tree; its depth is data (no district level since 2025)."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    total_households: Mapped[int | None] = mapped_column(Integer)

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    areas: Mapped[list[Area]] = relationship(secondary="user_areas", lazy="selectin")


class UserIdentity(Base):
    """An account of a person on one platform: the one they registered with (the users
    row's own platform id), and each one they linked since with a one-time code. Every
    lookup of a person by platform id goes through here. One account per platform and
    person: a second one is refused, never silently swapped for the first."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("user_id", "platform"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    platform_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LinkCode(Base):
    """A one-time code that links another account to a person (``/lienket``); only its
    HMAC under the server's key is kept, as for invites."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserArea(Base):
    __tablename__ = "user_areas"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)


class Invite(Base):
    """A one-time registration code; only its hash is kept, so a leaked database can't
    be used to register."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    area: Mapped[Area] = relationship(lazy="joined")


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("code", "review_year", name="uq_households_code_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    review_year: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    head_name: Mapped[str] = mapped_column(String(200))
    # Accent-free, lower-case copy so "nguyen van a" finds "Nguyễn Văn A" with an index.
    head_name_search: Mapped[str] = mapped_column(String(200), index=True)
    category: Mapped[HouseholdCategory] = mapped_column(_enum(HouseholdCategory, "category"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    area: Mapped[Area] = relationship(lazy="joined")
    members: Mapped[list[Member]] = relationship(
        back_populates="household", order_by="Member.position", cascade="all, delete-orphan"
    )


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (Index("ix_members_household_position", "household_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    position: Mapped[int] = mapped_column(Integer)
    full_name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    relation: Mapped[str | None] = mapped_column(String(32))

    household: Mapped[Household] = relationship(back_populates="members")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RegistrationFailure(Base):
    """A wrong, used or expired invite code sent by someone not registered.

    Codes are short enough to guess with enough tries: a chat with too many recent failures
    is locked out until they are older than the window or commune staff lift it
    (``lifted_at``). The code itself is never kept.
    """

    __tablename__ = "registration_failures"
    __table_args__ = (Index("ix_registration_failures_who", "platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    # The name the platform shows, so staff can tell who they unlock.
    display_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProcessedUpdate(Base):
    """Platform updates already applied; inserted in the same transaction as their effect,
    so a redelivered update is recognised and applied at most once."""

    __tablename__ = "processed_updates"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Indexed for the prune of the minute sweep (bot.retention), which would otherwise read
    # the whole ledger on SQLite's one writer every minute.
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class InboxUpdate(Base):
    """A platform update as received, stored before the platform is told it arrived.

    Telegram forgets an update once the next poll confirms it, which python-telegram-bot
    does while the update is still only in memory; stored here first, an update a crash
    interrupted is applied at the next start (those not marked ``applied``).
    """

    __tablename__ = "inbox_updates"
    __table_args__ = (UniqueConstraint("platform", "update_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(128))
    # The platform id of the person who sent it: a worker applying one of their updates
    # applies the earlier ones first, whichever worker received them.
    sender: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Applications of it that raised (their transactions rolled back, so counted in one of
    # their own): one that fails every time is kept but no longer applied at each start
    # (see storage.repositories.APPLY_ATTEMPTS).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set by the transaction that applies it, with its ledger row: the updates still
    # waiting are read through an index of their own (below), whatever the inbox keeps of
    # the week's applied ones. Every turn on a shared database asks whether its sender has
    # any waiting; the ledger, asked row by row, made that a read of all their week.
    applied: Mapped[bool] = mapped_column(default=False, server_default=false())


# The updates not applied yet, by sender in the order they came: the few a turn, a start
# or the operator looks for (the predicate as the queries write it, for SQLite to match).
Index(
    "ix_inbox_updates_waiting",
    InboxUpdate.platform,
    InboxUpdate.sender,
    InboxUpdate.id,
    postgresql_where=~InboxUpdate.applied,
    sqlite_where=~InboxUpdate.applied,
)


class DialogState(Base):
    """Where each user is in a conversation; kept in the database so a restart resumes."""

    __tablename__ = "dialog_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    dialog: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Whether the person saw what they answer. ``asked_at`` stamps the latest turn whose
    # replies they must see (a question, a list, an error); each receipt of replies sent says
    # which turn's message is now the newest in the chat (``seen_turn``: its ``asked_at``),
    # its number where the platform numbers a chat's messages in order (``seen_message``),
    # and when (``seen_at``). Typed text is taken as an answer only if the newest message
    # comes from the latest turn and was there before the text was sent; otherwise the
    # replies were lost, or overtaken by older ones sent late by another worker, and the
    # question is shown again (see bot.conversation.unseen).
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seen_turn: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seen_message: Mapped[int | None] = mapped_column(BigInteger)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The platform the latest turn's replies went to: text typed on another one may answer
    # what that chat shows, not them (a person with accounts linked on several platforms).
    asked_on: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ShownList(Base):
    """The numbered list last shown to a person on a platform without buttons (Zalo Bot):
    the data of the choice each key picks. Stored before the list is sent, so a key typed
    after a restart, or received by another worker, picks what the person saw."""

    __tablename__ = "shown_lists"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    platform_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # {"1": "a:3:7:0", "a": "k:3:7"}; empty once a message without a list was sent.
    keys: Mapped[dict[str, str]] = mapped_column(JSON)
    # A question of several answers: numbers are typed together ("1,3") as text.
    several: Mapped[bool] = mapped_column(Boolean)
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InterviewStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Interview(Base):
    """One questionnaire run for one household in one review year."""

    __tablename__ = "interviews"
    __table_args__ = (
        # At most one open interview per household: two collaborators can't fork it.
        Index(
            "uq_interviews_open_household",
            "household_id",
            unique=True,
            sqlite_where=text("status = 'in_progress'"),
            postgresql_where=text("status = 'in_progress'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # Empty for interviews imported from paper, ODK or Kobo (the importer is in the audit log).
    collaborator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[InterviewStatus] = mapped_column(_enum(InterviewStatus, "interview_status"))
    # Bumped on every accepted answer; buttons carry it, so a press on an older question's
    # keyboard is recognised as stale.
    step: Mapped[int] = mapped_column(Integer, default=0)
    # Roster data offered as suggested answers ({"member_count": 4, "members": [...]}),
    # fixed when the interview starts so later roster imports don't shift questions.
    prefill: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The questionnaire evaluated over the answers (forms.questionnaire), saved by the chat
    # with each step, with the step and time it was saved at: a later turn starts from it
    # instead of evaluating the form again. Valid only while the interview's step and
    # updated_at are still those (every other writer of answers moves updated_at); the
    # answer rows stay the truth. Loaded only by the chat (deferred).
    plan_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True, default=None)
    # Where the interview came from: "chat", or "import:<file name>" for paper/ODK/Kobo.
    source: Mapped[str] = mapped_column(String(200), default="chat")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    household: Mapped[Household] = relationship(lazy="joined")


class Answer(Base):
    """One stored answer; ``path`` names the question ("water_source", "members/2/age")."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("interview_id", "path", name="uq_answers_interview_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    path: Mapped[str] = mapped_column(String(128))
    # JSON so every question type round-trips: text, numbers, dates (ISO), lists.
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Classification(Base):
    """A classification result with the rule set and inputs that produced it.

    ``member_index`` is None for the household's own result (status and deprivations).
    Recomputing never overwrites: the old row stops being ``current``, so every past
    result and its rule version stay explainable.
    """

    __tablename__ = "classifications"
    __table_args__ = (
        Index("ix_classifications_household_current", "household_id", "current"),
        Index("ix_classifications_interview_current", "interview_id", "current"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    member_index: Mapped[int | None] = mapped_column(Integer)
    member_name: Mapped[str | None] = mapped_column(String(200))
    # Member: grouped / below_working_age / ... ; household: poor / near_poor / ...
    outcome: Mapped[str] = mapped_column(String(32))
    # The labour/support group of a grouped member.
    group: Mapped[str | None] = mapped_column(String(32))
    # Household: the deprived indicator ids, e.g. ["D1", "D4"].
    deprived: Mapped[list[str]] = mapped_column(JSON, default=list)
    rule_set: Mapped[str] = mapped_column(String(32))
    rule_hash: Mapped[str] = mapped_column(String(64))
    reference_date: Mapped[date] = mapped_column(Date)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current: Mapped[bool] = mapped_column(default=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChatBinding(Base):
    """Where to reach a registered user on one platform (chat ids differ from user ids in
    groups). A person with linked accounts has one per platform; the outbox uses the active
    one they used last (``last_used_at``: where the bot last asked them something)."""

    __tablename__ = "chat_bindings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # False once the platform refused a message because the person blocked the bot: the
    # outbox stops sending there until they write to the bot again.
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """A message the bot sends on its own (a reminder, a notice, a report), written in the
    same transaction as what caused it and delivered by the sender (bot/outbox.py).

    ``message`` is the rendered message as JSON (bot/push.py encodes it). A row is pending
    until ``sent_at`` or ``failed_at``; a sender claims it for a while (``claimed_until``),
    so a sender that dies mid-way only delays it until the lease runs out.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        # The sender's one query: what is due and not done, oldest first.
        Index(
            "ix_outbox_pending",
            "not_before",
            sqlite_where=text("sent_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Whoever schedules a message names it ("reminder:12:3d"): the same one twice is one row.
    dedupe_key: Mapped[str] = mapped_column(String(200))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(String(200))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ZaloOaToken(Base):
    """A token pair of the Zalo Official Account (bot.channels.zalo_oa_tokens).

    Zalo's refresh token works once: the pair it brings is inserted in the transaction that
    marks the row before it ``used_at``, so the database always holds the pair that works.
    The row with no ``used_at`` is the current one. ``refreshing_until`` is a lease (one
    process refreshes at a time) and a trace: a lease left by a dead process says a refresh
    may have been spent on Zalo's side and never stored; ``refused_at`` that Zalo refused the
    refresh token (the operator must set a new pair: ``rasoat zalo-oa tokens set``).
    """

    __tablename__ = "zalo_oa_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    access_token: Mapped[str] = mapped_column(String(2048))
    refresh_token: Mapped[str] = mapped_column(String(2048))
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "set" (the operator's command) or "refresh".
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refreshing_by: Mapped[str | None] = mapped_column(String(64))
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AreaYearStats(Base):
    """Figures of an area for a year that the interviews can't give: all households of the
    area (the poverty rate's denominator) and, for past years, the official counts per
    category (the rate's change). Entered or imported by commune staff."""

    __tablename__ = "area_year_stats"
    __table_args__ = (UniqueConstraint("area_id", "year", name="uq_area_year_stats_area_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    year: Mapped[int] = mapped_column(Integer)
    total_households: Mapped[int] = mapped_column(Integer)
    poor_households: Mapped[int | None] = mapped_column(Integer)
    near_poor_households: Mapped[int | None] = mapped_column(Integer)
    escaped_households: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MemberFact(Base):
    """One member of one interview, projected from its answers for the statistics.

    Kept in the same transaction as the answers (see ``storage/stats_facts.py``), so
    /summary counts a million members with one GROUP BY instead of pivoting the answer
    rows. Only answer-derived values are here: the household's area, year and category,
    and the interview's status, are joined at query time, so a roster re-import or a
    cancelled interview never leaves a stale copy.
    """

    __tablename__ = "member_facts"

    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), primary_key=True)
    member_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    age: Mapped[int | None] = mapped_column(Integer)
    labour_capacity: Mapped[str | None] = mapped_column(String(8))
    # The employment status; "unable" for members without working capacity, who are not
    # asked it; None below 15 or while unanswered.
    employment_status: Mapped[str | None] = mapped_column(String(16))


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    # Moved or re-placed after it was scheduled: announced to those already reminded.
    CHANGED = "changed"
    CANCELLED = "cancelled"
    HELD = "held"


class Meeting(Base):
    """A policy dialogue (đối thoại chính sách) of a commune with the households it invites.

    ``categories`` holds HouseholdCategory values ("escaped" is the roster's category for
    households out of poverty within 36 months); ``support_groups`` the labour/support group
    ids of the classification rule set, empty for every household of those categories.
    """

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    review_year: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    place: Mapped[str] = mapped_column(String(300))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    support_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus, "meeting_status"))
    # The reminder offsets already handled (sent, or passed over for a later one).
    reminders_done: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the first reminders went out: households added after are flagged added_late.
    invitations_frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    area: Mapped[Area] = relationship(lazy="joined")


class MeetingVillage(Base):
    __tablename__ = "meeting_villages"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)


class MeetingInvitation(Base):
    """One household invited to a meeting, and what came of it."""

    __tablename__ = "meeting_invitations"
    __table_args__ = (
        UniqueConstraint("meeting_id", "household_id", name="uq_meeting_invitations_household"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # The village's collaborator, who invites the household in person.
    collaborator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the collaborator was first sent this household in a reminder.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    attended: Mapped[bool | None] = mapped_column()
    # Codes of the form's support_needs choices voiced at the meeting.
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    needs_note: Mapped[str | None] = mapped_column(String(1000))
    # Added after the list was frozen (the reminders had gone out).
    added_late: Mapped[bool] = mapped_column(default=False)

    household: Mapped[Household] = relationship(lazy="joined")


class SupportAssignment(Base):
    """Who is responsible for following up one member in a support group (section II.2:
    "phân công cụ thể người phụ trách"). The officer is a registered user, or a name and
    phone for someone not using the bot. Re-assigning ends the previous row
    (``ended_at``), so the history of who followed whom stays."""

    __tablename__ = "support_assignments"
    __table_args__ = (Index("ix_support_assignments_member", "household_id", "member_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_year: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    member_index: Mapped[int] = mapped_column(Integer)
    # A snapshot for lists: the member's name as classified when assigned.
    member_name: Mapped[str] = mapped_column(String(200))
    # The labour/support group code of the rule set (classification rules' labour_groups).
    group: Mapped[str] = mapped_column(String(32))
    officer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    officer_name: Mapped[str | None] = mapped_column(String(200))
    officer_phone: Mapped[str | None] = mapped_column(String(32))
    # None when assigned from the command line (the import is in the audit log).
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupportContact(Base):
    """One contact or support given, recorded by the responsible officer; the kind,
    programme and outcome are codes of ``classification/followup.toml``."""

    __tablename__ = "support_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("support_assignments.id"), index=True)
    contact_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    programme: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


__all__ = [
    "Answer",
    "Area",
    "AreaYearStats",
    "AuditEntry",
    "Base",
    "ChatBinding",
    "Classification",
    "DialogState",
    "Household",
    "HouseholdCategory",
    "InboxUpdate",
    "Interview",
    "InterviewStatus",
    "Invite",
    "LinkCode",
    "Meeting",
    "MeetingInvitation",
    "MeetingStatus",
    "MeetingVillage",
    "Member",
    "MemberFact",
    "OutboxMessage",
    "ProcessedUpdate",
    "Role",
    "SupportAssignment",
    "SupportContact",
    "User",
    "UserArea",
    "UserIdentity",
    "ZaloOaToken",
]
