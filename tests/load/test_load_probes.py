"""The live view: Chaos Toolkit probes over the ledger while the load runs."""

from __future__ import annotations

import json
import time

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.load.runner import LoadRun
from gameday.probes.load import error_rate, load_window, region_share


def await_value(probe, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_probes_see_a_black_holed_region_while_the_load_runs(make_settings, regions, runs) -> None:
    primary, _ = regions
    run = LoadRun(make_settings(network_timeout=0.5, connect_timeout=0.5))
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=20, timeout=20)
    ledger = str(run.ledger)

    healthy = await_value(
        lambda: error_rate(window_seconds=1, ledger_path=ledger), lambda v: v == 0, 5
    )
    assert healthy == 0.0
    assert region_share(window_seconds=2, ledger_path=ledger) == {"primary": 1.0}

    primary.blackhole.set()  # accepts connections, never answers: clients time out
    window = await_value(
        lambda: load_window(window_seconds=1.5, configuration={"gameday_ledger": ledger}),
        lambda w: w["errors"] > 0 and w["error_rate"] == 1.0,
        8,
    )
    json.dumps(window)  # JSON-serialisable, as Chaos Toolkit needs
    assert window["errors"] > 0 and window["error_rate"] == 1.0, window
    result = run.stop()
    assert result.complete
    timeouts = {r.error for r in _records(ledger) if not r.ok}
    assert timeouts and all("Timeout" in name or "timed out" in name for name in timeouts), timeouts


def _records(ledger: str):
    from gameday.load.ledger import read_ledger

    return list(read_ledger(ledger))


def test_probe_without_a_ledger_fails_with_an_actionable_message(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)
    with pytest.raises(ActivityFailed, match="GAMEDAY_LEDGER"):
        error_rate(window_seconds=5)
    with pytest.raises(ActivityFailed, match="does not exist"):
        region_share(ledger_path=str(tmp_path / "none.jsonl"))
