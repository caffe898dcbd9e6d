"""gameday's Chaos Toolkit probes: read-only, JSON-serialisable steady-state checks.

One module per service; every public function is an activity (listed in the module's
``__all__``).
"""

from chaoslib.discovery.discover import discover_probes
from chaoslib.types import DiscoveredActivities

from gameday.registry import activity_modules

__all__ = ["MODULES", "load_exported_activities"]

#: The modules whose ``__all__`` functions are Chaos Toolkit probes: every module of this
#: package but its private (``_name``) helpers: a new one is discovered, validated and given
#: its IAM actions with no list to edit.
MODULES = activity_modules(__name__, __path__)


def load_exported_activities() -> list[DiscoveredActivities]:
    """Metadata (name, module, doc, arguments) of every probe gameday exports."""
    activities: list[DiscoveredActivities] = []
    for module in MODULES:
        activities.extend(discover_probes(module))
    return activities
