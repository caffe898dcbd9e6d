"""``gameday report``: re-render a run's report, print the trend, compare two runs.

gameday report reports/failover/20261130T143000Z [--open]
gameday report --history [reports] [--experiment failover]
gameday report --compare RUN_A RUN_B
gameday report --verify RUN_DIR
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gameday.reports.errors import ReportError, RunDirError


def _fmt(value: Any, unit: str = " s") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}"


def _summary(run_dir: Path) -> dict[str, Any]:
    """A run's summary.json, measuring the run first when it has none."""
    from gameday.rundir import SUMMARY
    from gameday.rundir.files import read_json

    data = read_json(run_dir / SUMMARY, required=False)
    if data is None:
        from gameday.reports import build_report

        return build_report(run_dir).to_json()
    needed = ("verdict", "rto_seconds", "rpo_seconds", "lost_write_count")
    if not isinstance(data, dict) or not all(key in data for key in needed):
        raise RunDirError(
            run_dir / SUMMARY, f"is not a gameday summary (needs {', '.join(needed)})"
        )
    return data


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, run A, run B) rows for ``--compare``."""

    def cohort(s: dict[str, Any], name: str) -> Any:
        return next(
            (c.get("rto_seconds") for c in s.get("cohorts", []) if c["cohort"] == name), None
        )

    def phase(s: dict[str, Any], key: str) -> Any:
        return next((p.get("since_t0_s") for p in s.get("phases", []) if p["key"] == key), None)

    rows = [
        ("run", a.get("run_dir", "?"), b.get("run_dir", "?")),
        ("verdict", a["verdict"], b["verdict"]),
        ("RTO", _fmt(a["rto_seconds"]), _fmt(b["rto_seconds"])),
        ("RPO", _fmt(a["rpo_seconds"]), _fmt(b["rpo_seconds"])),
        ("lost writes", _fmt(a["lost_write_count"]), _fmt(b["lost_write_count"])),
        ("RTO, ttl cohort", _fmt(cohort(a, "ttl")), _fmt(cohort(b, "ttl"))),
        ("RTO, sticky cohort", _fmt(cohort(a, "sticky")), _fmt(cohort(b, "sticky"))),
    ]
    for key, label in (("detection", "detection"), ("dns-shift", "DNS shift"), ("promotion", "promotion"),
                       ("first-write", "first write")):  # fmt: skip
        rows.append((label, _fmt(phase(a, key)), _fmt(phase(b, key))))
    rows.append(("findings", str(len(a.get("findings", []))), str(len(b.get("findings", [])))))
    return rows


@click.command("report")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--open", "open_", is_flag=True, help="Open report.html in a browser afterwards.")
@click.option(
    "--history", is_flag=True, help="Print the trend from PATH's history.jsonl (default: reports)."
)
@click.option("--experiment", default=None, help="With --history: only this experiment.")
@click.option("--compare", is_flag=True, help="Show two runs side by side: --compare RUN_A RUN_B.")
@click.option("--verify", is_flag=True, help="Check RUN_DIR's files against its manifest.sha256.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def report_command(paths: tuple[Path, ...], open_: bool, history: bool, experiment: str | None,
                   compare: bool, verify: bool, as_json: bool) -> None:  # fmt: skip
    """Measure RTO and RPO from a run directory and (re)write its report.

    RUN_DIR needs at least journal.json (Chaos Toolkit) and requests.jsonl (the load's
    ledger); run.json, samples, the fault ledger slice, lab events, audit.json and notes
    enrich the report. Writes report.html, summary.json, junit.xml and manifest.sha256 in
    RUN_DIR and adds the run to the history. Exit code 1 with one message on bad input.
    """
    try:
        if history:
            _history(paths, experiment, as_json)
        elif compare:
            if len(paths) != 2:
                raise click.UsageError("--compare takes two run directories: --compare RUN_A RUN_B")
            rows = compare_rows(_summary(paths[0]), _summary(paths[1]))
            if as_json:
                click.echo(json.dumps(rows, indent=1))
            else:
                width = max(len(r[1]) for r in rows[1:])
                for what, a, b in rows:
                    click.echo(f"{what:<20} {a:<{max(width, 10)}}  {b}")
        elif verify:
            if len(paths) != 1:
                raise click.UsageError("--verify takes one run directory")
            from gameday.reports.evidence import verify_manifest

            problems = verify_manifest(paths[0])
            for problem in problems:
                click.echo(problem)
            if problems:
                raise click.ClickException(
                    f"{len(problems)} files differ from {paths[0] / 'manifest.sha256'}"
                )
            click.echo(f"{paths[0]}: every file matches manifest.sha256")
        else:
            if len(paths) != 1:
                raise click.UsageError("give one run directory: gameday report RUN_DIR")
            _build(paths[0], open_, as_json)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc


def _build(run_dir: Path, open_: bool, as_json: bool) -> None:
    from gameday.reports import build_report

    summary = build_report(run_dir)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=1, default=str))
    else:
        data = summary.to_json()
        click.echo(f"{summary.verdict.upper()}: {data['verdict_text']}")
        for f in data["findings"]:
            click.echo(f"  [{f['severity']}] {f['text']}")
        click.echo(
            f"report  {run_dir / 'report.html'}\nsummary {run_dir / 'summary.json'}\njunit   {run_dir / 'junit.xml'}"
        )
    if open_:
        import webbrowser

        webbrowser.open((run_dir / "report.html").resolve().as_uri())


def _history(paths: tuple[Path, ...], experiment: str | None, as_json: bool) -> None:
    from gameday.reports.evidence import HISTORY, read_history

    root = paths[0] if paths else Path("reports")
    path = root if root.name == HISTORY else root / HISTORY
    if not path.exists():
        raise ReportError(f"{path}: no history yet (it is written by `gameday report RUN_DIR`)")
    lines = read_history(path, experiment)
    if as_json:
        click.echo(json.dumps([line.__dict__ for line in lines], indent=1))
        return
    click.echo(f"{'experiment':<24} {'run':<18} {'verdict':<10} {'RTO':>9} {'RPO':>9} {'lost':>6}")
    for h in lines:
        click.echo(f"{h.experiment:<24} {h.run:<18} {h.verdict:<10} {_fmt(h.rto_seconds):>9} "
                   f"{_fmt(h.rpo_seconds):>9} {_fmt(h.lost_write_count):>6}")  # fmt: skip
