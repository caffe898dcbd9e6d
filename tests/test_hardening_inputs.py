"""Issue 12, property-style: every numeric CLI option and every numeric lab config key,
fed NaN, ±inf, 0, a negative, a huge value and a non-number, gives one clear message
naming what was wrong, a non-zero exit, and starts nothing.

The options and keys are discovered (every INT/FLOAT-typed option of the commands, every
numeric field of LabConfig), so a numeric setting added later is covered automatically.
Values a setting documents as valid (0 for "pick a free port") are left out: feeding them
would start a real lab or load.
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from gameday.lab import Lab
from gameday.lab import cli as lab_cli
from gameday.lab.config import NUMBER_RANGES as LAB_RANGES
from gameday.lab.config import OPTIONAL_NUMBERS, LabConfig
from gameday.lab.lock import lab_processes
from gameday.load import cli as load_cli
from gameday.load.settings import NUMBER_RANGES as LOAD_RANGES
from gameday.numbers import number_problem

BAD_TEXT = ["nan", "NaN", "inf", "-inf", "0", "-1", "-0.5", "1e30", "99999999999999999999", "abc"]
BAD_VALUES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    0,
    -1,
    -0.5,
    1e30,
    10**30,
    "abc",
    None,
    [1, 2],
    {"a": 1},
    True,
]
#: lab option -> config key (the rest are named alike)
LAB_KEYS = {
    "threshold": "failure_threshold",
    "lag": "replication_lag",
}


def numeric_options(command: click.Command) -> list[click.Option]:
    numeric = (click.types.IntParamType, click.types.FloatParamType)
    return [
        p
        for p in command.params
        if isinstance(p, click.Option) and isinstance(p.type, numeric) and not p.is_flag
    ]


def valid(value: Any, ranges: dict[str, tuple], key: str | None) -> bool:
    """True if ``value`` is inside ``key``'s documented range (then it is not fed)."""
    if key not in ranges:
        return False
    low, high, integer = ranges[key][:3]
    try:
        number: Any = float(value) if isinstance(value, str) else value
        if integer and isinstance(number, float) and number.is_integer():
            number = int(number)
    except ValueError:
        return False
    return number_problem(number, low, high, integer=integer) is None


def assert_refused(result: Result, *names: str) -> None:
    """Non-zero exit, no traceback, one line saying what was wrong, naming it."""
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    text = result.output
    assert "Traceback" not in text
    messages = [
        line
        for line in text.splitlines()
        if line.startswith(("Error:", "gameday lab:")) or "Invalid value" in line
    ]
    assert len(messages) == 1, text
    assert any(name in messages[0] for name in names), (names, text)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[CliRunner]:
    """A CliRunner; `lab up` installs a SIGTERM handler, restored afterwards. A lab that
    started by mistake (a value wrongly accepted) is stopped, and fails the test."""
    saved = signal.getsignal(signal.SIGTERM)
    yield CliRunner()
    signal.signal(signal.SIGTERM, saved)
    stopped = Lab(tmp_path / "lab").stop()
    assert lab_processes((tmp_path / "lab").resolve()) == [], stopped


def test_every_numeric_lab_option(runner: CliRunner, tmp_path: Path) -> None:
    options = numeric_options(lab_cli.up)
    assert {"ttl", "speed", "threshold", "lag"} <= {o.name for o in options}
    lab_dir = tmp_path / "lab"
    fed = 0
    for option in options:
        key = LAB_KEYS.get(option.name or "", option.name)
        for value in BAD_TEXT:
            if valid(value, LAB_RANGES, key):
                continue
            flag = option.opts[0]
            result = runner.invoke(
                lab_cli.lab, ["up", "--detach", "--dir", str(lab_dir), flag, value]
            )
            assert_refused(result, str(key), flag)
            fed += 1
    assert fed >= 50
    assert not lab_dir.exists() and lab_processes(lab_dir.resolve()) == []


def test_every_numeric_lab_config_key(runner: CliRunner, tmp_path: Path) -> None:
    defaults = LabConfig()
    # numeric keys, the optional ones included (None: drawn by the lab, gameday.lab.draws)
    keys = [
        f.name
        for f in fields(LabConfig)
        if f.name in OPTIONAL_NUMBERS
        or (
            isinstance(getattr(defaults, f.name), int | float)
            and not isinstance(getattr(defaults, f.name), bool)
        )
    ]
    assert set(LAB_RANGES) <= set(keys) and "ttl" in keys
    lab_dir = tmp_path / "lab"
    config = tmp_path / "lab.json"
    for key in keys:
        for value in BAD_VALUES:
            if valid(value, LAB_RANGES, key) or (value is None and key in OPTIONAL_NUMBERS):
                continue
            config.write_text(json.dumps({key: value}))  # NaN/Infinity: Python's JSON
            result = runner.invoke(
                lab_cli.lab, ["up", "--detach", "--dir", str(lab_dir), "--config", str(config)]
            )
            assert_refused(result, key)
    toml = tmp_path / "lab.toml"
    for text in ("ttl = nan", "speed = inf", "replication_lag = -inf"):
        toml.write_text(text + "\n")
        result = runner.invoke(
            lab_cli.lab, ["up", "--detach", "--dir", str(lab_dir), "--config", str(toml)]
        )
        assert_refused(result, text.split()[0])
    assert not lab_dir.exists() and lab_processes(lab_dir.resolve()) == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1, 2]", "must be a table of settings"),
        (b"null", "must be a table of settings"),
        (b'"zone"', "must be a table of settings"),
        (b'{"zone": 5}', "zone must be a DNS name"),
        (b'{"record": null}', "record must be a DNS name"),
        (b'{"regions": 5}', "regions must be a list"),
        (b'{"regions": [1, 2]}', "regions must be a list"),
        (b'{"regions": [{"name": 1, "address": 2}, {"name": "a", "address": "b"}]}', "as strings"),
        (b'{"secret_name": ["x"]}', "secret_name must be"),
        (b'{"zone": "caf\xe9.internal"}', "not UTF-8"),
        (b"{not json", "not valid json"),
    ],
)
def test_config_files_of_the_wrong_shape_get_a_message(
    runner: CliRunner, tmp_path: Path, content: bytes, says: str
) -> None:
    config = tmp_path / "lab.json"
    config.write_bytes(content)
    lab_dir = tmp_path / "lab"
    result = runner.invoke(
        lab_cli.lab, ["up", "--detach", "--dir", str(lab_dir), "--config", str(config)]
    )
    assert_refused(result, says)
    assert not lab_dir.exists()


def test_lab_dir_of_the_wrong_type_is_refused_in_python() -> None:
    from gameday.lab.config import LabConfigError

    with pytest.raises(LabConfigError, match="lab_dir must be a directory path"):
        LabConfig.from_dict({"lab_dir": 5}).validate()


def test_lab_status_event_count(runner: CliRunner, tmp_path: Path) -> None:
    for value in ("-3", "nan", "inf", "1e30", "99999999999", "abc"):
        result = runner.invoke(lab_cli.lab, ["status", "--events", value, "--dir", str(tmp_path)])
        assert_refused(result, "--events")


def _load_option_key(option: click.Option) -> str | None:
    return option.name if option.name in LOAD_RANGES else None


@pytest.mark.parametrize("command", ["run", "worker"])
def test_every_numeric_load_option(runner: CliRunner, tmp_path: Path, command: str) -> None:
    cmd = load_cli.load.commands[command]
    options = numeric_options(cmd)
    assert options
    ledger = tmp_path / "ledger.jsonl"
    base = (
        ["run", "--target", "127.0.0.1", "--lab", "--ledger", str(ledger)]
        if command == "run"
        else ["worker", "--master-host", "127.0.0.1", "--log-dir", str(tmp_path)]
    )
    for option in options:
        key = _load_option_key(option)
        for value in BAD_TEXT:
            if valid(value, LOAD_RANGES, key):
                continue
            if command == "worker" and key in ("port", "users", "expect_workers"):
                continue
            args = [*base, option.opts[0], value]
            if command == "run" and option.name != "port":
                args += ["--port", "8080"]
            result = runner.invoke(load_cli.load, args)
            assert_refused(result, option.opts[0], str(key))
    assert not ledger.exists() and not list(tmp_path.glob("*.locust.log"))


def test_run_time_durations(runner: CliRunner, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    for value in ("nan", "inf", "0", "0s", "-5", "99999999h", "abc", ""):
        result = runner.invoke(
            load_cli.load,
            [
                "run",
                "--target",
                "127.0.0.1",
                "--port",
                "8080",
                "--lab",
                "--ledger",
                str(ledger),
                "--run-time",
                value,
            ],
        )
        assert_refused(result, "--run-time", "run_time")
    assert not ledger.exists()


def test_load_status_window(runner: CliRunner, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("")
    for value in BAD_TEXT:
        result = runner.invoke(
            load_cli.load, ["status", "--ledger", str(ledger), "--window", value]
        )
        assert_refused(result, "--window")
