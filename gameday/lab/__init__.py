"""The lab: a local two-region emulation of AWS that answers the same boto3 calls.

gameday itself never imports this package (only the CLI's ``lab`` commands, tests and
benchmarks do); the lab may import gameday.
"""

from gameday.lab.config import LabConfig, LabConfigError, RegionSpec
from gameday.lab.launcher import Lab, LabAlreadyRunning, LabError, LabInfo, RegionInfo, lab_env

__all__ = [
    "Lab",
    "LabAlreadyRunning",
    "LabConfig",
    "LabConfigError",
    "LabError",
    "LabInfo",
    "RegionInfo",
    "RegionSpec",
    "lab_env",
]
