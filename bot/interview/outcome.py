"""What the collaborator is told once a member, or the whole household, is complete.

The classification itself is pure (``classification/``); this module only decides when to
run it and turns the result into chat messages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.context import DialogContext
from bot.forms import Done, Path
from bot.interview.session import InterviewSession
from bot.messages import Outgoing, Text
from classification import (
    RuleSet,
    classify_household,
    classify_member,
    load_rule_set,
    render_household_result,
    render_member_result,
    versions_applying_to,
)


def rules_for(year: int) -> RuleSet:
    """The rule set that applies to a review year (the latest one that covers it)."""
    versions = versions_applying_to(year)
    return load_rule_set(versions[-1] if versions else "2022-2025")


def _lang(ctx: DialogContext) -> Any:
    return "en" if ctx.locale == "en" else "vi"


def reference_date(session: InterviewSession) -> date:
    return session.today


def member_completed(session: InterviewSession, path: Path) -> int | None:
    """The member index whose last question ``path`` was, if that member is now complete."""
    if len(path) < 3 or path[0] != "members":
        return None
    index = int(path[1])
    upcoming = session.step()
    if isinstance(upcoming, Done):
        return index
    following = upcoming.path
    if len(following) >= 2 and following[0] == "members" and following[1] == index:
        return None
    return index


async def on_answer_recorded(
    ctx: DialogContext, session: InterviewSession, path: Path
) -> list[Outgoing]:
    index = member_completed(session, path)
    if index is None:
        return []
    members = session.answers.get("members") or []
    if index >= len(members):
        return []
    rules = rules_for(session.household.review_year)
    result = classify_member(members[index], reference_date(session), rules)
    name = members[index].get("name") or f"#{index + 1}"
    return [Text(f"👤 {name}\n{render_member_result(result, rules, _lang(ctx))}")]


async def on_interview_finished(ctx: DialogContext, session: InterviewSession) -> list[Outgoing]:
    rules = rules_for(session.household.review_year)
    members = list(session.answers.get("members") or [])
    result = classify_household(session.answers, members, reference_date(session), rules)
    return [Text(render_household_result(result, rules, _lang(ctx)))]
