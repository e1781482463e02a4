"""The plot of ``--find-limit``: latency against rate, one point per step, as HTML with SVG.

Locust's own HTML report charts requests per second and response times over *time*; a
limit is read off latency against *rate*, which it does not draw. A dozen points need no
plotting library: this writes one small self-contained HTML file (no script, no network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT, MARGIN = 640, 360, 56


def render(
    steps: Sequence[Mapping[str, Any]], *, bound_ms: float, held: float | None, broke: str | None, url: str
) -> str:
    """The page: p50 and p95 latency (ms) against the achieved rate of each step."""
    xs = [float(s["achieved_per_s"]) for s in steps] or [0.0]
    ys = [float(s.get("p95_ms") or 0.0) for s in steps] + [bound_ms]
    x_max = max(xs) * 1.1 or 1.0
    y_max = max(ys) * 1.1 or 1.0

    def px(x: float) -> float:
        return MARGIN + x / x_max * (WIDTH - 2 * MARGIN)

    def py(y: float) -> float:
        return HEIGHT - MARGIN - y / y_max * (HEIGHT - 2 * MARGIN)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#333"/>',
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#333"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 16}" text-anchor="middle">events per second (achieved)</text>',
        f'<text x="16" y="{HEIGHT / 2}" transform="rotate(-90 16 {HEIGHT / 2})" text-anchor="middle">latency (ms)</text>',
        f'<text x="{MARGIN}" y="{HEIGHT - MARGIN + 16}" text-anchor="middle">0</text>',
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - MARGIN + 16}" text-anchor="middle">{x_max:.0f}</text>',
        f'<text x="{MARGIN - 6}" y="{MARGIN}" text-anchor="end">{y_max:.0f}</text>',
        f'<line x1="{MARGIN}" y1="{py(bound_ms):.1f}" x2="{WIDTH - MARGIN}" y2="{py(bound_ms):.1f}" stroke="#c00" stroke-dasharray="4 4"/>',
        f'<text x="{WIDTH - MARGIN}" y="{py(bound_ms) - 4:.1f}" text-anchor="end" fill="#c00">p95 bound {bound_ms:g} ms</text>',
    ]
    if held is not None:
        parts.append(
            f'<line x1="{px(held):.1f}" y1="{MARGIN}" x2="{px(held):.1f}" y2="{HEIGHT - MARGIN}" stroke="#080" stroke-dasharray="2 4"/>'
        )
        parts.append(f'<text x="{px(held) + 4:.1f}" y="{MARGIN + 12}" fill="#080">held {held:.0f}/s</text>')
    for key, colour in (("p50_ms", "#36c"), ("p95_ms", "#f80")):
        points = [(px(float(s["achieved_per_s"])), py(float(s.get(key) or 0.0))) for s in steps]
        if points:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" points="{coords}"/>')
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points)
    parts.append(
        f'<text x="{MARGIN + 8}" y="{MARGIN + 28}" fill="#36c">p50</text><text x="{MARGIN + 40}" y="{MARGIN + 28}" fill="#f80">p95</text>'
    )
    parts.append("</svg>")
    rows = "".join(
        f"<tr><td>{s['target_per_s']:.1f}</td><td>{s['achieved_per_s']:.1f}</td><td>{s.get('p50_ms')}</td><td>{s.get('p95_ms')}</td>"
        f"<td>{s['non_2xx_share'] * 100:.2f} %</td><td>{escape(str(s.get('broke') or ''))}</td></tr>"
        for s in steps
    )
    verdict = (
        f"Held {held:.1f} events/s; what broke first: {escape(broke or 'nothing')}."
        if held is not None
        else f"Not even the first step held; what broke: {escape(broke or 'nothing')}."
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>find-limit: {escape(url)}</title></head><body>"
        f"<h1>Limit of {escape(url)}</h1><p>{verdict}</p>{''.join(parts)}"
        "<table border='1' cellpadding='4'><tr><th>target /s</th><th>achieved /s</th><th>p50 ms</th><th>p95 ms</th>"
        f"<th>non-2xx</th><th>broke</th></tr>{rows}</table></body></html>\n"
    )
