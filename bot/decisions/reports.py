"""Periodic reports (section III.9 of the plan: "báo cáo hằng quý, 06 tháng, năm"): the
periods, and the report computed from plain facts.

Pure: the shells read :class:`storage.report_facts.ReportFacts` and give "today"; nothing
here touches the database or the clock.

Periods are written ``quy 3 2026`` / ``6thang 1`` / ``nam 2026`` in chat (the number and
the year optional: the current one) and ``2026-Q3`` / ``2026-H1`` / ``2026`` on the command
line. A period's bounds are local days of the commune (``RASOAT_TIMEZONE``), the end
excluded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from enum import StrEnum

from classification.followup import FollowupData
from exports.report_tables import Table
from forms.parsing import ascii_int, fold
from locales.catalog import translate
from storage.report_facts import ContactFact, ReportFacts

FIRST_YEAR, LAST_YEAR = 2000, 2100
# The outcome codes of classification/followup.toml the plan asks to be counted.
FOUND_JOB = "found_job"
STARTED_TRAINING = "started_training"


class Span(StrEnum):
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"


MONTHS = {Span.QUARTER: 3, Span.HALF: 6, Span.YEAR: 12}
COUNT = {Span.QUARTER: 4, Span.HALF: 2, Span.YEAR: 1}
# Folded words people type for each span.
WORDS = {
    "quy": Span.QUARTER,
    "q": Span.QUARTER,
    "quarter": Span.QUARTER,
    "6thang": Span.HALF,
    "6 thang": Span.HALF,
    "6t": Span.HALF,
    "nua nam": Span.HALF,
    "half": Span.HALF,
    "nam": Span.YEAR,
    "year": Span.YEAR,
}
CODE = re.compile(r"^(\d{4})(?:-([QqHh])(\d))?$")


class PeriodError(ValueError):
    """Input that names no period: a catalog key and its parameters."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def text(self, locale: str = "vi") -> str:
        return translate(self.key, locale, **self.params)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    span: Span
    number: int

    @property
    def start(self) -> date:
        return date(self.year, (self.number - 1) * MONTHS[self.span] + 1, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        month = self.number * MONTHS[self.span] + 1
        return date(self.year + 1, 1, 1) if month > 12 else date(self.year, month, 1)

    @property
    def code(self) -> str:
        """The command line's spelling: 2026-Q3, 2026-H1, 2026."""
        match self.span:
            case Span.QUARTER:
                return f"{self.year}-Q{self.number}"
            case Span.HALF:
                return f"{self.year}-H{self.number}"
        return str(self.year)

    @property
    def command(self) -> str:
        """The chat's spelling, for "send it again" hints."""
        match self.span:
            case Span.QUARTER:
                return f"quy {self.number} {self.year}"
            case Span.HALF:
                return f"6thang {self.number} {self.year}"
        return f"nam {self.year}"

    def label(self, locale: str) -> str:
        return translate(f"reports.period.{self.span}", locale, number=self.number, year=self.year)

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """The period as instants: local midnight of its first day to that after its last."""
        return (
            datetime.combine(self.start, time(), tzinfo=tz),
            datetime.combine(self.end, time(), tzinfo=tz),
        )

    def previous(self) -> Period:
        if self.number > 1:
            return Period(self.year, self.span, self.number - 1)
        return Period(self.year - 1, self.span, COUNT[self.span])

    def next(self) -> Period:
        if self.number < COUNT[self.span]:
            return Period(self.year, self.span, self.number + 1)
        return Period(self.year + 1, self.span, 1)


def containing(span: Span, day: date) -> Period:
    """The period of ``span`` that ``day`` falls in."""
    return Period(day.year, span, (day.month - 1) // MONTHS[span] + 1)


def make(span: Span, year: int, number: int) -> Period:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError("reports.error.year", year=year, first=FIRST_YEAR, last=LAST_YEAR)
    if not 1 <= number <= COUNT[span]:
        raise PeriodError(f"reports.error.number.{span}", number=number)
    return Period(year, span, number)


def parse_chat(args: str, today: date) -> Period:
    """``quy 3 2026``, ``quý 3``, ``quy``, ``6 tháng 1``, ``năm 2026``, ``nam``; also
    ``2026-Q3``. Missing parts are today's; nothing at all is the current quarter."""
    # Bare /baocao (the menu's button) is the current quarter.
    text = fold(args) or "quy"
    if CODE.match(text.replace(" ", "")):
        return parse_code(text.replace(" ", ""))
    span, rest = None, ""
    for word in sorted(WORDS, key=len, reverse=True):
        if (
            text == word
            or text.startswith(word + " ")
            or (text.startswith(word) and (text[len(word) :].strip()[:1].isdigit()))
        ):
            span, rest = WORDS[word], text[len(word) :]
            break
    if span is None:
        raise PeriodError("reports.error.unknown", text=args.strip()[:40])
    numbers = []
    for token in rest.replace("/", " ").split():
        number = ascii_int(token)
        if number is None:
            raise PeriodError("reports.error.unknown", text=args.strip()[:40])
        numbers.append(number)
    current = containing(span, today)
    if span is Span.YEAR:
        if len(numbers) > 1:
            raise PeriodError("reports.error.unknown", text=args.strip()[:40])
        return make(span, numbers[0] if numbers else today.year, 1)
    if len(numbers) > 2:
        raise PeriodError("reports.error.unknown", text=args.strip()[:40])
    number = numbers[0] if numbers else current.number
    year = numbers[1] if len(numbers) > 1 else today.year
    return make(span, year, number)


def parse_code(text: str) -> Period:
    """``2026-Q3``, ``2026-H1``, ``2026`` (the command line's --period)."""
    match = CODE.match(text.strip())
    if match is None:
        raise PeriodError("reports.error.code", text=text.strip()[:40])
    year, letter, number = match.groups()
    if letter is None:
        return make(Span.YEAR, int(year), 1)
    span = Span.QUARTER if letter.upper() == "Q" else Span.HALF
    return make(span, int(year), int(number))


# -- the report -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """Contacts recorded and distinct people they reached."""

    contacts: int = 0
    people: int = 0


@dataclass(frozen=True, slots=True)
class Line:
    code: str
    label: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class PeriodicReport:
    period: Period
    area_code: str
    area_name: str
    review_year: int
    total: Tally
    by_group: tuple[Line, ...]
    by_programme: tuple[Line, ...]
    by_village: tuple[Line, ...]
    found_job: int
    started_training: int
    meetings: int
    invited: int
    attended: int
    people: int
    unassigned: int
    not_visited: int


def _tally(contacts: Iterable[ContactFact]) -> Tally:
    items = list(contacts)
    return Tally(len(items), len({(c.household_id, c.member_index) for c in items}))


def _lines(
    contacts: tuple[ContactFact, ...],
    key: dict[str, str],
    of: str,
) -> tuple[Line, ...]:
    """One line per code in ``key`` (label by code), in that order, then codes no longer
    listed, as stored."""
    codes = list(key)
    seen = Counter(getattr(c, of) or "none" for c in contacts)
    codes += sorted(code for code in seen if code not in key)
    return tuple(
        Line(
            code,
            key.get(code, code),
            _tally(c for c in contacts if (getattr(c, of) or "none") == code),
        )
        for code in codes
    )


def build(
    facts: ReportFacts,
    period: Period,
    data: FollowupData,
    group_labels: dict[str, str],
    locale: str,
) -> PeriodicReport:
    """The report of ``period``: ``facts`` are the area's (contacts and meetings already
    within the period); ``group_labels`` the support groups, in the rule set's order."""
    contacts = tuple(c for c in facts.contacts if period.start <= c.day < period.end)
    lang = "vi" if locale == "vi" else "en"
    programmes = {item.id: data.label("programmes", item.id, lang) for item in data.programmes}
    villages = {str(vid): name for vid, name in sorted(facts.villages.items(), key=lambda i: i[1])}
    by_village = tuple(
        Line(
            str(vid),
            name,
            _tally(c for c in contacts if str(c.village_id) == vid),
        )
        for vid, name in villages.items()
    )
    visited = {(c.household_id, c.member_index) for c in contacts}
    assigned = [p for p in facts.people if p.assigned]
    return PeriodicReport(
        period=period,
        area_code=facts.area_code,
        area_name=facts.area_name,
        review_year=facts.review_year,
        total=_tally(contacts),
        by_group=_lines(contacts, group_labels, "group"),
        by_programme=_lines(contacts, programmes, "programme"),
        by_village=by_village,
        found_job=_tally(c for c in contacts if c.outcome == FOUND_JOB).people,
        started_training=_tally(c for c in contacts if c.outcome == STARTED_TRAINING).people,
        meetings=len(facts.meetings),
        invited=sum(m.invited for m in facts.meetings),
        attended=sum(m.attended for m in facts.meetings),
        people=len(facts.people),
        unassigned=len(facts.people) - len(assigned),
        not_visited=sum(1 for p in assigned if (p.household_id, p.member_index) not in visited),
    )


def render(report: PeriodicReport, locale: str) -> str:
    """The report as a chat message."""

    def t(key: str, **params: object) -> str:
        return translate(f"reports.{key}", locale, **params)

    def line(item: Line) -> str:
        return t("line", label=item.label, contacts=item.tally.contacts, people=item.tally.people)

    lines = [
        t("title", period=report.period.label(locale), area=report.area_name),
        "",
        t("support.title", contacts=report.total.contacts, people=report.total.people),
    ]
    if report.total.contacts:
        lines += [t("by_group"), *(line(i) for i in report.by_group if i.tally.contacts)]
        lines += [t("by_programme"), *(line(i) for i in report.by_programme if i.tally.contacts)]
        lines += [t("by_village"), *(line(i) for i in report.by_village if i.tally.contacts)]
    lines += [
        "",
        t("outcomes", found_job=report.found_job, started_training=report.started_training),
        "",
        t("meetings", meetings=report.meetings, invited=report.invited, attended=report.attended)
        if report.meetings
        else t("meetings.none"),
        "",
        t(
            "people",
            people=report.people,
            unassigned=report.unassigned,
            not_visited=report.not_visited,
            year=report.review_year,
        ),
    ]
    return "\n".join(lines)


def tables(report: PeriodicReport, locale: str) -> list[Table]:
    """The report's tables, for the workbook and the Word file."""

    def t(key: str, **params: object) -> str:
        return translate(f"reports.{key}", locale, **params)

    counts = (t("column.contacts"), t("column.people"))

    def table(key: str, lines: tuple[Line, ...]) -> Table:
        return Table(
            key,
            t(f"table.{key}"),
            (t(f"column.{key}"), *counts),
            tuple((i.label, i.tally.contacts, i.tally.people) for i in lines),
        )

    return [
        table("group", report.by_group),
        table("programme", report.by_programme),
        table("village", report.by_village),
        Table(
            "results",
            t("table.results"),
            (t("column.item"), t("column.number")),
            (
                (t("row.found_job"), report.found_job),
                (t("row.started_training"), report.started_training),
                (t("row.meetings"), report.meetings),
                (t("row.invited"), report.invited),
                (t("row.attended"), report.attended),
                (t("row.people"), report.people),
                (t("row.unassigned"), report.unassigned),
                (t("row.not_visited"), report.not_visited),
            ),
        ),
    ]


def paragraphs(report: PeriodicReport, locale: str) -> list[str]:
    """The Word file's text before its tables: the chat's sentences, one paragraph each
    (the per-line detail is in the tables)."""
    lines = render(report, locale).split("\n")[1:]
    return [line for line in lines if line and not line.startswith("•") and not line.endswith(":")]


def file_stem(report: PeriodicReport) -> str:
    return f"bao-cao-{report.area_code}-{report.period.code}"


def split_args(args: str) -> tuple[str, str | None]:
    """/baocao's words: the period, and an area code if one is given (a word with a dash
    and a letter, "87-MH-A1", unlike "2026-Q3")."""
    period, area = [], None
    for token in args.split():
        if (
            area is None
            and "-" in token
            and not CODE.match(token)
            and any(ch.isalpha() for ch in token.split("-", 1)[1])
            and not re.match(r"^\d{4}-[QqHh]\d$", token)
        ):
            area = token
        else:
            period.append(token)
    return " ".join(period), area
