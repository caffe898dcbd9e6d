"""The discovery tests' moto account (in-process, no lab)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's account, allowlisted, with boto3 pointed at it (no endpoint, no lab mode);
    yields its Route 53 client."""
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "GAMEDAY_LAB", "AWS_PROFILE", "GAMEDAY_NAMESERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", "123456789012")
    with mock_aws():
        yield boto3.client("route53", region_name="us-east-1")
