"""``gameday discover``: a var file for a real account, found from the service's DNS name.

Read-only by construction (:mod:`.reader`): the walk (:mod:`.walk`) goes from the record
set and its health checks to the regions, their networks, the data tier and the secret,
and writes the same keys the lab writes (:data:`gameday.varkeys.KEYS`). What it cannot
find is reported with the reason and the catalogue drills it rules out (:mod:`.drills`).
Product code: it reaches AWS (or the lab, which answers the same calls) only through
:func:`gameday.aws.client`.
"""

from gameday.discovery.datatier import Hints
from gameday.discovery.model import Discovery, DiscoveryError, Missing
from gameday.discovery.output import render, write_varfile
from gameday.discovery.walk import discover

__all__ = [
    "Discovery",
    "DiscoveryError",
    "Hints",
    "Missing",
    "discover",
    "render",
    "write_varfile",
]
