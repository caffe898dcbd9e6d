"""The lab: a local two-region emulation of AWS that answers the same boto3 calls.

gameday's product code enters it only through :mod:`gameday.lab.api` (an import-linter
contract in ``pyproject.toml`` holds it there; the CLI's ``lab`` group is wired in from
:mod:`gameday.cli`); tests and benchmarks may reach inside. The lab may import gameday.
The package's own names are the API's.
"""

from gameday.lab import api
from gameday.lab.api import *  # noqa: F403

__all__ = api.__all__
