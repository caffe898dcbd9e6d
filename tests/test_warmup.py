"""The load's warm-up lasts the same AWS time at every lab speed (one clock).

A failover loses the writes of the last replication lag before it; a load younger than
the lag caps the measured RPO at the load's age. A warm-up counted only in successes ran
0.4-0.6 lab s before t0 at speed 2 (0.8-1.3 AWS s, under the 3 AWS s lag: the oldest lost
write was the run's first write) but several AWS seconds at speed 10.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.drill import DrillError
from gameday.drill.phases import is_warm
from gameday.drill.settings import Warmup, parse_settings
from gameday.reports.clock import Timescale

ROOT = Path(__file__).resolve().parents[1]


def _experiment(warmup: dict[str, object] | None = None) -> dict[str, object]:
    experiment = json.loads((ROOT / "experiments/region-evacuation.json").read_text())
    for ext in experiment["extensions"]:
        if ext.get("name") == "gameday" and warmup is not None:
            ext.setdefault("load", {})["warmup"] = warmup
    return experiment


def test_the_warm_up_minimum_is_aws_seconds_run_at_one_over_speed() -> None:
    warm = Warmup(min_successes=20, min_seconds=10.0)
    for speed in (2.0, 10.0):
        ts = Timescale(speed)
        lab = 10.0 / speed
        # enough successes, no errors: still cold until 10 AWS seconds have passed
        assert not is_warm(warm, ts, good=500, error_rate=0.0, ran_for=lab * 0.9)
        assert is_warm(warm, ts, good=500, error_rate=0.0, ran_for=lab)
    # the count and the error ratio still hold once the minimum has passed
    assert not is_warm(warm, Timescale(10.0), good=19, error_rate=0.0, ran_for=5.0)
    assert not is_warm(warm, Timescale(10.0), good=500, error_rate=0.02, ran_for=5.0)


def test_the_warm_up_minimum_defaults_to_ten_aws_seconds_and_is_validated() -> None:
    assert parse_settings(_experiment()).load.warmup.min_seconds >= 10.0
    settings = parse_settings(_experiment({"min_successes": 5, "min_seconds": 0}))
    assert settings.load.warmup.min_seconds == 0
    with pytest.raises(DrillError, match=r"load\.warmup\.min_seconds must be a number"):
        parse_settings(_experiment({"min_seconds": -1}))
