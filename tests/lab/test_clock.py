"""The lab's one clock: the speed factor, applied to every AWS-side duration it covers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from gameday.lab import Lab, LabConfig
from gameday.lab.clock import LabClock, LabClockError
from gameday.lab.config import LabConfigError
from tests.lab.helpers import resolve


def test_aws_durations_scale_by_the_speed_and_back() -> None:
    clock = LabClock(10)
    assert clock.aws_to_lab(60) == 6
    assert clock.lab_to_aws(6) == 60
    assert clock.health_check_interval(30) == 3
    assert LabClock(1).aws_to_lab(60) == 60


def test_route53_probe_timeouts_follow_the_clock() -> None:
    http = LabClock(10).probe_timeouts("HTTP")
    assert (http.connect, http.response) == (0.4, 0.2)
    https = LabClock(1).probe_timeouts("HTTPS_STR_MATCH")
    assert (https.connect, https.response) == (4.0, 2.0)
    assert LabClock(10).probe_timeouts("TCP").connect == 1.0


def test_served_ttls_are_whole_seconds_never_zero_unless_zero() -> None:
    clock = LabClock(10)
    assert [clock.ttl_served(t) for t in (0, 1, 10, 15, 60, 300)] == [0, 1, 1, 2, 6, 30]


@pytest.mark.parametrize("speed", [0, -1, math.nan, math.inf, "10", True])
def test_a_speed_that_is_not_a_finite_positive_number_is_refused(speed: object) -> None:
    with pytest.raises(LabClockError, match="speed must be a finite number > 0"):
        LabClock(speed)  # type: ignore[arg-type]
    with pytest.raises(LabConfigError, match="speed must be a finite number > 0"):
        LabConfig(speed=speed).validate()  # type: ignore[arg-type]


def test_a_speed_that_would_distort_the_labs_ttls_is_refused_with_the_speeds_that_do_not() -> None:
    """DNS TTLs are whole seconds: at speed 20 a 10 s TTL would be served as 1 s (20 AWS s).
    The lab refuses the speed instead of serving a longer TTL in silence."""
    with pytest.raises(LabConfigError, match=r"speed 20 would distort.*whole speeds: 1, 2, 5, 10"):
        LabConfig(speed=20).validate()
    LabConfig(speed=20, ttl=60).validate()  # 60 / 20 = 3 lab s: faithful
    LabConfig(speed=0.5).validate()  # slower than AWS: 20 lab s, exact
    assert LabClock(10).ttl_problem(5) is not None and LabClock(10).ttl_problem(60) is None


def test_the_old_interval_setting_says_what_replaced_it() -> None:
    with pytest.raises(LabConfigError, match="replaced by speed"):
        LabConfig.from_dict({"health_check_interval": 1.0})


def test_the_config_default_is_speed_10_and_its_interval_one_lab_second() -> None:
    config = LabConfig()
    assert config.speed == 10
    assert config.health_check_interval == 1.0
    assert config.clock.ttl_served(config.ttl) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "speed must be a finite number > 0"),
        (["--speed", "-3"], "speed must be a finite number > 0"),
        (["--speed", "nan"], "speed must be a finite number > 0"),
        (["--data-tier", "sqlite"], "data_tier must be one of aurora, dynamodb"),
    ],
)
def test_bad_clock_or_tier_is_one_message_and_nothing_starts(
    tmp_path: Path, args: list[str], message: str
) -> None:
    lab_dir = tmp_path / "lab"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gameday.cli",
            "lab",
            "up",
            "--detach",
            "--dir",
            str(lab_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (lab_dir / "state.json").exists()


@pytest.mark.lab
def test_records_keep_their_route53_ttl_and_are_served_on_the_lab_clock(
    lab_factory: Callable[..., Lab],
) -> None:
    lab = lab_factory(ttl=60, speed=10)
    info = lab.info
    env = lab.env()
    assert env["GAMEDAY_LAB_SPEED"] == "10"
    route53 = boto3.client(
        "route53",
        endpoint_url=info.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    sets = route53.list_resource_record_sets(HostedZoneId=info.zone_id)["ResourceRecordSets"]
    service = [s for s in sets if s["Name"] == info.record_name + "." and s["Type"] == "A"]
    assert {s["TTL"] for s in service} == {60}  # Route 53 holds the AWS value
    assert resolve(lab) == ([info.primary.address], 6)  # served 60 / 10
    status = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "lab", "status", "--json", "--dir", info.lab_dir],
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(status.stdout)
    assert (data["speed"], data["data_tier"]) == (10, "aurora")
