"""Regenerate experiments/*.json (the drill catalogue) from one description.

Every catalogue experiment declares the same configuration block (each environment
variable of gameday.lab.varfile.KEYS, read from the var file or from GAMEDAY_* in the
environment), the gameday control, and its gameday extension. It also rewrites the
README's impairment table from the registry (:func:`gameday.registry.impairment_table`).
Run: ``.venv/bin/python tools/catalogue.py`` and commit the JSON and the README.
"""

from __future__ import annotations

import json
from pathlib import Path

from gameday import registry
from gameday.lab.varfile import KEYS

ROOT = Path(__file__).resolve().parent.parent
ENV_NAMES = {"aws_region": "AWS_DEFAULT_REGION", "aws_endpoint_url": "AWS_ENDPOINT_URL"}


def env_name(key: str) -> str:
    if key in ENV_NAMES:
        return ENV_NAMES[key]
    return key.upper() if key.startswith("gameday_") else f"GAMEDAY_{key.upper()}"


CONFIGURATION = {key: {"type": "env", "key": env_name(key), "default": None} for key in KEYS}
CONTROLS = [{"name": "gameday", "provider": {"type": "python", "module": "gameday.control"}}]


def py(module: str, func: str, **arguments: object) -> dict:
    return {"type": "python", "module": module, "func": func, "arguments": arguments}


def action(name: str, provider: dict, **extra: object) -> dict:
    return {"type": "action", "name": name, "provider": provider, **extra}


def probe(name: str, provider: dict, **extra: object) -> dict:
    return {"type": "probe", "name": name, "provider": provider, **extra}


# -- activities --------------------------------------------------------------------
INVERT = action(
    "invert-primary-health-check",
    py(
        "gameday.actions.route53",
        "invert_health_check",
        health_check_id="${primary_health_check_id}",
    ),
)
RESTORE = action(
    "restore-primary-health-check",
    py(
        "gameday.actions.route53",
        "restore_health_check",
        health_check_id="${primary_health_check_id}",
    ),
)
BLOCK = action(
    "block-primary-endpoint",
    py(
        "gameday.actions.ec2",
        "block_endpoint",
        region="${primary_region}",
        network_acl_id="${primary_network_acl_id}",
    ),
)
UNBLOCK = action(
    "unblock-primary-endpoint",
    py(
        "gameday.actions.ec2",
        "unblock_endpoint",
        region="${primary_region}",
        network_acl_id="${primary_network_acl_id}",
    ),
)
# Timeouts and poll intervals are AWS seconds like every duration a drill declares (on the
# lab, waited at 1/speed): an unplanned failover takes minutes ("typically" 1-5, drawn so by
# the lab), a planned switchover about one.
FAILOVER = action(
    "fail-database-over-to-secondary",
    py(
        "gameday.actions.rds",
        "failover_database",
        global_cluster_id="${global_cluster_id}",
        target_region="${secondary_region}",
        region="${secondary_region}",
        timeout=600,
        poll_interval=2,
    ),
)
SWITCH_TO_SECONDARY = action(
    "switch-database-over-to-secondary",
    py(
        "gameday.actions.rds",
        "switchover_database",
        global_cluster_id="${global_cluster_id}",
        target_region="${secondary_region}",
        region="${secondary_region}",
        timeout=600,
        poll_interval=2,
    ),
)
# After an unplanned failover AWS rebuilds the old primary (pending-resync, minutes to hours)
# and refuses a switchover until it is in sync: the switch back waits that long.
SWITCH_BACK = action(
    "switch-database-back-to-primary",
    py(
        "gameday.actions.rds",
        "switchover_database",
        global_cluster_id="${global_cluster_id}",
        target_region="${primary_region}",
        region="${primary_region}",
        timeout=2400,
        poll_interval=2,
    ),
)
PAUSE_REPLICATION = action(
    "pause-replication",
    py(
        "gameday.actions.fis",
        "pause_replication",
        region="${primary_region}",
        duration="PT2M",
        table_arns=["${table_arn}"],
        role_arn="${fis_role_arn}",
    ),
)
RESUME_REPLICATION = action(
    "resume-replication",
    py("gameday.actions.fis", "resume_replication", region="${primary_region}"),
)
# The lab: its lab-only lag knob; AWS: FIS pausing the global table (the var file decides).
DELAY_REPLICATION = action(
    "delay-replication",
    py("gameday.actions.lag", "delay_replication", seconds=30, duration="PT2M"),
)
RESTORE_REPLICATION = action(
    "restore-replication", py("gameday.actions.lag", "restore_replication")
)
REMOVE_SECRET = action(
    "remove-secret-replica-from-secondary",
    py(
        "gameday.actions.secretsmanager",
        "remove_secret_replica",
        secret_id="${secret_name}",
        replica_region="${secondary_region}",
        region="${primary_region}",
    ),
)
RESTORE_SECRET = action(
    "restore-secret-replica-in-secondary",
    py(
        "gameday.actions.secretsmanager",
        "restore_secret_replica",
        secret_id="${secret_name}",
        replica_region="${secondary_region}",
        region="${primary_region}",
    ),
)

SECONDARY_READY = probe(
    "recovery-region-secret-readable",
    py(
        "gameday.probes.secretsmanager",
        "secret_available",
        secret_id="${secret_name}",
        region="${secondary_region}",
    ),
    tolerance=True,
)
PRIMARY_STATUS_CTK = probe(
    "primary-health-check-status-chaostoolkit-aws",
    py("chaosaws.route53.probes", "get_health_check_status", check_id="${primary_health_check_id}"),
)
PRIMARY_STATUS = probe(
    "primary-health-check-status",
    py(
        "gameday.probes.route53",
        "health_check_status",
        health_check_id="${primary_health_check_id}",
    ),
)
SECONDARY_STATUS = probe(
    "secondary-health-check-status",
    py(
        "gameday.probes.route53",
        "health_check_status",
        health_check_id="${secondary_health_check_id}",
    ),
)
DNS = probe(
    "service-name-answer",
    py("gameday.probes.dns", "dns_answer", name="${service_name}", nameserver="${nameserver}"),
)
WRITER = probe(
    "database-writer-region",
    py(
        "gameday.probes.rds",
        "writer_region",
        global_cluster_id="${global_cluster_id}",
        region="${secondary_region}",
    ),
)
SECONDARY_DEEP_HEALTH = probe(
    "secondary-deep-health",
    py("gameday.probes.http", "endpoint_available", url="${secondary_endpoint}/health", timeout=2),
)
LAG = probe(
    "replication-lag",
    py(
        "gameday.probes.replication",
        "replication_lag",
        source_url="${primary_endpoint}",
        target_url="${secondary_endpoint}",
        timeout=1,
    ),
)
REPLAY = action(
    "replay-acknowledged-writes-against-recovery-region",
    py("gameday.actions.replay", "replay_acknowledged_writes", endpoint="${secondary_endpoint}"),
)


def step(name: str, instructions: str, delay: float = 1.0, automated: dict | None = None) -> dict:
    args: dict = {
        "step": name,
        "instructions": instructions,
        "delay_seconds": delay,
        "timeout_seconds": 300,
    }
    if automated is not None:
        args["automated"] = automated
    return action(
        f"operator: {name}",
        {
            "type": "python",
            "module": "gameday.actions.runbook",
            "func": "operator_step",
            "arguments": args,
        },
    )


def with_pause(activity: dict, after: float) -> dict:
    return {**activity, "pauses": {"after": after}}


def steady(title: str, *probes: dict) -> dict:
    return {"title": title, "probes": list(probes)}


def experiment(
    name: str,
    title: str,
    description: str,
    tags: list[str],
    hypothesis: dict,
    method: list,
    rollbacks: list,
    ext: dict,
) -> dict:
    return {
        "version": "1.0.0",
        "title": title,
        "description": description,
        "tags": ["gameday", *tags],
        "configuration": CONFIGURATION,
        "controls": CONTROLS,
        "runtime": {"rollbacks": {"strategy": "always"}},
        "steady-state-hypothesis": hypothesis,
        "method": method,
        "rollbacks": rollbacks,
        "extensions": [{"name": "gameday", "drill": name, **ext}],
    }


RECOVERY = {"window_seconds": 5, "success_threshold": 0.99, "min_requests": 20}


def drill(fault: dict, objectives: dict, load: dict, observe: float) -> dict:
    """A catalogue drill's gameday extension (besides its name)."""
    return {
        "fault_activity": fault["name"],
        "objectives": objectives,
        "recovery": RECOVERY,
        "load": load,
        "observation": {"max_seconds": observe},
    }


READY = steady("The recovery region is ready to take over", SECONDARY_READY)

CATALOGUE = [
    experiment(
        "dns-failover",
        "Route 53 moves users to the recovery region when the primary's health check fails",
        "We make Route 53 believe the primary region is unhealthy (its health check is inverted) and watch how long it takes before users are answered by the recovery region. Reads must keep working throughout; a quarter of the clients never re-resolve DNS, like badly behaved clients do, and the report shows what they see. The health check is restored afterwards.",
        ["route53", "dns"],
        READY,
        [with_pause(INVERT, 3), PRIMARY_STATUS_CTK, DNS],
        [RESTORE],
        drill(
            fault=INVERT,
            objectives={"rto_seconds": 30},
            load={
                "users": 8,
                "write_ratio": 0.0,
                "sticky_share": 0.25,
                "profile": "load/browse.py",
            },
            observe=30,
        ),
    ),
    experiment(
        "region-evacuation",
        "Losing the primary region: users and data move to the recovery region within the objectives",
        "The flagship drill. We cut the primary region off the network (a deny rule on its subnet), fail the global database over to the recovery region accepting possible data loss, and let DNS move users. The report gives the time users were hurt (RTO, with its phases: detection, DNS shift, promotion, first write) and the acknowledged orders that were lost (RPO). Afterwards the primary is reconnected and the database switched back with no loss.",
        ["ec2", "rds", "route53", "flagship"],
        READY,
        [with_pause(BLOCK, 1), FAILOVER, DNS, WRITER],
        [UNBLOCK, SWITCH_BACK],
        drill(
            fault=BLOCK,
            objectives={"rto_seconds": 30, "rpo_seconds": 5},
            load={"users": 8, "write_ratio": 0.5},
            observe=30,
        ),
    ),
    experiment(
        "database-failover",
        "The database fails over unplanned under write load and the application follows it",
        "We fail the global database over to the recovery region while orders are being written, without waiting for replication (as when the primary database is lost), then route users to the region that now holds the writer. The report shows how long writes failed, which acknowledged orders were lost, and whether any order was stored twice.",
        ["rds", "route53"],
        READY,
        [FAILOVER, with_pause(INVERT, 2), WRITER],
        [RESTORE, SWITCH_BACK],
        drill(
            fault=FAILOVER,
            objectives={"rto_seconds": 30, "rpo_seconds": 5},
            load={"users": 8, "write_ratio": 0.5},
            observe=30,
        ),
    ),
    experiment(
        "replication-lag-exceeds-rpo",
        "Replication falls behind the RPO: failing over now would lose more data than agreed",
        "We pause cross-region replication and watch the lag grow past the data-loss objective. Users are not affected, but the runbook must decide whether a failover is still allowed: the report records when the lag crossed the RPO and by how much a failover at that moment would have exceeded it. Replication resumes afterwards and catches up.",
        ["fis", "replication"],
        READY,
        [with_pause(DELAY_REPLICATION, 4), LAG],
        [RESTORE_REPLICATION],
        drill(
            fault=DELAY_REPLICATION,
            objectives={"rto_seconds": 30, "rpo_seconds": 2},
            load={"users": 6, "write_ratio": 0.5},
            observe=20,
        ),
    ),
    experiment(
        "secondary-missing-secret",
        "A secret missing in the recovery region blocks failover before users are moved there",
        "We remove the application's secret from the recovery region, as if it had never been replicated. The recovery region's deep health check must fail, so Route 53 would never send users to a region that cannot serve them, while users stay on the healthy primary. The secret is replicated back afterwards.",
        ["secretsmanager", "readiness"],
        READY,
        [with_pause(REMOVE_SECRET, 3), SECONDARY_DEEP_HEALTH, SECONDARY_STATUS, DNS],
        [RESTORE_SECRET],
        drill(
            fault=REMOVE_SECRET,
            objectives={"rto_seconds": 30, "rpo_seconds": 0},
            load={"users": 6, "write_ratio": 0.5},
            observe=20,
        ),
    ),
    experiment(
        "failback",
        "Failing back to the primary after a failover loses nothing",
        "Starting from a failover (database and users in the recovery region), we reconcile and switch the database back to the primary with a planned switchover, which waits for replication, and send users back. The report measures how long the failback hurt users (the failback RTO) and checks that no acknowledged order was lost.",
        ["rds", "route53", "failback"],
        READY,
        [SWITCH_TO_SECONDARY, with_pause(INVERT, 40), SWITCH_BACK, with_pause(RESTORE, 2), WRITER],
        [RESTORE, SWITCH_BACK],
        drill(
            fault=SWITCH_BACK,
            objectives={"rto_seconds": 30, "rpo_seconds": 0},
            load={"users": 8, "write_ratio": 0.5, "profile": "load/orders.py"},
            observe=30,
        ),
    ),
    experiment(
        "duplicate-replay",
        "Replaying acknowledged orders after a failover creates no duplicates",
        "After a failover to the recovery region, we replay every order the clients had been told was accepted, as a message queue or a retrying client would. Each order must be stored once and only once: the replay must have no second effect. The database and users are moved back afterwards.",
        ["rds", "idempotency"],
        READY,
        [SWITCH_TO_SECONDARY, with_pause(INVERT, 3), REPLAY],
        [RESTORE, SWITCH_BACK],
        drill(
            fault=SWITCH_TO_SECONDARY,
            objectives={"rto_seconds": 30, "rpo_seconds": 0},
            load={"users": 8, "write_ratio": 0.5},
            observe=30,
        ),
    ),
    experiment(
        "runbook-failover",
        "The on-call team runs the regional failover runbook: primary region unavailable",
        "A rehearsal of the runbook people follow when the primary application region becomes unavailable: the primary's endpoint is blocked, the team checks the health checks, declares the failover, promotes the recovery database, confirms traffic has moved, and validates the critical order workflow. Each human step is timed, so the report shows how much of the outage was detection, decision and action.",
        ["ec2", "rds", "runbook", "people"],
        READY,
        [
            with_pause(BLOCK, 1),
            PRIMARY_STATUS,
            step(
                "declare the failover decision",
                "Check the primary's health check and dashboards; the incident lead declares the regional failover.",
                1.0,
            ),
            step(
                "promote the recovery database",
                "Fail the global database over to the recovery region (allow data loss).",
                0.0,
                automated=py(
                    "gameday.actions.rds",
                    "failover_database",
                    global_cluster_id="${global_cluster_id}",
                    target_region="${secondary_region}",
                    region="${secondary_region}",
                    timeout=600,
                    poll_interval=2,
                ),
            ),
            DNS,
            step(
                "validate the critical order workflow",
                "Place and read back a test order through the public name; confirm it is served by the recovery region.",
                1.0,
            ),
        ],
        [UNBLOCK, SWITCH_BACK],
        drill(
            fault=BLOCK,
            objectives={"rto_seconds": 60, "rpo_seconds": 5},
            load={"users": 8, "write_ratio": 0.5},
            observe=30,
        ),
    ),
]


BEGIN, END = "<!-- impairments:begin -->\n", "<!-- impairments:end -->"


def readme_with_table(readme: str) -> str:
    """``readme`` with its impairment table replaced by the registry's (between the markers)."""
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + BEGIN + registry.impairment_table() + END + tail


def main() -> None:
    folder = ROOT / "experiments"
    for exp in CATALOGUE:
        name = exp["extensions"][0]["drill"]
        (folder / f"{name}.json").write_text(json.dumps(exp, indent=2) + "\n", encoding="utf-8")
        print(folder / f"{name}.json")
    readme = ROOT / "README.md"
    readme.write_text(readme_with_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(readme, "(impairment table)")


if __name__ == "__main__":
    main()
