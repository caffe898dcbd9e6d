"""The one clock for activities: a declared timeout or poll interval is AWS seconds, waited
at 1/speed on the lab (gameday.activity.target_speed / wall_seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.activity import target_speed, wall_seconds
from gameday.lab.config import START_TIMEOUT_ENV, LabConfigError, start_timeout


def _lab_dir(tmp_path: Path, state: object) -> dict[str, str]:
    (tmp_path / "state.json").write_text(json.dumps(state))
    return {"gameday_target": "lab", "gameday_lab_dir": str(tmp_path)}


def test_on_the_lab_a_declared_duration_is_waited_at_one_over_speed(tmp_path: Path) -> None:
    configuration = _lab_dir(tmp_path, {"config": {"speed": 20}})
    assert target_speed(configuration) == 20
    assert wall_seconds(600, configuration) == pytest.approx(30)


def test_against_aws_or_an_unreadable_lab_a_second_is_a_second(tmp_path: Path) -> None:
    assert target_speed(None) == 1 and wall_seconds(600, None) == 600
    assert target_speed({"gameday_target": "aws", "gameday_lab_dir": str(tmp_path)}) == 1
    assert target_speed({"gameday_target": "lab"}) == 1  # no lab directory named
    assert target_speed({"gameday_target": "lab", "gameday_lab_dir": str(tmp_path)}) == 1
    for bad in ({"config": {"speed": 0}}, {"config": {"speed": "fast"}}, [1, 2]):
        assert target_speed(_lab_dir(tmp_path, bad)) == 1, bad


def test_the_lab_start_timeout_is_a_setting_with_a_clear_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(START_TIMEOUT_ENV, raising=False)
    assert start_timeout() == 45
    monkeypatch.setenv(START_TIMEOUT_ENV, "180")
    assert start_timeout() == 180
    for bad in ("soon", "0", "-5", "nan", "inf", "1e9"):
        monkeypatch.setenv(START_TIMEOUT_ENV, bad)
        with pytest.raises(LabConfigError, match=r"GAMEDAY_LAB_START_TIMEOUT.*from 1 to 3600"):
            start_timeout()
