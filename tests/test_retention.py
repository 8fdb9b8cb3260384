"""Retention: `rasoat purge` (a past review year's personal data, deleted or anonymised,
audited) and the periodic sweep, which forgets what served a moment long past."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from bot.admin import create_invites, locked_chats
from bot.conversation import Conversation
from bot.links import LinkStore
from bot.outbox import writer_over
from bot.reminders import ReminderScheduler
from bot.server_key import server_key
from bot.settings import Settings
from exports.stats import build_report
from locales.catalog import translate
from storage.models import (
    Answer,
    AuditEntry,
    Classification,
    Household,
    InboxUpdate,
    Interview,
    InterviewStatus,
    Invite,
    LinkCode,
    Member,
    ProcessedUpdate,
    RegistrationFailure,
    Role,
    ShownList,
    User,
)
from storage.repositories import Received
from storage.uow import UnitOfWork
from tests.conftest import INVITE_KEY, Database
from tests.exports.data import Planned, insert_households
from tests.helpers import add_terminal_users, message, seed_areas
from tests.test_settings_and_cli import rasoat

PAST = 2024
OTHER_PAST = 2023
NAMES = ("Nguyễn Văn Hùng", "Trần Thị Lan", "Nguyễn Thị Mai", "Lê Thị Bảy", "Phạm Văn Tư")
DONE = InterviewStatus.COMPLETED


async def load(database: Database) -> None:
    await seed_areas(database.sessions)
    for year in (OTHER_PAST, PAST, datetime.now(UTC).year):
        await insert_households(
            database.sessions,
            year,
            [Planned("HH-001", "87-MH-A1", 0, DONE), Planned("HH-002", "87-MH-A1", 1, DONE)],
        )
    async with database.sessions.begin() as session:
        interview = await session.scalar(
            select(Interview.id).join(Household).where(Household.review_year == PAST)
        )
        session.add(
            AuditEntry(
                action="answer.changed",
                entity="interview",
                entity_id=str(interview),
                details={"old": "Nguyễn Văn Hùng", "new": "Nguyễn Văn Hùng Em"},
            )
        )
        # The chat's stored questionnaire state holds the answers, names included.
        await session.execute(
            update(Interview)
            .where(Interview.id == interview)
            .values(plan_state={"questionnaire": {"answers": {"members/0/name": NAMES[0]}}})
        )


async def show_and_link(database: Database, links: Path) -> None:
    """A list on a Zalo screen whose keys pick the past year's households, and an export
    of them waiting behind a download link, beside a file that is not the store's."""
    async with database.sessions.begin() as session:
        picks = (
            await session.scalars(select(Household.id).where(Household.review_year == PAST))
        ).all()
        session.add(
            ShownList(
                platform="zalo-bot",
                platform_user_id="zalo-1",
                keys={str(n): f"hh:pick:{i}" for n, i in enumerate(picks, 1)},
                several=False,
                shown_at=datetime.now(UTC),
            )
        )
    store = LinkStore(links, b"k" * 32, "https://bot.example.vn", timedelta(hours=1))
    store.put("zalo-bot:zalo-1", "ho-ngheo.xlsx", NAMES[0].encode(), "application/x", once=True)
    (links / "notes.txt").write_text("not the store's")


async def leftovers(database: Database, links: Path) -> tuple[int, list[str]]:
    """The lists shown still stored, and the files left in the links folder."""
    async with database.sessions() as session:
        shown = await session.scalar(select(func.count()).select_from(ShownList))
    return int(shown or 0), names_in(links)


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def everything_of(database: Database, year: int) -> str:
    """Every stored value that belongs to the year's households, as one text."""
    async with database.sessions() as session:
        households = select(Household.id).where(Household.review_year == year)
        interviews = select(Interview.id).where(Interview.household_id.in_(households))
        rows: list[object] = []
        for query in (
            select(Household.code, Household.head_name).where(Household.review_year == year),
            select(Member.full_name, Member.birth_date).where(Member.household_id.in_(households)),
            select(Answer.path, Answer.value).where(Answer.interview_id.in_(interviews)),
            select(Classification.member_name, Classification.inputs).where(
                Classification.interview_id.in_(interviews)
            ),
            select(Interview.prefill, Interview.plan_state).where(Interview.id.in_(interviews)),
            select(AuditEntry.details).where(
                AuditEntry.entity == "interview",
                AuditEntry.entity_id.in_(
                    [str(i) for i in (await session.scalars(interviews)).all()]
                ),
            ),
        ):
            rows += [tuple(row) for row in (await session.execute(query)).all()]
    return json.dumps(rows, default=str, ensure_ascii=False)


async def report(database: Database, year: int) -> object:
    async with UnitOfWork(database.sessions) as uow:
        area = await uow.areas.by_code("87-MH")
        assert area is not None
        return await build_report(uow, area, year)


async def test_anonymised_years_keep_their_figures_and_lose_their_names(
    database: Database, tmp_path: Path
) -> None:
    await load(database)
    links = tmp_path / "links"
    await show_and_link(database, links)
    env = {**database.env(), "RASOAT_LINKS_DIR": str(links)}
    before = await report(database, PAST)
    assert "Nguyễn Văn Hùng" in await everything_of(database, PAST)
    untouched = await everything_of(database, OTHER_PAST)

    dry = rasoat("purge", "--year", str(PAST), "--anonymise", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == translate(
        "purge.would.anonymise", year=PAST, households=2, interviews=2
    )
    assert "Nguyễn Văn Hùng" in await everything_of(database, PAST)
    shown, files = await leftovers(database, links)
    assert shown == 1 and len(files) == 3

    done = rasoat("purge", "--year", str(PAST), "--anonymise", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert await leftovers(database, links) == (0, ["notes.txt"])
    stored = await everything_of(database, PAST)
    for name in NAMES:
        assert name not in stored
    assert "1974-06-11" not in stored and "HH-001" not in stored
    assert await report(database, PAST) == before
    assert await everything_of(database, OTHER_PAST) == untouched
    async with database.sessions() as session:
        purged = await session.scalar(select(AuditEntry).where(AuditEntry.action == "year.purged"))
    assert purged is not None and purged.entity_id == str(PAST)


async def test_deleted_years_are_gone_and_others_stay(database: Database, tmp_path: Path) -> None:
    await load(database)
    links = tmp_path / "links"
    await show_and_link(database, links)
    untouched = await everything_of(database, PAST)
    env = {**database.env(), "RASOAT_LINKS_DIR": str(links)}
    done = rasoat("purge", "--year", str(OTHER_PAST), "--delete", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    # A deleted household's id may be given again (SQLite): no stored key may still pick it.
    assert await leftovers(database, links) == (0, ["notes.txt"])
    assert (
        translate("purge.done.delete", year=OTHER_PAST, households=2, interviews=2) in done.stdout
    )
    async with database.sessions() as session:
        years = (await session.scalars(select(Household.review_year).distinct())).all()
        assert OTHER_PAST not in years
        assert await session.scalar(select(func.count(Interview.id))) == 4
    assert await everything_of(database, PAST) == untouched


async def test_the_current_year_is_refused(database: Database) -> None:
    await load(database)
    year = datetime.now(UTC).year
    refused = rasoat("purge", "--year", str(year), "--delete", "--yes", env=database.env())
    assert refused.returncode == 2
    assert translate("purge.not_past", year=year) in refused.stderr


class Moment:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


async def sweep(database: Database, settings: Settings, now: datetime) -> None:
    """The running bot's periodic sweep, once, at ``now``."""
    reminders = ReminderScheduler(
        writer_over(database.sessions), settings, wake=lambda: None, clock=Moment(now)
    )
    assert await reminders.sweep() == 0


def at(database: Database, settings: Settings, moment: datetime) -> Conversation:
    """The chat as it answers at ``moment``."""
    return Conversation(database.sessions, settings, clock=lambda: moment)


async def test_the_periodic_sweep_forgets_link_codes_and_lists_past_their_use(
    database: Database, settings: Settings
) -> None:
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    await seed_areas(database.sessions)
    await add_terminal_users(database.sessions, {"111": (Role.COLLABORATOR, "87-MH-A1")})
    async with database.sessions.begin() as session:
        user = await session.scalar(select(User.id))
        assert user is not None
        # A code lives ten minutes; one is kept a day past its expiry, a list thirty days.
        for code, expired in (("a", timedelta(hours=25)), ("b", timedelta(hours=23))):
            session.add(
                LinkCode(
                    code_hash=code * 64,
                    user_id=user,
                    created_at=now - expired - timedelta(minutes=10),
                    expires_at=now - expired,
                )
            )
        for who, age in (("old", timedelta(days=31)), ("recent", timedelta(days=29))):
            session.add(
                ShownList(
                    platform="zalo-bot",
                    platform_user_id=who,
                    keys={"1": "hh:pick:1"},
                    several=False,
                    shown_at=now - age,
                )
            )
    await sweep(database, settings, now)
    async with database.sessions() as session:
        assert (await session.scalars(select(LinkCode.code_hash))).all() == ["b" * 64]
        assert (await session.scalars(select(ShownList.platform_user_id))).all() == ["recent"]


async def test_the_periodic_sweep_forgets_wrong_codes_no_lock_out_counts_any_more(
    database: Database, settings: Settings
) -> None:
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    await seed_areas(database.sessions)
    # Two chats locked out, 25 and 23 hours ago: a lock-out counts a day's wrong codes.
    for who, ago in (("7", timedelta(hours=25)), ("9", timedelta(hours=23))):
        for n in range(5):
            await at(database, settings, now - ago).handle(
                message(f"/start WRONG{n:03d}", user_id=who, name=f"Kẻ Đoán {who}")
            )
    await sweep(database, settings, now)
    async with database.sessions() as session:
        kept = (await session.scalars(select(RegistrationFailure.display_name))).all()
    assert kept == ["Kẻ Đoán 9"] * 5
    # The lock-out still in force holds as before, and staff still see it.
    assert [chat.who for chat in await locked_chats(database.sessions, now)] == ["terminal:9"]
    [created] = await create_invites(
        database.sessions, Role.COLLABORATOR, "87-MH-A1", days=7, now=now, key=INVITE_KEY
    )
    replies = await at(database, settings, now).handle(
        message(f"/start {created.code}", user_id="9")
    )
    assert [reply.text for reply in replies] == [translate("registration.locked")]


async def test_the_periodic_sweep_forgets_invites_three_months_after_use_or_expiry(
    database: Database, settings: Settings
) -> None:
    now = datetime(2026, 6, 1, 8, tzinfo=UTC)
    await seed_areas(database.sessions)

    async def made(ago: timedelta, days: int) -> str:
        [created] = await create_invites(
            database.sessions,
            Role.COLLABORATOR,
            "87-MH-A1",
            days=days,
            now=now - ago,
            key=INVITE_KEY,
        )
        return created.code

    # (made how long ago, valid for days, used how long ago), in the order made.
    invites = {
        "expired long ago": (timedelta(days=100), 7, None),
        "used long ago": (timedelta(days=95), 30, timedelta(days=91)),
        "expired lately": (timedelta(days=96), 7, None),
        "used lately": (timedelta(days=95), 30, timedelta(days=89)),
        "fresh": (timedelta(days=1), 7, None),
    }
    codes = {}
    for n, (label, (ago, days, used)) in enumerate(invites.items()):
        codes[label] = await made(ago, days)
        if used is not None:
            replies = await at(database, settings, now - used).handle(
                message(f"/start {codes[label]}", user_id=str(n))
            )
            assert "Bạn đã đăng ký là" in replies[0].text
    await sweep(database, settings, now)

    key = server_key(settings)
    async with UnitOfWork(database.sessions) as uow:
        kept = [label for label, code in codes.items() if await uow.invites.by_code(code, key)]
    assert kept == ["expired lately", "used lately", "fresh"]
    async with database.sessions() as session:
        registered = (
            await session.scalars(
                select(AuditEntry.entity_id).where(AuditEntry.action == "user.registered")
            )
        ).all()
    # Who registered with the invites forgotten stays in the audit log.
    assert len(registered) == 2


async def test_the_periodic_sweep_never_forgets_the_newest_invite(
    database: Database, settings: Settings
) -> None:
    now = datetime(2026, 6, 1, 8, tzinfo=UTC)
    await seed_areas(database.sessions)
    for ago in (timedelta(days=200), timedelta(days=100)):
        await create_invites(
            database.sessions, Role.COLLABORATOR, "87-MH-A1", days=7, now=now - ago, key=INVITE_KEY
        )
    await sweep(database, settings, now)
    async with database.sessions() as session:
        expiries = (await session.scalars(select(Invite.expires_at))).all()
    # SQLite gives the id of the last row again: the audit log's "invite N" would name two.
    assert expiries == [now - timedelta(days=93)]


async def test_the_periodic_sweep_forgets_updates_applied_a_week_ago_and_keeps_the_rest(
    database: Database, settings: Settings
) -> None:
    await seed_areas(database.sessions)
    conversation = Conversation(database.sessions, settings)
    for key in ("old", "recent"):
        await conversation.keep("terminal", [Received(key, "9", {"text": key})])
        assert await conversation.handle(message("/help", user_id="9", update_key=key))
    # Received, then a stop before it was applied.
    await conversation.keep("terminal", [Received("interrupted", "9", {"text": "interrupted"})])
    # The ledgers stamp the real time; these were received and applied eight days ago.
    now = datetime.now(UTC)
    async with database.sessions.begin() as session:
        await session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.update_key.in_(["old", "interrupted"]))
            .values(received_at=now - timedelta(days=8))
        )
        await session.execute(
            update(ProcessedUpdate)
            .where(ProcessedUpdate.update_key == "old")
            .values(processed_at=now - timedelta(days=8))
        )
    await sweep(database, settings, now)
    async with database.sessions() as session:
        stored = (
            await session.scalars(select(InboxUpdate.update_key).order_by(InboxUpdate.id))
        ).all()
        applied = (await session.scalars(select(ProcessedUpdate.update_key))).all()
    assert stored == ["recent", "interrupted"]
    assert applied == ["recent"]
    # The next start applies what was never applied, and that only.
    assert await conversation.unapplied("terminal") == [{"text": "interrupted"}]
    # Telegram may still send the recent one again: it is not applied twice.
    assert await conversation.handle(message("/help", user_id="9", update_key="recent")) == []
