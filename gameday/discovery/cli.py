"""``gameday discover SERVICE_NAME``: a few lines of click over :func:`.walk.discover`."""

from __future__ import annotations

from pathlib import Path

import click
from botocore.exceptions import BotoCoreError, ClientError

from gameday.aws import AwsSetupError


@click.command("discover")
@click.argument("service_name")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("staging.json"),
    show_default=True,
    help="The var file to write (replaced atomically).",
)
@click.option("--hosted-zone-id", help="The zone to read when several hold the name.")
@click.option("--global-cluster", help="The Aurora global database's identifier.")
@click.option("--table", help="The DynamoDB global table's name.")
@click.option("--secret", help="The name of the secret replicated to the secondary.")
@click.option(
    "--fis-role",
    default="gameday-fis",
    show_default=True,
    help="The IAM role FIS experiments run under.",
)
@click.option(
    "--nameserver",
    help="HOST:PORT of the resolver drills ask (default: GAMEDAY_NAMESERVER, else the system's).",
)
def discover_command(
    service_name: str,
    out: Path,
    hosted_zone_id: str | None,
    global_cluster: str | None,
    table: str | None,
    secret: str | None,
    fis_role: str,
    nameserver: str | None,
) -> None:
    """Write a var file for SERVICE_NAME's account with read-only calls: its Route 53
    record set and health checks, the two regions behind them, each region's subnet and
    network ACL (through its load balancer), the Aurora global database or DynamoDB global
    table, the secret replicated to both regions, the FIS role. Says what it could not find
    and which catalogue drills that rules out. The account must be allowlisted
    (GAMEDAY_ALLOWED_ACCOUNTS). Exit 0 when written, 2 on bad input (nothing written)."""
    from gameday.discovery import DiscoveryError, Hints, discover, render, write_varfile

    hints = Hints(global_cluster=global_cluster, table=table, secret=secret, fis_role=fis_role)
    try:
        found = discover(
            service_name, hosted_zone_id=hosted_zone_id, hints=hints, nameserver=nameserver
        )
    except (DiscoveryError, AwsSetupError) as exc:
        _fail(f"discover {service_name}: {exc}")
    except (ClientError, BotoCoreError) as exc:
        _fail(
            f"discover {service_name}: AWS refused a read-only call: {exc} (nothing written; "
            "`gameday iam --discover` prints the policy discovery needs)"
        )
    if not out.parent.is_dir():
        _fail(f"discover: {out.parent} is not a directory; nothing written.")
    path = write_varfile(out, found)
    click.echo(render(found, path))


def _fail(message: str) -> None:
    click.echo(f"gameday: {message}", err=True)
    raise SystemExit(2)
