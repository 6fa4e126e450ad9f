"""Small inline SVG bar charts for the statistics pages: no script, a ``<title>`` and ``<desc>``,
scaled by the viewBox to any width down to a 360-px phone. The numbers are always in a table beside
the chart too (the chart is a picture of the table, not a replacement for it)."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 350
LABEL = 92          # room for a region name of six characters at 12 px
BAR_END = 270
ROW = 24
#: Fill colours for up to four series, dark to light, told apart by lightness as well as hue.
COLOURS = ("#1d4f91", "#b8560b", "#6b8fc2", "#d9d9d9")


def _label(text: str, limit: int = 7) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _open(chart_id: str, height: int, title: str, summary: str) -> str:
    """The opening of a chart: its box, and the title and summary that name it to screen readers."""
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(summary)}</desc>')


def stacked_bars(chart_id: str, title: str, summary: str, rows: list[tuple[str, list[int]]],
                 series: list[str]) -> Markup:
    """A horizontal stacked bar per row (label, one value per series), a legend and each total."""
    top = max((sum(v for v in values if v) for _, values in rows), default=0) or 1
    scale = (BAR_END - LABEL) / top
    legend_h = 20
    height = legend_h + ROW * len(rows) + 4
    parts = [_open(chart_id, height, title, summary)]
    x = 0
    for i, name in enumerate(series):
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{COLOURS[i]}"/>'
                     f'<text x="{x + 14}" y="13" font-size="11">{escape(name)}</text>')
        x += 24 + 12 * len(name)
    for r, (label, values) in enumerate(rows):
        y = legend_h + r * ROW
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(_label(label))}</text>')
        left = float(LABEL)
        for i, value in enumerate(values):
            if value:
                w = value * scale
                parts.append(f'<rect x="{left:.1f}" y="{y + 3}" width="{w:.1f}" height="16" fill="{COLOURS[i]}"/>')
                left += w
        total = sum(v for v in values if v)
        parts.append(f'<text x="{left + 4:.1f}" y="{y + 15}" font-size="12">{total}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def paired_bars(chart_id: str, title: str, summary: str, rows: list[tuple[str, int | None, int]],
                names: tuple[str, str]) -> Markup:
    """For each row a pale bar of the limit (quota) with a dark bar of what is used over it."""
    top = max((max(limit or 0, used) for _, limit, used in rows), default=0) or 1
    scale = (BAR_END - LABEL) / top
    legend_h = 20
    height = legend_h + ROW * len(rows) + 4
    parts = [_open(chart_id, height, title, summary),
             (f'<rect x="0" y="4" width="10" height="10" fill="{COLOURS[3]}" stroke="#555"/>'
              f'<text x="14" y="13" font-size="11">{escape(names[0])}</text>'
              f'<rect x="90" y="4" width="10" height="10" fill="{COLOURS[0]}"/>'
              f'<text x="104" y="13" font-size="11">{escape(names[1])}</text>')]
    for r, (label, limit, used) in enumerate(rows):
        y = legend_h + r * ROW
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(_label(label))}</text>')
        if limit:
            parts.append(f'<rect x="{LABEL}" y="{y + 3}" width="{limit * scale:.1f}" height="16" '
                         f'fill="{COLOURS[3]}" stroke="#555" stroke-width="0.5"/>')
        if used:
            parts.append(f'<rect x="{LABEL}" y="{y + 7}" width="{used * scale:.1f}" height="8" fill="{COLOURS[0]}"/>')
        end = LABEL + max(limit or 0, used) * scale
        text = f"{used}/{limit}" if limit else f"{used}"
        parts.append(f'<text x="{min(end + 4, WIDTH - 64):.1f}" y="{y + 15}" font-size="12">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
