"""The ``gameday`` command line."""

from __future__ import annotations

import click

from gameday import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gameday")
def main() -> None:
    """Run multi-region game-day drills (Chaos Toolkit experiments under Locust load)
    against real AWS or the local two-region lab, and report measured RTO/RPO."""


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


_register()


if __name__ == "__main__":
    main()
