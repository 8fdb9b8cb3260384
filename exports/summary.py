"""The area statistics of the district report (section II.1 and II.2), as pure functions.

:class:`SummaryReport` holds plain counts (built by :mod:`exports.stats`); this module turns
them into the report's text, in the district's own layout and wording, and into rows for the
spreadsheet and document exports. Nothing here touches the database, so the wording and the
arithmetic are tested on hand-made numbers.

Denominators are the district's: the capacity lines use all members of the category; the
seven employment statuses use the members aged 15 and over (the plan calls them "tổng số
người khả năng lao động"), "không có khả năng lao động" being the members without working
capacity, who are not asked their employment status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from classification.vocabulary import MEMBER_CHOICES
from locales.catalog import format_number, translate
from storage.models import HouseholdCategory

# The form's employment statuses, in its order, which is the report's (checked against the
# workbook at start with the rest of the vocabulary).
STATUSES: tuple[str, ...] = MEMBER_CHOICES["employment_status"]
# "không có việc làm, đang tìm việc làm": the members the support plan targets first.
SEEKING: tuple[str, ...] = ("no_job", "looking")
CATEGORIES: tuple[HouseholdCategory, ...] = (
    HouseholdCategory.POOR,
    HouseholdCategory.NEAR_POOR,
    HouseholdCategory.ESCAPED,
)
# The rate is only meaningful (and only reported) for the categories counted against all
# households of the area.
RATED: frozenset[HouseholdCategory] = frozenset(
    {HouseholdCategory.POOR, HouseholdCategory.NEAR_POOR}
)
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Counts:
    """One category of one area and year.

    ``households`` comes from the official roster; the member counts come from the
    completed interviews of ``interviewed`` of those households.
    """

    households: int = 0
    interviewed: int = 0
    members: int = 0
    aged_15_plus: int = 0
    able: int = 0
    unable: int = 0
    # The seven statuses of STATUSES; "unable" equals ``unable`` above.
    statuses: Mapping[str, int] = field(default_factory=dict)

    def status(self, name: str) -> int:
        return int(self.statuses.get(name, 0))

    @property
    def seeking(self) -> int:
        return sum(self.status(name) for name in SEEKING)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            households=self.households + other.households,
            interviewed=self.interviewed + other.interviewed,
            members=self.members + other.members,
            aged_15_plus=self.aged_15_plus + other.aged_15_plus,
            able=self.able + other.able,
            unable=self.unable + other.unable,
            statuses={name: self.status(name) + other.status(name) for name in STATUSES},
        )


@dataclass(frozen=True, slots=True)
class PreviousYear:
    """Last year's households per category and all households, for the rate's change."""

    year: int
    total_households: int | None
    households: Mapping[HouseholdCategory, int]

    def rate(self, category: HouseholdCategory) -> Decimal | None:
        count = self.households.get(category)
        if count is None or not self.total_households:
            return None
        return percent(count, self.total_households)


@dataclass(frozen=True, slots=True)
class SummaryReport:
    area_code: str
    area_name: str
    # Free text from the area tree ("huyện", "xã", "ấp"): "trên địa bàn huyện".
    area_level: str
    year: int
    # All households of the area (the rate's denominator); None when nobody entered it.
    total_households: int | None
    categories: Mapping[HouseholdCategory, Counts]
    previous: PreviousYear | None = None

    def counts(self, category: HouseholdCategory) -> Counts:
        return self.categories.get(category) or Counts()

    @property
    def households(self) -> int:
        return sum(self.counts(category).households for category in CATEGORIES)

    @property
    def interviewed(self) -> int:
        return sum(self.counts(category).interviewed for category in CATEGORIES)

    def rate(self, category: HouseholdCategory) -> Decimal | None:
        if not self.total_households:
            return None
        return percent(self.counts(category).households, self.total_households)

    def rate_change(self, category: HouseholdCategory) -> Decimal | None:
        """This year's rate minus last year's, both as displayed: a reader who compares the
        two printed rates finds the printed change."""
        current = self.rate(category)
        previous = self.previous.rate(category) if self.previous is not None else None
        if current is None or previous is None:
            return None
        return current - previous


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One line of the report in tabular form, for the xlsx summary sheet and the docx.

    ``level`` is 0 for a category's headline, 1 for a group heading, 2 for an item;
    ``percent`` is already rounded to 2 decimals (None where the report shows none).
    """

    category: HouseholdCategory | None
    level: int
    label: str
    count: int | None
    percent: Decimal | None
    # What ``percent`` is a share of, in words ("tổng số nhân khẩu hộ nghèo").
    of: str = ""


# -- numbers -----------------------------------------------------------------------------


def percent(part: int, whole: int) -> Decimal:
    """``part`` of ``whole`` in percent, rounded half up to 2 decimals; 0 for an empty whole."""
    if whole <= 0:
        return Decimal(0)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def format_count(value: int, locale: str = "vi") -> str:
    """ "1.281"; Vietnamese reports write counts under ten with two digits ("04 người")."""
    if locale == "vi" and 0 < value < 10:
        return f"{value:02d}"
    return format_number(value, locale)


def format_percent(value: Decimal, locale: str = "vi") -> str:
    """ "52,77", "40,1", "0,41", "8": at most 2 decimals, trailing zeros dropped."""
    # Rounded half up first: the report's own rounding, not babel's half-even.
    return format_number(value.quantize(HUNDREDTH, rounding=ROUND_HALF_UP), locale)


# -- text --------------------------------------------------------------------------------


def render_summary(
    report: SummaryReport, locale: str = "vi", *, villages: Sequence[SummaryReport] = ()
) -> str:
    """The report as text: header, a) poor, b) near-poor, c) escaped, the support lines,
    then (if given) one compact line per village or child area."""

    def t(key: str, /, **params: object) -> str:
        return translate(key, locale, **params)

    blocks: list[list[str]] = [_header(report, locale)]
    blocks.extend(_category_block(report, category, locale) for category in CATEGORIES)
    blocks.append(_support_block(report, locale))
    if villages:
        blocks.append([t("summary.villages.title"), *render_village_lines(villages, locale)])
    return "\n\n".join("\n".join(block) for block in blocks)


def _header(report: SummaryReport, locale: str) -> list[str]:
    lines = [translate("summary.title", locale, area=report.area_name, year=report.year)]
    if report.households == 0:
        lines.append(translate("summary.no_households", locale, year=report.year))
    elif report.interviewed < report.households:
        lines.append(
            translate(
                "summary.coverage",
                locale,
                done=format_count(report.interviewed, locale),
                total=format_count(report.households, locale),
            )
        )
    return lines


def _category_block(report: SummaryReport, category: HouseholdCategory, locale: str) -> list[str]:
    def t(key: str, /, **params: object) -> str:
        return translate(key, locale, **params)

    def n(value: int) -> str:
        return format_count(value, locale)

    def p(value: Decimal) -> str:
        return format_percent(value, locale)

    counts = report.counts(category)
    group = t(f"summary.group.{category.value}")
    lines = [
        t(
            f"summary.headline.{category.value}",
            households=n(counts.households),
            rate=_rate_text(report, category, locale),
            members=n(counts.members),
            adults=n(counts.aged_15_plus),
            adults_percent=p(percent(counts.aged_15_plus, counts.members)),
        ),
    ]
    if counts.households == 0 and counts.members == 0:
        # Nothing to break down: ten lines of zeros would only hide the other blocks.
        return lines
    lines += [
        t("summary.capacity"),
        t(
            "summary.capacity.able",
            count=n(counts.able),
            percent=p(percent(counts.able, counts.members)),
            group=group,
        ),
        t(
            "summary.capacity.unable",
            count=n(counts.unable),
            percent=p(percent(counts.unable, counts.members)),
            group=group,
        ),
        t("summary.employment"),
    ]
    lines.extend(
        t(
            "summary.status_line",
            status=t(f"summary.status.{name}"),
            count=n(counts.status(name)),
            percent=p(percent(counts.status(name), counts.aged_15_plus)),
        )
        for name in STATUSES
    )
    return lines


def _rate_text(report: SummaryReport, category: HouseholdCategory, locale: str) -> str:
    rate = report.rate(category) if category in RATED else None
    if rate is None:
        return ""
    change = report.rate_change(category)
    if change is None:
        change_text = ""
    elif change < 0:
        change_text = translate(
            "summary.change.down", locale, change=format_percent(-change, locale)
        )
    elif change > 0:
        change_text = translate("summary.change.up", locale, change=format_percent(change, locale))
    else:
        change_text = translate("summary.change.same", locale)
    return translate("summary.rate", locale, rate=format_percent(rate, locale), change=change_text)


def _support_block(report: SummaryReport, locale: str) -> list[str]:
    poor = report.counts(HouseholdCategory.POOR)
    near_poor = report.counts(HouseholdCategory.NEAR_POOR)
    escaped = report.counts(HouseholdCategory.ESCAPED)
    lines = [
        translate("summary.support.title", locale),
        translate(
            "summary.support.seeking",
            locale,
            place=place(report, locale),
            poor=format_count(poor.seeking, locale),
            near_poor=format_count(near_poor.seeking, locale),
        ),
    ]
    if escaped.seeking:
        lines.append(
            translate(
                "summary.support.seeking_escaped",
                locale,
                count=format_count(escaped.seeking, locale),
            )
        )
    lines.append(
        translate(
            "summary.support.unable",
            locale,
            poor=format_count(poor.unable, locale),
            near_poor=format_count(near_poor.unable, locale),
        )
    )
    return lines


def place(report: SummaryReport, locale: str) -> str:
    """ "huyện" in "trên địa bàn huyện"; English has no such word, so the area's name."""
    if locale == "vi" and report.area_level.strip():
        return report.area_level.strip().lower()
    return report.area_name


def render_village_lines(villages: Sequence[SummaryReport], locale: str = "vi") -> list[str]:
    """One compact line per child area: households and rate per category, members,
    members seeking work, interview progress."""
    lines = []
    for village in villages:
        params: dict[str, object] = {}
        for category in CATEGORIES:
            key = category.value
            params[key] = format_count(village.counts(category).households, locale)
            rate = village.rate(category)
            params[f"{key}_rate"] = "—" if rate is None else f"{format_percent(rate, locale)}%"
        lines.append(
            translate(
                "summary.villages.row",
                locale,
                area=village.area_name,
                members=format_count(sum(village.counts(c).members for c in CATEGORIES), locale),
                seeking=format_count(sum(village.counts(c).seeking for c in CATEGORIES), locale),
                done=format_count(village.interviewed, locale),
                total=format_count(village.households, locale),
                **params,
            )
        )
    return lines


# -- rows --------------------------------------------------------------------------------


def summary_rows(report: SummaryReport, locale: str = "vi") -> list[SummaryRow]:
    """The report as (label, count, percent) rows, in the order and with the denominators
    of the text, followed by the support rows (category None for the totals)."""

    def t(key: str, /, **params: object) -> str:
        return translate(key, locale, **params)

    rows: list[SummaryRow] = []
    for category in CATEGORIES:
        counts = report.counts(category)
        group = t(f"summary.group.{category.value}")
        members_of = t("summary.rows.members_of", group=group)
        adults_of = t("summary.rows.adults_of")
        rate = report.rate(category) if category in RATED else None
        rows += [
            SummaryRow(
                category,
                0,
                t(f"summary.rows.households.{category.value}"),
                counts.households,
                rate,
                t("summary.rows.all_households") if rate is not None else "",
            ),
            SummaryRow(category, 1, t("summary.rows.members"), counts.members, None),
            SummaryRow(
                category,
                1,
                t("summary.rows.adults"),
                counts.aged_15_plus,
                percent(counts.aged_15_plus, counts.members),
                members_of,
            ),
            SummaryRow(category, 1, t("summary.rows.capacity"), None, None),
            SummaryRow(
                category,
                2,
                t("summary.rows.able"),
                counts.able,
                percent(counts.able, counts.members),
                members_of,
            ),
            SummaryRow(
                category,
                2,
                t("summary.rows.unable"),
                counts.unable,
                percent(counts.unable, counts.members),
                members_of,
            ),
            SummaryRow(category, 1, t("summary.rows.employment"), None, None),
        ]
        rows += [
            SummaryRow(
                category,
                2,
                t(f"summary.status.{name}"),
                counts.status(name),
                percent(counts.status(name), counts.aged_15_plus),
                adults_of,
            )
            for name in STATUSES
        ]
    for category in CATEGORIES:
        counts = report.counts(category)
        group = t(f"summary.group.{category.value}")
        rows.append(
            SummaryRow(category, 1, t("summary.rows.seeking", group=group), counts.seeking, None)
        )
        rows.append(
            SummaryRow(category, 1, t("summary.rows.unable_of", group=group), counts.unable, None)
        )
    return rows


__all__ = [
    "CATEGORIES",
    "SEEKING",
    "STATUSES",
    "Counts",
    "PreviousYear",
    "SummaryReport",
    "SummaryRow",
    "format_count",
    "format_percent",
    "percent",
    "render_summary",
    "render_village_lines",
    "summary_rows",
]
