"""What the collaborator is told once a member, or the whole household, is complete.

Pure: the classification itself is ``classification/``'s; this module decides when a
member is complete and turns results into chat text. The interview dialog stores the
results (with their rule set and inputs) as effects of the same turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from classification import (
    HouseholdResult,
    IndicatorState,
    MemberResult,
    RuleSet,
    classify_household,
    render_household_result,
    render_member_result,
)
from classification.render import render_support
from forms import Done, Path, Step
from locales.catalog import translate


def _lang(locale: str) -> Literal["vi", "en"]:
    return "en" if locale == "en" else "vi"


def household_answers(answers: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    members = [dict(m) for m in answers.get("members") or []]
    household = {k: v for k, v in answers.items() if k != "members"}
    return household, members


def classify(answers: Mapping[str, Any], reference_date: date, rules: RuleSet) -> HouseholdResult:
    household, members = household_answers(answers)
    return classify_household(household, members, reference_date, rules)


def member_completed(path: Path, upcoming: Step) -> int | None:
    """The member index whose last question ``path`` was, if that member is complete now
    that ``upcoming`` is the next step."""
    if len(path) < 3 or path[0] != "members":
        return None
    index = int(path[1])
    if isinstance(upcoming, Done):
        return index
    following = upcoming.path
    if len(following) >= 2 and following[0] == "members" and following[1] == index:
        return None
    return index


def member_message(
    member: Mapping[str, Any], index: int, result: MemberResult, rules: RuleSet, locale: str
) -> str:
    name = member.get("name") or f"#{index + 1}"
    return f"👤 {name}\n{render_member_result(result, rules, _lang(locale))}"


def household_summary(
    answers: Mapping[str, Any], result: HouseholdResult, rules: RuleSet, locale: str
) -> str:
    """Short enough for a phone: status, members' groups, deprivations and who handles them."""
    lang = _lang(locale)
    full = render_household_result(result, rules, lang).splitlines()
    lines = [full[0], "", translate("summary.members", locale)]
    members: list[Mapping[str, Any]] = list(answers.get("members") or [])
    for number, (member, member_result) in enumerate(
        zip(members, result.members, strict=True), start=1
    ):
        text = render_member_result(member_result, rules, lang).split(" — ", 1)[0]
        lines.append(f"{number}. {member.get('name', '?')}: {text.removeprefix('→ ')}")
    referrals = {r.indicator: r for r in result.support}
    deprived = [i for i in result.indicators if i.state is IndicatorState.DEPRIVED]
    unknown = [i for i in result.indicators if i.state is IndicatorState.UNKNOWN]
    lines += ["", translate("summary.deprived", locale, count=len(deprived))]
    for indicator in deprived:
        name = rules.indicators_by_id[indicator.indicator].name.get(lang)
        lines.append(f"• {indicator.indicator}. {name}")
        if indicator.indicator in referrals:
            lines.append("   " + render_support(referrals[indicator.indicator], rules, lang))
    if unknown:
        names = ", ".join(i.indicator for i in unknown)
        lines.append(translate("summary.unknown", locale, indicators=names))
    lines.append(translate("summary.rules", locale, version=str(rules.ref)))
    return "\n".join(lines)
