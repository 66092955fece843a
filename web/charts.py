"""Server-rendered SVG bar charts (no script, no library): usage per day."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 560, 180, 36, 28, 12


def bars(points: list[tuple[date, int]], title: str) -> Markup:
    """An accessible bar chart (``role="img"`` with a title, and each bar's value in a
    ``<title>`` tooltip) scaled to its largest value; it shrinks with its container."""
    top = max((value for _, value in points), default=0) or 1
    inner_w = WIDTH - PAD_LEFT - 8
    inner_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / max(len(points), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + inner_h}" x2="{WIDTH - 8}" '
        f'y2="{PAD_TOP + inner_h}" class="axis"/>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end" class="tick">{top}</text>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + inner_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (day, value) in enumerate(points):
        h = inner_h * value / top
        x = PAD_LEFT + i * step + step * 0.15
        y = PAD_TOP + inner_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'class="bar"><title>{day.isoformat()}: {value}</title></rect>'
        )
        if (len(points) - 1 - i) % 2 == 0 or len(points) <= 7:  # today always labelled
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                f'class="tick">{day.strftime("%m-%d")}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
