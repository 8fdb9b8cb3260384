"""A PNG chart of the employment statuses per category, sent with /summary.

matplotlib is imported on first use (it takes about a second) and always with the Agg
backend: the bot has no display, and a GUI backend would fail or block.
"""

from __future__ import annotations

import io
from typing import Any

from bot.i18n import translate
from exports.summary import CATEGORIES, STATUSES, SummaryReport, format_count

# DejaVu Sans ships with matplotlib and covers every Vietnamese letter.
FONT = "DejaVu Sans"
COLOURS = {"poor": "#c0392b", "near_poor": "#e67e22", "escaped": "#27ae60"}


def employment_chart(report: SummaryReport, locale: str = "vi") -> bytes:
    """Horizontal bars: for each of the seven statuses, the people of each category."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    categories = [c for c in CATEGORIES if report.counts(c).aged_15_plus > 0] or list(CATEGORIES)
    labels = [translate(f"summary.status.{name}", locale) for name in STATUSES]
    height = 0.8 / len(categories)
    with matplotlib.rc_context({"font.family": FONT, "font.size": 10}):
        figure, axes = pyplot.subplots(figsize=(8, 5.5), dpi=110)
        try:
            for offset, category in enumerate(categories):
                counts = report.counts(category)
                values = [counts.status(name) for name in STATUSES]
                positions = [i + (offset - (len(categories) - 1) / 2) * height for i in range(7)]
                bars = axes.barh(
                    positions,
                    values,
                    height=height,
                    color=COLOURS[category.value],
                    label=translate(f"summary.chart.{category.value}", locale),
                )
                _label_bars(axes, bars, values, locale)
            axes.set_yticks(range(len(STATUSES)), labels)
            axes.invert_yaxis()
            axes.set_xlabel(translate("summary.chart.people", locale))
            axes.set_title(
                translate("summary.chart.title", locale, area=report.area_name, year=report.year)
            )
            axes.legend(loc="lower right")
            axes.spines[["top", "right"]].set_visible(False)
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            return buffer.getvalue()
        finally:
            pyplot.close(figure)


def _label_bars(axes: Any, bars: Any, values: list[int], locale: str) -> None:
    # The exact number next to each bar: the chart is read next to the text, which
    # gives numbers, so a reader can match them.
    axes.bar_label(bars, labels=[format_count(v, locale) if v else "" for v in values], padding=2)


__all__ = ["employment_chart"]
