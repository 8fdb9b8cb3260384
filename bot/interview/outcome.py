"""What the collaborator is told once a member, or the whole household, is complete, and
the stored results behind it.

The classification itself is pure (``classification/``); this module decides when to run
it, stores each result with its rule set and inputs, and turns it into chat messages.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.context import DialogContext
from bot.interview.results import classify, household_rows, member_row
from bot.interview.session import InterviewSession
from bot.messages import Outgoing, Text
from classification import (
    HouseholdResult,
    IndicatorState,
    RuleSet,
    classify_member,
    render_household_result,
    render_member_result,
    rules_for,
)
from classification.render import render_support
from forms import Done, Path
from storage.models import InterviewStatus


def _lang(ctx: DialogContext) -> Literal["vi", "en"]:
    return "en" if ctx.locale == "en" else "vi"


def session_rules(ctx: DialogContext, session: InterviewSession) -> RuleSet:
    return rules_for(session.household.review_year, ctx.settings.rules)


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
    if session.interview.status is InterviewStatus.COMPLETED:
        # A change made through /review: every stored result is recomputed at once.
        await store_household(ctx, session)
    index = member_completed(session, path)
    members = session.answers.get("members") or []
    if index is None or index >= len(members):
        return []
    rules = session_rules(ctx, session)
    result = classify_member(members[index], session.today, rules)
    if session.interview.status is not InterviewStatus.COMPLETED:
        row = member_row(session.interview, index, members[index], result, session.today)
        await ctx.uow.classifications.replace(session.interview, [row])
    name = members[index].get("name") or f"#{index + 1}"
    return [Text(f"👤 {name}\n{render_member_result(result, rules, _lang(ctx))}")]


async def store_household(ctx: DialogContext, session: InterviewSession) -> HouseholdResult:
    rules = session_rules(ctx, session)
    result = classify(session.answers, session.today, rules)
    rows = household_rows(session.interview, session.answers, result, session.today)
    await ctx.uow.classifications.replace(session.interview, rows)
    return result


async def on_interview_finished(ctx: DialogContext, session: InterviewSession) -> list[Outgoing]:
    result = await store_household(ctx, session)
    return [Text(household_summary(ctx, session, result))]


def household_summary(
    ctx: DialogContext, session: InterviewSession, result: HouseholdResult
) -> str:
    """Short enough for a phone: status, members' groups, deprivations and who handles them."""
    rules = session_rules(ctx, session)
    lang = _lang(ctx)
    full = render_household_result(result, rules, lang).splitlines()
    lines = [full[0], "", ctx.t("summary.members")]
    members: list[dict[str, Any]] = list(session.answers.get("members") or [])
    for number, (member, member_result) in enumerate(
        zip(members, result.members, strict=True), start=1
    ):
        text = render_member_result(member_result, rules, lang).split(" — ", 1)[0]
        lines.append(f"{number}. {member.get('name', '?')}: {text.removeprefix('→ ')}")
    referrals = {r.indicator: r for r in result.support}
    deprived = [i for i in result.indicators if i.state is IndicatorState.DEPRIVED]
    unknown = [i for i in result.indicators if i.state is IndicatorState.UNKNOWN]
    lines += ["", ctx.t("summary.deprived", count=len(deprived))]
    for indicator in deprived:
        name = rules.indicators_by_id[indicator.indicator].name.get(lang)
        lines.append(f"• {indicator.indicator}. {name}")
        if indicator.indicator in referrals:
            lines.append("   " + render_support(referrals[indicator.indicator], rules, lang))
    if unknown:
        names = ", ".join(i.indicator for i in unknown)
        lines.append(ctx.t("summary.unknown", indicators=names))
    lines.append(ctx.t("summary.rules", version=str(rules.ref)))
    return "\n".join(lines)
