"""One lab per directory: the lab directory's lock, and finding what a directory started.

``<lab_dir>/lab.lock`` is ``flock``-ed by the launcher that claims the directory and
handed (as an inherited descriptor) to the supervisor it starts, which holds it for its
whole life; the kernel drops the lock when the supervisor dies, however it dies. A
second ``lab up`` in the same directory cannot take it, so it can never start a second
supervisor. The supervisor keeps checking that the lock file at the path is still the one
it holds (same device and inode): when the directory is deleted or replaced it stops
itself and its regions rather than run on where no command can find it.

:func:`lab_processes` finds the processes a directory started without trusting any file
in it: the supervisor and region command lines name the directory (``--lab-dir``,
``--db <dir>/region-*.db``), so ``gameday lab down`` stops them even when ``state.json``
was emptied or the directory deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOCK_NAME", "PID_NAME", "LabLock", "LabProcess", "lab_processes", "locked"]

LOCK_NAME = "lab.lock"
PID_NAME = "supervisor.pid"
_MODULES = {b"gameday.lab.supervisor": "supervisor", b"gameday.lab.region.server": "region"}


class LabLock:
    """An exclusive ``flock`` on ``<lab_dir>/lab.lock``, held through descriptor ``fd``."""

    def __init__(self, lab_dir: Path, fd: int) -> None:
        self.dir = lab_dir
        self.path = lab_dir / LOCK_NAME
        self.fd = fd
        stat = os.fstat(fd)
        self._identity = (stat.st_dev, stat.st_ino)

    @classmethod
    def try_acquire(cls, lab_dir: Path) -> LabLock | None:
        """Take the lock (creating the directory); None if another process holds it."""
        lab_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lab_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(lab_dir, fd)

    @classmethod
    def adopt(cls, lab_dir: Path, fd: int) -> LabLock:
        """The lock a launcher handed over as descriptor ``fd`` (checked to be held)."""
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours already: returns at once
        os.set_inheritable(fd, False)  # regions must not keep the lab locked
        return cls(lab_dir, fd)

    def intact(self) -> bool:
        """True while the lock file at the path is the one held (not deleted, not replaced)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self._identity

    def release(self) -> None:
        """Close this descriptor (the lock goes when every copy of it is closed)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)


def locked(lab_dir: Path) -> bool:
    """True if some process holds ``lab_dir``'s lock (a lab runs or is starting there)."""
    try:
        fd = os.open(lab_dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@dataclass(frozen=True)
class LabProcess:
    """A running process of a lab: ``kind`` is ``supervisor`` or ``region``."""

    pid: int
    kind: str


def _names_dir(args: list[bytes], lab_dir: bytes) -> bool:
    json_key = b'"lab_dir": ' + json.dumps(lab_dir.decode(errors="surrogateescape")).encode()
    return any(arg == lab_dir or arg.startswith(lab_dir + b"/") or json_key in arg for arg in args)


def lab_processes(lab_dir: Path) -> list[LabProcess]:
    """Every live supervisor or region process whose command line names ``lab_dir``."""
    wanted = os.fsencode(str(lab_dir))
    found: list[LabProcess] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        kind = next((k for m, k in _MODULES.items() if m in args), None)
        if kind and _names_dir(args, wanted):
            found.append(LabProcess(int(entry.name), kind))
    return found
