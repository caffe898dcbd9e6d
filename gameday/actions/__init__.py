"""gameday's Chaos Toolkit actions: region impairments, each with its named rollback.

One module per AWS service; every public function is an activity (listed in the
module's ``__all__``). Each action records what it injects in the fault ledger before
calling AWS (see :mod:`gameday.faults`), so ``gameday recover`` can undo it.
"""

from chaoslib.discovery.discover import discover_actions
from chaoslib.types import DiscoveredActivities

__all__ = ["MODULES", "load_exported_activities"]

#: The modules whose ``__all__`` functions are Chaos Toolkit actions.
MODULES = [
    "gameday.actions.route53",
    "gameday.actions.ec2",
    "gameday.actions.fis",
    "gameday.actions.rds",
    "gameday.actions.secretsmanager",
    "gameday.actions.arc",
    "gameday.actions.baddata",
    "gameday.actions.restore",
]


def load_exported_activities() -> list[DiscoveredActivities]:
    """Metadata (name, module, doc, arguments) of every action gameday exports."""
    activities: list[DiscoveredActivities] = []
    for module in MODULES:
        activities.extend(discover_actions(module))
    return activities
