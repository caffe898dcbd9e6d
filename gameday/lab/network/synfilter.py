"""Dropping packets for real: a blocked region's SYNs never get an answer.

In AWS a network ACL deny (or FIS ``disrupt-connectivity``) drops packets: a new
connection times out in ``connect``, an established one stalls. A userland server cannot
do that: it has already accepted the connection when it learns who the client is. So,
where the lab can (root and the ``nft`` tool, package ``nftables``), the fault reconciler
mirrors each region's effective NACL and black-holing into nftables rules in one table the
lab owns:

* the table is named after the lab directory (:func:`table_name`), so several labs on the
  same 127.0.x.1 addresses (different ports) never touch each other's rules, and
  ``gameday lab down`` finds it again after a crash (:func:`remove_table`);
* rules match the region's address *and* service port only, in the ``input`` hook (all
  loopback traffic passes it): inbound packets are evaluated against the NACL's ingress
  entries by source address, outbound answers against its egress entries by client
  address and port, in rule-number order, first match wins, the implicit rule drops.

Elsewhere the lab falls back to the closest userland behaviour (the region accepts the
connection and never answers: clients time out reading, not connecting). ``gameday lab
status`` says which mode is in force (:func:`mode`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gameday.lab.network.netacl import Rule

NFTABLES = "nftables"
USERLAND = "userland"
_TCP = ("-1", "6", "tcp", "all")


def table_name(lab_dir: str | Path) -> str:
    """The nftables table of the lab in ``lab_dir`` (stable across restarts and crashes)."""
    digest = hashlib.sha256(str(Path(lab_dir).resolve()).encode()).hexdigest()[:12]
    return f"gameday_lab_{digest}"


def mode() -> tuple[str, str]:
    """(mode, why): ``nftables`` when the lab can drop packets for real, else ``userland``."""
    if os.geteuid() != 0:
        return USERLAND, "not root: blocked connections are accepted and never answered"
    nft = shutil.which("nft")
    if nft is None:
        return (
            USERLAND,
            "no nft tool (apt-get install -y nftables): connections are accepted and never answered",
        )
    probe = subprocess.run([nft, "list", "tables"], capture_output=True, text=True, timeout=5)
    if probe.returncode != 0:
        return USERLAND, f"nft is not usable here ({probe.stderr.strip()[:120]})"
    return NFTABLES, "SYNs to a blocked region are dropped by nftables"


@dataclass(frozen=True)
class Target:
    """One region's public endpoint and what blocks it right now."""

    address: str
    port: int
    rules: tuple[Rule, ...]
    blackholed: bool


def ruleset(table: str, targets: Iterable[Target]) -> str:
    """The nft script that replaces ``table`` with the rules for ``targets`` (atomic)."""
    lines = [
        f"table inet {table}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "  chain input {",
        "    type filter hook input priority -10; policy accept;",
    ]
    chains: list[str] = []
    for index, target in enumerate(targets):
        inbound, outbound = f"r{index}_in", f"r{index}_out"
        lines.append(f"    ip daddr {target.address} tcp dport {target.port} jump {inbound}")
        lines.append(f"    ip saddr {target.address} tcp sport {target.port} jump {outbound}")
        chains.append(_chain(inbound, _entries(target, egress=False)))
        chains.append(_chain(outbound, _entries(target, egress=True)))
    lines.append("  }")
    lines.extend(chains)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _chain(name: str, body: list[str]) -> str:
    inner = "".join(f"    {line}\n" for line in body)
    return f"  chain {name} {{\n{inner}  }}"


def _entries(target: Target, *, egress: bool) -> list[str]:
    """NACL entries of one direction as nft statements; the implicit deny last."""
    if target.blackholed:
        return ["drop"]
    found = []
    for rule in sorted(
        (r for r in target.rules if r.egress == egress), key=lambda r: r.rule_number
    ):
        if rule.protocol.lower() not in _TCP or not rule.cidr:
            continue
        try:
            network = ipaddress.ip_network(rule.cidr, strict=False)
        except ValueError:
            continue
        if network.version != 4:
            continue
        verdict = "accept" if rule.action == "allow" else "drop"
        ports = ""
        if rule.protocol.lower() in ("6", "tcp") and rule.port_from is not None:
            upper = rule.port_to if rule.port_to is not None else rule.port_from
            if not egress:
                # inbound: the destination is the service port, known now
                if not rule.port_from <= target.port <= upper:
                    continue
            else:
                ports = f" tcp dport {rule.port_from}-{upper}"
        field = "daddr" if egress else "saddr"
        found.append(f"ip {field} {network}{ports} {verdict}")
    found.append("drop")
    return found


class PacketFilter:
    """The lab's nftables table: replaced whole on every change, removed on stop."""

    def __init__(self, lab_dir: str | Path) -> None:
        self.table = table_name(lab_dir)
        self._nft = shutil.which("nft") or "nft"

    def apply(self, targets: list[Target]) -> None:
        """Make the table hold exactly the rules for ``targets`` (raises on nft errors)."""
        script = ruleset(self.table, targets)
        done = subprocess.run(
            [self._nft, "-f", "-"], input=script, capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise RuntimeError(f"nft refused the lab's rules: {done.stderr.strip()[:400]}")

    def remove(self) -> bool:
        return remove_table(self.table)


def remove_table(table_or_dir: str | Path) -> bool:
    """Delete the lab's table (a table name, or the lab directory); True if one was there."""
    table = str(table_or_dir)
    if not table.startswith("gameday_lab_"):
        table = table_name(table_or_dir)
    nft = shutil.which("nft")
    if nft is None or os.geteuid() != 0:
        return False
    done = subprocess.run(
        [nft, "delete", "table", "inet", table], capture_output=True, text=True, timeout=10
    )
    return done.returncode == 0
