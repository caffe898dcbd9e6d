"""Prompt rollbacks: what a drill does when it is told to stop, from outside or inside.

Chaos Toolkit's own handling (``chaoslib.exit``) turns SIGTERM into ``InterruptExecution``
and leaves SIGINT (``KeyboardInterrupt``) and SIGHUP (the default: die at once) alone. A
stop raised in the method then still runs the gameday control's observation window and
audit before the rollbacks (tens of seconds with the fault in place), and SIGHUP (a
dropped SSH session) kills the drill with no rollback at all. :class:`StopGuard` replaces
that for the life of one drill:

* SIGINT, SIGTERM, SIGHUP and :data:`ABORT_SIGNAL` (SIGUSR1, what ``gameday abort`` and
  chaoslib's ``exit_gracefully`` send) record a :class:`StopRequest` (the first one wins:
  it is what ``run.json`` and the journal say stopped the drill) and raise
  ``InterruptExecution`` in the main thread, so chaoslib ends the method and plays the
  rollbacks; the control skips the observation and the audit of a stopped drill.
* A stop condition or the abort file (watcher threads, :mod:`gameday.drill.stops`) call
  :meth:`StopGuard.request`, which wakes the main thread with :data:`WAKE_SIGNAL`.
* The exception is raised only where unwinding is safe: while the main thread is in an
  activity, a pause, a probe, an operator step, the load's warm-up, the observation or the
  audit (:data:`SAFE_FRAMES`), never inside chaoslib's own bookkeeping, a fault-ledger
  write or the rollbacks. Until the rollbacks begin a waker re-sends the signal every
  :data:`RETRY_SECONDS`, so a stop that landed somewhere unsafe (or that an activity's
  ``except Exception`` swallowed, or that chaoslib's pause after an action would sleep
  through) is raised again at the next safe point: rollbacks start within about a second.
* Once the rollbacks began, every further signal is answered, not obeyed: it prints what is
  still open in the fault ledger and that ``gameday recover`` reverts it if this process is
  killed. Rollbacks are never abandoned by a signal; SIGKILL leaves the write-ahead ledger,
  which ``gameday recover`` reads.

Signal handlers can only be installed from the main thread: elsewhere (a drill run inside
a worker thread) the guard installs nothing and only the watchers' cooperative checks
between activities stop the drill.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any

from chaoslib.exceptions import InterruptExecution

__all__ = [
    "ABORT_SIGNAL",
    "STOP_SIGNALS",
    "WAKE_SIGNAL",
    "StopGuard",
    "StopRequest",
]

logger = logging.getLogger("chaostoolkit")

#: What ``gameday abort`` (and chaoslib's ``exit_gracefully``) send: stop, roll back.
ABORT_SIGNAL = signal.SIGUSR1
#: Signals that stop a drill (and roll it back).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, ABORT_SIGNAL)
#: Sent by the guard to its own main thread to raise a pending stop (ignored by default,
#: so a stray one after the drill is harmless).
WAKE_SIGNAL = signal.SIGURG
RETRY_SECONDS = 0.25

#: Modules in which raising the stop unwinds cleanly to chaoslib's handler (the innermost
#: frame of one of these, before any of :data:`_UNSAFE_FRAMES`, decides).
SAFE_FRAMES = (
    "gameday.actions",
    "gameday.probes",
    "gameday.runbook",
    "gameday.activity",
    "gameday.load",
    "gameday.drill.phases",
    "gameday.drill.preflight",
    "gameday.drill.sampler",
    "gameday.drill.lag",
    "chaoslib.activity",
    "chaoslib.provider",
    "chaosaws",
)
_UNSAFE_FRAMES = (
    "chaoslib.run",
    "chaoslib.control",
    "chaoslib.experiment",
    "gameday.control",
    "gameday.faults",
    "gameday.recovery",
    "gameday.drill.artefacts",
    "gameday.drill.signals",
    "gameday.reports",
)
#: Phases after which nothing is interrupted any more (the rollbacks and what follows).
_FINAL_PHASES = ("stopping", "refused", "rollback", "cleanup", "report", "done")


@dataclass(frozen=True)
class StopRequest:
    """Why a drill was stopped: ``kind`` is signal, stop-condition or abort."""

    kind: str
    reason: str
    time: float
    phase: str
    signal: str | None = None
    condition: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _safe_to_raise(frame: FrameType | None) -> bool:
    """True if the innermost frame that is either safe or unsafe is a safe one."""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(_UNSAFE_FRAMES):
            return False
        if module.startswith(SAFE_FRAMES):
            return True
        frame = frame.f_back
    return False


def _say(text: str) -> None:
    """One line on stderr; a hung-up terminal (SIGHUP) must not break the drill."""
    logger.warning("gameday: %s", text)
    with contextlib.suppress(OSError, ValueError):
        print(f"gameday: {text}", file=sys.stderr, flush=True)


class StopGuard:
    """Signal handling for one drill: see the module docstring.

    ``phase`` returns the drill's phase; ``still_open`` describes the faults still open
    (for the answer to a signal during the rollbacks)."""

    def __init__(self, phase: Callable[[], str], still_open: Callable[[], list[str]]) -> None:
        self._phase = phase
        self._still_open = still_open
        self.stop: StopRequest | None = None
        self.later: list[StopRequest] = []
        self._saved: dict[int, Any] = {}
        self._main = threading.main_thread().ident
        self._lock = threading.Lock()
        self._waker: threading.Thread | None = None
        self._closed = threading.Event()

    # -- lifecycle ----------------------------------------------------------------
    def install(self) -> StopGuard:
        if threading.current_thread() is not threading.main_thread():
            logger.debug("gameday: not in the main thread, no signal handlers installed")
            return self
        for signum in (*STOP_SIGNALS, WAKE_SIGNAL):
            self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        """Put back the handlers found at install (chaoslib's, or the defaults)."""
        self._closed.set()
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._saved.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, previous)
        self._saved.clear()

    # -- requests -----------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self.stop is not None

    def request(
        self, kind: str, reason: str, signame: str | None = None, condition: str | None = None
    ) -> StopRequest:
        """Record a stop (the first wins) and make the main thread act on it."""
        item = StopRequest(kind, reason, time.time(), self._phase(), signame, condition)
        with self._lock:
            first = self.stop is None
            if first:
                self.stop = item
            else:
                self.later.append(item)
        if self._phase().startswith(_FINAL_PHASES):
            self._answer(item)
        elif first:
            _say(f"stopping the drill ({reason}): rolling back now")
            self._start_waker(kick=threading.current_thread() is not threading.main_thread())
        return item

    def check(self) -> None:
        """Raise the pending stop (for cooperative points: between activities)."""
        if self.stop is not None and not self._phase().startswith(_FINAL_PHASES):
            raise InterruptExecution(f"gameday: drill stopped: {self.stop.reason}")

    # -- internals ----------------------------------------------------------------
    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum != WAKE_SIGNAL:
            name = signal.Signals(signum).name
            kind = "abort" if signum == ABORT_SIGNAL else "signal"
            reason = "emergency stop (gameday abort)" if kind == "abort" else f"{name} received"
            self.request(kind, reason, name)
        if self.stop is None or self._phase().startswith(_FINAL_PHASES):
            return
        if _safe_to_raise(frame):
            raise InterruptExecution(f"gameday: drill stopped: {self.stop.reason}")

    def _answer(self, item: StopRequest) -> None:
        opened = self._still_open()
        where = "; ".join(opened) if opened else "none any more"
        _say(
            f"{item.reason} during the rollbacks: they continue and are not abandoned. "
            f"Faults still open: {where}. If this process is killed, run 'gameday recover' "
            "to revert what is left."
        )

    def _start_waker(self, kick: bool) -> None:
        main = self._main
        if main is None or not self._saved or self._waker is not None:
            return

        def wake() -> None:
            while not self._closed.wait(RETRY_SECONDS / 2):
                if self._phase().startswith(_FINAL_PHASES):
                    return
                with contextlib.suppress(OSError, ValueError):
                    signal.pthread_kill(main, WAKE_SIGNAL)
                self._closed.wait(RETRY_SECONDS / 2)

        self._waker = threading.Thread(target=wake, name="gameday-stop-waker", daemon=True)
        self._waker.start()
        if kick:
            with contextlib.suppress(OSError, ValueError):
                signal.pthread_kill(main, WAKE_SIGNAL)
