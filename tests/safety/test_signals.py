"""The stop guard: a signal raises the stop promptly where unwinding is safe, is answered
(never obeyed) during the rollbacks, and the handlers found at install come back."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from chaoslib.exceptions import InterruptExecution

from gameday.drill.signals import StopGuard, _safe_to_raise


def _in_module(name: str, source: str) -> dict[str, Any]:
    """Functions whose frames belong to module ``name`` (as the guard sees frames)."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


ACTION = _in_module(
    "gameday.actions.fake",
    "import time, sys\n"
    "def hold(seconds):\n    time.sleep(seconds)\n"
    "def swallowing(seconds):\n"
    "    end = time.monotonic() + seconds\n"
    "    while time.monotonic() < end:\n"
    "        try:\n            time.sleep(seconds)\n"
    "        except Exception:\n            pass\n"
    "def frame():\n    return sys._getframe()\n",
)
LEDGER = _in_module("gameday.faults", "import sys\ndef frame():\n    return sys._getframe()\n")


def _later(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


@pytest.fixture
def guarded() -> Any:
    state = {"phase": "method: inject"}
    guard = StopGuard(lambda: state["phase"], lambda: ["block_endpoint on acl-1"]).install()
    try:
        yield guard, state
    finally:
        guard.restore()


def test_safe_frames_are_activities_never_the_ledger_or_chaoslib() -> None:
    assert _safe_to_raise(ACTION["frame"]())
    assert not _safe_to_raise(LEDGER["frame"]())
    assert not _safe_to_raise(sys._getframe())  # a test module: neither


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_a_signal_during_an_action_stops_it_within_a_second(guarded: Any, signum: int) -> None:
    guard, _ = guarded
    _later(0.2, lambda: os.kill(os.getpid(), signum))
    began = time.monotonic()
    with pytest.raises(InterruptExecution):
        ACTION["hold"](30)
    assert time.monotonic() - began < 2.0
    assert guard.stop is not None and guard.stop.signal == signal.Signals(signum).name
    assert guard.stop.kind == ("abort" if signum == signal.SIGUSR1 else "signal")
    assert guard.stop.phase == "method: inject"


def test_an_activity_that_swallows_the_stop_gets_it_again(guarded: Any) -> None:
    """``except Exception`` in an activity (or chaoslib's pause after it) cannot keep the
    fault in place: the waker raises the stop again at the next safe point."""
    guard, _ = guarded
    _later(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    began = time.monotonic()
    with pytest.raises(InterruptExecution):
        ACTION["swallowing"](1.0)
        ACTION["hold"](30)  # the pause after the action
    assert time.monotonic() - began < 3.0
    assert guard.stop is not None


def test_a_stop_condition_from_a_thread_interrupts_the_main_thread(guarded: Any) -> None:
    guard, _ = guarded
    _later(
        0.2,
        lambda: guard.request("stop-condition", "alarm x in ALARM", condition="cloudwatch_alarm"),
    )
    with pytest.raises(InterruptExecution, match="alarm x in ALARM"):
        ACTION["hold"](30)
    assert guard.stop.condition == "cloudwatch_alarm"


def test_signals_during_the_rollbacks_are_answered_not_obeyed(
    guarded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    guard, state = guarded
    state["phase"] = "rollback: unblock"
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    ACTION["hold"](0.3)  # not interrupted: the rollbacks continue
    err = capsys.readouterr().err
    assert "they continue and are not abandoned" in err
    assert "block_endpoint on acl-1" in err and "gameday recover" in err
    assert [s.signal for s in guard.later] == ["SIGINT"]


def test_restore_puts_back_the_handlers_found() -> None:
    before = signal.getsignal(signal.SIGHUP)
    guard = StopGuard(lambda: "method", lambda: []).install()
    assert signal.getsignal(signal.SIGHUP) != before
    guard.restore()
    assert signal.getsignal(signal.SIGHUP) == before
