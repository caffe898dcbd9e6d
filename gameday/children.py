"""Child processes that cannot outlive the process that started them.

A lab supervisor's regions and ``gameday load run``'s Locust must stop when their parent
dies, even by SIGKILL (no handler runs then). Linux can do that for us:
``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in the child makes the kernel kill it when its
parent goes. Pass :func:`die_with_parent` as ``preexec_fn``, and keep in mind that
"parent" means the *thread* that forked it: spawn from a thread that lives as long as
the child should (the main thread, or a dedicated long-lived one).
"""

from __future__ import annotations

import ctypes
import signal

__all__ = ["PR_SET_PDEATHSIG", "die_with_parent"]

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """In a child (``preexec_fn`` or right after ``fork``): be sent ``sig`` when the
    parent dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig)
