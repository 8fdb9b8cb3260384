"""The export's sheets and how one household becomes rows on each of them.

- households: one row per household, with every household answer and the result;
- members: one row per member, the household's code, village and category repeated, so the
  sheet can be filtered and pivoted alone (the complaint about ODK/Kobo repeat sheets);
- one sheet per support group the commune acts on, with the support each member wished;
- deprivations: one row per household and deprived indicator, with the responsible office.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from classification import Reason, RuleSet, UnknownVersionError, load_rule_set
from classification.followup import support_groups
from classification.render import render_reasons
from exports.export_columns import (
    LIST_SEPARATOR,
    Cell,
    Column,
    Kind,
    capitalise,
    coded_columns,
    form_columns,
    header,
)
from exports.rows import MEMBERS, HouseholdRecord, Result
from forms import Form
from locales.catalog import catalog
from storage.text import fold

HOUSEHOLDS = "households"
DEPRIVATIONS = "deprivations"
SUMMARY = "summary"
GROUP_PREFIX = "group-"
SHEET_NAME_LIMIT = 31  # Excel's limit on a sheet tab name
OFFICE_SEPARATOR = "; "
LIST_ROW_LINES = 2

Row = list[Cell]


@dataclass(frozen=True)
class Sheet:
    key: str
    title: str
    columns: tuple[Column, ...]
    # Lines above the table in the workbook only (CSV files stay a bare table).
    preamble: tuple[str, ...] = ()
    # A table of every answer, to filter and pivot rather than to read on paper: its long
    # answers are not wrapped, which spares the writer a row height per row.
    data: bool = False
    # Lines of text a row is tall unless its answers need more: two on the lists, which
    # leaves room to write in "Người phụ trách" and "Ghi chú" by hand.
    row_lines: int = 1

    @property
    def slug(self) -> str:
        """An accent-free file name stem: "Thành viên" -> "thanh-vien"."""
        return "-".join(fold(self.title).replace("/", " ").split()) or self.key


def sheet_title(text: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in text).strip()
    if len(cleaned) <= SHEET_NAME_LIMIT:
        return cleaned
    cut = cleaned[:SHEET_NAME_LIMIT].rsplit(" ", 1)[0]
    return cut.rstrip(",;- ")


class Layout:
    """Sheets and row builders for one form and rule set; build once per export."""

    def __init__(self, form: Form, rules: RuleSet, tz: tzinfo) -> None:
        self.form = form
        self.rules = rules
        self.tz = tz
        self._rules_cache: dict[str, RuleSet] = {rules.version: rules}
        self.household_fields = form_columns(form, rules, ())
        self.member_fields = form_columns(form, rules, (MEMBERS,))
        by_name = {fc.field.name: fc for fc in self.member_fields}
        self.needs = by_name.get("support_needs")
        self.group_fields = [
            by_name[name]
            for name in ("sex", "employment_status", "incapacity_reason")
            if name in by_name
        ]
        self.group_extra = [
            by_name[name]
            for name in ("training_trade", "production_support_kinds")
            if name in by_name
        ]
        # The lists the commune acts on: every group but "no employment support needed" (the
        # same people the follow-up of support assigns officers to).
        wanted = set(support_groups(rules))
        self.action_groups = [g for g in rules.labour_groups if g.id in wanted]
        self.sheets = self._sheets()
        self.by_key = {sheet.key: sheet for sheet in self.sheets}

    # -- sheets -------------------------------------------------------------------------

    def _sheets(self) -> list[Sheet]:
        sheets = [
            Sheet(
                HOUSEHOLDS,
                header("exports.sheet.households"),
                self._household_columns(),
                data=True,
            ),
            Sheet(MEMBERS, header("exports.sheet.members"), self._member_columns(), data=True),
        ]
        for group in self.action_groups:
            title = catalog("vi").get(f"exports.sheet.group.{group.id}") or sheet_title(
                group.short.vi
            )
            preamble = (
                group.label.vi,
                header("exports.preamble.support", support=group.support.vi),
            )
            sheets.append(
                Sheet(
                    GROUP_PREFIX + group.id,
                    title,
                    self._group_columns(),
                    preamble,
                    row_lines=LIST_ROW_LINES,
                )
            )
        sheets.append(
            Sheet(
                DEPRIVATIONS,
                header("exports.sheet.deprivations"),
                self._deprivation_columns(),
                row_lines=LIST_ROW_LINES,
            )
        )
        return sheets

    @staticmethod
    def _common_columns() -> list[Column]:
        return [
            Column(header("exports.col.household_code"), Kind.TEXT, 12),
            Column(header("exports.col.village_code"), Kind.CODE, 12),
            Column(header("exports.col.village"), Kind.TEXT, 16),
            Column(header("exports.col.head_name"), Kind.TEXT, 22),
            *coded_columns(header("exports.col.category")),
        ]

    def _household_columns(self) -> tuple[Column, ...]:
        return (
            *self._common_columns(),
            *coded_columns(header("exports.col.status")),
            Column(header("exports.col.completed_at"), Kind.DATE, 12),
            Column(header("exports.col.source"), Kind.TEXT, 12),
            *(column for fc in self.household_fields for column in fc.columns),
            Column(header("exports.col.member_total"), Kind.NUMBER, 10),
            *coded_columns(header("exports.col.result"), 22),
            Column(header("exports.col.deprived_count"), Kind.NUMBER, 10),
            Column(header("exports.col.deprived"), Kind.TEXT, 16),
            *(Column(f"{i.id} {i.name.vi}", Kind.FLAG, 8) for i in self.rules.indicators),
            Column(header("exports.col.income_line"), Kind.NUMBER, 12),
            Column(header("exports.col.rule_set"), Kind.TEXT, 12),
            Column(header("exports.col.meeting_attended"), Kind.TEXT, 12),
            Column(header("exports.col.meeting_needs"), Kind.TEXT, 24),
        )

    def _member_columns(self) -> tuple[Column, ...]:
        return (
            *self._common_columns(),
            *coded_columns(header("exports.col.household_result"), 22),
            Column(header("exports.col.member_no"), Kind.NUMBER, 6),
            *(column for fc in self.member_fields for column in fc.columns),
            Column(header("exports.col.age"), Kind.NUMBER, 6),
            *coded_columns(header("exports.col.member_result"), 22),
            *coded_columns(header("exports.col.group"), 30),
        )

    def _group_columns(self) -> tuple[Column, ...]:
        name = next((fc for fc in self.member_fields if fc.field.name == "name"), None)
        return (
            *self._common_columns(),
            Column(header("exports.col.member_no"), Kind.NUMBER, 6),
            *(name.columns if name else ()),
            Column(header("exports.col.age"), Kind.NUMBER, 6),
            *(column for fc in self.group_fields for column in fc.columns),
            *(self.needs.columns if self.needs else ()),
            *(column for fc in self.group_extra for column in fc.columns),
            Column(header("exports.col.person_in_charge"), Kind.TEXT, 20),
            Column(header("exports.col.officer_phone"), Kind.TEXT, 14),
            Column(header("exports.col.note"), Kind.TEXT, 20),
        )

    def _deprivation_columns(self) -> tuple[Column, ...]:
        return (
            *self._common_columns(),
            *coded_columns(header("exports.col.household_result"), 22),
            Column(header("exports.col.indicator_id"), Kind.TEXT, 8),
            Column(header("exports.col.indicator"), Kind.TEXT, 24),
            Column(header("exports.col.dimension"), Kind.TEXT, 12),
            Column(header("exports.col.detail"), Kind.TEXT, 40),
            Column(header("exports.col.office"), Kind.TEXT, 36),
            Column(header("exports.col.programme"), Kind.TEXT, 40),
        )

    # -- rows ---------------------------------------------------------------------------

    def rows(self, record: HouseholdRecord) -> Iterator[tuple[str, Row]]:
        """Every row one household contributes, tagged with its sheet's key."""
        common = self._common(record)
        result_cells = self._household_result(record.result)
        yield HOUSEHOLDS, self._household_row(record, common, result_cells)
        for index in record.member_indices():
            answers = record.members.get(index, {})
            result = record.member_results.get(index)
            yield MEMBERS, self._member_row(common, result_cells, index, answers, result)
            if result is not None and result.group and result.outcome == "grouped":
                key = GROUP_PREFIX + result.group
                if key in self.by_key:
                    officer = record.officers.get(index, (None, None))
                    yield key, self._group_row(common, index, answers, result, officer)
        if record.result is not None:
            for indicator in record.result.deprived:
                yield (
                    DEPRIVATIONS,
                    self._deprivation_row(common, result_cells, record.result, indicator),
                )

    def _common(self, record: HouseholdRecord) -> Row:
        return [
            record.code,
            record.village_code,
            record.village_name,
            record.head_name,
            record.category,
            header(f"exports.category.{record.category}"),
        ]

    def _household_result(self, result: Result | None) -> Row:
        if result is None:
            return [None, None]
        rules = self.rules_for(result.rule_set)
        key = f"household.{result.outcome}"
        label = rules.text(key, "vi") if key in rules.texts else result.outcome
        return [result.outcome, label]

    def _household_row(self, record: HouseholdRecord, common: Row, result_cells: Row) -> Row:
        completed = record.completed_at.astimezone(self.tz).date() if record.completed_at else None
        row: Row = [
            *common,
            record.status,
            header(f"exports.status.{record.status}"),
            completed,
            record.source,
        ]
        answers = record.answers
        for fc in self.household_fields:
            row += fc.cells(answers.get(fc.field.name))
        result = record.result
        row.append(len(record.member_indices()) if record.status == "completed" else None)
        row += result_cells
        if result is None:
            row += [None, None, *(None for _ in self.rules.indicators), None, None]
        else:
            deprived = set(result.deprived)
            row += [
                len(result.deprived),
                LIST_SEPARATOR.join(result.deprived),
                *(1 if i.id in deprived else 0 for i in self.rules.indicators),
                _number(result.details.get("income_line")),
                result.rule_set,
            ]
        return row + self._meeting_cells(record)

    def _meeting_cells(self, record: HouseholdRecord) -> Row:
        """The latest policy dialogue recorded for the household: present or not, and the
        needs voiced there, in the rule set's words, with the note."""
        if record.meeting_attended is None:
            return [None, None]
        attended = header(
            "exports.meeting.present" if record.meeting_attended else "exports.meeting.absent"
        )
        labels = {n.id: n.label.vi for n in self.rules.support_needs}
        needs = LIST_SEPARATOR.join(labels.get(code, code) for code in record.meeting_needs)
        if record.meeting_note:
            needs = f"{needs} ({record.meeting_note})" if needs else record.meeting_note
        return [attended, needs or None]

    def _member_row(
        self,
        common: Row,
        result_cells: Row,
        index: int,
        answers: Mapping[str, Any],
        result: Result | None,
    ) -> Row:
        row: Row = [*common, *result_cells, index + 1]
        for fc in self.member_fields:
            row += fc.cells(answers.get(fc.field.name))
        row.append(_age(result))
        row += self._member_outcome(result)
        return row

    def _member_outcome(self, result: Result | None) -> Row:
        if result is None:
            return [None, None, None, None]
        group_label = None
        if result.group:
            group = self.rules_for(result.rule_set).groups_by_id.get(result.group)
            group_label = group.short.vi if group else result.group
        return [
            result.outcome,
            header(f"exports.outcome.{result.outcome}"),
            result.group,
            group_label,
        ]

    def _group_row(
        self,
        common: Row,
        index: int,
        answers: Mapping[str, Any],
        result: Result,
        officer: tuple[str | None, str | None] = (None, None),
    ) -> Row:
        row: Row = [*common, index + 1, _text(answers.get("name")), _age(result)]
        for fc in self.group_fields:
            row += fc.cells(answers.get(fc.field.name))
        if self.needs is not None:
            wished = answers.get("support_needs")
            if wished is None and result.details.get("needs"):
                wished = list(result.details["needs"])
            row += self.needs.cells(wished)
        for fc in self.group_extra:
            row += fc.cells(answers.get(fc.field.name))
        row += [*officer, None]
        return row

    def _deprivation_row(
        self, common: Row, result_cells: Row, result: Result, indicator_id: str
    ) -> Row:
        rules = self.rules_for(result.rule_set)
        indicator = rules.indicators_by_id.get(indicator_id)
        if indicator is None:
            return [*common, *result_cells, indicator_id, None, None, None, None, None]
        return [
            *common,
            *result_cells,
            indicator.id,
            indicator.name.vi,
            indicator.dimension.vi,
            self._indicator_detail(result, indicator_id, rules),
            OFFICE_SEPARATOR.join(_unique(c.office.vi for c in indicator.support)),
            OFFICE_SEPARATOR.join(_unique(c.programme.vi for c in indicator.support)),
        ]

    def _indicator_detail(self, result: Result, indicator_id: str, rules: RuleSet) -> str | None:
        for item in result.details.get("indicators") or ():
            if isinstance(item, Mapping) and item.get("indicator") == indicator_id:
                reasons = [_reason(r) for r in item.get("reasons") or () if isinstance(r, Mapping)]
                text = render_reasons(reasons, rules, "vi")
                return capitalise(text) if text else None
        return None

    def rules_for(self, version: str) -> RuleSet:
        """The rule set a stored result was made with, for its labels."""
        found = self._rules_cache.get(version)
        if found is None:
            try:
                found = load_rule_set(version)
            except UnknownVersionError:
                found = self.rules
            self._rules_cache[version] = found
        return found


def _reason(data: Mapping[str, Any]) -> Reason:
    params = tuple((str(k), v) for k, v in data.get("params") or ())
    return Reason(str(data.get("code")), str(data.get("value")), params)


def _age(result: Result | None) -> int | None:
    if result is None:
        return None
    age = result.details.get("age")
    if isinstance(age, Mapping) and isinstance(age.get("years"), int):
        return int(age["years"])
    return None


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _unique(items: Iterator[str] | Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
