"""Reading and writing run-directory files: bounded reads, writes that never follow links.

**Reading.** :func:`open_regular` opens without blocking and refuses anything but a regular
file (a FIFO named ``samples.jsonl`` would otherwise hang the report for ever) and any file
over its size bound; :func:`read_json` and :func:`iter_jsonl` read through it. Lines are
bounded too (:data:`MAX_LINE_BYTES`): a crash-zeroed tail (gigabytes of NUL bytes and no
newline) is refused after one block, never read into memory. Reading a bounded regular
file takes bounded time, so no reader here needs a clock.

**One error policy** for JSON lines: a complete line that is not a JSON object, or not the
record its file holds, is a :class:`RunDirError` naming the file and line. A last line
without its newline is *being written* while the run goes on (``live=True``: skipped) and
*cut off* once it is over (an error). ``skip_bad=True`` turns errors into warnings with the
same message, for the one file where a bad line must not block anything: the history.

**Writing.** :func:`write_atomic` writes a temporary file in the same folder, created with
``O_EXCL | O_NOFOLLOW``, then renames it over the destination: readers never see half a
file, and a symbolic link planted at the destination is replaced, never written through.
:func:`append_line` appends one line with one ``write`` on an ``O_APPEND | O_NOFOLLOW``
descriptor, so concurrent appenders never interleave within a line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from gameday.rundir.errors import RunDirError

logger = logging.getLogger("gameday.rundir")

T = TypeVar("T")

MiB = 1 << 20
#: Bound on a whole-document file (journal.json, run.json, audit.json, summary.json).
MAX_JSON_BYTES = 256 * MiB
#: Bound on a small JSON-lines file (samples, notes, steps, lab events, faults, history).
MAX_JSONL_BYTES = 256 * MiB
#: Bound on the request ledger (about 60 million requests).
MAX_LEDGER_BYTES = 16 * 1024 * MiB
#: Bound on one line of a JSON-lines file (a ledger line is about 250 bytes).
MAX_LINE_BYTES = 1 * MiB
_BLOCK = 2 * MiB


def _size(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n < 1024 * MiB else f"{n / (1024 * MiB):.1f} GiB"


def open_regular(path: Path, max_bytes: int) -> IO[bytes] | None:
    """``path`` opened for binary reading; None when it does not exist. RunDirError when it
    is not a regular file (a FIFO, a device, a directory) or is larger than ``max_bytes``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RunDirError(path, f"cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RunDirError(path, "is not a regular file (a FIFO, a device or a folder?)")
        if info.st_size > max_bytes:
            raise RunDirError(
                path, f"is {_size(info.st_size)}, over the {_size(max_bytes)} a run file may be"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: Path, max_bytes: int) -> bool:
    """True when ``path`` is a regular file within ``max_bytes``; False when absent;
    RunDirError otherwise (for readers that open the file themselves)."""
    handle = open_regular(path, max_bytes)
    if handle is None:
        return False
    handle.close()
    return True


def read_json(path: Path, *, required: bool, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A whole JSON document; None when absent and not required."""
    handle = open_regular(path, max_bytes)
    if handle is None:
        if required:
            raise RunDirError(path, "missing (a run directory needs it)")
        return None
    with handle:
        raw = handle.read()
    if not raw.strip():
        raise RunDirError(path, "is empty (truncated?)")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise RunDirError(path, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(
            path,
            f"is not valid JSON ({exc.msg}, column {exc.colno}): truncated or edited?",
            line=exc.lineno,
        ) from None


def iter_lines(
    handle: IO[bytes], path: Path, *, max_line: int = MAX_LINE_BYTES, block: int = _BLOCK
) -> Iterator[tuple[list[bytes], bool]]:
    """``(lines, terminated)`` blocks: lines without their ``\\n``, at most ``max_line``
    bytes each (a longer line is a RunDirError after one block, never read whole);
    ``terminated`` is False only for a last line that lacks its newline."""
    carry = b""
    number = 1
    while True:
        data = handle.read(block)
        if not data:
            if carry:
                yield [carry], False
            return
        lines = (carry + data).split(b"\n")
        carry = lines.pop()
        if len(carry) > max_line:
            hint = " (NUL bytes: a crash-zeroed tail?)" if b"\0" in carry[:4096] else ""
            raise RunDirError(
                path, f"line is longer than {_size(max_line)}{hint}", line=number + len(lines)
            )
        if lines:
            number += len(lines)
            yield lines, True


def bad_line(
    path: Path, raw: bytes, number: int, *, terminated: bool, live: bool
) -> RunDirError | None:
    """Why ``raw`` (line ``number``, not valid JSON) is an error; None for a line still
    being written (no newline yet, ``live``)."""
    if not terminated:
        if live:
            return None
        return RunDirError(path, "the last line is cut off (truncated file)", line=number)
    if b"\0" in raw:
        return RunDirError(path, "line holds NUL bytes (a crash-zeroed tail?)", line=number)
    return RunDirError(path, "line is not JSON", line=number)


def iter_jsonl[T](
    path: Path,
    parse: Callable[[dict[str, Any]], T],
    *,
    what: str = "record",
    live: bool = False,
    skip_bad: bool = False,
    max_bytes: int = MAX_JSONL_BYTES,
) -> Iterator[tuple[int, T]]:
    """``(line number, parse(object))`` for every line of ``path`` (nothing when absent),
    under the one error policy of the module docstring. ``parse`` raises ValueError (or
    KeyError/TypeError) on a line that is not a ``what``."""
    handle = open_regular(path, max_bytes)
    if handle is None:
        return
    number = 0
    with handle:
        for block, terminated in iter_lines(handle, path):
            for raw in block:
                number += 1
                if not raw.strip():
                    continue
                error: RunDirError | None = None
                try:
                    item = json.loads(raw)
                except ValueError:
                    error = bad_line(path, raw, number, terminated=terminated, live=live)
                    if error is None:
                        continue
                else:
                    if not isinstance(item, dict):
                        error = RunDirError(path, "line is not a JSON object", line=number)
                    else:
                        try:
                            yield number, parse(item)
                            continue
                        except (ValueError, KeyError, TypeError) as exc:
                            error = RunDirError(path, f"is not a {what}: {_why(exc)}", line=number)
                if not skip_bad:
                    raise error
                logger.warning("%s (line skipped)", error)


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"lacks {exc.args[0]!r}"
    return str(exc)


def read_jsonl(
    path: Path, *, live: bool = False, max_bytes: int = MAX_JSONL_BYTES
) -> list[dict[str, Any]]:
    """Every JSON object line of ``path``, as dicts ([] when absent): for files whose lines
    have no record type here (a later line may carry anything the writer chose)."""
    return [item for _, item in iter_jsonl(path, dict, live=live, max_bytes=max_bytes)]


# ------------------------------------------------------------------------------ writing


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` (see the module docstring: never through a link)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """:func:`write_atomic` of UTF-8 text."""
    return write_atomic(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> Path:
    """:func:`write_atomic` of ``data`` as indented JSON."""
    return write_text(path, json.dumps(data, indent=1, default=str) + "\n")


def append_line(path: Path, line: bytes) -> None:
    """Append ``line`` (ending in a newline) with one ``write``; RunDirError when ``path``
    is a symbolic link (never written through)."""
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
    except OSError as exc:
        if Path(path).is_symlink():
            raise RunDirError(
                path, "is a symbolic link: gameday does not write through one"
            ) from None
        raise exc
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON object as a line (see :func:`append_line`)."""
    append_line(path, (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode())


def create(path: Path) -> IO[bytes]:
    """``path`` truncated and opened for binary writing, for a file written as it goes (the
    ledger, a log): RunDirError when ``path`` is a symbolic link (never written through)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError:
        _refuse_link(path)
        raise
    return os.fdopen(fd, "wb")


def _refuse_link(path: Path) -> None:
    if Path(path).is_symlink():
        raise RunDirError(path, "is a symbolic link: gameday does not write through one")
