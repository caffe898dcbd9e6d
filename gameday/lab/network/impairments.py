"""The lab's fault reconciler: control-plane state in, data-plane behaviour out.

Every ``period`` (50 ms) it reads what a drill may have changed through plain AWS calls and
makes the regions behave accordingly:

* the network ACL associated with each region's subnet is pushed to the region process,
  which evaluates it per client connection (a matching deny black-holes the traffic), and,
  where the lab can drop packets for real, mirrored into nftables rules
  (:mod:`gameday.lab.network.synfilter`: a blocked region's SYNs are dropped);
* running FIS actions black-hole a region (disrupt-connectivity), drop the traffic one
  region's address sends to the other through the VPC (route-table cross-region cut; AWS's
  managed replication does not travel that way, so it keeps flowing), or pause the
  DynamoDB global table's replication (in the DynamoDB tier; in the Aurora tier the orders
  are not in that table and the pause has no effect on them);
* a secret missing in a region is noticed by that region itself (its deep health fails);
  the reconciler only records it as ground truth;
* a region process stopped with SIGSTOP or killed is recorded too.

Each fault taking effect or ending is one ``fault`` event in the ground-truth log. The
reconciler reads the control plane only (FIS runs through :func:`gameday.lab.controlplane.fismoto.runs`)
and runs as a supervised worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from gameday.lab.controlplane import ec2, fismoto, secretsmanager
from gameday.lab.controlplane.fis import EMULATED, ExperimentRun
from gameday.lab.events import EventLog
from gameday.lab.network.netacl import Rule, connection_allowed, deny_entries
from gameday.lab.network.synfilter import PacketFilter, Target
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.workers import Worker
from gameday.procutil import process_state

#: A typical client of the lab: loopback, an ephemeral source port.
PROBE_CLIENT = ("127.0.0.1", 50000)

#: The faults in effect, by key (``("nacl", region)``, ``("fis", experiment, action)``, ...).
Faults = dict[tuple[str, ...], dict[str, Any]]


@dataclass(frozen=True)
class LabRegion:
    """What the reconciler needs to know about one region."""

    name: str
    address: str
    subnet_id: str
    control_port: int
    pid: int | None


class Reconciler:
    """Keeps the data plane in line with the control plane's faults."""

    def __init__(
        self,
        regions: list[LabRegion],
        service_port: int,
        table_name: str,
        secret_name: str,
        events: EventLog,
        period: float = 0.05,
        packet_filter: PacketFilter | None = None,
        data_tier: str = "aurora",
    ) -> None:
        self.regions = regions
        self.data_tier = data_tier
        self.service_port = service_port
        self.table_name = table_name
        self.secret_name = secret_name
        self.events = events
        self.period = period
        self.link_block: str | None = None
        self.impaired_regions: frozenset[str] = frozenset()
        self._filter = packet_filter
        self._filtered: list[Target] | None = None
        self._clients = {r.name: RegionClient(r.control_port, timeout=0.3) for r in regions}
        self._pushed: dict[str, Any] = {}
        self._active: Faults = {}
        self._worker = Worker("fault-reconciler", self.reconcile, period, events)

    def start(self) -> None:
        self.reconcile()
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._worker.join()
        if self._filter is not None:
            self._filter.remove()

    def region_restarted(self, name: str, pid: int) -> None:
        """A region process was started again: watch the new pid, push its network again."""
        self.regions = [replace(r, pid=pid) if r.name == name else r for r in self.regions]
        self._pushed.pop(name, None)

    def link_blocked(self) -> str | None:
        return self.link_block

    def region_impaired(self, name: str) -> bool:
        """True while the lab itself stopped or killed region ``name``'s process."""
        return name in self.impaired_regions

    def reconcile(self) -> None:
        """One pass: read the control plane's faults, push them to the data plane, log changes."""
        faults, blackholed, cut_from, link_reasons = self._fis_faults(time.time())
        acls: dict[str, list[Rule]] = {}
        for region in self.regions:
            acls[region.name] = self._reconcile_region(region, faults, blackholed, cut_from)
        self.link_block = "; ".join(link_reasons) or None
        self.impaired_regions = frozenset(key[1] for key in faults if key[0] == "process")
        self._apply_filter(acls, blackholed)
        self._emit_changes(faults)

    def _fis_faults(
        self, now: float
    ) -> tuple[Faults, dict[str, str], dict[str, set[str]], list[str]]:
        """What the running FIS actions do: (faults, black-holed region -> reason,
        region -> addresses whose traffic it drops, reasons the replication link is blocked)."""
        faults: Faults = {}
        blackholed: dict[str, str] = {}
        link_reasons: list[str] = []
        cut_from: dict[str, set[str]] = {}  # region -> addresses whose traffic it drops
        address_of = {r.name: r.address for r in self.regions}
        by_subnet = {r.subnet_id: r.name for r in self.regions}
        names = {r.name for r in self.regions}
        for run in fismoto.runs():
            self._announce_not_emulated(run, now)
            for action in run.active(now):
                effect = self._effect(
                    run, action.action_id, action.parameters, action.resources, by_subnet, names
                )
                key = ("fis", run.experiment_id, action.name)
                faults[key] = {
                    "fault": action.action_id,
                    "source": "fis",
                    "experiment_id": run.experiment_id,
                    "action": action.name,
                    **effect,
                }
                if effect.get("blackholes"):
                    blackholed[effect["blackholes"]] = f"FIS experiment {run.experiment_id}"
                for here, there in effect.get("cuts", ()):
                    cut_from.setdefault(here, set()).add(address_of[there])
                    cut_from.setdefault(there, set()).add(address_of[here])
                if effect.get("blocks_replication"):
                    link_reasons.append(f"FIS experiment {run.experiment_id} ({action.action_id})")
        return faults, blackholed, cut_from, link_reasons

    def _announce_not_emulated(self, run: ExperimentRun, now: float) -> None:
        """One ``fis-action`` event for each begun action the lab does not emulate."""
        for action in run.begun(now):
            if action.name not in run.announced and action.action_id not in EMULATED:
                run.announced.add(action.name)
                self.events.emit(
                    "fis-action",
                    experiment_id=run.experiment_id,
                    action=action.name,
                    action_id=action.action_id,
                    effect="no effect in the lab: this action is not emulated",
                )

    def _reconcile_region(
        self,
        region: LabRegion,
        faults: Faults,
        blackholed: dict[str, str],
        cut_from: dict[str, set[str]],
    ) -> list[Rule]:
        """Read one region's ACL, secret and process into ``faults``, push its network to
        the region process; returns the ACL's rules."""
        acl_id, entries = ec2.subnet_acl(region.name, region.subnet_id)
        rules = [
            Rule(e.rule_number, e.protocol, e.action, e.egress, e.cidr, e.port_from, e.port_to)
            for e in entries
        ]
        if not connection_allowed(
            rules,
            client=PROBE_CLIENT[0],
            client_port=PROBE_CLIENT[1],
            service_port=self.service_port,
        ):
            faults[("nacl", region.name)] = {
                "fault": "network-acl-deny",
                "source": "ec2",
                "region": region.name,
                "network_acl_id": acl_id,
                "deny_rules": [r.rule_number for r in deny_entries(rules)],
            }
        self._push_network(
            region.name,
            {
                "blackholed": region.name in blackholed,
                "acl": [r.to_dict() for r in rules],
                "blocked_sources": sorted(cut_from.get(region.name, ())),
            },
        )
        if not secretsmanager.secret_in_region(region.name, self.secret_name):
            faults[("secret", region.name)] = {
                "fault": "secret-missing",
                "source": "secretsmanager",
                "region": region.name,
                "secret": self.secret_name,
            }
        self._record_process(region, faults)
        return rules

    def _push_network(self, name: str, desired: dict[str, Any]) -> None:
        """Send region ``name`` its network settings when they changed since the last push."""
        if self._pushed.get(name) != desired:
            try:
                self._clients[name].set_network(**desired)
                self._pushed[name] = desired
            except RegionControlError:
                pass  # stopped or dead: pushed again once it answers

    def _record_process(self, region: LabRegion, faults: Faults) -> None:
        """A region process stopped (``region-hung``) or gone (``region-down``) into ``faults``."""
        state = process_state(region.pid) if region.pid else None
        if state == "T":
            faults[("process", region.name)] = {
                "fault": "region-hung",
                "source": "process",
                "region": region.name,
            }
        elif state in (None, "Z", "X"):
            faults[("process", region.name)] = {
                "fault": "region-down",
                "source": "process",
                "region": region.name,
            }

    def _apply_filter(self, acls: dict[str, list[Rule]], blackholed: dict[str, str]) -> None:
        """Mirror the ACLs and black-holes into the packet filter, when there is one."""
        if self._filter is not None:
            targets = [
                Target(r.address, self.service_port, tuple(acls[r.name]), r.name in blackholed)
                for r in self.regions
            ]
            if targets != self._filtered:
                self._filter.apply(targets)
                self._filtered = targets

    def _emit_changes(self, faults: Faults) -> None:
        """One ``fault`` event per fault that took effect or ended since the last pass."""
        for key in faults.keys() - self._active.keys():
            self.events.emit("fault", state="applied", **faults[key])
        for key in self._active.keys() - faults.keys():
            self.events.emit("fault", state="reverted", **self._active[key])
        self._active = faults

    def _effect(
        self,
        run: ExperimentRun,
        action_id: str,
        params: dict[str, Any],
        resources: dict[str, list[str]],
        by_subnet: dict[str, str],
        names: set[str],
    ) -> dict[str, Any]:
        """What one running FIS action does to the lab."""
        subnets = [arn.rsplit("/", 1)[-1] for arn in resources.get("Subnets", [])]
        regions = sorted({by_subnet[s] for s in subnets if s in by_subnet})
        if action_id == "aws:network:disrupt-connectivity":
            if params.get("scope", "all") == "all" and regions:
                return {
                    "region": regions[0],
                    "blackholes": regions[0],
                    "effect": "region black-holed",
                }
            return {"effect": f"scope {params.get('scope')} is not emulated by the lab"}
        if action_id == "aws:network:route-table-disrupt-cross-region-connectivity":
            other = params.get("region")
            if regions and other in names - set(regions):
                return {
                    "region": regions[0],
                    "cuts": [(regions[0], other)],
                    "effect": f"VPC traffic between {regions[0]} and {other} dropped "
                    "(managed replication unaffected)",
                }
            return {"effect": "no effect in the lab: no lab region pair affected"}
        if action_id == "aws:dynamodb:global-table-pause-replication":
            tables = resources.get("Tables", [])
            paused = [arn for arn in tables if arn.endswith(f":table/{self.table_name}")]
            if not paused:
                return {"effect": "no effect in the lab: no lab table affected"}
            region = paused[0].split(":")[3]
            if self.data_tier != "dynamodb":
                return {
                    "region": region,
                    "effect": "no effect on the orders: the aurora tier keeps them in Aurora, "
                    "whose storage replication no FIS action pauses",
                }
            return {
                "region": region,
                "blocks_replication": True,
                "effect": "global table replication paused (both directions)",
            }
        return {"effect": "no effect in the lab: this action is not emulated"}
