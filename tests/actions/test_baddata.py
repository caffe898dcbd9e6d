"""Bad data: refused anywhere that looks like production, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions.baddata import inject_bad_data, purge_bad_data
from tests.actions.conftest import ledger_states


@pytest.mark.parametrize(
    ("url", "configuration", "words"),
    [
        ("https://orders.prod.example.com", {"gameday_bad_data_hosts": "orders.prod.example.com"},
         "looks like production"),
        ("https://api-production.example.com", None, "looks like production"),
        ("https://orders.staging.example.com", None, "not allowlisted for bad data"),
        ("ftp://orders.staging.example.com", None, "absolute http"),
    ],
)  # fmt: skip
def test_bad_data_is_refused_outside_allowlisted_non_production_hosts(
    url: str, configuration: dict | None, words: str, isolated: Path
) -> None:
    with pytest.raises(ActivityFailed, match=words):
        inject_bad_data(url, batch="t1", count=3, configuration=configuration)
    assert ledger_states(isolated) == []  # nothing injected, nothing recorded


def test_lab_mode_refuses_anything_but_loopback(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMEDAY_LAB", "1")
    monkeypatch.setenv("GAMEDAY_BAD_DATA_HOSTS", "orders.staging.example.com")
    with pytest.raises(ActivityFailed, match=r"127\.0\.0\.0/8 only"):
        inject_bad_data("https://orders.staging.example.com", batch="t1", count=3)
    assert ledger_states(isolated) == []


@pytest.mark.parametrize(("batch", "count"), [("Bad Batch!", 3), ("ok", 0), ("ok", 5000)])
def test_bad_batch_or_count_is_one_message(batch: str, count: int, isolated: Path) -> None:
    with pytest.raises(ActivityFailed, match=r"Bad `(batch|count)`"):
        inject_bad_data("http://127.0.0.1:1", batch=batch, count=count)
    with pytest.raises(ActivityFailed, match=r"Bad `(batch|count)`"):
        purge_bad_data("http://127.0.0.1:1", batch=batch, count=count)
    assert ledger_states(isolated) == []


def test_an_unreachable_service_injects_nothing(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMEDAY_LAB", "1")  # loopback is the lab's
    with pytest.raises(ActivityFailed, match="No bad order was written"):
        inject_bad_data("http://127.0.0.1:9", batch="t1", count=2, timeout=0.5)
    assert ledger_states(isolated) == [("inject_bad_data", "failed")]
