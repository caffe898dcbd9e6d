"""``report.html``: one self-contained file (inline CSS and SVG, no script, no fetch).

Stakeholders read the top half (verdict, key numbers, phases, cohorts, findings); engineers
the rest (charts, steady state, lost writes, activities, environment, notes, trend). The
template is ``templates/report.html.j2``; everything it shows comes from the measurement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import jinja2

from gameday.reports import charts
from gameday.reports.clock import Timescale
from gameday.reports.evidence import HistoryLine
from gameday.reports.model import Measurement
from gameday.reports.rundata import RunData
from gameday.reports.summary import Summary

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gameday.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _secs(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f} s"


def _stamp(value: float | None) -> str:
    if value is None:
        return "—"
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


_ENV.filters.update(secs=_secs, stamp=_stamp, pct=_pct)


def render_html(
    data: RunData, m: Measurement, summary: Summary, history: Sequence[HistoryLine]
) -> str:
    origin = m.t0 or (m.facts.first_start or 0.0)
    bins = m.facts.bins
    ts = Timescale(m.speed)
    chart: dict[str, Any] = {
        "phases": charts.phases_chart(m.phases) if m.t0 is not None else None,
        "outcome": charts.requests_chart(bins, m.phases, origin, by="outcome", speed=ts.speed),
        "region": charts.requests_chart(bins, m.phases, origin, by="region", speed=ts.speed),
        "latency": charts.latency_chart(bins, m.phases, origin, speed=ts.speed),
        "history": charts.history_chart(history) if len(history) > 1 else None,
    }
    objectives = data.objectives
    return _ENV.get_template("report.html.j2").render(
        d=data, m=m, s=summary.to_json(), obj=objectives, chart=chart, history=history,
        lab_speed=m.floors.lab_speed if ts.compressed else None, t0=m.t0, clock_sentence=ts.sentence(),
    )  # fmt: skip
