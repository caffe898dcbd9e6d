"""The client factory: precedence, isolation from boto3's default session, endpoints,
assumed roles, lab-mode loopback guard, fail-fast retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.exceptions import ClientError

from gameday import aws


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_ROUTE_53",
        "AWS_PROFILE",
        "GAMEDAY_LAB",
        "AWS_REGION",
        "AWS_ENDPOINT_URL_STS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    aws.clear_sessions()
    yield
    aws.clear_sessions()


def test_region_precedence_call_then_configuration_then_environment() -> None:
    assert aws.client("ec2").meta.region_name == "eu-west-1"
    cfg = {"aws_region": "us-west-2"}
    assert aws.client("ec2", configuration=cfg).meta.region_name == "us-west-2"
    assert aws.client("ec2", "ap-south-1", configuration=cfg).meta.region_name == "ap-south-1"


def test_endpoint_precedence_and_per_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1111")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", "http://127.0.0.1:2222")
    assert aws.client("ec2").meta.endpoint_url == "http://127.0.0.1:1111"
    assert aws.client("route53").meta.endpoint_url == "http://127.0.0.1:2222"
    cfg = {"aws_endpoint_url": "http://127.0.0.1:3333"}
    assert aws.client("route53", configuration=cfg).meta.endpoint_url == "http://127.0.0.1:3333"
    assert (
        aws.client(
            "route53", configuration=cfg, endpoint_url="http://127.0.0.1:4444"
        ).meta.endpoint_url
        == "http://127.0.0.1:4444"
    )


def test_default_session_is_never_touched_and_sessions_are_per_identity() -> None:
    boto3.DEFAULT_SESSION = None
    aws.client("s3", secrets={"aws_access_key_id": "A", "aws_secret_access_key": "B"})
    aws.client("s3")
    assert boto3.DEFAULT_SESSION is None
    one = aws.session(secrets={"aws_access_key_id": "A", "aws_secret_access_key": "B"})
    assert one.get_credentials().access_key == "A"
    assert aws.session().get_credentials().access_key == "testing"
    assert aws.session(secrets={"aws_access_key_id": "A", "aws_secret_access_key": "B"}) is one


def test_reused_clients_keep_one_client_per_service_region_endpoint_and_identity() -> None:
    other = {"aws_access_key_id": "A", "aws_secret_access_key": "B"}
    assert aws.client("route53") is not aws.client("route53")  # outside: a new one each time
    with aws.reused_clients():
        first = aws.client("route53", "us-east-1")
        assert aws.client("route53", "us-east-1") is first
        assert aws.client("route53", "us-west-2") is not first
        assert aws.client("rds", "us-east-1") is not first
        assert aws.client("route53", "us-east-1", secrets=other) is not first
        assert aws.client("route53", "us-east-1", endpoint_url="http://127.0.0.1:1") is not first
        with aws.reused_clients():  # nested: the same clients
            assert aws.client("route53", "us-east-1") is first
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(aws.client("route53", "us-east-1")))
        thread.start()
        thread.join()
        assert seen[0] is not first  # another thread outside the block builds its own
        assert aws.client("route53", "us-east-1") is first
    assert aws.client("route53", "us-east-1") is not first  # the block ended


def test_assume_role_gives_the_roles_temporary_credentials() -> None:
    from moto import mock_aws

    with mock_aws():
        role = "arn:aws:iam::123456789012:role/gameday-drill"
        sess = aws.session(configuration={"aws_assume_role_arn": role})
        creds = sess.get_credentials().get_frozen_credentials()
        assert creds.access_key != "testing" and creds.token
        who = aws.client("sts", configuration={"aws_assume_role_arn": role}).get_caller_identity()
        assert "assumed-role/gameday-drill/gameday" in who["Arn"]


def test_unknown_region_and_lab_mode_refuses_non_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(aws.AwsSetupError, match="not an AWS region"):
        aws.client("ec2", "mars-north-1")
    monkeypatch.setenv("GAMEDAY_LAB", "1")
    with pytest.raises(aws.AwsSetupError, match="Lab mode"):
        aws.client("ec2")
    assert aws.client("ec2", endpoint_url="http://127.0.3.1:5000").meta.endpoint_url
    assert aws.client("ec2", endpoint_url="http://localhost:5000").meta.endpoint_url


class _Counting(BaseHTTPRequestHandler):
    status = 501
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "attempts"), [(501, 1), (503, 3)])
def test_retry_policy_fails_fast_on_unimplemented(
    status: int, attempts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = type("H", (_Counting,), {"status": status, "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # standard mode sleeps between retries: keep the 503 case quick
    monkeypatch.setattr(
        "botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0.01
    )
    try:
        sts = aws.client("sts", endpoint_url=f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(ClientError):
            sts.get_caller_identity()
        assert handler.hits == attempts
    finally:
        server.shutdown()
        server.server_close()


def test_lab_mode_refuses_an_assumed_roles_sts_endpoint_off_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service endpoint is the lab's, but the role would be assumed at a real STS:
    refused before any request leaves (192.0.2.1 is TEST-NET, never contacted)."""
    monkeypatch.setenv("GAMEDAY_LAB", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://192.0.2.1:9")
    role = {"aws_assume_role_arn": "arn:aws:iam::123456789012:role/gameday-drill"}
    ec2 = aws.client("ec2", configuration=role)
    assert ec2.meta.endpoint_url == "http://127.0.0.1:9"
    with pytest.raises(aws.AwsSetupError, match=r"Lab mode .* refuses the sts endpoint"):
        aws.session(configuration=role).get_credentials().get_frozen_credentials()
