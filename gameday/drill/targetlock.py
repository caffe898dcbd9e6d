"""One drill per target at a time: the lock a drill takes before it injects anything.

Two drills against one target corrupt each other: the second reuses the first's fault,
reports an RTO for a failover it did not cause, and its rollback removes the first's deny.
So a drill takes a lock on its target before preflight and releases it after its
rollbacks; a second drill is refused with a message naming the one that holds it.

* **The lab**: an exclusive ``flock`` on ``<lab_dir>/drill.lock`` (the lab's directory is
  the lab's identity). The kernel drops it when the drill's process dies, however it dies,
  so a killed drill never leaves the lab locked; the file says who holds it.
* **AWS**: an SSM parameter ``/gameday/drill-lock/<service>`` in the primary region,
  created with ``Overwrite=False`` (atomic: ``ParameterAlreadyExists`` when another drill
  holds it), holding who took it and when it expires (the drill's maximum duration, else
  :data:`DEFAULT_HOLD_SECONDS`, plus a margin). Released with ``DeleteParameter`` only while
  it still holds this drill's token. A marker left by a lost machine is taken over once
  it has expired.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gameday.drill import DrillError

__all__ = ["AwsMarker", "LabLock", "acquire", "parameter_name"]

LOCK_FILE = "drill.lock"
DEFAULT_HOLD_SECONDS = 3600.0
MARGIN_SECONDS = 300.0


def _holder(experiment: str | None, run_dir: Path | None) -> dict[str, Any]:
    return {
        "experiment": experiment,
        "run_dir": str(run_dir) if run_dir else None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.time(),
        "token": uuid.uuid4().hex,
    }


def _describe(holder: Mapping[str, Any]) -> str:
    since = holder.get("since")
    when = (
        time.strftime("%H:%M:%S UTC", time.gmtime(since)) if isinstance(since, int | float) else "?"
    )
    return (
        f"drill {holder.get('experiment') or '?'} (pid {holder.get('pid')} on "
        f"{holder.get('host')}, since {when}"
        + (f", run directory {holder['run_dir']}" if holder.get("run_dir") else "")
        + ")"
    )


class LabLock:
    """The lab's drill lock (a held ``flock``); :meth:`release` is idempotent."""

    def __init__(self, path: Path, fd: int, holder: dict[str, Any]) -> None:
        self.path, self._fd, self.holder = path, fd, holder

    @classmethod
    def take(cls, lab_dir: Path, experiment: str | None) -> LabLock:
        path = Path(lab_dir) / LOCK_FILE
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise DrillError(f"cannot take the lab's drill lock {path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 65536, 0) or b"{}")
            except ValueError:
                holder = {}
            os.close(fd)
            raise DrillError(
                f"another drill is running against the lab in {lab_dir}: "
                f"{_describe(holder if isinstance(holder, dict) else {})}. One drill per "
                "target at a time: wait for it to end, or stop it with 'gameday abort'."
            ) from None
        holder = _holder(experiment, None)
        lock = cls(path, fd, holder)
        lock.record(None)
        return lock

    def record(self, run_dir: Path | None) -> None:
        """Say in the lock file who holds it (and, once known, the run directory)."""
        self.holder["run_dir"] = str(run_dir) if run_dir else None
        data = json.dumps(self.holder).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock
        self._fd = -1


def parameter_name(service_name: str) -> str:
    """The SSM parameter naming the drill that holds ``service_name``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", service_name.rstrip(".")) or "default"
    return f"/gameday/drill-lock/{safe}"


class AwsMarker:
    """The AWS drill marker (an SSM parameter); :meth:`release` is idempotent."""

    def __init__(self, ssm: Any, name: str, holder: dict[str, Any]) -> None:
        self._ssm, self.name, self.holder = ssm, name, holder
        self._held = True

    @classmethod
    def take(
        cls, ssm: Any, service_name: str, experiment: str | None, hold_seconds: float | None
    ) -> AwsMarker:
        name = parameter_name(service_name)
        holder = _holder(experiment, None)
        holder["expires"] = (
            holder["since"] + (hold_seconds or DEFAULT_HOLD_SECONDS) + MARGIN_SECONDS
        )
        for attempt in (1, 2):
            try:
                ssm.put_parameter(
                    Name=name,
                    Value=json.dumps(holder),
                    Type="String",
                    Overwrite=False,
                    Description="gameday: the drill running against this service",
                )
                return cls(ssm, name, holder)
            except ssm.exceptions.ParameterAlreadyExists:
                current = _read_marker(ssm, name)
                expires = current.get("expires")
                if attempt == 1 and isinstance(expires, int | float) and expires < time.time():
                    ssm.delete_parameter(Name=name)  # left by a lost machine: expired
                    continue
                raise DrillError(
                    f"another drill is running against {service_name}: {_describe(current)} "
                    f"(marker {name}). One drill per target at a time: wait for it, stop it "
                    f"with 'gameday abort' on its host, or delete the parameter if that drill "
                    "is gone."
                ) from None
        raise DrillError(f"could not take the drill marker {name}")  # pragma: no cover

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        current = _read_marker(self._ssm, self.name)
        if current.get("token") == self.holder["token"]:
            self._ssm.delete_parameter(Name=self.name)


def _read_marker(ssm: Any, name: str) -> dict[str, Any]:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        data = json.loads(value)
    except ssm.exceptions.ParameterNotFound:
        return {}
    except ValueError:
        return {"experiment": "(unreadable marker)"}
    return data if isinstance(data, dict) else {}


def acquire(
    configuration: Mapping[str, Any],
    secrets: Mapping[str, Any] | None,
    experiment: str | None,
    hold_seconds: float | None,
) -> LabLock | AwsMarker:
    """The target's lock for this drill; DrillError naming the drill holding it."""
    if configuration.get("gameday_target") == "lab":
        lab_dir = configuration.get("gameday_lab_dir")
        if not lab_dir:
            raise DrillError("the lab var file names no gameday_lab_dir: cannot lock the lab.")
        return LabLock.take(Path(str(lab_dir)), experiment)
    from gameday.aws import client

    service = str(configuration.get("service_name") or "default")
    ssm = client(
        "ssm", configuration.get("primary_region"), configuration=configuration, secrets=secrets
    )
    return AwsMarker.take(ssm, service, experiment, hold_seconds)
