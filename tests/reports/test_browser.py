"""The report in a real headless Chromium (Debian's ``chromium``): the verdict is visible,
every chart is there, and the page fetches nothing but itself. The screenshot is kept as
a build artefact in ``reports/artifacts/report-screenshot.png``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gameday.reports import build_report
from gameday.reports.audit import AckedWrite, audit_writes, write_audit
from tests.reports.synth import BASE, PRIMARY, SECONDARY, journal, requests, write_run
from tests.reports.test_rpo import StoreLookup, surviving

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "reports" / "artifacts"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (apt-get install chromium); .ci/run installs it",
)


def drill(root: Path) -> Path:
    """A run with every section filled: two cohorts, an audit with losses, samples, notes."""
    ttl = requests(50, 60, failing=lambda t: 10 <= t < 12.5, status_fail=0,
                   region=lambda t: PRIMARY if t < 10 else SECONDARY, op=lambda i: "write" if i % 2 else "read")  # fmt: skip
    sticky = requests(
        20, 60, failing=lambda t: 10 <= t < 40, status_fail=0, cohort="sticky", prefix="s"
    )
    records = sorted([*ttl, *sticky], key=lambda r: r.start)
    run = {
        "schema": 1, "experiment": {"name": "db-failover", "title": "Database failover with data loss"},
        "target": "lab", "account": "123456789012", "regions": {"primary": PRIMARY, "secondary": SECONDARY},
        "objectives": {"rto_seconds": 5, "rpo_seconds": 1, "window_seconds": 10, "success_threshold": 0.99, "min_requests": 20},
        "floors": {"health_check_interval_s": 1.0, "failure_threshold": 2, "ttl_s": 1.0, "lab_speed": 10},
        "versions": {"gameday": "0.1.0"}, "configuration": {"service_name": "api.lab.internal"},
        "started": BASE, "ended": BASE + 61, "load": {"users": 6, "spawn_rate": 6, "sticky_share": 0.3},
    }  # fmt: skip
    samples = [
        {"time": BASE + 11.2, "probe": "health_check", "subject": "hc", "value": {"healthy": False}, "ok": True, "error": None},
        {"time": BASE + 11.6, "probe": "writer_region", "subject": "db", "value": SECONDARY, "ok": True, "error": None},
    ]  # fmt: skip
    notes = [{"time": BASE + 20, "text": "Paged the DB on-call <b>not bold</b>", "author": "sre"}]
    for i, stamp in enumerate(("20260901T100000Z", "20261201T100000Z")):
        run_dir = write_run(root / "db-failover" / stamp, journal(10.0, rollback_at=45), records,
                            run_json={**run, "started": BASE - 86400 * (1 - i)}, samples_jsonl=samples, notes_jsonl=notes)  # fmt: skip
        acked = [
            AckedWrite(r.write_id, r.end, r.start, r.region) for r in records if r.acknowledged
        ]  # type: ignore[arg-type]
        removed = {r.write_id for r in records if r.acknowledged and 9.0 <= r.start - BASE < 10}
        write_audit(
            run_dir,
            audit_writes(acked, StoreLookup(surviving(records, removed)), writer_region=SECONDARY),
        )  # type: ignore[arg-type]
        build_report(run_dir)
    return run_dir


def test_the_report_opens_offline_shows_the_verdict_and_every_chart(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    run_dir = drill(tmp_path / "reports")
    url = (run_dir / "report.html").resolve().as_uri()
    seen: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(
                viewport={"width": 1200, "height": 900}, java_script_enabled=False
            )
            page.on("request", lambda request: seen.append(request.url))
            page.goto(url, wait_until="load")
            verdict = page.locator("#verdict")
            assert verdict.is_visible()
            text = verdict.inner_text()
            assert "OBJECTIVES MISSED" in text.upper() and "over the 5 s objective" in text
            charts = page.locator("svg.chart")
            labels = [charts.nth(i).get_attribute("aria-label") for i in range(charts.count())]
            assert labels == [
                "RTO phases", "Requests per second by outcome",
                "Requests per second by serving region (no answer = no region)",
                "Latency percentiles per second (all requests, timeouts included)",
                "Trend of past runs of this experiment",
            ]  # fmt: skip
            for i in range(len(labels)):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 600 and box["height"] > 100
            assert page.get_by_text(
                "TTL-honouring clients recovered in 25.00 s; sticky clients recovered in 300.00 s"
            ).is_visible()
            assert page.get_by_text("Paged the DB on-call <b>not bold</b>").is_visible()  # escaped
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-screenshot.png"), full_page=True)
            pdf = page.pdf(format="A4")
            assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
        finally:
            browser.close()
    assert seen == [url], f"the report fetched more than itself: {seen}"
    html = (run_dir / "report.html").read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }  # XML namespaces only
