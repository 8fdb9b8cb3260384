"""Turning results into Vietnamese or English text, with every word taken from the rule file."""

from __future__ import annotations

from collections.abc import Sequence

from classification.deprivation import IndicatorResult, IndicatorState, MissingAnswer
from classification.household import HouseholdResult, SupportReferral
from classification.labour import MemberOutcome, MemberResult
from classification.reasons import ParamValue, Reason
from classification.ruleset import Lang, RuleSet, RuleSetRef
from locales.catalog import format_number as format_catalog_number

REASON_SEPARATOR = "; "
LIST_SEPARATOR = ", "


def format_number(value: ParamValue, lang: Lang) -> str:
    """1500000 -> "1.500.000" (vi) / "1,500,000" (en); 6.5 -> "6,5" / "6.5"."""
    if isinstance(value, str):
        return value
    return format_catalog_number(value, lang)


def render_reason(reason: Reason, rules: RuleSet, lang: Lang = "vi") -> str:
    text = rules.reason_text(reason.key)
    if text is None:
        return reason.key  # keeps the bot talking; rule-file validation prevents this
    template = text.detailed if reason.params and text.detailed is not None else text
    params = {name: format_number(value, lang) for name, value in reason.params}
    try:
        return template.get(lang).format_map(params)
    except (KeyError, IndexError, ValueError):
        return text.get(lang)


def render_reasons(reasons: Sequence[Reason], rules: RuleSet, lang: Lang = "vi") -> str:
    return REASON_SEPARATOR.join(render_reason(r, rules, lang) for r in reasons)


def render_missing(missing: Sequence[MissingAnswer], rules: RuleSet, lang: Lang = "vi") -> str:
    parts = []
    for item in missing:
        label = rules.field_label(item.field, lang)
        if item.member is not None:
            name = item.member_name or f"#{item.member + 1}"
            label = rules.text("missing.member", lang).format(field=label, name=name)
        parts.append(label)
    return LIST_SEPARATOR.join(parts)


def render_member_result(result: MemberResult, rules: RuleSet, lang: Lang = "vi") -> str:
    """One line such as "→ Nhóm: Lao động không có việc làm, cần học nghề — vì: ..."."""
    _check_version(result.rule_set, rules)
    reasons = render_reasons(result.reasons, rules, lang)
    match result.outcome:
        case MemberOutcome.GROUPED:
            assert result.group is not None
            group = rules.groups_by_id[result.group]
            needs = ""
            if group.show_needs and result.needs:
                labels = LIST_SEPARATOR.join(
                    rules.needs_by_id[n].label.get(lang) for n in result.needs
                )
                needs = rules.text("member.needs", lang).format(needs=labels)
            short = group.short_for([reason.key for reason in result.reasons])
            return rules.text("member.grouped", lang).format(
                group=short.get(lang), needs=needs, reasons=reasons
            )
        case MemberOutcome.BELOW_WORKING_AGE:
            return rules.text("member.below_working_age", lang).format(reasons=reasons)
        case MemberOutcome.ABOVE_WORKING_AGE:
            return rules.text("member.above_working_age", lang).format(reasons=reasons)
        case MemberOutcome.INCOMPLETE:
            fields = LIST_SEPARATOR.join(rules.field_label(f, lang) for f in result.missing)
            line = rules.text("member.incomplete", lang).format(missing=fields)
            if reasons:
                line += rules.text("member.known", lang).format(reasons=reasons)
            return line
        case MemberOutcome.CONTRADICTION:
            fields = LIST_SEPARATOR.join(rules.field_label(f, lang) for f in result.conflicts)
            return rules.text("member.contradiction", lang).format(fields=fields, reasons=reasons)
    raise ValueError(f"unknown outcome {result.outcome!r}")  # pragma: no cover


def render_support(referral: SupportReferral, rules: RuleSet, lang: Lang = "vi") -> str:
    channels = REASON_SEPARATOR.join(
        f"{c.office.get(lang)} ({c.programme.get(lang)})" for c in referral.channels
    )
    return rules.text("indicator.support", lang).format(channels=channels)


def render_indicator_result(result: IndicatorResult, rules: RuleSet, lang: Lang = "vi") -> str:
    indicator = rules.indicators_by_id[result.indicator]
    if result.state == IndicatorState.UNKNOWN:
        detail = rules.text("indicator.missing", lang).format(
            missing=render_missing(result.missing, rules, lang)
        )
    else:
        detail = render_reasons(result.reasons, rules, lang)
    return rules.text("indicator.line", lang).format(
        id=indicator.id,
        name=indicator.name.get(lang),
        state=rules.text(f"indicator.{result.state.value}", lang),
        detail=detail,
    )


def render_household_result(result: HouseholdResult, rules: RuleSet, lang: Lang = "vi") -> str:
    """Status line, one line per indicator, and where each deprived indicator is referred."""
    _check_version(result.rule_set, rules)
    status = rules.text(f"household.{result.status.value}", lang)
    head = rules.text("household.line", lang).format(
        status=status, reasons=render_reasons(result.reasons, rules, lang)
    )
    if result.missing:
        missing = render_missing(result.missing, rules, lang)
        head += REASON_SEPARATOR + rules.text("household.missing", lang).format(missing=missing)
    lines = [head]
    referrals = {r.indicator: r for r in result.support}
    for indicator in result.indicators:
        lines.append(render_indicator_result(indicator, rules, lang))
        if indicator.indicator in referrals:
            lines.append("   " + render_support(referrals[indicator.indicator], rules, lang))
    return "\n".join(lines)


def _check_version(ref: RuleSetRef, rules: RuleSet) -> None:
    if ref != rules.ref:
        raise ValueError(f"result was made with rule set {ref}, not {rules.ref}")
