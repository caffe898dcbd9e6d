"""gameday's Chaos Toolkit actions: region impairments, each with its named rollback.

One module per AWS service (and the lab-or-AWS replication lag, the operator runbook step,
the replay of acknowledged writes); every public function is an activity (listed in the
module's ``__all__``). Each action records what it injects in the fault ledger before
calling AWS (see :mod:`gameday.faults`), so ``gameday recover`` can undo it.
"""

import pkgutil

from chaoslib.discovery.discover import discover_actions
from chaoslib.types import DiscoveredActivities

__all__ = ["MODULES", "load_exported_activities"]

#: The modules whose ``__all__`` functions are Chaos Toolkit actions: every module of this
#: package but its private (``_name``) helpers: a new one is discovered, validated and given
#: its IAM actions with no list to edit.
MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(__path__, f"{__name__}.")
    if not info.ispkg and not info.name.rpartition(".")[2].startswith("_")
)


def load_exported_activities() -> list[DiscoveredActivities]:
    """Metadata (name, module, doc, arguments) of every action gameday exports."""
    activities: list[DiscoveredActivities] = []
    for module in MODULES:
        activities.extend(discover_actions(module))
    return activities
