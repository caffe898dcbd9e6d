"""The recorder's fast JSON lines are byte for byte what the json module writes."""

from __future__ import annotations

import json
import math
import random

from gameday.load.ledger import LedgerRecord
from gameday.load.recorder import _encode, _encode_slow


def _reference(rows: list[tuple]) -> str:
    """The general path: a dict per record through the json module's encoder."""
    return "\n".join([*(_encode_slow(row) for row in rows), ""])


def test_fast_lines_equal_the_json_modules() -> None:
    rng = random.Random(7)
    awkward = ['quo"te', "back\\slash", "tab\there", "line\nbreak", "région", "東京", "\x00", ""]
    rows = []
    for n in range(2000):
        rows.append(
            (
                1.7e9 + rng.random() * 1e6,
                rng.choice([0.0, 0.1234567, rng.random() * 5000, 30000.0, 1e-9]),
                rng.choice(["write", "read", *awkward]),
                rng.choice(["POST", "GET"]),
                rng.choice([0, 200, 201, 404, 503]),
                rng.choice([None, "us-east-1", *awkward]),
                rng.choice([None, "127.0.1.1", "::1"]),
                rng.choice([None, f"id-{n}", *awkward]),
                rng.choice([None, "ConnectionRefusedError", "DNSResolutionError", *awkward]),
                rng.choice(["ttl", "sticky"]),
            )
        )
    assert _encode(rows) == _reference(rows)
    for line in _encode(rows).splitlines():
        LedgerRecord.from_json(json.loads(line))


def test_odd_values_take_the_json_modules_path() -> None:
    rows = [
        (1.7e9, math.inf, "read", "GET", 200, None, None, None, None, "ttl"),
        (1.7e9, math.nan, "read", "GET", 200, None, None, None, None, "ttl"),
        (1_700_000_000, 1.0, "read", "GET", 200, None, None, None, None, "ttl"),
        (1.7e9, 1.0, "read", "GET", True, None, None, None, None, "ttl"),
        (1.7e9, 1.0, 42, "GET", 200, None, None, None, None, "ttl"),
    ]
    assert _encode(rows) == _reference(rows)
    assert _encode([]) == ""
