"""Replication falling behind, the same experiment against the lab and against AWS.

Which fault makes a replica lag depends on the target, and the var file says which target
this is (``gameday_target``), so one experiment runs against both:

* **AWS**: an FIS experiment pausing the DynamoDB global table's replication
  (:func:`gameday.actions.fis.pause_replication` on ``table_arn``, with ``fis_role_arn``),
  recorded in the fault ledger and undone by :func:`gameday.actions.fis.resume_replication`.
  (No FIS action pauses Aurora's storage replication: on an Aurora-only service, watch the
  real lag instead.)
* **the lab**: its lab-only replication delay (``gameday lab set-lag``, the supervisor's
  ``POST /replication/lag``), which delays every replication link of the lab, whatever
  its data tier; undone by setting the lab's configured baseline back. (A lab from before
  that knob paused its orders' replication with the FIS action itself: the AWS path.)

:func:`delay_replication` and its rollback :func:`restore_replication` are Chaos Toolkit
actions; both read the target from ``configuration``.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

__all__ = ["delay_replication", "restore_replication"]


class _NoKnob(ActivityFailed):
    """The lab predates ``gameday lab set-lag``."""


def _lab(configuration: Configuration) -> Path | None:
    c = configuration or {}
    if c.get("gameday_target") == "lab" and c.get("gameday_lab_dir"):
        return Path(str(c["gameday_lab_dir"]))
    return None


def _set_lab_lag(lab_dir: Path, seconds: float) -> dict[str, Any]:
    try:
        state = json.loads((lab_dir / "state.json").read_text())
        port = int(state["supervisor_port"])
    except (OSError, ValueError, KeyError) as exc:
        raise ActivityFailed(
            f"no running lab in {lab_dir}: start one with 'gameday lab up'."
        ) from exc
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/replication/lag", json.dumps({"seconds": seconds}).encode())
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
    except (OSError, ValueError) as exc:
        raise ActivityFailed(f"the lab supervisor does not answer: {exc}") from exc
    finally:
        conn.close()
    if response.status == 404:
        raise _NoKnob("this lab has no replication-lag knob")
    if response.status != 200:
        raise ActivityFailed(f"the lab refused the replication lag: {body.get('error', body)}")
    return body


def _baseline(lab_dir: Path) -> float:
    try:
        config = json.loads((lab_dir / "state.json").read_text()).get("config") or {}
        return float(config.get("replication_lag", 0.3))
    except (OSError, ValueError):
        return 0.3


def _speed(lab_dir: Path) -> float:
    """The lab's speed (AWS seconds per lab second): the drill's durations run at 1/speed."""
    from gameday.reports.clock import Timescale

    try:
        config = json.loads((lab_dir / "state.json").read_text()).get("config") or {}
    except (OSError, ValueError):
        config = {}
    return Timescale.of(config.get("speed")).speed


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
    lab_dir = _lab(configuration)
    if lab_dir is not None:
        if float(seconds) < 0:
            raise ActivityFailed(f"`seconds` must be >= 0, got {seconds}.")
        try:
            lab_seconds = float(seconds) / _speed(lab_dir)
            return {"target": "lab", "aws_seconds": float(seconds),
                    **_set_lab_lag(lab_dir, lab_seconds)}  # fmt: skip
        except _NoKnob:
            pass  # a lab from before the lag knob paused its orders with FIS: below
    from gameday.actions.fis import pause_replication

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


def restore_replication(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Undo :func:`delay_replication`: the lab's baseline lag, or stop the FIS pause.

    Idempotent: restoring a replication that is not delayed changes nothing.
    """
    lab_dir = _lab(configuration)
    if lab_dir is not None:
        try:
            return {"target": "lab", **_set_lab_lag(lab_dir, _baseline(lab_dir))}
        except _NoKnob:
            pass
    from gameday.actions.fis import resume_replication

    c = configuration or {}
    return {
        "target": "aws",
        **resume_replication(
            region=str(c.get("primary_region")), configuration=configuration, secrets=secrets
        ),
    }
