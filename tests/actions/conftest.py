"""Fixtures for the activity tests: Stubber-backed clients, moto, an isolated ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from gameday import aws, faults

ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test: its own ledger, fake credentials, the test account allowlisted."""
    ledger = tmp_path / "faults.jsonl"
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GAMEDAY_LAB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(ledger))
    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", ACCOUNT)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.clear_sessions()
    faults.forget_identities()
    yield ledger
    aws.clear_sessions()
    faults.forget_identities()


class Stubs:
    """Real botocore clients wrapped in Stubbers, handed out by a patched ``aws.client``."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str | None], Any] = {}
        self.stubbers: dict[tuple[str, str | None], Stubber] = {}
        self.calls: list[tuple[str, str | None, str | None]] = []

    def _key(self, service: str, endpoint_url: str | None) -> tuple[str, str | None]:
        return (service, endpoint_url)

    def client(self, service: str, region: str | None = None, **kwargs: Any) -> Any:
        endpoint_url = kwargs.get("endpoint_url")
        self.calls.append((service, region, endpoint_url))
        key = self._key(service, endpoint_url)
        if key not in self.clients:
            session = boto3.session.Session(
                botocore_session=botocore.session.Session(),
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            made = session.client(
                service, region_name=region or "us-east-1", endpoint_url=endpoint_url
            )
            self.clients[key] = made
            stubber = Stubber(made)
            stubber.activate()
            self.stubbers[key] = stubber
        return self.clients[key]

    def stub(self, service: str, endpoint_url: str | None = None) -> Stubber:
        """The Stubber of ``service`` (created on first use), to queue responses on."""
        self.client(service, "us-east-1", endpoint_url=endpoint_url)
        self.calls.pop()
        return self.stubbers[self._key(service, endpoint_url)]

    def identity(self) -> None:
        """Queue the one ``sts.get_caller_identity`` the account guard makes."""
        self.stub("sts").add_response(
            "get_caller_identity",
            {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/t", "UserId": "AID"},
            {},
        )

    def verify(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    """Patch :func:`gameday.aws.client` to hand out Stubber-wrapped clients.

    Stubber validates each call's operation and parameters against the botocore service
    model (``expected_params``), exactly what real AWS would receive.
    """
    holder = Stubs()
    monkeypatch.setattr(aws, "client", holder.client)
    yield holder
    holder.verify()


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto in-process for the whole test."""
    from moto import mock_aws

    with mock_aws():
        yield


def ledger_states(path: Path) -> list[tuple[str, str]]:
    """(activity, state) of every entry in the ledger at ``path``."""
    return [(e.activity, e.state) for e in faults.Ledger(path).entries()]
