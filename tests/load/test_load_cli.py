"""`gameday load ...` from the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gameday.load.cli import load, parse_duration


def invoke(*args: str):
    return CliRunner().invoke(load, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--users", "0"], "users must be"),
        (["--users", "-2"], "users must be"),
        (["--target", "10.1.2.3", "--lab"], "lab mode refuses target 10.1.2.3"),
        (["--target", "nosuch.lab.internal"], "does not resolve"),
    ],
)
def test_bad_input_gives_one_clear_message(regions, dns, tmp_path, args, expected) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        "run",
        "--port",
        str(regions[0].port),
        "--nameserver",
        dns.nameserver,
        "--ledger",
        str(ledger),
        *args,
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0]
    assert not ledger.exists()


def test_run_reports_a_complete_ledger_and_status_reads_it(regions, dns, tmp_path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        "run",
        "--target",
        "api.lab.internal",
        "--port",
        str(regions[0].port),
        "--nameserver",
        dns.nameserver,
        "--lab",
        "--users",
        "2",
        "--run-time",
        "2s",
        "--think-min",
        "0.02",
        "--think-max",
        "0.05",
        "--ledger",
        str(ledger),
    )
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and "INCOMPLETE" not in result.output
    status = invoke("status", "--ledger", str(ledger), "--window", "3600")
    window = json.loads(status.output)
    assert window["requests"] > 0 and window["error_rate"] == 0.0
    assert window["region_share"] == {"primary": 1.0}


def test_parse_duration() -> None:
    assert parse_duration("90") == 90 and parse_duration("90s") == 90
    assert parse_duration("2m") == 120 and parse_duration("1h30m") == 5400
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_lab_mode_means_the_same_for_load_as_for_aws(
    regions, dns, tmp_path, monkeypatch, value
) -> None:
    """GAMEDAY_LAB=true puts the AWS client factory in lab mode: the load must refuse a
    non-loopback target then too (the target is refused before anything starts)."""
    from gameday.aws import is_lab_mode
    from gameday.load.cli import _lab_default

    monkeypatch.setenv("GAMEDAY_LAB", value)
    assert is_lab_mode() and _lab_default()
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        "run",
        "--port",
        str(regions[0].port),
        "--target",
        "10.1.2.3",
        "--ledger",
        str(ledger),
    )
    assert result.exit_code == 1 and "lab mode refuses target 10.1.2.3" in result.output
    assert not ledger.exists()
