"""The report's charts, drawn by matplotlib as inline SVG (no GUI, no network, no files).

Figures are built with ``matplotlib.figure.Figure`` and the SVG canvas directly (never
pyplot or a global backend: nothing changes for other matplotlib users in the process);
text stays text (``svg.fonttype = none``: smaller, selectable, printable) in a generic
font family the browser already has. Series come from per-second
aggregates, merged into coarser bins when a run has more seconds than a chart has pixels.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FuncFormatter

from gameday.reports.evidence import HistoryLine
from gameday.reports.measure import BinRow
from gameday.reports.model import Phase

MAX_POINTS = 600
COLORS = {"ok": "#2e7d32", "failed": "#c62828", "lost-read": "#6a1b9a", "client-error": "#ef6c00"}
MARKERS = {
    "fault": ("#c62828", "fault"),
    "detection": ("#ef6c00", "detection"),
    "dns-shift": ("#1565c0", "DNS shift"),
    "promotion": ("#6a1b9a", "promotion"),
    "recovery": ("#2e7d32", "recovery"),
    "rollback": ("#616161", "rollback"),
}
_NO_METADATA = {
    "Creator": None,
    "Date": None,
    "Format": None,
    "Type": None,
}  # no RDF block, no URLs
_RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "svg.hashsalt": "gameday",
}


def _plain_text(fig: Figure) -> None:
    """Labels made of names from the run directory (legend entries, annotations, tick
    labels given as strings, such as the phase rows) are never mathtext: a region or step named
    ``$\\frac{x$`` is shown as written. matplotlib's own tick labels (a log axis writes
    10^1 in mathtext) keep it."""
    for ax in fig.axes:
        texts = list(ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            texts += legend.get_texts()
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_formatter(), FixedFormatter | FuncFormatter):
                texts += [t for tick in axis.get_major_ticks() for t in (tick.label1, tick.label2)]
        for text in texts:
            text.set_parse_math(False)


def _svg(fig: Figure, title: str) -> str:
    buffer = io.StringIO()
    _plain_text(fig)
    with matplotlib.rc_context(_RC):
        FigureCanvasSVG(fig).print_svg(buffer, metadata=_NO_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # an accessible name, and no fixed pt size so the chart scales with the page
    text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r"<svg \1", text, count=1)
    return text.replace("<svg ", f'<svg role="img" aria-label="{title}" class="chart" ', 1)


def _finish(fig: Figure, ax: Any, title: str) -> str:
    """Title, legend outside the plot on the right, light grid; the figure as SVG."""
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _svg(fig, title)


def _figure(height: float = 2.6) -> Figure:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(9.0, height), dpi=96, layout="constrained")
    return fig


def _rebin(bins: Sequence[BinRow]) -> tuple[int, list[BinRow]]:
    if not bins:
        return 1, []
    span = int(bins[-1].t - bins[0].t) + 1
    width = max(1, -(-span // MAX_POINTS))
    if width == 1:
        return 1, list(bins)
    merged: dict[float, list[BinRow]] = {}
    for row in bins:
        merged.setdefault(row.t - (row.t - bins[0].t) % width, []).append(row)
    out = []
    for t, rows in sorted(merged.items()):
        regions: dict[str, int] = {}
        for r in rows:
            for k, v in r.regions.items():
                regions[k] = regions.get(k, 0) + v
        p = [r.p99_ms for r in rows if r.p99_ms is not None]
        out.append(BinRow(t, sum(r.ok for r in rows), sum(r.failed for r in rows), sum(r.lost_read for r in rows),
                          sum(r.client_error for r in rows), regions,
                          _max([r.p50_ms for r in rows]), _max([r.p95_ms for r in rows]), max(p) if p else None))  # fmt: skip
    return width, out


def _max(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _marks(ax: object, phases: Sequence[Phase], origin: float, speed: float) -> None:
    seen = set()
    for p in phases:
        if p.key not in MARKERS or p.time is None or p.key in seen:
            continue
        seen.add(p.key)
        color, label = MARKERS[p.key]
        ax.axvline((p.time - origin) * speed, color=color, linestyle="--", linewidth=1, label=label)  # type: ignore[attr-defined]


def _xlabel(origin: float, speed: float) -> str:
    unit = "AWS seconds" if speed == 1.0 else f"AWS seconds (lab seconds x {speed:g})"
    return f"{unit} since the fault started" if origin else unit


def request_series(
    bins: Sequence[BinRow], origin: float, *, by: str, speed: float = 1.0
) -> tuple[list[float], dict[str, list[float]]]:
    """The requests charts' data: x (AWS seconds since ``origin``) and requests per lab
    second for each outcome or serving region. Every second of the run is a point (the
    ledger pass fills silent seconds with zeros), so a step never carries a value across a
    second without requests."""
    width, rows = _rebin(bins)
    xs = [(r.t - origin) * speed for r in rows]
    if by == "outcome":
        series = {"ok": [r.ok for r in rows], "failed": [r.failed for r in rows],
                  "lost-read": [r.lost_read for r in rows], "client-error": [r.client_error for r in rows]}  # fmt: skip
        series = {k: v for k, v in series.items() if any(v) or k in ("ok", "failed")}
    else:
        names = sorted({k for r in rows for k in r.regions})
        series = {name: [r.regions.get(name, 0) for r in rows] for name in names}
    return xs, {k: [c / width for c in v] for k, v in series.items()}


def requests_chart(
    bins: Sequence[BinRow], phases: Sequence[Phase], origin: float, *, by: str, speed: float = 1.0
) -> str:
    """Requests per second, by outcome (``by="outcome"``) or by serving region."""
    xs, series = request_series(bins, origin, by=by, speed=speed)
    fig = _figure()
    ax = fig.add_subplot()
    if by == "outcome":
        ax.stackplot(xs, *series.values(), labels=list(series),
                     colors=[COLORS[k] for k in series], step="post", alpha=0.85)  # fmt: skip
        title = "Requests per second by outcome"
    else:
        palette = ["#1565c0", "#00838f", "#8e24aa", "#5d4037"]
        for i, (name, ys) in enumerate(series.items()):
            ax.step(xs, ys, where="post", label=name, color=palette[i % 4])
        title = "Requests per second by serving region (no answer = no region)"
    _marks(ax, phases, origin, speed)
    ax.set_xlabel(_xlabel(origin, speed))
    ax.set_ylabel("requests / lab s" if speed != 1.0 else "requests / s")
    return _finish(fig, ax, title)


def latency_chart(
    bins: Sequence[BinRow], phases: Sequence[Phase], origin: float, *, speed: float = 1.0
) -> str:
    _, rows = _rebin(bins)
    fig = _figure()
    ax = fig.add_subplot()
    xs = [(r.t - origin) * speed for r in rows]
    for name, attr, color in (
        ("p50", "p50_ms", "#2e7d32"),
        ("p95", "p95_ms", "#ef6c00"),
        ("p99", "p99_ms", "#c62828"),
    ):
        ax.step(
            xs,
            [getattr(r, attr) or float("nan") for r in rows],
            where="post",
            label=name,
            color=color,
        )
    _marks(ax, phases, origin, speed)
    ax.set_yscale("log")
    ax.set_xlabel(_xlabel(origin, speed))
    ax.set_ylabel("latency (ms)")
    title = "Latency percentiles per second (all requests, timeouts included)"
    return _finish(fig, ax, title)


def phases_chart(phases: Sequence[Phase]) -> str:
    """The RTO phase breakdown as a timeline: one row per phase, seconds since t0."""
    shown = [p for p in phases if p.since_t0_s is not None]
    fig = _figure(max(1.6, 0.6 + 0.26 * len(shown)))
    ax = fig.add_subplot()
    for i, p in enumerate(shown):
        color = MARKERS.get(p.key, ("#455a64", ""))[0]
        ax.barh(i, p.since_t0_s, left=0, color=color, alpha=0.35, height=0.6)
        ax.plot([p.since_t0_s], [i], marker="o", color=color)
        ax.annotate(
            f"{p.since_t0_s:+.2f} s",
            (p.since_t0_s, i),
            xytext=(6, -3),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_yticks(range(len(shown)), [p.label for p in shown], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#c62828", linewidth=1)
    ax.set_xlabel("AWS seconds since the fault started (t0)")
    title = "RTO phases"
    ax.set_title(title, loc="left")
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig, title)


def history_chart(lines: Sequence[HistoryLine]) -> str:
    fig = _figure(2.0)
    ax = fig.add_subplot()
    xs = list(range(len(lines)))
    ax.plot(
        xs,
        [h.rto_seconds if h.rto_seconds is not None else float("nan") for h in lines],
        marker="o",
        label="RTO (s)",
        color="#1565c0",
    )
    ax.plot(
        xs,
        [h.rpo_seconds if h.rpo_seconds is not None else float("nan") for h in lines],
        marker="s",
        label="RPO (s)",
        color="#6a1b9a",
    )
    ax.set_xticks(xs, [h.run for h in lines], rotation=20, fontsize=7, ha="right")
    ax.set_ylabel("seconds")
    title = "Trend of past runs of this experiment"
    return _finish(fig, ax, title)
