"""gameday's Chaos Toolkit probes: read-only, JSON-serialisable steady-state checks.

One module per service; every public function is an activity (listed in the module's
``__all__``).
"""

from chaoslib.discovery.discover import discover_probes
from chaoslib.types import DiscoveredActivities

__all__ = ["MODULES", "load_exported_activities"]

#: The modules whose ``__all__`` functions are Chaos Toolkit probes.
MODULES = [
    "gameday.probes.route53",
    "gameday.probes.dns",
    "gameday.probes.http",
    "gameday.probes.replication",
    "gameday.probes.rds",
    "gameday.probes.secretsmanager",
    "gameday.probes.load",
    "gameday.probes.ec2",
    "gameday.probes.data",
    "gameday.probes.restore",
]


def load_exported_activities() -> list[DiscoveredActivities]:
    """Metadata (name, module, doc, arguments) of every probe gameday exports."""
    activities: list[DiscoveredActivities] = []
    for module in MODULES:
        activities.extend(discover_probes(module))
    return activities
