"""Recomputing stored classifications after a rule change (`rasoat reclassify`).

Only classification rows are written: answers, interviews and households are read, never
changed. Old results stay in the database, no longer current, so the change is traceable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import AdminError
from bot.interview.results import recompute_rows
from classification import ReviewDates, RuleSet, resolve_rules
from locales.catalog import translate
from storage.models import Classification
from storage.uow import UnitOfWork


@dataclass
class ReclassifyReport:
    rules: str
    households: int = 0
    changed_households: int = 0
    changed_members: int = 0
    lines: list[str] = field(default_factory=list)

    def render(self, locale: str) -> str:
        head = translate(
            "reclassify.summary",
            locale,
            rules=self.rules,
            households=self.households,
            changed_households=self.changed_households,
            changed_members=self.changed_members,
        )
        return "\n".join([head, *self.lines])


def _label(row: Classification | None, rules: RuleSet, locale: str) -> str:
    if row is None:
        return "—"
    lang: Literal["vi", "en"] = "en" if locale == "en" else "vi"
    if row.member_index is None:
        status = rules.text(f"household.{row.outcome}", lang)
        return f"{status} [{', '.join(row.deprived) or '-'}]"
    if row.group and row.group in rules.groups_by_id:
        return rules.groups_by_id[row.group].short.get(lang)
    return row.group or row.outcome


async def reclassify(
    sessions: async_sessionmaker[AsyncSession],
    version: str,
    *,
    area_code: str | None,
    dates: ReviewDates,
    locale: str,
) -> ReclassifyReport:
    rules = resolve_rules(version)
    report = ReclassifyReport(rules=str(rules.ref))
    async with UnitOfWork(sessions) as uow:
        scope = None
        if area_code:
            area = await uow.areas.by_code(area_code)
            if area is None:
                raise AdminError("admin.unknown_area", codes=area_code)
            scope = await uow.areas.subtree_ids([area.id])
        for interview in await uow.classifications.completed_interviews(scope):
            report.households += 1
            new_rows = await recompute_rows(uow, interview, rules, dates)
            old_rows = {
                row.member_index: row for row in await uow.classifications.current_for(interview)
            }
            household_changed = False
            for row in new_rows:
                before = old_rows.get(row.member_index)
                was, now = _label(before, rules, locale), _label(row, rules, locale)
                if was == now:
                    continue
                if row.member_index is None:
                    household_changed = True
                    who = translate("reclassify.household", locale)
                else:
                    report.changed_members += 1
                    who = row.member_name or f"#{row.member_index + 1}"
                code = interview.household.code
                report.lines.append(f"  {code} · {who}: {was} → {now}")
            report.changed_households += household_changed
            await uow.classifications.replace(interview, new_rows)
        uow.audit.record(
            "classifications.recomputed",
            entity="rules",
            entity_id=str(rules.ref),
            source=version,
            area=area_code,
            households=report.households,
            changed_households=report.changed_households,
            changed_members=report.changed_members,
        )
        await uow.commit()
    return report
