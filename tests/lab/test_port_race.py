"""Labs started side by side (pytest-xdist workers, two people on one machine) pick their
free ports independently: a start whose picked port was bound by another process first is
started again with new ports; a port the user chose, or any other failure, is not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gameday.lab import LabConfig
from gameday.lab.launcher import PORT_RACE_RETRIES, Lab, LabError

LOST_RACE = "the lab did not start: region us-east-1 exited with 1: OSError: [Errno 98] Address already in use"
#: The same race lost by a region's asyncio listener (its HTTPS port), as a fresh-clone run saw it.
LOST_RACE_ASYNCIO = (
    "the lab did not start: region us-west-2 exited with 1 while starting: OSError: [Errno 98] "
    "error while attempting to bind on address ('127.0.2.1', 53469): address already in use"
)


def attempts(monkeypatch: pytest.MonkeyPatch, failures: list[str]) -> list[LabConfig]:
    """Make each start attempt fail with the next of ``failures``, then succeed."""
    seen: list[LabConfig] = []

    def once(cls: type[Lab], config: LabConfig, timeout: float) -> Lab:
        seen.append(config)
        if len(seen) <= len(failures):
            raise LabError(failures[len(seen) - 1])
        return cls(config.lab_dir)

    monkeypatch.setattr(Lab, "_start_once", classmethod(once))
    return seen


@pytest.mark.parametrize("lost", [LOST_RACE, LOST_RACE_ASYNCIO], ids=["socket", "asyncio"])
def test_a_lost_port_race_is_started_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lost: str
) -> None:
    seen = attempts(monkeypatch, [lost] * PORT_RACE_RETRIES)
    lab = Lab.start(LabConfig(lab_dir=str(tmp_path)))
    assert lab.dir == tmp_path.resolve() and len(seen) == PORT_RACE_RETRIES + 1


def test_a_port_race_lost_every_time_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = attempts(monkeypatch, [LOST_RACE] * (PORT_RACE_RETRIES + 1))
    with pytest.raises(LabError, match="Address already in use"):
        Lab.start(LabConfig(lab_dir=str(tmp_path)))
    assert len(seen) == PORT_RACE_RETRIES + 1


@pytest.mark.parametrize(
    ("settings", "failure"),
    [
        ({"service_port": 18080}, LOST_RACE),  # the user's own port: theirs to change
        ({}, "the lab did not start: moto refused the template"),  # not a port race
    ],
)
def test_other_failures_are_not_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: dict, failure: str
) -> None:
    seen = attempts(monkeypatch, [failure])
    with pytest.raises(LabError, match=re.escape(failure)):
        Lab.start(LabConfig(lab_dir=str(tmp_path), **settings))
    assert len(seen) == 1


@pytest.mark.lab
def test_a_lost_race_whose_port_stays_open_is_still_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The port a lab lost stays open (the winner holds it), so stopping the failed start
    finds it open: the start's own error must still be the one raised, and retried (it was
    masked by the stop's, and the safety matrix's five labs failed to start)."""
    real_wait, real_stop = Lab._wait_ready, Lab.stop
    waits: list[int] = []

    def wait(self: Lab, timeout: float) -> None:
        waits.append(1)
        if len(waits) == 1:
            raise LabError(LOST_RACE)
        real_wait(self, timeout)

    def stop(self: Lab, *args: object, **kwargs: object) -> list[str]:
        forced = real_stop(self, *args, **kwargs)  # type: ignore[arg-type]
        if len(waits) == 1:
            raise LabError("lab ports still open after stop: 127.0.0.1:41309")  # the winner's
        return forced

    monkeypatch.setattr(Lab, "_wait_ready", wait)
    monkeypatch.setattr(Lab, "stop", stop)
    lab = Lab.start(LabConfig(lab_dir=str(tmp_path / "lab")))
    try:
        assert len(waits) == 2 and lab.running()
    finally:
        real_stop(lab)
