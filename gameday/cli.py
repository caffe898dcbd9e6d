"""The ``gameday`` command line."""

from __future__ import annotations

import click

from gameday import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gameday")
def main() -> None:
    """Game-day drills for multi-region AWS: region-impairment actions and probes for
    Chaos Toolkit experiments (with a fault ledger and recovery), Locust load that records
    every request, and a local two-region lab that answers the same AWS calls."""


def _register() -> None:
    """Attach the sub-commands; each lives beside the code it drives."""
    from gameday.faults_cli import recover_command
    from gameday.lab.cli import lab
    from gameday.lab.demo import demo

    main.add_command(lab)
    main.add_command(demo)
    main.add_command(recover_command)
    from gameday.load.cli import load

    main.add_command(load)
    from gameday.reports.cli import report_command

    main.add_command(report_command)


_register()


if __name__ == "__main__":
    main()
