"""Recomputing stored classifications after a rule change (`rasoat reclassify`).

Classification rows are written; and where the reference date moved, the form's
calculations that depend on it (a member's age) and the statistics' member facts derived
from them: all as a fresh interview would store them now, in one transaction. What people
answered and households are read, never changed; of an interview, only the chat's saved
questionnaire state is forgotten where its ages changed. Old results stay in the database,
no longer current, so the change is traceable.

A recounted age can cross a threshold of the questionnaire (the labour questions from 15,
the child questions below 16…): the report lists, for each member concerned, the questions
now asked that were never answered (to ask at a revisit) and the answers to questions no
longer asked (kept, but not counted: the classification reads the answers a fresh
interview at the reference date would hold, which drops them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import AdminError
from bot.interview.results import reference_of, results_for
from bot.interview.session import plan_of, with_household_code
from classification import ReviewDates, RuleSet, resolve_rules
from forms import FieldType, Path, Question, current_form
from forms import plan as planned
from forms.codec import assemble, key_path
from forms.plan import Plan
from forms.questionnaire import Questionnaire
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
    # Households whose recounted ages add or drop questions (a revisit to plan).
    revisits: int = 0
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
        if self.revisits:
            ages.append(translate("reclassify.revisits", locale, households=self.revisits))
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
    plan = plan_of(form)
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
            answers = with_household_code(form, assemble(form, rows.items()), interview.household)
            again = Evaluated.of(plan, answers, rows, reference)
            await _recount(uow, interview, rows, again.recounted, at)
            report.ages += sum(key_path(key)[-1] == "age" for key in again.recounted)
            new_rows = results_for(interview, again.questionnaire.answers(), rules, reference)
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
            if again.recounted and (again.asked or again.dropped):
                report.revisits += 1
                report.lines += _revisit_lines(again, interview.household.code, locale)
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
            revisits=report.revisits,
        )
        await uow.commit()
    return report


async def _recount(
    uow: UnitOfWork,
    interview: Interview,
    rows: dict[str, Any],
    changed: dict[str, Any],
    now: datetime,
) -> None:
    """The interview's stored calculations (its answer ``rows``) that ``changed`` at its
    reference date written, and its members' facts with them."""
    if not changed:
        return

    def write(work: Work) -> None:
        work.interviews.save_answers(interview, changed, None, now)
        refresh_member_facts(work, interview, {**rows, **changed}, rows, changed)
        # The chat's saved questionnaire holds the old values: evaluated again from the
        # rows when the interview is next opened (its updated_at, which would say so too,
        # may be what its reference date is counted from).
        work.interviews.change(InterviewRow.of(interview), plan_state=None)

    await uow.run(write)


@dataclass(frozen=True)
class Evaluated:
    """A completed interview's stored answer rows evaluated again at its reference date,
    as a fresh interview with those answers would be (the chat's questionnaire)."""

    questionnaire: Questionnaire
    recounted: dict[str, Any]
    """The stored calculations ({path key: JSON value}) that differ now. Calculations only:
    an answer a person gave, or one the form no longer asks, is left as it is."""
    asked: tuple[Path, ...]
    """Questions asked now that hold no answer: to ask at a revisit."""
    dropped: tuple[Path, ...]
    """Stored answers to questions no longer asked: kept in the database, but not in the
    questionnaire's answers, so not counted."""

    @classmethod
    def of(
        cls, plan: Plan, answers: Mapping[str, Any], rows: Mapping[str, Any], reference: date
    ) -> Evaluated:
        questionnaire = Questionnaire.start(plan, dict(answers), today=reference)
        settled = questionnaire.rows()
        fields = plan.form.fields

        def kind(key: str) -> FieldType | None:
            found = fields.get(str(key_path(key)[-1]))
            return None if found is None else found.type

        state = questionnaire.state
        return cls(
            questionnaire,
            recounted={
                key: value
                for key, value in settled.items()
                if key in rows and rows[key] != value and kind(key) is FieldType.CALCULATE
            },
            asked=tuple(
                path for path in planned.visible_questions(plan, state) if path not in state.answers
            ),
            dropped=tuple(
                key_path(key)
                for key, value in rows.items()
                if key not in settled
                and value is not None
                and (found := fields.get(str(key_path(key)[-1]))) is not None
                and found.answerable
            ),
        )


def _revisit_lines(again: Evaluated, code: str, locale: str) -> list[str]:
    """For the household and each member whose questions changed, in order: the questions
    to ask, then those whose answers no longer count, as the chat words them."""
    questionnaire = again.questionnaire
    changes: dict[int | None, list[tuple[str, Path]]] = {}
    for key, paths in (("reclassify.ask", again.asked), ("reclassify.not_counted", again.dropped)):
        for path in paths:
            member = path[1] if path[0] == "members" and isinstance(path[1], int) else None
            changes.setdefault(member, []).append((key, path))
    lines = []
    for member in sorted(changes, key=lambda index: -1 if index is None else index):
        if member is None:
            who = translate("reclassify.household", locale)
        else:
            who = questionnaire.answer_at(("members", member, "name")) or f"#{member + 1}"
        for key in ("reclassify.ask", "reclassify.not_counted"):
            labels = [
                _wording(questionnaire, path, locale)
                for kind, path in changes[member]
                if kind == key
            ]
            if labels:
                questions = "; ".join(labels)
                lines.append(f"  {code} · {who}: {translate(key, locale, questions=questions)}")
    return lines


def _wording(questionnaire: Questionnaire, path: Path, locale: str) -> str:
    question = questionnaire.question_at(path)
    assert isinstance(question, Question)  # a path gives its question, never Done
    return question.label.get(locale)
