"""Stop conditions: parsed with one message per mistake, each trips when it should (in AWS
seconds, at the lab's speed), CloudWatch alarms read through describe_alarms, and FIS
durations bounded by the drill's maximum."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gameday.drill import DrillError
from gameday.drill.stops import (
    Alarm,
    StopConditions,
    StopWatcher,
    alarm_reader,
    bound_fis_duration,
    parse_stop_conditions,
)
from gameday.load.ledger import LedgerRecord


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ("soon", "stop_conditions must be an object"),
        ({"max_minutes": 5}, "unknown key(s) max_minutes"),
        ({"max_duration_seconds": -1}, "max_duration_seconds must be a number above 0"),
        ({"max_duration_seconds": True}, "max_duration_seconds must be"),
        ({"error_rate": {"above": 2, "for_seconds": 10}}, "error_rate.above must be a ratio"),
        ({"error_rate": {"above": 0.5}}, "error_rate must be"),
        ({"cloudwatch_alarms": "alarm"}, "cloudwatch_alarms must be a list"),
        ({"cloudwatch_alarms": [{"nom": "x"}]}, "cloudwatch_alarms[0] must be"),
    ],
)
def test_a_malformed_stop_condition_is_one_message(conditions: Any, message: str) -> None:
    with pytest.raises(DrillError) as caught:
        parse_stop_conditions({"stop_conditions": conditions})
    assert message in str(caught.value)


def test_validate_refuses_a_malformed_stop_condition() -> None:
    from gameday.drill.runner import load
    from gameday.drill.validate import validate_experiment

    path = Path("experiments/dns-failover.json")
    experiment = load(path)
    ext = next(e for e in experiment["extensions"] if e.get("name") == "gameday")
    ext["stop_conditions"] = {"max_duration_seconds": "an hour"}
    problems = validate_experiment(experiment, path)
    assert any("max_duration_seconds must be" in p for p in problems)


def _watcher(conditions: StopConditions, **overrides: Any) -> StopWatcher:
    settings: dict[str, Any] = {
        "started": 1000.0,
        "speed": 1.0,
        "t0": lambda: None,
        "requests": None,
        "abort_file": Path("/nonexistent/ABORT"),
        "alarm_state": lambda alarm: "OK",
        "rto_seconds": None,
        "trip": lambda *a: None,
    }
    settings.update(overrides)
    return StopWatcher(conditions, **settings)


def test_max_duration_is_aws_seconds_run_at_the_lab_speed() -> None:
    watcher = _watcher(StopConditions(max_duration_seconds=600), speed=20.0)
    assert watcher.first_tripped(1000.0 + 29.0) is None  # 580 AWS s
    kind, condition, reason = watcher.first_tripped(1000.0 + 30.0)
    assert (kind, condition) == ("stop-condition", "max_duration")
    assert "maximum duration is 600 s" in reason


def test_the_abort_file_stops_the_drill(tmp_path: Path) -> None:
    flag = tmp_path / "ABORT"
    watcher = _watcher(StopConditions(), abort_file=flag)
    assert watcher.first_tripped(time.time()) is None
    flag.touch()
    assert watcher.first_tripped(time.time())[:2] == ("abort", "abort_file")


def _requests(path: Path, now: float, ok: int, failed: int) -> None:
    records = [
        LedgerRecord(now - 1.0, now - 0.9, "read", "GET", 200 if i < ok else 0, i < ok, 1.0)
        for i in range(ok + failed)
    ]
    path.write_text("".join(r.to_json() + "\n" for r in records))


def test_error_rate_trips_only_beyond_the_rto_objective(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    now = time.time()
    _requests(requests, now, ok=2, failed=8)
    conditions = StopConditions(error_rate_above=0.5, error_rate_for_seconds=4.0)
    early = _watcher(conditions, requests=requests, t0=lambda: now - 5.0, rto_seconds=30.0)
    assert early.first_tripped(now) is None  # still within the RTO objective
    late = _watcher(conditions, requests=requests, t0=lambda: now - 40.0, rto_seconds=30.0)
    _, condition, reason = late.first_tripped(now)
    assert condition == "error_rate" and "80%" in reason
    _requests(requests, now, ok=9, failed=1)
    assert late.first_tripped(now) is None


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    try:
        with mock_aws():
            yield boto3.client("cloudwatch", region_name="us-east-1")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_cloudwatch_alarm_in_alarm_trips(cloudwatch: Any) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="orders-5xx", MetricName="5xx", Namespace="Orders", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="orders-5xx", StateValue="OK", StateReason="test")
    read = alarm_reader({"primary_region": "us-east-1"}, None)
    tripped: list[tuple[str, str, str]] = []
    watcher = _watcher(
        parse_stop_conditions({"stop_conditions": {"cloudwatch_alarms": ["orders-5xx"]}}),
        alarm_state=read,
        trip=lambda *a: tripped.append(a),
    )
    assert watcher.first_tripped(time.time()) is None
    cloudwatch.set_alarm_state(AlarmName="orders-5xx", StateValue="ALARM", StateReason="test")
    watcher._last_alarm_check = 0.0
    assert watcher.first_tripped(time.time())[1] == "cloudwatch_alarm"
    with pytest.raises(DrillError, match="does not exist"):
        read(Alarm("no-such-alarm"))


def test_fis_durations_are_cut_to_the_drill_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bound_fis_duration("PT30M") == "PT30M"  # no drill running
    monkeypatch.setenv("GAMEDAY_MAX_DURATION_SECONDS", "600")
    assert bound_fis_duration("PT30M") == "PT600S"
    assert bound_fis_duration("PT5M") == "PT5M"
