"""Regions must be allowlisted, and a target that looks like production is refused unless
the run explicitly allows it (and records that it did)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gameday.allowlist import (
    RegionNotAllowed,
    allowed_regions,
    ensure_regions_allowed,
    production_like,
)
from gameday.drill import DrillError, safety
from gameday.drill.signals import StopGuard


def test_aws_regions_must_be_allowlisted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GAMEDAY_ALLOWED_REGIONS", raising=False)
    aws = {"gameday_target": "aws", "primary_region": "us-east-1"}
    with pytest.raises(RegionNotAllowed, match="No AWS region is allowlisted"):
        ensure_regions_allowed(aws, {"us-east-1"})
    allowed = {**aws, "gameday_allowed_regions": "us-east-1, us-west-2"}
    ensure_regions_allowed(allowed, {"us-east-1", "us-west-2"})
    with pytest.raises(RegionNotAllowed, match="eu-west-1 not allowlisted"):
        ensure_regions_allowed(allowed, {"us-east-1", "eu-west-1"})
    monkeypatch.setenv("GAMEDAY_ALLOWED_REGIONS", "eu-west-1")
    ensure_regions_allowed(allowed, {"eu-west-1"})


def test_the_lab_allows_its_own_regions_only() -> None:
    lab = {"gameday_target": "lab", "primary_region": "us-east-1", "secondary_region": "us-west-2"}
    assert allowed_regions(lab) == {"us-east-1", "us-west-2"}
    with pytest.raises(RegionNotAllowed):
        ensure_regions_allowed(lab, {"ap-south-1"})


@pytest.mark.parametrize(
    ("value", "looks"),
    [("orders-prod", True), ("Production", True), ("api.prd.example.com", True),
     ("nonprod-orders", False), ("non-prod", False), ("preprod", False), ("product-api", False)],
)  # fmt: skip
def test_production_names(value: str, looks: bool) -> None:
    assert bool(production_like({"service_name": value})) is looks


def _run(configuration: dict[str, Any], allow: bool, lab_dir: Path) -> Any:
    run = SimpleNamespace(
        configuration={"gameday_target": "lab", "primary_region": "us-east-1",
                       "secondary_region": "us-west-2", "gameday_lab_dir": str(lab_dir),
                       **configuration},
        secrets={}, experiment={"method": []}, phase="preflight", run_dir=None, settings=None,
    )  # fmt: skip
    run.safety = safety.Safety(StopGuard(lambda: "preflight", lambda: []), allow_production=allow)
    return run


def test_a_production_looking_target_is_refused_unless_allowed(tmp_path: Path) -> None:
    names = {"service_name": "api.prod.example.com", "global_cluster_id": "orders-global"}
    with pytest.raises(DrillError) as refused:
        safety.preflight(_run(names, allow=False, lab_dir=tmp_path))
    assert "service_name=api.prod.example.com" in str(refused.value)
    assert "--allow-production" in str(refused.value)
    allowed = _run(names, allow=True, lab_dir=tmp_path)
    safety.preflight(allowed)
    safety.release_target(allowed)
    recorded = safety.run_json_fields(allowed)
    assert recorded["allow_production"] is True
    assert recorded["production_like"] == ["service_name=api.prod.example.com"]
