"""gameday: chaos-engineering and game-day harness for multi-region AWS architectures."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "discover"]


def discover(discover_system: bool = True) -> dict[str, Any]:
    """Chaos Toolkit discovery: every action and probe gameday exports (``chaos discover gameday``).

    ``discover_system`` is accepted for the Chaos Toolkit protocol; gameday does not
    inspect the target system during discovery.
    """
    from chaoslib.discovery.discover import initialize_discovery_result

    from gameday import actions, probes

    discovery = initialize_discovery_result("gameday", __version__, "aws")
    discovery["activities"].extend(actions.load_exported_activities())
    discovery["activities"].extend(probes.load_exported_activities())
    return discovery
