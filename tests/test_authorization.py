"""Who may do what, cell by cell: every command and every kind of button, for every role,
against the user's own area and another, with forged data naming other households,
interviews and areas.

The expected cells are written out here, from the README's table of roles, not read from
bot.commands: a change to who may do what must change this file too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.admin import set_active
from bot.conversation import Conversation
from bot.messages import Choices, Notice, Text
from bot.settings import Settings
from locales.catalog import translate
from storage.models import Answer, Area, AuditEntry, Household, Interview, InterviewStatus, Role
from tests.conftest import Database
from tests.exports.data import Planned, insert_households
from tests.helpers import add_terminal_users, message, press, seed_areas
from tests.test_settings_and_cli import rasoat

YEAR = 2026
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
COLLABORATOR, SUPERVISOR, STAFF, ADMIN = "c1", "s1", "k1", "a1"
STRANGER, DEACTIVATED = "u0", "d1"
REGISTERED = {
    COLLABORATOR: (Role.COLLABORATOR, "87-MH-A1"),
    SUPERVISOR: (Role.SUPERVISOR, "87-MH-A1"),
    STAFF: (Role.COMMUNE_STAFF, "87-MH"),
    ADMIN: (Role.ADMIN, "87"),
    DEACTIVATED: (Role.COLLABORATOR, "87-MH-A1"),
}
EVERYONE = {COLLABORATOR, SUPERVISOR, STAFF, ADMIN}
INTERVIEWERS = {COLLABORATOR, ADMIN}
# Command -> who may use it (README, "Who uses it").
ALLOWED = {
    "interview": INTERVIEWERS,
    "back": INTERVIEWERS,
    "skip": INTERVIEWERS,
    "review": INTERVIEWERS,
    "pause": INTERVIEWERS,
    "cancel": INTERVIEWERS,
    "summary": EVERYONE,
    "export": EVERYONE,
    "report": {SUPERVISOR, STAFF, ADMIN},
    "phutrach": {STAFF, ADMIN},
    "assign": {STAFF, ADMIN},
    "theodoi": EVERYONE,
    "followup": EVERYONE,
    "tiep": EVERYONE,
    "menu": EVERYONE,
    "whoami": EVERYONE,
    "help": EVERYONE,
}


def said(replies: list) -> str:
    return "\n".join(r.text for r in replies if isinstance(r, Text | Choices | Notice))


@dataclass
class Commune:
    conversation: Conversation
    database: Database
    # Household, completed interview and area ids, in the collaborator's village (A1) and
    # in the other one (A2).
    own_household: int
    other_household: int
    own_interview: int
    other_interview: int
    own_area: int
    other_area: int

    async def send(self, user: str, text: str) -> list:
        return await self.conversation.handle(message(text, user_id=user))

    async def tap(self, user: str, data: str) -> list:
        return await self.conversation.handle(press(data, user_id=user))

    async def footprint(self) -> tuple[int, int, list[tuple[str, object]]]:
        """What a refused action must leave as it was: interviews, answers and their values."""
        async with self.database.sessions() as session:
            interviews = await session.scalar(select(func.count(Interview.id)))
            answers = (
                await session.execute(select(Answer.path, Answer.value).order_by(Answer.id))
            ).all()
        return int(interviews or 0), len(answers), [tuple(a) for a in answers]


@pytest.fixture
async def commune(database: Database, settings: Settings) -> Commune:
    await seed_areas(database.sessions)
    await add_terminal_users(database.sessions, REGISTERED)
    await set_active(database.sessions, f"terminal:{DEACTIVATED}", active=False)
    done = InterviewStatus.COMPLETED
    await insert_households(
        database.sessions,
        YEAR,
        [Planned("HH-A1", "87-MH-A1", 0, done), Planned("HH-A2", "87-MH-A2", 1, done)],
    )
    async with database.sessions() as session:
        households = {h.code: h.id for h in await session.scalars(select(Household))}
        interviews = {i.household_id: i.id for i in await session.scalars(select(Interview))}
        areas = {a.code: a.id for a in await session.scalars(select(Area))}
    return Commune(
        Conversation(database.sessions, settings, clock=lambda: NOW),
        database,
        households["HH-A1"],
        households["HH-A2"],
        interviews[households["HH-A1"]],
        interviews[households["HH-A2"]],
        areas["87-MH-A1"],
        areas["87-MH-A2"],
    )


async def test_every_command_for_every_role(commune: Commune) -> None:
    not_allowed = {name: translate("fallback.not_allowed", command=name) for name in ALLOWED}
    for name, allowed in ALLOWED.items():
        for user in EVERYONE:
            replies = await commune.send(user, f"/{name}")
            text = said(replies)
            if user in allowed:
                # An answer of some kind (a file counts), and not the refusal.
                assert replies and text != not_allowed[name], (user, name, text)
                assert translate("error.internal") not in text, (user, name)
            else:
                assert text == not_allowed[name], (user, name, text)
            # Leave no dialog open for the next command.
            await commune.send(user, "/cancel")
            await commune.send(user, "/pause")
        assert said(await commune.send(STRANGER, f"/{name}")) == translate(
            "registration.unknown_user"
        )
        assert said(await commune.send(DEACTIVATED, f"/{name}")) == translate(
            "fallback.deactivated"
        )


async def test_summary_and_export_stay_inside_ones_own_area(commune: Commune) -> None:
    for user in (COLLABORATOR, SUPERVISOR):
        own = said(await commune.send(user, "/summary 87-MH-A1"))
        assert "87-MH-A1" in own or "Ấp 1" in own
        refused = said(await commune.send(user, "/summary 87-MH-A2"))
        assert "Bạn không có quyền xem số liệu của Ấp 2" in refused, (user, refused)
    for user in (STAFF, ADMIN):
        assert "Bạn không có quyền" not in said(await commune.send(user, "/summary 87-MH-A2"))


async def test_forged_buttons_of_the_interview_are_refused_to_other_roles(
    commune: Commune,
) -> None:
    forged = [
        f"h:{commune.own_household}",
        f"h:{commune.other_household}",
        "hp:0",
        f"v:{commune.own_interview}",
        f"v:{commune.other_interview}",
        f"a:{commune.own_interview}:1:0",
        f"t:{commune.own_interview}:1:0",
        f"d:{commune.own_interview}:1",
        f"k:{commune.own_interview}:1",
        f"s:{commune.own_interview}:1",
        f"r:{commune.own_interview}:ok",
        f"x:{commune.own_interview}:yes",
    ]
    before = await commune.footprint()
    refused = translate("fallback.button_not_allowed")
    for user in (SUPERVISOR, STAFF):
        for data in forged:
            assert said(await commune.tap(user, data)) == refused, (user, data)
    for data in forged:
        assert said(await commune.tap(STRANGER, data)) == translate("registration.unknown_user")
        assert said(await commune.tap(DEACTIVATED, data)) == translate("fallback.deactivated")
    # The reported attack: a supervisor opening a completed interview's review and changing
    # an answer. Nothing was started, answered or changed.
    assert await commune.footprint() == before
    async with commune.database.sessions() as session:
        refusals = await session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "button.refused")
        )
    assert refusals == 2 * len(forged)


async def test_forged_follow_up_buttons_are_refused(commune: Commune) -> None:
    refused = translate("fallback.button_not_allowed")
    for user in (COLLABORATOR, SUPERVISOR):
        for data in (f"pa:v:{commune.own_area}", f"pa:m:{commune.own_household}:0", "pa:o:1"):
            assert said(await commune.tap(user, data)) == refused, (user, data)
    # An assignment that is not one's own, forged by id.
    for user in EVERYONE:
        assert said(await commune.tap(user, "pt:a:4242")) == translate("followup.not_yours")


async def test_a_collaborator_is_kept_to_their_own_village(commune: Commune) -> None:
    before = await commune.footprint()
    text = said(await commune.tap(COLLABORATOR, f"h:{commune.other_household}"))
    assert text == translate("scope.refused")
    text = said(await commune.tap(COLLABORATOR, f"v:{commune.other_interview}"))
    assert text == translate("scope.refused")
    assert await commune.footprint() == before
    # Their own village's household opens (completed: offered for review).
    own = said(await commune.tap(COLLABORATOR, f"h:{commune.own_household}"))
    assert "HH-A1 · Nguyễn Văn Hùng đã phỏng vấn xong" in own


async def test_summary_buttons_are_checked_against_the_area(commune: Commune) -> None:
    other = said(await commune.tap(SUPERVISOR, f"sm:{commune.other_area}:{YEAR}:s"))
    assert "Bạn không có quyền xem số liệu của Ấp 2" in other
    own = await commune.tap(SUPERVISOR, f"sm:{commune.own_area}:{YEAR}:s")
    assert "Bạn không có quyền" not in said(own)


async def test_staff_deactivate_and_reactivate_a_user(commune: Commune) -> None:
    env = commune.database.env()
    done = rasoat("users", "deactivate", f"terminal:{COLLABORATOR}", env=env)
    assert done.returncode == 0, done.stderr
    assert said(await commune.send(COLLABORATOR, "/interview")) == translate("fallback.deactivated")
    assert rasoat("users", "activate", f"terminal:{COLLABORATOR}", env=env).returncode == 0
    assert "Danh sách" not in said(await commune.send(COLLABORATOR, "/whoami"))
    assert said(await commune.send(COLLABORATOR, "/whoami")) != translate("fallback.deactivated")
    unknown = rasoat("users", "deactivate", "telegram:nobody", env=env)
    assert unknown.returncode == 2 and "telegram:12345" in unknown.stderr
