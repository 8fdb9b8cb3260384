"""Recomputing stored classifications after a rule change (`rasoat reclassify`).

Classification rows are written; and where the reference date moved, the form's
calculations that depend on it (a member's age) and the statistics' member facts derived
from them: all as a fresh interview would store them now, in one transaction. What people
answered and households are read, never changed; of an interview, only the chat's saved
questionnaire state is forgotten where its ages changed. Old results stay in the database,
no longer current, so the change is traceable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import AdminError
from bot.interview.results import reference_of, results_of
from classification import ReviewDates, RuleSet, resolve_rules
from forms import FieldType, Form, apply_calculations, current_form
from forms.codec import assemble, flatten, key_path
from locales.catalog import translate
from storage.models import Classification, Interview
from storage.rows import InterviewRow
from storage.stats_facts import refresh_member_facts
from storage.uow import UnitOfWork, Work


@dataclass
class ReclassifyReport:
    rules: str
    households: int = 0
    changed_households: int = 0
    changed_members: int = 0
    # Members whose age, counted at the reference date, changed.
    ages: int = 0
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
        ages = [translate("reclassify.ages", locale, members=self.ages)] if self.ages else []
        return "\n".join([head, *ages, *self.lines])


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
    now: datetime | None = None,
) -> ReclassifyReport:
    rules = resolve_rules(version)
    report = ReclassifyReport(rules=str(rules.ref))
    form = current_form()
    at = now or datetime.now(UTC)
    async with UnitOfWork(sessions) as uow:
        scope = None
        if area_code:
            area = await uow.areas.by_code(area_code)
            if area is None:
                raise AdminError("admin.unknown_area", codes=area_code)
            scope = await uow.areas.subtree_ids([area.id])
        for interview in await uow.classifications.completed_interviews(scope):
            report.households += 1
            rows = dict(await uow.interviews.answers(interview))
            reference = reference_of(interview, dates)
            recounted = await _recount(uow, form, interview, rows, reference, at)
            report.ages += sum(key_path(key)[-1] == "age" for key in recounted)
            new_rows = results_of(interview, {**rows, **recounted}.items(), rules, reference)
            old_rows = {
                row.member_index: row for row in await uow.classifications.current_for(interview)
            }
            household_changed = False
            for row in new_rows:
                before = old_rows.get(row.member_index)
                was, becomes = _label(before, rules, locale), _label(row, rules, locale)
                if was == becomes:
                    continue
                if row.member_index is None:
                    household_changed = True
                    who = translate("reclassify.household", locale)
                else:
                    report.changed_members += 1
                    who = row.member_name or f"#{row.member_index + 1}"
                code = interview.household.code
                report.lines.append(f"  {code} · {who}: {was} → {becomes}")
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
            ages=report.ages,
        )
        await uow.commit()
    return report


async def _recount(
    uow: UnitOfWork,
    form: Form,
    interview: Interview,
    rows: dict[str, Any],
    reference: date,
    now: datetime,
) -> dict[str, Any]:
    """The interview's stored calculations (its answer ``rows``) made again at
    ``reference``, and its members' facts with them; those that changed."""
    changed = recalculated(form, rows, reference)
    if not changed:
        return changed

    def write(work: Work) -> None:
        work.interviews.save_answers(interview, changed, None, now)
        refresh_member_facts(work, interview, {**rows, **changed}, rows, changed)
        # The chat's saved questionnaire holds the old values: evaluated again from the
        # rows when the interview is next opened (its updated_at, which would say so too,
        # may be what its reference date is counted from).
        work.interviews.change(InterviewRow.of(interview), plan_state=None)

    await uow.run(write)
    return changed


def recalculated(form: Form, rows: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The stored values of ``form``'s calculations ({path key: JSON value}, as stored) that
    differ when the form is evaluated on ``today``. Calculations only: an answer a person
    gave, or one the form no longer asks, is left as it is."""
    calculated = flatten(apply_calculations(form, assemble(form, rows.items()), today=today))
    return {
        key: value
        for key, value in calculated.items()
        if key in rows and rows[key] != value and _calculation(form, key)
    }


def _calculation(form: Form, key: str) -> bool:
    found = form.fields.get(str(key_path(key)[-1]))
    return found is not None and found.type is FieldType.CALCULATE
