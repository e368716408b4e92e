"""Static SVG charts drawn at build time: no JavaScript, no fonts, no other host."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WEB_FONTS = "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', sans-serif"
BAR = "#3f6fb5"
HIDDEN = "#c8c8c8"


def _svg(width: int, height: int, title: str, body: list[str], font: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="kit-chart" font-family="{escape(font)}" font-size="12">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:,.0f}"


def column_chart(points: Sequence[tuple[str, float | None]], title: str, percent: bool = False,
                 font: str = WEB_FONTS) -> str:
    """Vertical bars (one per label); None draws a grey stub marked 不公布."""
    width, height, top, bottom, left = 720, 260, 24, 40, 8
    slot = (width - left * 2) / max(1, len(points))
    peak = max([v for _, v in points if v] or [1])
    body = []
    for index, (label, value) in enumerate(points):
        x = left + index * slot + slot * 0.15
        w = slot * 0.7
        if value is None:
            h, color, text = 6, HIDDEN, "不公布"
        else:
            h, color, text = (height - top - bottom) * value / peak, BAR, _fmt(value, percent)
        y = height - bottom - h
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}"/>')
        body.append(f'<text x="{x + w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{escape(text)}</text>')
        body.append(f'<text x="{x + w / 2:.1f}" y="{height - bottom + 16:.1f}" text-anchor="middle">'
                    f"{escape(label)}</text>")
    body.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" '
                'stroke="#888"/>')
    return _svg(width, height, title, body, font)


def bar_chart(points: Sequence[tuple[str, float | None]], title: str, percent: bool = False,
              font: str = WEB_FONTS) -> str:
    """Horizontal bars, one row per label; None draws a grey stub marked 不公布."""
    row, label_width, width = 30, 150, 720
    height = row * max(1, len(points)) + 10
    peak = 1.0 if percent else max([v for _, v in points if v] or [1])
    span = width - label_width - 90
    body = []
    for index, (label, value) in enumerate(points):
        y = 5 + index * row
        if value is None:
            w, color, text = 6, HIDDEN, "不公布"
        else:
            w, color, text = span * value / peak, BAR, _fmt(value, percent)
        body.append(f'<text x="{label_width - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
                    f"{escape(label)}</text>")
        body.append(f'<rect x="{label_width}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" fill="{color}"/>')
        body.append(f'<text x="{label_width + w + 6:.1f}" y="{y + row / 2 + 4:.1f}">{escape(text)}</text>')
    return _svg(width, height, title, body, font)
