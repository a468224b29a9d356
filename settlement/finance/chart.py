"""The settled-amounts chart of the finance pages: an inline SVG bar chart rendered on the server.

Framework-free: periods and amounts in, SVG markup out (every text escaped), no script and no
library in the browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
COLOURS = ("#2563eb", "#f59e0b")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal]


def _ceiling(value: Decimal) -> Decimal:
    """A round axis maximum at or above `value`: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, 5, 10):
        top = Decimal(step).scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def bar_chart(labels: Sequence[str], series: Sequence[Series], currency: str, *, title: str) -> str:
    """Grouped bars, one group per label; negative amounts are drawn as zero-height bars."""
    if not labels:
        return ""
    top = _ceiling(max((v for s in series for v in s.values), default=Decimal(0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / len(labels)
    bar_w = max(2.0, group_w * 0.7 / max(1, len(series)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{escape(_amount(value))}</text>"
        )
    for i, label in enumerate(labels):
        x0 = LEFT + group_w * i + (group_w - bar_w * len(series)) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            height = float(plot_h * max(value, Decimal(0)) / top)
            x, y = x0 + bar_w * j, TOP + plot_h - height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(label)} · {escape(s.name)}: '
                f"{escape(_amount(value))} {escape(currency)}</title></rect>"
            )
        parts.append(
            f'<text x="{LEFT + group_w * (i + 0.5):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'class="axis">{escape(label)}</text>'
        )
    for j, s in enumerate(series):
        x = LEFT + j * 140
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" class="axis">{escape(s.name)} ({escape(currency)})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
