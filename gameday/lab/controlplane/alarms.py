"""CloudWatch alarm evaluation on the lab's clock (moto stores alarms but never evaluates).

CloudWatch evaluates a metric alarm about once a minute over its last
``EvaluationPeriods`` periods of ``Period`` seconds (CloudWatch user guide, "Evaluating an
alarm"): a period breaches when its statistic compares true against ``Threshold``; the
alarm is ``ALARM`` when at least ``DatapointsToAlarm`` (default: ``EvaluationPeriods``)
of them breach, ``OK`` when there is data and too few breach, ``INSUFFICIENT_DATA`` when no
period has data (``TreatMissingData`` ``missing``, the default; ``breaching`` and
``notBreaching`` count an empty period as such, ``ignore`` keeps the current state). A new
alarm starts in ``INSUFFICIENT_DATA``.

The lab evaluates every region's alarms once per AWS minute (:class:`AlarmEvaluator`, a
supervised worker the health checker runs: Route 53's CLOUDWATCH_METRIC checks read them) with each period on the lab's clock (``Period`` / speed lab seconds),
over the metric datapoints moto holds (clients' ``put_metric_data`` and the lab's own
``AWS/Route53`` metrics). A state forced with ``set_alarm_state`` holds until the next
evaluation, as in AWS. Metric-math and composite alarms are not evaluated (their state is
whatever ``set_alarm_state`` made it). Each change is an ``alarm`` event.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import cloudwatch
from gameday.lab.events import EventLog
from gameday.lab.workers import Worker

#: CloudWatch's evaluation cadence, in AWS seconds.
EVALUATION_EVERY = 60.0
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def statistic(name: str, values: list[float]) -> float:
    """One CloudWatch statistic over a period's values."""
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name == "Sum":
        return sum(values)
    if name == "SampleCount":
        return float(len(values))
    return sum(values) / len(values)  # Average


def decide(
    periods: list[float | None],
    threshold: float,
    comparison: str,
    to_alarm: int,
    treat_missing: str,
    current: str,
) -> str:
    """The alarm's state from its periods' statistics (None: no data in that period)."""
    compare = _COMPARE.get(comparison)
    if compare is None:
        return current  # anomaly-detection bands: not evaluated by the lab
    breaching = present = 0
    for value in periods:
        if value is None:
            if treat_missing == "breaching":
                breaching += 1
                present += 1
            elif treat_missing == "notBreaching":
                present += 1
            continue
        present += 1
        breaching += compare(value, threshold)
    if breaching >= to_alarm:
        return "ALARM"
    if present:
        return "OK"
    return current if treat_missing == "ignore" else "INSUFFICIENT_DATA"


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)
# (the evaluator reads moto's alarms and metric data through cloudwatch.backend)


class AlarmEvaluator:
    """Evaluates every metric alarm of the given regions once per AWS minute."""

    def __init__(self, clock: LabClock, events: EventLog) -> None:
        self._clock = clock
        self._events = events
        self._worker = Worker(
            "cloudwatch-alarms",
            self.evaluate,
            clock.aws_to_lab(EVALUATION_EVERY),
            events,
            first_delay=clock.aws_to_lab(EVALUATION_EVERY),
        )

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._worker.join()

    def evaluate(self, now: float | None = None) -> None:
        """Evaluate every alarm once (what the worker does each AWS minute)."""
        now = time.time() if now is None else now
        for region in cloudwatch.regions_in_use():
            backend = cloudwatch.backend(region)
            for alarm in list(backend.alarms.values()):
                if not alarm.metric_name or alarm.metric_data_queries:
                    continue
                state = self._state(backend, alarm, now)
                if state != alarm.state_value:
                    previous = alarm.state_value
                    alarm.update_state(
                        f"Threshold evaluated by the gameday lab: {state}", "{}", state
                    )
                    self._events.emit(
                        "alarm", region=region, alarm=alarm.name, state=state, previous=previous
                    )

    def _state(self, backend: Any, alarm: Any, now: float) -> str:
        period = self._clock.aws_to_lab(float(alarm.period))
        count = int(alarm.evaluation_periods)
        dimensions = [{"Name": d.name, "Value": d.value} for d in alarm.dimensions]
        data = [
            d
            for d in backend.get_all_metrics()
            if d.filter(alarm.namespace, alarm.metric_name, dimensions) and hasattr(d, "value")
        ]
        periods: list[float | None] = []
        for index in range(count):
            end = now - index * period
            start = end - period
            values = [
                float(d.value)
                for d in data
                if start <= d.timestamp.replace(tzinfo=UTC).timestamp() < end
            ]
            periods.append(statistic(alarm.statistic or "Average", values) if values else None)
        return decide(
            periods,
            float(alarm.threshold),
            str(alarm.comparison_operator),
            int(alarm.datapoints_to_alarm or count),
            str(alarm.treat_missing_data or "missing"),
            str(alarm.state_value),
        )


def install() -> None:
    """A new alarm starts in ``INSUFFICIENT_DATA`` (moto starts it ``OK``)."""
    from moto.cloudwatch.models import Alarm

    init = Alarm.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.state_value = "INSUFFICIENT_DATA"
        self.state_reason = "Unchecked: Initial alarm creation"

    Alarm.__init__ = __init__
