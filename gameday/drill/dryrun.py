"""``gameday run --dry-run``: what a drill would inject and how each fault is rolled back,
changing nothing.

It validates the experiment as ``gameday run`` does, resolves the configuration (var
files, ``--var``), asks STS which account the credentials are for and whether it and the
regions are allowlisted, looks up every target the variables name (read-only
``Describe``/``Get`` calls, the same as preflight's), and prints each method activity with
its arguments substituted: for a fault, the rollback gameday registers for it (run by the
control after the experiment, whatever happens) and the experiment's own rollbacks. No
load, no run directory, no lock, no fault-ledger entry: the only AWS calls are reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.drill import DrillError

__all__ = ["DryRun", "PlannedStep", "dry_run"]


@dataclass(frozen=True)
class PlannedStep:
    """One method activity as it would run."""

    kind: str  # fault, action, probe, operator step
    name: str
    call: str
    rollback: str | None = None


@dataclass
class DryRun:
    """What the dry run found."""

    experiment: Path
    target: str
    account: str | None
    regions: list[str]
    steps: list[PlannedStep] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"dry run of {self.experiment} against {self.target} (account {self.account}, "
            f"regions {', '.join(self.regions) or '?'}): nothing is changed",
        ]
        for number, step in enumerate(self.steps, start=1):
            lines.append(f"  {number}. {step.kind} {step.name!r}: {step.call}")
            if step.rollback:
                lines.append(f"     rolled back by {step.rollback}")
        lines.append("  the experiment's rollbacks (played always, before the control's):")
        lines += [f"     - {r}" for r in self.rollbacks] or ["     (none declared)"]
        if self.problems:
            lines.append("  problems (the drill would be refused):")
            lines += [f"     - {p}" for p in self.problems]
        else:
            lines.append("  every target was found; the drill would start")
        return "\n".join(lines)


def _call(provider: Mapping[str, Any], configuration: Mapping[str, Any]) -> tuple[str, str]:
    from chaoslib import substitute

    from gameday.drill.stops import bound_fis_duration

    arguments = provider.get("arguments") or {}
    with contextlib.suppress(Exception):
        arguments = substitute(arguments, dict(configuration), {})
    if isinstance(arguments, dict) and isinstance(arguments.get("duration"), str):
        arguments = {**arguments, "duration": bound_fis_duration(arguments["duration"])}
    if provider.get("type") == "python":
        name = f"{provider.get('module')}.{provider.get('func')}"
        shown = (
            ", ".join(f"{k}={v!r}" for k, v in sorted(arguments.items()))
            if isinstance(arguments, dict)
            else repr(arguments)
        )
        return name, f"{name}({shown})"
    return str(
        provider.get("type")
    ), f"{provider.get('type')} {provider.get('path') or provider.get('url')} {arguments!r}"


def _step(item: Mapping[str, Any], configuration: Mapping[str, Any]) -> PlannedStep:
    from gameday import registry

    provider = item.get("provider") or {}
    _name, call = _call(provider, configuration)
    module, func = str(provider.get("module")), str(provider.get("func"))
    if item.get("type") == "probe":
        return PlannedStep("probe (read-only)", str(item.get("name")), call)
    spec = (
        registry.lookup(module, func, import_any=True) if provider.get("type") == "python" else None
    )
    if module == "gameday.runbook":
        return PlannedStep("operator step", str(item.get("name")), call)
    if spec is not None and spec.kind == registry.Kind.FAULT:
        rollback = (
            f"{spec.rollback} (its registered rollback, with the arguments the fault ledger "
            "records at injection; 'gameday recover' uses the same)"
        )
        return PlannedStep("fault", str(item.get("name")), call, rollback)
    return PlannedStep("action", str(item.get("name")), call)


def dry_run(
    experiment_path: Path,
    experiment: dict[str, Any],
    configuration: dict[str, Any],
    secrets: Mapping[str, Any] | None = None,
) -> DryRun:
    """Resolve and describe the drill; read-only calls only."""
    from gameday.allowlist import AccountNotAllowed, ensure_account_allowed
    from gameday.drill.preflight import check_targets, referenced_variables, undefined_variables
    from gameday.drill.safety import _regions
    from gameday.drill.state import DrillRun, apply_environment, restore_environment

    run = DrillRun(experiment, configuration, dict(secrets or {}))
    apply_environment(run)
    try:
        regions = sorted(_regions(run))
        result = DryRun(
            experiment_path,
            "lab" if configuration.get("gameday_target") == "lab" else "aws",
            None,
            regions,
        )
        missing = undefined_variables(experiment, configuration)
        if missing:
            raise DrillError(f"undefined variable(s): {', '.join(missing)}")
        try:
            result.account = ensure_account_allowed(
                configuration.get("primary_region"), configuration, secrets
            )
        except AccountNotAllowed as exc:
            result.problems.append(str(exc))
        _check_regions(run, result)
        result.problems += check_targets(configuration, referenced_variables(experiment))
        for item in experiment.get("method") or []:
            if isinstance(item, dict):
                result.steps.append(_step(item, configuration))
        for item in experiment.get("rollbacks") or []:
            if isinstance(item, dict):
                result.rollbacks.append(
                    f"{item.get('name')}: {_call(item.get('provider') or {}, configuration)[1]}"
                )
        return result
    finally:
        restore_environment(run)


def _check_regions(run: Any, result: DryRun) -> None:
    from gameday.allowlist import RegionNotAllowed, ensure_regions_allowed

    try:
        ensure_regions_allowed(run.configuration, set(result.regions))
    except RegionNotAllowed as exc:
        result.problems.append(str(exc))
