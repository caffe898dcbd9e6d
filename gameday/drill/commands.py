"""The drill commands: ``gameday run|validate|list|iam|demo|step done|note``.

A few lines of click each over :mod:`gameday.drill.runner`, :mod:`~gameday.drill.validate`,
:mod:`gameday.iam` and :mod:`gameday.drill.steps`. Exit codes: 0 every objective met, 1 an
objective missed, 2 the drill could not run (bad input: one message, nothing injected).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from gameday.drill import DrillError
from gameday.rundir import REPORT, SUMMARY, RunDirError

FLAGSHIP = "region-evacuation"


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"gameday: {message}", err=True)
    raise SystemExit(code)


def catalogue_dir() -> Path:
    """``./experiments`` if there is one, else the checkout gameday is installed from."""
    here = Path.cwd() / "experiments"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent.parent / "experiments"


def resolve_experiment(name: str) -> Path:
    """A path, or a catalogue name (``dns-failover``)."""
    path = Path(name)
    if path.is_file():
        return path
    candidate = catalogue_dir() / f"{name}.json"
    if candidate.is_file():
        return candidate
    raise DrillError(f"no experiment {name!r}: give a file path or a name from 'gameday list'.")


def _variables(pairs: tuple[str, ...]) -> dict[str, Any]:
    from chaoslib import convert_vars

    try:
        return convert_vars(list(pairs))
    except (ValueError, TypeError) as exc:
        raise DrillError(f"--var takes name=value (or name:int=value): {exc}") from exc


@contextlib.contextmanager
def lab_varfile(lab_dir: str | None = None) -> Iterator[Path]:
    """The running lab's var file, or a lab started for this drill (stopped afterwards)."""
    from gameday.lab.api import Lab, LabConfig, LabError, varfile_path

    directory = lab_dir or LabConfig().lab_dir
    lab = Lab(directory)
    if lab.running():
        yield varfile_path(lab.dir)
        return
    click.echo(f"gameday: no lab running in {directory}: starting one for this drill", err=True)
    try:
        lab = Lab.start(LabConfig(lab_dir=directory))
    except LabError as exc:
        raise DrillError(f"the lab did not start: {exc}") from exc
    try:
        yield varfile_path(lab.dir)
    finally:
        lab.stop()
        click.echo("gameday: lab stopped", err=True)


def _lab_running(lab_dir: str | None) -> bool:
    from gameday.lab.api import Lab, LabConfig

    return Lab(lab_dir or LabConfig().lab_dir).running()


def _report(outcome: Any) -> None:
    """The verdict line, and the report's path only if a report was written."""
    where = ""
    if outcome.run_dir and (outcome.run_dir / REPORT).is_file():
        where = f"\n  report: {outcome.run_dir / REPORT}"
    elif outcome.run_dir and (outcome.run_dir / SUMMARY).is_file():  # --no-html
        where = f"\n  summary: {outcome.run_dir / SUMMARY}"
    elif outcome.run_dir:
        where = f"\n  run directory (no report): {outcome.run_dir}"
    with contextlib.suppress(OSError):  # a hung-up terminal (SIGHUP) must not fail the run
        click.echo(f"verdict: {outcome.verdict.upper()} ({outcome.message}){where}")


@click.command("run")
@click.argument("experiment")
@click.option(
    "--lab",
    "use_lab",
    is_flag=True,
    help="Target the running lab with its var file (or start one and stop it afterwards).",
)
@click.option("--lab-dir", help="The lab's directory [env GAMEDAY_LAB_DIR; default .gameday/lab].")
@click.option(
    "--var-file",
    "var_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Chaos Toolkit var file naming the target environment (repeatable).",
)
@click.option(
    "--var", "variables", multiple=True, help="name=value overriding a variable (repeatable)."
)
@click.option("--users", type=int, help="Load users (default: the experiment's load profile).")
@click.option("--out", type=click.Path(path_type=Path), help="Where run directories go [reports].")
@click.option(
    "--unattended",
    is_flag=True,
    help="Operator steps continue after their delay or run their automated action.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Resolve every target and print what would be injected and how each fault would "
    "be rolled back; change nothing (read-only AWS calls only).",
)
@click.option(
    "--allow-production",
    is_flag=True,
    help="Allow targets whose names or tags look like production (recorded in run.json).",
)
@click.option(
    "--no-html",
    is_flag=True,
    help="Write summary.json and junit.xml but not report.html (a pipeline that reads only "
    "the verdict); 'gameday report RUN_DIR' renders it later.",
)
def run_command(
    experiment: str,
    use_lab: bool,
    lab_dir: str | None,
    var_files: tuple[Path, ...],
    variables: tuple[str, ...],
    users: int | None,
    out: Path | None,
    unattended: bool,
    dry_run: bool,
    allow_production: bool,
    no_html: bool,
) -> None:
    """Run EXPERIMENT as a drill under load, always rolling back, and write its report.

    SIGINT, SIGTERM, SIGHUP and 'gameday abort' stop it and roll back at once. Exit 0
    when all five checks pass, 1 when one is missed, 3 when the drill was interrupted,
    2 when the drill could not run (nothing injected)."""
    from gameday.drill.progress import start_progress
    from gameday.drill.runner import RunRequest, run_drill

    try:
        path = resolve_experiment(experiment)
        request = RunRequest(path, list(var_files), _variables(variables), users, out, unattended)
        request.allow_production = allow_production
        request.html = not no_html
        with contextlib.ExitStack() as stack:
            if use_lab:
                if dry_run and not _lab_running(lab_dir):
                    _fail("--dry-run --lab needs a running lab ('gameday lab up --detach').")
                request.var_files.insert(0, stack.enter_context(lab_varfile(lab_dir)))
            if dry_run:
                from gameday.drill.runner import plan_drill

                plan = plan_drill(request)
                click.echo(plan.render())
                raise SystemExit(2 if plan.problems else 0)
            outcome = run_drill(request, watch=start_progress)
    except DrillError as exc:
        _fail(str(exc))
    _report(outcome)
    raise SystemExit(outcome.exit_code)


@click.command("validate")
@click.argument("experiments", nargs=-1, required=True)
@click.option(
    "--var-file",
    "var_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Also check that every variable has a value in these var files.",
)
@click.option("--var", "variables", multiple=True, help="name=value (repeatable).")
def validate_command(
    experiments: tuple[str, ...], var_files: tuple[Path, ...], variables: tuple[str, ...]
) -> None:
    """Validate EXPERIMENTS: Chaos Toolkit's checks plus gameday's (rollbacks, objectives,
    modules/functions/arguments, variables). Exit 2 if any is invalid."""
    from gameday.drill.runner import configuration_for, load
    from gameday.drill.validate import validate_experiment

    failed = False
    for name in experiments:
        try:
            path = resolve_experiment(name)
            experiment = load(path)
            configuration = None
            if var_files or variables:
                configuration = configuration_for(
                    experiment, list(var_files), _variables(variables)
                )[0]
            problems = validate_experiment(experiment, path, configuration)
        except DrillError as exc:
            problems, path = [str(exc)], Path(name)
        if problems:
            failed = True
            click.echo(f"{path}: INVALID")
            for problem in problems:
                click.echo(f"  - {problem}")
        else:
            click.echo(f"{path}: ok")
    if failed:
        raise SystemExit(2)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def list_command(as_json: bool) -> None:
    """The drill catalogue: each experiment with its description and objectives."""
    from gameday.drill.settings import extension

    items = []
    for path in sorted(catalogue_dir().glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            data = json.loads(path.read_text())
            ext = extension(data)
            if ext is None:
                continue
            items.append(
                {
                    "name": path.stem,
                    "title": data.get("title"),
                    "description": data.get("description"),
                    "objectives": ext.get("objectives"),
                    "path": str(path),
                }
            )
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        objectives = ", ".join(
            f"{k.replace('_seconds', '')} {v:g} s" for k, v in (item["objectives"] or {}).items()
        )
        click.echo(f"{item['name']}  [{objectives}]\n  {item['title']}\n  {item['description']}\n")


@click.command("iam")
@click.argument("experiment", required=False)
@click.option(
    "--discover",
    "for_discover",
    is_flag=True,
    help="Print the read-only policy `gameday discover` needs instead.",
)
def iam_command(experiment: str | None, for_discover: bool) -> None:
    """Print the least-privilege IAM policy for the activities EXPERIMENT uses (or, with
    --discover, the read-only policy of `gameday discover`)."""
    from gameday.drill.runner import load
    from gameday.iam import discover_policy, render

    if for_discover or experiment is None:
        if experiment is not None or not for_discover:
            _fail("give either EXPERIMENT or --discover.")
        click.echo(discover_policy())
        return
    try:
        click.echo(render(load(resolve_experiment(experiment))))
    except DrillError as exc:
        _fail(str(exc))


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the run directory goes.",
)
def demo_command(out: Path) -> None:
    """Start a lab, run the flagship drill (region evacuation) unattended, print the
    verdict and the report's path, and stop the lab."""
    from gameday.drill.progress import start_progress
    from gameday.drill.runner import RunRequest, run_drill

    began = time.monotonic()
    try:
        path = resolve_experiment(FLAGSHIP)
        with tempfile.TemporaryDirectory(prefix="gameday-demo-") as lab_dir:
            click.echo("gameday demo: starting the lab ...")
            with lab_varfile(lab_dir) as var_file:
                click.echo(
                    f"gameday demo: lab ready after {time.monotonic() - began:.1f} s; running {path}"
                )
                outcome = run_drill(
                    RunRequest(path, [var_file], out=out, unattended=True), watch=start_progress
                )
    except DrillError as exc:
        _fail(str(exc))
    _report(outcome)
    click.echo(f"gameday demo: done in {time.monotonic() - began:.1f} s (lab stopped)")
    raise SystemExit(outcome.exit_code)


@click.group("step")
def step_group() -> None:
    """Operator runbook steps of the running drill."""


@step_group.command("done")
@click.argument("step", required=False)
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    help="The drill's run directory (default: the drill running here).",
)
def step_done(step: str | None, run_dir: Path | None) -> None:
    """Confirm the operator step under way (or the one named STEP)."""
    from gameday.drill.steps import confirm_step

    try:
        path = confirm_step(step, run_dir)
    except (DrillError, RunDirError) as exc:
        _fail(str(exc))
    click.echo(f"confirmed {step or 'the current step'} in {path}")


@click.command("note")
@click.argument("text")
@click.option("--author", default=None, help="Who writes it [$USER].")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    help="The drill's run directory (default: the drill running here).",
)
def note_command(text: str, author: str | None, run_dir: Path | None) -> None:
    """Add a timestamped note to the running drill's timeline."""
    from gameday.drill.steps import add_note

    try:
        path = add_note(text, author, run_dir)
    except (DrillError, RunDirError) as exc:
        _fail(str(exc))
    click.echo(f"noted in {path}")


@click.command("abort")
@click.option("--reason", default=None, help="Why (recorded in each drill's run directory).")
def abort_command(reason: str | None) -> None:
    """Emergency stop: stop every drill running on this host (for this user's state
    directory); each rolls back at once and records the abort.

    External systems can do the same by creating the emergency-stop file
    ($GAMEDAY_ABORT_FILE, else ABORT beside the fault ledger): while it exists running
    drills stop and no drill starts. Exits 1 when no drill is running."""
    from gameday.drill.abort import abort_all, drills_dir

    stopped = abort_all(reason)
    if not stopped:
        _fail(f"no drill is running on this host (none registered in {drills_dir()}).", code=1)
    for item in stopped:
        click.echo(
            f"abort: drill {item['experiment']} (pid {item['pid']}, run directory "
            f"{item['run_dir']}): {item['outcome']}"
        )


COMMANDS = (
    abort_command,
    run_command,
    validate_command,
    list_command,
    iam_command,
    demo_command,
    step_group,
    note_command,
)
