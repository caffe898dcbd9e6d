"""Preflight: nothing is injected unless the drill can run and the system is steady.

Checked in order, each failure collected into one :class:`~gameday.drill.DrillError`:

1. **variables**: every ``${name}`` the experiment uses has a value (var file, ``--var``,
   environment);
2. **allowlist**: the account the credentials belong to is allowlisted
   (:func:`gameday.faults.ensure_account_allowed`);
3. **targets**: every resource the variables name exists (health checks, NACLs and subnets,
   the global cluster, the secret, the table) and the service name resolves;
4. **steady state**: both health checks healthy, DNS answering the primary, the writer in
   the primary region (what every catalogue drill starts from and must end in).

All calls are read-only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from gameday.drill import DrillError
from gameday.drill.sampler import Targets

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def referenced_variables(experiment: Mapping[str, Any]) -> set[str]:
    """Every ``${name}`` used by the experiment's activities and controls."""
    parts = {
        k: experiment.get(k)
        for k in ("steady-state-hypothesis", "method", "rollbacks", "controls", "title")
    }
    return set(_REFERENCE.findall(json.dumps(parts)))


def undefined_variables(
    experiment: Mapping[str, Any], configuration: Mapping[str, Any]
) -> list[str]:
    """The referenced variables that have no value (sorted); null is a value for the
    :data:`~gameday.varkeys.NULLABLE_KEYS` (the system resolver, say)."""
    from gameday.varkeys import NULLABLE_KEYS

    return sorted(
        name
        for name in referenced_variables(experiment)
        if configuration.get(name) in (None, "") and name not in NULLABLE_KEYS
    )


def _checks(c: Mapping[str, Any], used: set[str]) -> list[tuple[str, Callable[[], None]]]:
    """(description, check) for every target the configuration names and the drill uses."""
    from gameday.aws import client

    checks: list[tuple[str, Callable[[], None]]] = []

    def regional(service: str, role: str) -> Any:
        return client(service, c[f"{role}_region"], configuration=c)

    for role in ("primary", "secondary"):
        if c.get(f"{role}_health_check_id"):
            hc = c[f"{role}_health_check_id"]
            checks.append(
                (
                    f"Route 53 health check {hc}",
                    lambda hc=hc: client("route53", configuration=c).get_health_check(
                        HealthCheckId=hc
                    ),
                )
            )
        for kind, key, call in (
            (
                "network ACL",
                "network_acl_id",
                lambda ec2, v: ec2.describe_network_acls(NetworkAclIds=[v]),
            ),
            ("subnet", "subnet_id", lambda ec2, v: ec2.describe_subnets(SubnetIds=[v])),
        ):
            name = f"{role}_{key}"
            if c.get(name) and name in used:
                checks.append(
                    (
                        f"{kind} {c[name]} in {c[f'{role}_region']}",
                        lambda role=role, name=name, call=call: call(
                            regional("ec2", role), c[name]
                        ),
                    )
                )
    if c.get("global_cluster_id"):
        checks.append(
            (
                f"global cluster {c['global_cluster_id']}",
                lambda: regional("rds", "primary").describe_global_clusters(
                    GlobalClusterIdentifier=c["global_cluster_id"]
                ),
            )
        )
    if c.get("secret_name") and "secret_name" in used:
        checks.append(
            (
                f"secret {c['secret_name']}",
                lambda: regional("secretsmanager", "primary").describe_secret(
                    SecretId=c["secret_name"]
                ),
            )
        )
    if c.get("table_name") and "table_name" in used:
        checks.append(
            (
                f"DynamoDB table {c['table_name']}",
                lambda: regional("dynamodb", "primary").describe_table(TableName=c["table_name"]),
            )
        )
    return checks


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def check_targets(configuration: Mapping[str, Any], used: set[str]) -> list[str]:
    """Problems with the targets (empty when every one was found)."""
    problems = []
    for what, check in _checks(configuration, used):
        try:
            check()
        except Exception as exc:
            problems.append(f"{what} cannot be found: {_short(exc)}")
    return problems


def steady_state(targets: Targets, sample: Mapping[tuple[str, str], Any]) -> list[str]:
    """How the sampled state differs from the drill's starting point (empty: steady)."""
    problems = []
    for region in targets.health_checks:
        value = sample.get(("health_check", region))
        if not (isinstance(value, dict) and value.get("healthy")):
            problems.append(f"the health check of {region} is not healthy ({value!r})")
    if targets.service_name:
        value = sample.get(("dns_answer", targets.service_name))
        region = value.get("region") if isinstance(value, dict) else None
        if region != targets.primary_region:
            problems.append(
                f"{targets.service_name} does not answer the primary {targets.primary_region} ({value!r})"
            )
    if targets.global_cluster_id:
        writer = sample.get(("writer_region", targets.global_cluster_id))
        if writer != targets.primary_region:
            problems.append(f"the writer is {writer!r}, not the primary {targets.primary_region}")
    return problems


def preflight(
    experiment: Mapping[str, Any],
    configuration: Mapping[str, Any],
    secrets: Mapping[str, Any] | None,
    sample_steady_state: Callable[[], Mapping[tuple[str, str], Any]],
    targets: Targets,
) -> str:
    """Run every check; returns the account id, raises DrillError listing what failed."""
    from gameday.allowlist import AccountNotAllowed, ensure_account_allowed

    missing = undefined_variables(experiment, configuration)
    if missing:
        raise DrillError(
            f"undefined variable(s): {', '.join(missing)}: pass an environment var file "
            "(--var-file, e.g. the lab's vars.json) or --var name=value."
        )
    try:
        account = ensure_account_allowed(
            configuration.get("primary_region"), configuration, secrets
        )
    except AccountNotAllowed as exc:
        raise DrillError(str(exc)) from exc
    except Exception as exc:
        raise DrillError(
            f"cannot tell which AWS account the credentials are for: {_short(exc)}"
        ) from exc
    problems = check_targets(configuration, referenced_variables(experiment))
    if problems:
        raise DrillError("target(s) not found: " + "; ".join(problems) + ".")
    problems = steady_state(targets, sample_steady_state())
    if problems:
        raise DrillError(
            "the system is not in its steady state, nothing was injected: "
            + "; ".join(problems)
            + " (restore it, e.g. 'gameday recover', and run again)."
        )
    return account
