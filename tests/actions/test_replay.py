"""``replay_acknowledged_writes`` counts each answer once, by kind: a write the region did
not have (201) is ``created``; an idempotent one (200, 409) ``already_there``; anything else
``refused`` by status; no answer ``errors``. (A 201 raised KeyError: it counted into a
``created`` key its result never had.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from gameday import control
from gameday.actions.replay import replay_acknowledged_writes

#: The status the fake region answers each replayed id with.
ANSWERS = {"new": 201, "kept": 200, "dup": 409, "busy": 503}


@pytest.fixture
def region() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert body["replay"] is True
            self.send_response(ANSWERS[body["id"]])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_each_answer_is_counted_by_kind(
    region: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        {"start": 1.0, "end": 1.1, "op": "write", "method": "POST", "status": 201, "ok": True,
         "write_id": write_id, "region": "us-east-1"}
        for write_id in ("new", "kept", "dup", "busy", "new")  # a retried write: once
    ] + [{"start": 2.0, "end": 2.1, "op": "write", "method": "POST", "status": 503, "ok": False,
          "write_id": "never-acked", "region": "us-east-1"}]  # fmt: skip
    (tmp_path / "requests.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    monkeypatch.setattr(control, "current_run", lambda: SimpleNamespace(run_dir=tmp_path))

    result = replay_acknowledged_writes(region)

    assert result == {
        "replayed": 4,
        "created": 1,
        "already_there": 2,
        "refused": {"503": 1},
        "errors": 0,
    }
