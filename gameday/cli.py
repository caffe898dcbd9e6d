"""The ``gameday`` command line."""

from __future__ import annotations

import click

from gameday import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gameday")
def main() -> None:
    """Game-day drills for multi-region AWS: run a Chaos Toolkit experiment under load
    against the local two-region lab or a non-prod account, always roll back, and get a
    report of the measured RTO and RPO against the objectives (run, validate, list, iam,
    demo, step, note, report, discover), plus the lab, the load generator and fault recovery."""


def _register() -> None:
    """Attach the sub-commands; each lives beside the code it drives."""
    from gameday.discovery.cli import discover_command
    from gameday.drill.commands import COMMANDS
    from gameday.faults_cli import recover_command
    from gameday.lab.cli import lab

    for command in COMMANDS:
        main.add_command(command)
    main.add_command(lab)
    main.add_command(recover_command)
    main.add_command(discover_command)
    from gameday.load.cli import load

    main.add_command(load)
    from gameday.reports.cli import report_command

    main.add_command(report_command)


_register()


if __name__ == "__main__":
    main()
