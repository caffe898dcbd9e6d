"""gameday's Chaos Toolkit actions: region impairments, each with its named rollback.

One module per AWS service (and the lab-or-AWS replication lag, the operator runbook step,
the replay of acknowledged writes); every public function is an activity (listed in the
module's ``__all__``). Each action records what it injects in the fault ledger before
calling AWS (see :mod:`gameday.faults`), so ``gameday recover`` can undo it.
"""

from chaoslib.discovery.discover import discover_actions
from chaoslib.types import DiscoveredActivities

from gameday.registry import activity_modules

__all__ = ["MODULES", "load_exported_activities"]

#: The modules whose ``__all__`` functions are Chaos Toolkit actions: every module of this
#: package but its private (``_name``) helpers: a new one is discovered, validated and given
#: its IAM actions with no list to edit.
MODULES = activity_modules(__name__, __path__)


def load_exported_activities() -> list[DiscoveredActivities]:
    """Metadata (name, module, doc, arguments) of every action gameday exports."""
    activities: list[DiscoveredActivities] = []
    for module in MODULES:
        activities.extend(discover_actions(module))
    return activities
