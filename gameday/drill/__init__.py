"""What a drill run is made of, besides Chaos Toolkit itself.

:mod:`gameday.control` (the Chaos Toolkit control) drives a run with these parts:
:mod:`~gameday.drill.settings` (the experiment's ``gameday`` extension, with defaults),
:mod:`~gameday.drill.rundir` (the run directory: created here, its contract is :mod:`gameday.rundir`),
:mod:`~gameday.drill.preflight` (nothing is injected unless it passes),
:mod:`~gameday.drill.sampler` (the timeline probes on a background thread) and
:mod:`~gameday.drill.validate` (``gameday validate``). :mod:`~gameday.drill.runner` is
``gameday run``: a convenience over chaoslib's ``run_experiment``, not a second engine.
"""

from __future__ import annotations


class DrillError(Exception):
    """The drill cannot run as asked; the message says what to change (exit code 2)."""
