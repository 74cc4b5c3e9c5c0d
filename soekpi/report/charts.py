"""Small, deterministic inline SVG charts: trend lines with status bands, a status bar and
the entity × KPI status heatmap.

Every chart is a self-contained ``<svg>`` with explicit width, height and viewBox, fixed
number formatting (one decimal) and ``<title>`` tooltips; all text is XML-escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

STATUSES = ("green", "amber", "red", "incomplete", "no_data", "untracked")
STATUS_COLOURS = {
    "green": "#2e7d32",
    "amber": "#e0a100",
    "red": "#c62828",
    "incomplete": "#6a4c93",
    "no_data": "#9e9e9e",
    "untracked": "#cfd8dc",
}
BAND_COLOURS = {"green": "#e3f1e4", "amber": "#fdf1d3", "red": "#f8e0e0"}
LINE_COLOUR = "#1f3a5f"
BREAK_COLOUR = "#455a64"  # a revision of the definition within a trend


def _f(x: float) -> str:
    """A coordinate: one decimal, no negative zero."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _t(text: str) -> str:
    return escape(text, quote=True)


def _open(width: float, height: float, label: str, css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" width="{_f(width)}" '
        f'height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" role="img" '
        f'aria-label="{_t(label)}"><title>{_t(label)}</title>'
    )


@dataclass(frozen=True)
class TrendPoint:
    """One cycle of a trend: its name, value (None when null) and the value as shown."""

    cycle: str
    value: float | None
    shown: str


def trend(
    points: Sequence[TrendPoint],
    green: float | None,
    amber: float | None,
    direction: str,
    label: str,
    width: float = 168.0,
    height: float = 44.0,
    breaks: Mapping[str, str] | None = None,
) -> str:
    """A trend line over ``points`` (oldest first) on green/amber/red bands (the thresholds
    of the latest cycle). Null values leave gaps. ``breaks``: cycle → what changed there (a
    revision of the definition): a vertical dashed line at that cycle, with its tooltip."""
    pad = 4.0
    values = [p.value for p in points if p.value is not None]
    parts = [_open(width, height, label, "chart trend")]
    if not values:
        parts.append(
            f'<rect x="0.5" y="0.5" width="{_f(width - 1)}" height="{_f(height - 1)}" '
            'fill="none" stroke="#cfd8dc" stroke-dasharray="3 3"/></svg>'
        )
        return "".join(parts)
    lo, hi = _trend_range(values, green, amber)
    plot = _TrendPlot(pad, width - 2 * pad, height - 2 * pad, lo, hi, len(points))
    if green is not None and amber is not None:
        parts += _trend_bands(plot, green, amber, direction)
    parts += _trend_lines(plot, points)
    parts += _trend_breaks(plot, points, breaks or {})
    parts += _trend_dots(plot, points)
    parts.append("</svg>")
    return "".join(parts)


def _trend_range(
    values: Sequence[float], green: float | None, amber: float | None
) -> tuple[float, float]:
    """The values shown on the vertical axis: the points and thresholds, with a margin."""
    domain = list(values) + [t for t in (green, amber) if t is not None]
    lo, hi = min(domain), max(domain)
    if hi == lo:
        spread = abs(hi) * 0.1 or 1.0
        lo, hi = lo - spread, hi + spread
    margin = (hi - lo) * 0.08
    return lo - margin, hi + margin


@dataclass(frozen=True, slots=True)
class _TrendPlot:
    """Where a trend's points go: a ``plot_w`` × ``plot_h`` plot inside a padding of ``pad``,
    ``count`` points across, values ``lo``..``hi`` bottom to top."""

    pad: float
    plot_w: float
    plot_h: float
    lo: float
    hi: float
    count: int

    def x(self, i: int) -> float:
        """The horizontal position of point ``i`` (a single point is centred)."""
        plot_w, count = self.plot_w, self.count
        return self.pad + (plot_w / 2 if count == 1 else i * plot_w / (count - 1))

    def y(self, v: float) -> float:
        """The vertical position of value ``v``, clamped to the plot."""
        lo, hi = self.lo, self.hi
        return self.pad + (hi - min(max(v, lo), hi)) / (hi - lo) * self.plot_h


def _trend_bands(plot: _TrendPlot, green: float, amber: float, direction: str) -> list[str]:
    """The green, amber and red bands behind the line, in the KPI's direction."""
    y = plot.y
    top, bottom = plot.pad, plot.pad + plot.plot_h
    if direction == "lower_is_better":
        bands = [
            ("red", top, y(amber)),
            ("amber", y(amber), y(green)),
            ("green", y(green), bottom),
        ]
    else:
        bands = [
            ("green", top, y(green)),
            ("amber", y(green), y(amber)),
            ("red", y(amber), bottom),
        ]
    return [
        f'<rect x="{_f(plot.pad)}" y="{_f(y0)}" width="{_f(plot.plot_w)}" '
        f'height="{_f(y1 - y0)}" fill="{BAND_COLOURS[status]}"/>'
        for status, y0, y1 in bands
        if y1 - y0 > 0
    ]


def _trend_lines(plot: _TrendPlot, points: Sequence[TrendPoint]) -> list[str]:
    """The line through the points, broken where a value is null (a lone point draws none)."""
    x, y = plot.x, plot.y
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, p in enumerate(points):
        if p.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_f(x(i))},{_f(y(p.value))}")
    if segment:
        segments.append(segment)
    return [
        f'<polyline points="{" ".join(seg)}" fill="none" stroke="{LINE_COLOUR}" '
        'stroke-width="1.5" stroke-linejoin="round"/>'
        for seg in segments
        if len(seg) > 1
    ]


def _trend_breaks(
    plot: _TrendPlot, points: Sequence[TrendPoint], breaks: Mapping[str, str]
) -> list[str]:
    """A vertical dashed line at each cycle where the definition changes (a revision starts),
    its tooltip saying what changed."""
    top, bottom = plot.pad, plot.pad + plot.plot_h
    return [
        f'<line class="revision" x1="{_f(plot.x(i))}" y1="{_f(top)}" x2="{_f(plot.x(i))}" '
        f'y2="{_f(bottom)}" stroke="{BREAK_COLOUR}" stroke-width="1" stroke-dasharray="2 2">'
        f"<title>{_t(breaks[p.cycle])}</title></line>"
        for i, p in enumerate(points)
        if p.cycle in breaks
    ]


def _trend_dots(plot: _TrendPlot, points: Sequence[TrendPoint]) -> list[str]:
    """A dot with a tooltip on each value, the latest one larger."""
    x, y = plot.x, plot.y
    last = max(i for i, p in enumerate(points) if p.value is not None)
    dots: list[str] = []
    for i, p in enumerate(points):
        if p.value is None:
            continue
        radius = "2.6" if i == last else "1.8"
        dots.append(
            f'<circle cx="{_f(x(i))}" cy="{_f(y(p.value))}" r="{radius}" '
            f'fill="{LINE_COLOUR}"><title>{_t(p.cycle)}: {_t(p.shown)}</title></circle>'
        )
    return dots


@dataclass(frozen=True)
class BarSegment:
    """One status of the status bar: its key, how many, and the label shown."""

    status: str
    count: int
    label: str


def status_bar(segments: Sequence[BarSegment], label: str, width: float = 640.0) -> str:
    """A horizontal bar split by status counts, each part with its count and a tooltip."""
    height = 26.0
    total = sum(s.count for s in segments)
    parts = [_open(width, height, label, "chart status-bar")]
    if total == 0:
        parts.append(
            f'<rect x="0" y="0" width="{_f(width)}" height="{_f(height)}" fill="#eceff1"/></svg>'
        )
        return "".join(parts)
    x = 0.0
    for s in segments:
        if s.count == 0:
            continue
        w = width * s.count / total
        parts.append(
            f'<rect x="{_f(x)}" y="0" width="{_f(w)}" height="{_f(height)}" '
            f'fill="{STATUS_COLOURS[s.status]}"><title>{_t(s.label)}: {s.count}</title></rect>'
        )
        if w >= 22:
            ink = "#000000" if s.status in ("amber", "untracked") else "#ffffff"
            parts.append(
                f'<text x="{_f(x + w / 2)}" y="17.5" text-anchor="middle" font-size="12" '
                f'fill="{ink}">{s.count}</text>'
            )
        x += w
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class GridCell:
    """One cell of the heatmap: a status and its tooltip."""

    status: str
    tooltip: str


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(c) >= 0x2E80 else size * 0.58 for c in text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def heatmap(
    rows: Sequence[tuple[str, int]],
    columns: Sequence[str],
    cells: Sequence[Sequence[GridCell]],
    label: str,
) -> str:
    """The entity × KPI status grid: ``rows`` are (entity label, depth), ``columns`` KPI
    labels (drawn slanted above), ``cells[row][column]`` the statuses."""
    cell, gap, size = 16.0, 2.0, 11.0
    row_labels = [(_clip(name, 34), depth) for name, depth in rows]
    col_labels = [_clip(c, 26) for c in columns]
    left = 8 + max([_text_width(n, size) + d * 10 for n, d in row_labels] or [40.0])
    head = 10 + max([_text_width(c, size) * 0.72 for c in col_labels] or [20.0])
    tail = max([_text_width(c, size) * 0.70 for c in col_labels[-3:]] or [0.0])
    width = left + len(columns) * (cell + gap) + tail + 8
    height = head + len(rows) * (cell + gap) + 4
    parts = [_open(width, height, label, "chart heatmap")]
    for j, text in enumerate(col_labels):
        cx, cy = left + j * (cell + gap) + cell / 2, head - 4
        parts.append(
            f'<text x="{_f(cx)}" y="{_f(cy)}" font-size="{_f(size)}" '
            f'transform="rotate(-45 {_f(cx)} {_f(cy)})">{_t(text)}'
            f"<title>{_t(columns[j])}</title></text>"
        )
    for i, (text, depth) in enumerate(row_labels):
        ry = head + i * (cell + gap)
        parts.append(
            f'<text x="{_f(4 + depth * 10)}" y="{_f(ry + cell - 4)}" font-size="{_f(size)}">'
            f"{_t(text)}<title>{_t(rows[i][0])}</title></text>"
        )
        for j, c in enumerate(cells[i]):
            parts.append(
                f'<rect x="{_f(left + j * (cell + gap))}" y="{_f(ry)}" width="{_f(cell)}" '
                f'height="{_f(cell)}" fill="{STATUS_COLOURS[c.status]}">'
                f"<title>{_t(c.tooltip)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)
