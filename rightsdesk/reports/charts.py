"""Small bar charts drawn on the server as inline SVG.

The admin console's CSP allows no script and no inline style, so a chart is plain SVG markup
with presentation attributes (``fill``, ``x``, ``font-size`` …); the page needs nothing else.
Every piece of text is escaped here: labels come from translations and, in principle, from data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
PLOT_TOP = 16
PLOT_HEIGHT = 180
LEFT = 44
RIGHT = 8
AXIS_LABELS = 34  # room under the plot for the month labels
LEGEND_ROW = 18
MOST_X_LABELS = 12
INK = "#1d2433"
MUTED = "#5b6474"
GRID = "#dde1e7"
PALETTE = ("#1f5fbf", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b", "#16a2b8", "#7f8c8d")


@dataclass(frozen=True)
class Series:
    """One stacked layer: a label for the legend and one value per category."""

    label: str
    values: Sequence[int]


def nice_top(largest: float) -> tuple[float, float]:
    """An axis maximum and tick step (1, 2 or 5 × 10ⁿ) with at most five steps."""
    if largest <= 0:
        return 1.0, 1.0
    for exponent in range(0, 12):
        for base in (1, 2, 5):
            step = base * 10**exponent
            if largest / step <= 5:
                return step * math.ceil(largest / step), float(step)
    return float(largest), float(largest)


def _number(value: float) -> str:
    return f"{value:g}"


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{INK}">{escape(content)}</text>'
    )


def _frame(
    chart_id: str, title: str, height: float, body: list[str], *, describe: str = ""
) -> Markup:
    chart_id = str(escape(chart_id))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'role="img" aria-labelledby="{chart_id}-title" '
        f'font-family="system-ui, sans-serif">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    if describe:
        parts.append(f"<desc>{escape(describe)}</desc>")
    parts.extend(body)
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _slot(count: int) -> float:
    return (WIDTH - LEFT - RIGHT) / max(count, 1)


def _axes(categories: Sequence[str], top: float, step: float, tick_format) -> list[str]:
    """Horizontal grid lines with their values, the base line, and every n-th category."""
    parts: list[str] = []
    base = PLOT_TOP + PLOT_HEIGHT
    ticks = round(top / step)
    for n in range(ticks + 1):
        y = base - PLOT_HEIGHT * n / ticks
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, tick_format(step * n), anchor="end", size=10))
    parts.append(
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    every = max(1, math.ceil(len(categories) / MOST_X_LABELS))
    slot = _slot(len(categories))
    for index, label in enumerate(categories):
        if (len(categories) - 1 - index) % every == 0:  # always label the newest category
            parts.append(_text(LEFT + slot * (index + 0.5), base + 16, label, size=10))
    return parts


def stacked_bars(
    categories: Sequence[str], series: Sequence[Series], *, title: str, chart_id: str
) -> Markup:
    """One bar per category, stacked by series, with a legend of the series that occur."""
    shown = [(s, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series) if any(s.values)]
    totals = [sum(s.values[i] for s, _ in shown) for i in range(len(categories))]
    top, step = nice_top(max(totals, default=0))
    slot = _slot(len(categories))
    body = _axes(categories, top, step, _number)
    for index, category in enumerate(categories):
        body += _stack(index, category, shown, top, slot)
    legend_top = PLOT_TOP + PLOT_HEIGHT + AXIS_LABELS
    body += _legend(shown, legend_top)
    height = legend_top + LEGEND_ROW * math.ceil(len(shown) / 2) + 4
    return _frame(chart_id, title, height, body)


def _stack(
    index: int, category: str, shown: list[tuple[Series, str]], top: float, slot: float
) -> list[str]:
    """One category's bar: a rectangle per series with a value, bottom up."""
    bar = slot * 0.7
    y = PLOT_TOP + PLOT_HEIGHT
    parts = []
    for layer, colour in shown:
        value = layer.values[index]
        if not value:
            continue
        height = PLOT_HEIGHT * value / top
        y -= height
        parts.append(
            f'<rect x="{LEFT + slot * index + (slot - bar) / 2:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
            f"<title>{escape(f'{category} · {layer.label}: {value}')}</title></rect>"
        )
    return parts


def _legend(shown: list[tuple[Series, str]], legend_top: float) -> list[str]:
    """The series in two columns under the plot: a swatch and the label."""
    parts = []
    column = (WIDTH - LEFT) / 2
    for n, (layer, colour) in enumerate(shown):
        x = LEFT + column * (n % 2)
        y = legend_top + LEGEND_ROW * (n // 2)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 18, y + 10, layer.label, anchor="start"))
    return parts


def rate_bars(
    categories: Sequence[str],
    rates: Sequence[float | None],
    *,
    title: str,
    chart_id: str,
    describe: str = "",
) -> Markup:
    """One bar per category on a 0–100 % axis; a category without a rate gets no bar."""
    slot = _slot(len(categories))
    body = _axes(categories, 1.0, 0.25, lambda value: f"{value * 100:.0f}%")
    label_bars = len(categories) <= MOST_X_LABELS
    for index, (category, rate) in enumerate(zip(categories, rates, strict=True)):
        if rate is not None:
            body += _rate_bar(LEFT + slot * index, slot, category, rate, labelled=label_bars)
    return _frame(chart_id, title, PLOT_TOP + PLOT_HEIGHT + AXIS_LABELS, body, describe=describe)


def _rate_bar(left: float, slot: float, category: str, rate: float, *, labelled: bool) -> list[str]:
    """A category's bar in its slot (from ``left``), with the percentage above it if labelled."""
    bar = slot * 0.6
    base = PLOT_TOP + PLOT_HEIGHT
    height = PLOT_HEIGHT * rate
    x = left + (slot - bar) / 2
    percent = f"{rate * 100:.0f}%"
    parts = [
        f'<rect x="{x:.1f}" y="{base - height:.1f}" width="{bar:.1f}" '
        f'height="{height:.1f}" fill="{PALETTE[2]}">'
        f"<title>{escape(f'{category}: {percent}')}</title></rect>"
    ]
    if labelled:
        parts.append(_text(x + bar / 2, base - height - 4, percent, size=10))
    return parts
