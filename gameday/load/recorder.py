"""The Locust-side half of the request ledger: records every request of a Locust process.

The request hook only appends a tuple to a list; a background greenlet encodes and writes
batches. On a Locust worker the batches go to the master through Locust's own messaging
(``runner.send_message``), and the master writes the one ledger. gevent and locust are
imported lazily, so importing this module never pulls gevent into the caller. The record's
shape and the readers are in :mod:`gameday.load.ledger`.
"""

from __future__ import annotations

import io
import json
import math
import signal
import time
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.load.ledger import DEFAULT_FLUSH_INTERVAL, MESSAGE_TYPE, summary_path
from gameday.rundir.files import create, write_atomic

#: Set in a worker's statistics report sent with no user running: its last one, after a stop.
IDLE_REPORT = "gameday_no_user_running"
#: Seconds a quitting master waits for every worker's last statistics (Locust waits 0.5 s).
FINAL_REPORT_TIMEOUT = 10.0

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = ["LedgerRecorder", "install_ledger"]


Row = tuple[
    float, float, str, str, int, "str | None", "str | None", "str | None", "str | None", str
]


# One reusable C-accelerated encoder: json.dumps(..., separators=...) would build a new
# JSONEncoder per call, which doubles the cost of a record. Only the slow path uses it.
_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
#: JSON text of the strings that repeat from record to record (op, method, region, address,
#: error name, cohort), so each is escaped once; bounded, since a header value is the
#: server's to choose.
_TEXT: dict[str | None, str] = {None: "null"}
_TEXT_LIMIT = 1024


def _text(value: str | None) -> str:
    """``value`` as JSON text (a string literal, or ``null``), memoised."""
    try:
        return _TEXT[value]
    except KeyError:
        text = encode_basestring_ascii(value)  # type: ignore[arg-type]
        if len(_TEXT) < _TEXT_LIMIT:
            _TEXT[value] = text
        return text


def _encode_slow(row: Row) -> str:
    start, latency, op, method, status, region, address, write_id, error, cohort = row
    return _ENCODE(
        {
            "start": start,
            "end": start + latency / 1000.0,
            "op": op,
            "method": method,
            "status": status,
            "ok": error is None,
            "latency_ms": round(latency, 3),
            "region": region,
            "address": address,
            "write_id": write_id,
            "error": error,
            "cohort": cohort,
        }
    )


def _encode(rows: list[Row]) -> str:
    """JSON lines for ``rows``, byte for byte what :func:`json.dumps` would write.

    The fast path formats each line directly: a dict per record and the general encoder
    cost about three times as much, and this runs for every request of the load. Floats
    use ``repr`` exactly as the json module does; anything the fast path cannot vouch for
    (a non-finite float, a status that is not an int) takes the general encoder.
    """
    out: list[str] = []
    append = out.append
    text = _text
    finite = math.isfinite
    for row in rows:
        start, latency, op, method, status, region, address, write_id, error, cohort = row
        end = start + latency / 1000.0
        try:
            if not (finite(end) and type(status) is int and type(start) is float):
                raise TypeError
            append(
                f'{{"start":{start!r},"end":{end!r},"op":{text(op)},"method":{text(method)},'
                f'"status":{status},"ok":{"true" if error is None else "false"},'
                f'"latency_ms":{round(latency, 3)!r},"region":{text(region)},'
                f'"address":{text(address)},'
                f'"write_id":{"null" if write_id is None else encode_basestring_ascii(write_id)},'
                f'"error":{text(error)},"cohort":{text(cohort)}}}'
            )
        except TypeError:  # not the types the hook records: let the json module decide
            append(_encode_slow(row))
    append("")
    return "\n".join(out)


def _error_name(exception: BaseException) -> str:
    """The class name of what went wrong: the cause, for a client's "retries exceeded"."""
    original = getattr(exception, "original", None)
    return type(original if isinstance(original, BaseException) else exception).__name__


class LedgerRecorder:
    """Records every request of a Locust process.

    ``role`` is ``"local"`` (single process: writes the file), ``"master"`` (writes what
    workers send), or ``"worker"`` (sends batches to the master, writes nothing). The hook
    does no I/O; the flush greenlet runs every ``flush_interval`` seconds. A final flush
    and a summary (record count next to Locust's own request count) happen on Locust's
    ``quit`` event, after its runner has stopped every user, so the ledger is complete on
    ``--run-time``, SIGTERM and SIGINT alike.
    """

    def __init__(
        self,
        environment: Environment,
        path: str | None,
        *,
        region_header: str = "X-Region",
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        from gevent.lock import Semaphore
        from locust.runners import MasterRunner, WorkerRunner

        self.environment = environment
        self.region_header = region_header
        self.flush_interval = flush_interval
        self.path = Path(path) if path else None
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            self.role = "worker"
        elif isinstance(runner, MasterRunner):
            self.role = "master"
        else:
            self.role = "local"
        self.records = 0  # written (local/master) or sent (worker)
        self._rows: list[Row] = []
        self._lock = Semaphore()
        self._file = None
        self._greenlet: Any = None
        self._closed = False
        if self.role != "worker" and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = io.TextIOWrapper(create(self.path), encoding="utf-8")

    # -- the hook: keep it cheap -------------------------------------------------------
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_kw: Any,
    ) -> None:
        """``events.request`` listener: one tuple appended, nothing else."""
        region = status = None
        if response is not None:
            status = getattr(response, "status_code", 0)
            headers = getattr(response, "headers", None)
            if headers is not None:  # (not truthiness: a Headers object counts its values)
                region = headers.get(self.region_header)
                if isinstance(region, list):
                    region = region[0] if region else None
        if context:
            op = context.get("op") or name
            address = context.get("address")
            write_id = context.get("write_id")
            cohort = context.get("cohort") or "ttl"
        else:
            op, address, write_id, cohort = name, None, None, "ttl"
        if start_time is None:
            start_time = time.time() - (response_time or 0.0) / 1000.0
        self._rows.append(
            (
                start_time,
                response_time or 0.0,
                op,
                request_type,
                status or 0,
                region,
                address,
                write_id,
                None if exception is None else _error_name(exception),
                cohort,
            )
        )

    # -- batching ----------------------------------------------------------------------
    def flush(self) -> int:
        """Write (or send) what the hook collected; returns the number of records."""
        with self._lock:
            rows, self._rows = self._rows, []
            if not rows:
                return 0
            text = _encode(rows)
            if self.role == "worker":
                runner = self.environment.runner
                assert runner is not None
                runner.send_message(MESSAGE_TYPE, {"lines": text, "n": len(rows)})
            else:
                self._write(text)
            self.records += len(rows)
            return len(rows)

    def _write(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            self._file.flush()

    def on_worker_batch(self, environment: Environment, msg: Any, **_kw: Any) -> None:
        """Master side of the messaging: a worker's batch, appended as it arrives."""
        data = msg.data or {}
        if self._closed:
            return
        self._write(data.get("lines", ""))
        self.records += int(data.get("n", 0))

    def _flush_loop(self) -> None:
        import gevent

        while True:
            gevent.sleep(self.flush_interval)
            try:
                self.flush()
            except Exception:  # keep recording; Locust logs the greenlet's errors otherwise
                import logging

                logging.getLogger(__name__).exception("ledger flush failed")

    def start(self) -> None:
        """Start the flush greenlet (local and worker roles; the master writes on arrival)."""
        import gevent

        if self.role != "master" and self._greenlet is None:
            self._greenlet = gevent.spawn(self._flush_loop)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        """Worker: flush right before the stats report leaves, so the master always holds
        the records of every request its statistics count; a report sent with no user
        running says so (the quitting master waits for it: :func:`_await_final_reports`)."""
        self.flush()
        runner = self.environment.runner
        data[IDLE_REPORT] = runner is not None and not getattr(runner, "user_count", 0)

    def on_worker_quitting(self, environment: Environment, **_kw: Any) -> None:
        """Worker shutting down by itself (a signal to the whole process group, e.g. Ctrl-C
        on ``locust --processes``): stop the users, then send the last records *and* a final
        stats report before the worker tells the master it quits. Without this, Locust's own
        count on the master misses the worker's last seconds."""
        runner = environment.runner
        if runner is None or getattr(runner, "state", "stopped") in ("stopped", "ready"):
            return  # the master's quit already stopped us and sent the final report
        try:
            runner.stop()
            send_stats = getattr(runner, "_send_stats", None)  # Locust's own final report
            if send_stats is not None:
                send_stats()  # fires report_to_master: our flush goes out first
            else:
                self.flush()
        except Exception:
            import logging

            logging.getLogger(__name__).exception("final worker report failed")

    def close(self, **_kw: Any) -> None:
        """Final flush, then the summary beside the ledger (``quit`` event)."""
        if self._closed:
            return
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        try:
            self.flush()
        except Exception:  # a worker whose master has gone: nothing more to do
            import logging

            logging.getLogger(__name__).exception("final ledger flush failed")
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.role != "worker" and self.path is not None:
            total = self.environment.stats.total
            summary = {
                "ledger": str(self.path),
                "role": self.role,
                "records": self.records,
                "locust_requests": total.num_requests,
                "locust_failures": total.num_failures,
                "complete": self.records == total.num_requests,
                "finished_at": time.time(),
            }
            write_atomic(summary_path(self.path), (json.dumps(summary, indent=2) + "\n").encode())


def install_ledger(
    environment: Environment,
    path: str | None,
    *,
    region_header: str = "X-Region",
    flush_interval: float = DEFAULT_FLUSH_INTERVAL,
) -> LedgerRecorder | None:
    """Attach a :class:`LedgerRecorder` to ``environment`` (call from ``events.init``).

    Returns None, and adds no hook at all, when there is no ledger (no path on a local
    or master runner). A worker always records: its master decides where the file goes.
    Calling it twice for one environment returns the first recorder.
    """
    existing = getattr(environment, "_gameday_ledger", None)
    if existing is not None:
        return existing
    recorder = LedgerRecorder(
        environment, path, region_header=region_header, flush_interval=flush_interval
    )
    if recorder.role != "worker" and recorder.path is None:
        return None
    events = environment.events
    if recorder.role == "master":
        assert environment.runner is not None
        environment.runner.register_message(MESSAGE_TYPE, recorder.on_worker_batch)
        _await_final_reports(environment.runner, FINAL_REPORT_TIMEOUT)
    else:
        events.request.add_listener(recorder.on_request)
    if recorder.role == "worker":
        events.report_to_master.add_listener(recorder.on_report_to_master)
        events.quitting.add_listener(recorder.on_worker_quitting)  # fires before Locust's own
    events.quit.add_listener(recorder.close)
    recorder.start()
    _deliver_ctrl_c_to_the_main_greenlet()
    environment._gameday_ledger = recorder  # type: ignore[attr-defined]
    return recorder


def _await_final_reports(runner: Any, timeout: float) -> None:
    """Make the master's ``quit`` wait for every worker's last statistics.

    Locust's master tells its workers to quit, gives them 0.5 s to send their last report,
    then stops listening. On a busy machine a worker can take longer: its last requests are
    then in the ledger (its batches went out on their own) but not in Locust's count, and a
    complete ledger looks incomplete (a fresh-clone run of the suite saw 230 records against
    Locust's 218). So the master tells each worker to quit first and waits until every one
    has sent a report with no user running (:data:`IDLE_REPORT`), has left, or ``timeout``
    has passed; Locust's own ``quit`` then runs as before (its quit message to a worker that
    already stopped changes nothing).
    """
    import gevent
    from locust.rpc import Message

    locust_quit = runner.quit
    waiting: set[str] = set()

    def on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        if data.get(IDLE_REPORT):
            waiting.discard(client_id)

    def quit() -> None:
        runner.stop(send_stop_to_client=False)  # what Locust's quit does first
        waiting.update(runner.clients)
        for client_id in list(waiting):
            runner.server.send_to_client(Message("quit", None, client_id))
        deadline = time.monotonic() + timeout
        while waiting.intersection(runner.clients) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        locust_quit()

    runner.environment.events.worker_report.add_listener(on_worker_report)
    runner.quit = quit


def _deliver_ctrl_c_to_the_main_greenlet() -> None:
    """Make SIGINT reach Locust's main greenlet only, at a switch point.

    Python raises KeyboardInterrupt in whatever greenlet happens to run when the signal
    arrives: a user between Locust's stats listener and the ledger's, or the flush greenlet
    between taking a batch and writing it. Either would leave the ledger short of Locust's
    own count. A gevent signal watcher runs in the hub instead and throws the interrupt into
    the main greenlet (where Locust waits for the run and handles Ctrl-C), so no greenlet is
    cut off mid-record; Locust's shutdown then proceeds as on any Ctrl-C.
    """
    import gevent

    hub = gevent.get_hub()

    def interrupt() -> None:
        hub.parent.throw(KeyboardInterrupt)

    gevent.signal_handler(signal.SIGINT, interrupt)
