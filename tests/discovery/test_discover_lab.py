"""On the lab, discovery from the service name alone writes the lab's own var file.

The lab answers the AWS calls discovery makes, and writes its own ``vars.json`` from what
it created: the two must agree on every key, for both data tiers and for a region pair
other than the default. The four keys that say how to reach the account
(:data:`gameday.varkeys.ENVIRONMENT_KEYS`) come from the reaching variables ``gameday lab
env`` exports (endpoint, lab mode and directory, resolver); no variable naming a resource
is handed to discovery.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gameday.lab import Lab, RegionSpec
from gameday.varkeys import ENVIRONMENT_KEYS, KEYS
from tests.discovery.helpers import configuration, discover_cli, lab_configuration

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]

PAIRS = {
    "default": None,
    "eu-ap": (RegionSpec("eu-west-1", "127.0.1.1"), RegionSpec("ap-southeast-2", "127.0.2.1")),
}


@pytest.mark.parametrize(
    ("tier", "pair"),
    [("aurora", "default"), ("dynamodb", "default"), ("aurora", "eu-ap"), ("dynamodb", "eu-ap")],
)
def test_discover_writes_the_labs_own_var_file(
    tier: str, pair: str, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    settings: dict[str, object] = {"data_tier": tier}
    if PAIRS[pair]:
        settings["regions"] = PAIRS[pair]
    lab = lab_factory(**settings)
    out = tmp_path / "staging.json"
    run = discover_cli(lab, out)
    assert run.returncode == 0, run.stderr
    found, expected = configuration(out), lab_configuration(lab)
    assert list(found) == list(KEYS)
    assert found == expected
    # the account's keys were found, not copied: each names a resource of this lab
    assert found["primary_region"] == lab.info.primary.name
    assert found["secondary_network_acl_id"] == lab.info.secondary.network_acl_id
    if tier == "aurora":
        assert found["secondary_db_cluster_arn"] == lab.info.secondary.db_cluster_arn
        assert "found everything" in run.stdout
    else:
        # no Aurora in this tier: said, with the drills it rules out
        assert found["global_cluster_id"] == ""
        assert "not found: an Aurora global database" in run.stdout
        keys = ("global_cluster_id", "primary_db_cluster_arn", "secondary_db_cluster_arn")
        assert _rules_out(*keys) in run.stdout
        assert "database-failover" in _rules_out(*keys)
    assert set(ENVIRONMENT_KEYS) < set(KEYS)


def test_discovery_finds_a_missing_health_check_and_names_the_drills_it_rules_out(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory()
    secondary = lab.info.secondary
    _route53(lab).delete_health_check(HealthCheckId=secondary.health_check_id)
    out = tmp_path / "staging.json"
    run = discover_cli(lab, out)
    assert run.returncode == 0, run.stderr
    found, expected = configuration(out), lab_configuration(lab)
    assert found["secondary_health_check_id"] == ""
    assert {k: v for k, v in found.items() if k != "secondary_health_check_id"} == {
        k: v for k, v in expected.items() if k != "secondary_health_check_id"
    }
    assert (
        f"not found: the secondary health check {secondary.health_check_id} "
        "(secondary_health_check_id): the secondary record" in run.stdout
    )
    assert "NoSuchHealthCheck" in run.stdout
    assert _rules_out("secondary_health_check_id") + "\n" in run.stdout + "\n"
    assert "secondary-missing-secret" in _rules_out("secondary_health_check_id")


def test_discovery_finds_a_secret_without_its_replica_and_names_the_drills(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory()
    info = lab.info
    client = _client(lab, "secretsmanager", info.primary.name)
    client.remove_regions_from_replication(
        SecretId=info.secret_name, RemoveReplicaRegions=[info.secondary.name]
    )
    out = tmp_path / "staging.json"
    run = discover_cli(lab, out)
    assert run.returncode == 0, run.stderr
    found = configuration(out)
    assert found["secret_name"] == ""
    assert (
        "not found: a secret replicated to the secondary (secret_name): none is in both "
        f"{info.primary.name} and {info.secondary.name}" in run.stdout
    )
    # every catalogue drill reads the secret's health: all are ruled out
    assert _rules_out("secret_name") in run.stdout
    assert {"region-evacuation", "secondary-missing-secret"} <= set(_drills_using("secret_name"))


def _drills_using(*keys: str) -> list[str]:
    """The catalogue drills whose experiment uses one of ``keys`` (read here, not by the
    code under test)."""
    drills = []
    for path in sorted((ROOT / "experiments").glob("*.json")):
        text = path.read_text()
        if '"name": "gameday"' in text and any("${" + key + "}" in text for key in keys):
            drills.append(path.stem)
    return drills


def _rules_out(*keys: str) -> str:
    return "rules out: " + ", ".join(_drills_using(*keys))


def _client(lab: Lab, service: str, region: str):  # type: ignore[no-untyped-def]
    """A boto3 client on the lab (its fake credentials), to take something away."""
    import boto3

    env = lab.env()
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    ).client(service, region_name=region, endpoint_url=lab.info.endpoint_url)


def _route53(lab: Lab):  # type: ignore[no-untyped-def]
    return _client(lab, "route53", lab.info.primary.name)
