"""Replication falling behind, the same experiment against the lab and against AWS.

Which fault makes a replica lag depends on the target, and the var file says which target
this is (``gameday_target``), so one experiment runs against both:

* **AWS**: an FIS experiment pausing the DynamoDB global table's replication
  (:func:`gameday.actions.fis.pause_replication` on ``table_arn``, with ``fis_role_arn``),
  recorded in the fault ledger and undone by :func:`gameday.actions.fis.resume_replication`.
  (No FIS action pauses Aurora's storage replication: on an Aurora-only service, watch the
  real lag instead.)
* **the lab**: its lab-only replication delay (``gameday lab set-lag``, through
  :mod:`gameday.lab.api`), which delays every replication link of the lab, whatever its
  data tier; undone by setting the lab's configured baseline back.

:func:`delay_replication` and its rollback :func:`restore_replication` are Chaos Toolkit
actions; both read the target from ``configuration``.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.actions.fis import (
    START_IAM,
    STOP_IAM,
    pause_replication,
    resume_replication,
)

__all__ = ["delay_replication", "restore_replication"]


def _lab_dir(configuration: Configuration) -> str | None:
    c = configuration or {}
    if c.get("gameday_target") == "lab" and c.get("gameday_lab_dir"):
        return str(c["gameday_lab_dir"])
    return None


def _set_lab_lag(lab_dir: str, seconds: float) -> dict[str, Any]:
    from gameday.lab import api

    try:
        return api.set_lag(lab_dir, seconds)
    except api.LabError as exc:
        raise ActivityFailed(
            f"could not set the lab's replication lag in {lab_dir}: {exc}"
        ) from exc


def _check_seconds(seconds: Any) -> None:
    try:
        valid = float(seconds) >= 0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ActivityFailed(f"`seconds` must be a number >= 0, got {seconds!r}.")


@registry.fault(
    rollback="restore_replication",
    iam=START_IAM,  # on AWS an FIS pause of the global table (the lab's knob calls no AWS API)
    check=registry.argument("seconds", _check_seconds),
    note="the lab's `set-lag` knob, or on AWS the FIS pause of the var file's global table",
)
def delay_replication(
    seconds: float = 30.0,
    duration: str = "PT5M",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Make cross-region replication fall behind.

    Lab: replication is delayed by ``seconds`` (AWS seconds, like every duration a drill
    declares: ``seconds / speed`` lab seconds) until restored. AWS: the
    global table's replication is paused with FIS for ``duration`` (ISO 8601).
    Roll back with :func:`restore_replication`.

    Returns ``target`` (``lab`` or ``aws``) and what the fault returned.
    """
    lab_dir = _lab_dir(configuration)
    if lab_dir is not None:
        _check_seconds(seconds)
        # AWS seconds, like every duration a drill declares (the lab serves seconds / speed)
        return {"target": "lab", **_set_lab_lag(lab_dir, float(seconds))}
    c = configuration or {}
    result = pause_replication(
        region=str(c.get("primary_region")),
        duration=duration,
        table_arns=[str(c.get("table_arn"))],
        role_arn=c.get("fis_role_arn"),
        configuration=configuration,
        secrets=secrets,
    )
    return {"target": "aws", **result}


@registry.rollback(iam=STOP_IAM)
def restore_replication(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Undo :func:`delay_replication`: the lab's baseline lag, or stop the FIS pause.

    Idempotent: restoring a replication that is not delayed changes nothing.
    """
    lab_dir = _lab_dir(configuration)
    if lab_dir is not None:
        from gameday.lab import api

        return {"target": "lab", **_set_lab_lag(lab_dir, api.baseline_lag(lab_dir))}
    c = configuration or {}
    return {
        "target": "aws",
        **resume_replication(
            region=str(c.get("primary_region")), configuration=configuration, secrets=secrets
        ),
    }
