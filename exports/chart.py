"""A PNG chart of the employment statuses per category, sent with /summary.

matplotlib is imported on first use (it takes about a second). The figure is built on
matplotlib's object API with the Agg canvas, never through pyplot: the bot has no display,
a GUI backend would fail or block, and pyplot's global figure list is not safe to share
between the bot's concurrent requests.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from exports.summary import CATEGORIES, STATUSES, SummaryReport, format_count
from locales.catalog import format_number, translate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# DejaVu Sans ships with matplotlib and covers every Vietnamese letter.
FONT = "DejaVu Sans"
COLOURS = {"poor": "#c0392b", "near_poor": "#e67e22", "escaped": "#27ae60"}
# The x axis runs this far past the longest bar, so the number after it stays on the chart.
LABEL_ROOM = 1.15


def employment_chart(report: SummaryReport, locale: str = "vi") -> bytes:
    """Horizontal bars: for each of the seven statuses, the people of each category."""
    figure = employment_figure(report, locale)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def employment_figure(report: SummaryReport, locale: str = "vi") -> Figure:
    """The chart as a matplotlib figure (on the Agg canvas), for drawing or inspection."""
    # Imported here: matplotlib takes a while to load and only /summary's chart needs it.
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    categories = [c for c in CATEGORIES if report.counts(c).aged_15_plus > 0] or list(CATEGORIES)
    labels = [translate(f"summary.status.{name}", locale) for name in STATUSES]
    height = 0.8 / len(categories)
    longest = 0
    with matplotlib.rc_context({"font.family": FONT, "font.size": 10}):
        # Constrained layout makes room outside the plot for the legend below it.
        figure = Figure(figsize=(8, 5.5), dpi=110, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots()
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
            longest = max(longest, *values)
        axes.set_yticks(range(len(STATUSES)), labels)
        axes.invert_yaxis()
        axes.set_xlabel(translate("summary.chart.people", locale))
        axes.set_title(
            translate("summary.chart.title", locale, area=report.area_name, year=report.year)
        )
        # Room after the longest bar for its number.
        axes.set_xlim(0, max(longest, 1) * LABEL_ROOM)
        # People are counted in whole numbers, written as the text writes them ("2.500").
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_number(int(x), locale)))
        # Below the plot, not in it: inside, it covered the numbers of the longest bars.
        figure.legend(loc="outside lower center", ncols=len(categories), frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        # Drawn inside the rc_context, so the text is laid out in its font.
        figure.canvas.draw()
    return figure


def _label_bars(axes: Any, bars: Any, values: list[int], locale: str) -> None:
    # The exact number next to each bar: the chart is read next to the text, which
    # gives numbers, so a reader can match them.
    axes.bar_label(bars, labels=[format_count(v, locale) if v else "" for v in values], padding=2)


__all__ = ["employment_chart", "employment_figure"]
