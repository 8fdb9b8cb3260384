"""The /summary chart: every bar's number is readable, nothing covers it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from matplotlib.text import Text

from exports.chart import employment_chart, employment_figure
from exports.summary import STATUSES, Counts, SummaryReport
from storage.models import HouseholdCategory as Category


def _counts(statuses: Mapping[str, int]) -> Counts:
    people = sum(statuses.values())
    return Counts(10, 10, people, people, people, 0, dict(statuses))


def _report(categories: Mapping[Category, Mapping[str, int]]) -> SummaryReport:
    return SummaryReport(
        area_code="87-MH",
        area_name="Xã Mỹ Hòa",
        area_level="Xã",
        year=2026,
        total_households=1000,
        categories={category: _counts(values) for category, values in categories.items()},
    )


# The longest bars at the bottom right, where a legend inside the plot would sit; the same
# number everywhere; one category; three categories of very different sizes.
BOTTOM_HEAVY = {name: 10 + 400 * index for index, name in enumerate(STATUSES)}
EVEN = dict.fromkeys(STATUSES, 1281)
CASES = {
    "bottom-heavy, three categories": {
        Category.POOR: BOTTOM_HEAVY,
        Category.NEAR_POOR: BOTTOM_HEAVY,
        Category.ESCAPED: BOTTOM_HEAVY,
    },
    "even, one category": {Category.POOR: EVEN},
    "uneven sizes": {
        Category.POOR: {"employed": 3, "homemaker": 2500},
        Category.NEAR_POOR: {"homemaker": 40, "unwilling": 1900},
        Category.ESCAPED: {"employed": 2400, "studying": 7},
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_bar_label_is_covered_or_cut(case: str) -> None:
    figure = employment_figure(_report(CASES[case]))
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    [axes] = figure.axes
    labels = [t for t in axes.texts if isinstance(t, Text) and t.get_text()]
    assert len(labels) == sum(1 for values in CASES[case].values() for v in values.values() if v)
    legends = [axes.get_legend(), *figure.legends]
    [legend] = [legend for legend in legends if legend is not None]
    legend_box = legend.get_window_extent(renderer)
    page = figure.bbox
    for label in labels:
        box = label.get_window_extent(renderer)
        assert not box.overlaps(legend_box), f"the legend covers {label.get_text()!r}"
        inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
        assert inside, f"{label.get_text()!r} is cut off at the edge"


def test_the_chart_is_a_png() -> None:
    assert employment_chart(_report(CASES["even, one category"])).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("vi", ["0", "300", "600", "900", "1.200", "1.500", "1.800", "2.100", "2.400", "2.700"]),
        ("en", ["0", "300", "600", "900", "1,200", "1,500", "1,800", "2,100", "2,400", "2,700"]),
    ],
)
def test_axis_numbers_are_whole_and_written_as_the_text_writes_them(
    locale: str, expected: list[str]
) -> None:
    figure = employment_figure(_report(CASES["uneven sizes"]), locale)
    [axes] = figure.axes
    low, high = axes.get_xlim()
    shown = zip(axes.get_xticks(), axes.get_xticklabels(), strict=True)
    assert [label.get_text() for value, label in shown if low <= value <= high] == expected
