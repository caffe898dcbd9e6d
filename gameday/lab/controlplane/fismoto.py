"""FIS in moto, patched: templates validated, experiments run on the lab's clock.

The rules are :mod:`.fis`'s (pure); this module is the one that reaches into moto's FIS
backend: it validates ``CreateExperimentTemplate``, lays out each started experiment on the
lab's clock (:func:`.fis.plan`), draws the documented delays of actions whose effect AWS
says may start late (:data:`.fis.EFFECT_DELAYS`, from the lab's seeded draws), refuses at
``StartExperiment`` what the lab does not emulate (:func:`.fis.unemulated_scope`), and
publishes the runs for the data plane to read (:func:`runs`).
"""

from __future__ import annotations

from typing import Any

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import ec2
from gameday.lab.controlplane.fis import (
    EFFECT_DELAYS,
    REAL_TIME,
    ExperimentRun,
    FisValidationError,
    plan,
    unemulated_scope,
    validate_template,
)
from gameday.lab.controlplane.server import LAB_ACCOUNT_ID
from gameday.lab.draws import Draws, new_seed

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def runs() -> list[ExperimentRun]:
    """Every experiment the lab has started, in every region (what the data plane reads).

    The run lives on moto's experiment object, so the control plane publishes it and the
    fault reconciler only reads it; nothing else shares it.
    """
    from moto.fis.models import fis_backends

    found = []
    for backend in list(fis_backends[LAB_ACCOUNT_ID].values()):
        for experiment in list(backend.experiments.values()):
            run = getattr(experiment, "_lab_run", None)
            if run is not None:
                found.append(run)
    return found


def _table_arns(region: str) -> list[str]:
    from moto.dynamodb.models import dynamodb_backends

    return [t.table_arn for t in list(dynamodb_backends[LAB_ACCOUNT_ID][region].tables.values())]


def install(clock: LabClock = REAL_TIME, draws: Draws | None = None) -> None:
    """FIS templates are validated, experiments run on the lab's clock with effects."""

    draws = draws or Draws(new_seed())

    from moto.fis.exceptions import FISException
    from moto.fis.models import Experiment, FISBackend

    class ValidationException(FISException):
        code = 400

        def __init__(self, message: str) -> None:
            super().__init__("ValidationException", message)

    create_template = FISBackend.create_experiment_template
    start = FISBackend.start_experiment

    def create_experiment_template(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            validate_template(kwargs.get("actions") or {}, kwargs.get("targets") or {})
        except FisValidationError as exc:
            raise ValidationException(str(exc)) from exc
        return create_template(self, *args, **kwargs)

    def start_experiment(self: Any, *args: Any, **kwargs: Any) -> Any:
        template = self.experiment_templates.get(kwargs.get("experiment_template_id"))
        refused = unemulated_scope(template.actions or {}) if template is not None else None
        if refused:
            raise ValidationException(refused)
        result = start(self, *args, **kwargs)
        experiment = self.experiments[result["id"]]
        if getattr(experiment, "_lab_run", None) is not None:
            return result  # an idempotent retry with the same client token
        resolved, failure = _resolve_targets(
            self.region_name, experiment.targets, experiment.actions
        )
        run = plan(
            experiment.id,
            self.region_name,
            experiment.start_time,
            experiment.actions,
            resolved,
            clock,
        )
        _delay_effects(run, clock, draws)
        if failure and experiment.experiment_options.get("emptyTargetResolutionMode") != "skip":
            run.failed_reason = failure
            experiment.STATUS_REASONS = {**Experiment.STATUS_REASONS, "failed": failure}
        experiment._lab_run = run
        return experiment.to_dict(tags=self.tagger.get_tag_dict_for_resource(experiment.arn))

    _patch_experiment_status(Experiment)
    FISBackend.create_experiment_template = create_experiment_template
    FISBackend.start_experiment = start_experiment


def _patch_experiment_status(experiment_class: Any) -> None:
    """An experiment the lab runs reports its status from the lab's timeline."""
    import time as _time

    Experiment = experiment_class
    managed_status = Experiment.status

    def status_get(self: Any) -> str | None:
        run = getattr(self, "_lab_run", None)
        if run is None:
            return managed_status.fget(self)
        return run.status(_time.time())

    def status_set(self: Any, value: str) -> None:
        run = getattr(self, "_lab_run", None)
        if run is None:
            managed_status.fset(self, value)
        elif value == "stopping" and run.stopped_at is None:
            run.stopped_at = _time.time()

    def sync_state(self: Any) -> str:
        run = getattr(self, "_lab_run", None)
        if run is None:
            return Experiment._moto_sync_state(self)
        now = _time.time()
        status = run.status(now)
        self.end_time = run.end_time(now)
        for action in run.actions:
            state, started, ended = run.action_status(action, now)
            entry = self.actions[action.name]
            entry["state"] = {"status": state, "reason": f"Action is {state}"}
            if started is not None:
                entry["startTime"] = started
            if ended is not None:
                entry["endTime"] = ended
        return status

    Experiment._moto_sync_state = Experiment._sync_state
    Experiment._sync_state = sync_state
    Experiment.status = property(status_get, status_set)


def _resolve_targets(
    region: str, targets: dict[str, Any], actions: dict[str, Any]
) -> tuple[dict[str, dict[str, list[str]]], str | None]:
    """Resolve each action's targets to ARNs in the control plane; (resolved, failure)."""
    subnet_list = ec2.subnets(region)
    tables = _table_arns(region)
    by_target: dict[str, list[str]] = {}
    for name, target in targets.items():
        kind = target.get("resourceType")
        arns = list(target.get("resourceArns") or [])
        tags = target.get("resourceTags") or {}
        if kind == "aws:ec2:subnet":
            if arns:
                known = {arn for _, arn, _ in subnet_list}
                arns = [a for a in arns if a in known]
            elif tags:
                arns = [
                    arn for _, arn, t in subnet_list if all(t.get(k) == v for k, v in tags.items())
                ]
        elif kind == "aws:dynamodb:global-table":
            arns = [a for a in arns if a in tables]
        arns = _select(arns, target.get("selectionMode", "ALL"))
        by_target[name] = arns
    resolved: dict[str, dict[str, list[str]]] = {}
    for action_name, action in actions.items():
        resolved[action_name] = {
            key: by_target.get(t, []) for key, t in (action.get("targets") or {}).items()
        }
        for key, target_name in (action.get("targets") or {}).items():
            if not by_target.get(target_name):
                return (
                    resolved,
                    f"Target resolution failed: target {target_name} ({key}) matched no resource in {region}",
                )
    return resolved, None


def _select(arns: list[str], mode: str) -> list[str]:
    if mode.startswith("COUNT(") and mode.endswith(")"):
        return arns[: int(mode[6:-1])]
    if mode.startswith("PERCENT(") and mode.endswith(")"):
        keep = max(1, round(len(arns) * int(mode[8:-1]) / 100)) if arns else 0
        return arns[:keep]
    return arns


def _delay_effects(run: ExperimentRun, clock: LabClock, draws: Draws) -> None:
    """Actions whose effect AWS says may begin late start it after a drawn delay."""
    for action in run.actions:
        name = EFFECT_DELAYS.get(action.action_id)
        if name is None:
            continue
        delay = draws.draw(name, experiment_id=run.experiment_id, action=action.name)
        action.effect_from = action.start + clock.aws_to_lab(delay)
