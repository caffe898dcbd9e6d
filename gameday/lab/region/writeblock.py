"""Why a writer region takes no commit right now, besides its role and lease.

Two AWS behaviours stop an Aurora writer's commits for a while without changing its role:

* an in-region failover (``failover_db_cluster``, or a reboot of the writer instance):
  the writer endpoint is unavailable while a reader is promoted ("typically within 30
  seconds", Aurora User Guide, high availability); open connections are dropped;
* ``rds.global_db_rpo``: once every secondary lags beyond the limit, Aurora blocks
  commits on the primary until one catches up (Aurora User Guide, managing RPOs for
  Aurora PostgreSQL-based global databases).

Aurora blocks such a commit (the client waits); the lab's regions answer on one event
loop and cannot hold a request open without holding every other, so a blocked commit is
answered at once with a 503 naming the reason. Either way nothing is acknowledged: the
request fails, as a client with a timeout would see it, only sooner.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class WriteBlock:
    """The writer's commit gate (set by the lab's topology through ``/_lab/writes``)."""

    unavailable_until: float = 0.0
    unavailable_reason: str = ""
    rpo_blocked: bool = False
    rpo_reason: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(
        self,
        *,
        unavailable_until: float | None = None,
        reason: str = "",
        rpo_blocked: bool | None = None,
        rpo_reason: str = "",
    ) -> dict[str, object]:
        with self._lock:
            if unavailable_until is not None:
                self.unavailable_until = unavailable_until
                self.unavailable_reason = reason
            if rpo_blocked is not None:
                self.rpo_blocked = rpo_blocked
                self.rpo_reason = rpo_reason
            return self.describe()

    def set_from(self, data: dict[str, object]) -> dict[str, object]:
        """:meth:`set` from the control API's JSON body."""
        until = data.get("unavailable_until")
        blocked = data.get("rpo_blocked")
        return self.set(
            unavailable_until=float(until) if isinstance(until, int | float) else None,
            reason=str(data.get("reason") or ""),
            rpo_blocked=bool(blocked) if blocked is not None else None,
            rpo_reason=str(data.get("rpo_reason") or ""),
        )

    def refusal(self, now: float | None = None) -> str | None:
        """Why a commit is not taken now (None: it is)."""
        now = time.time() if now is None else now
        with self._lock:
            if now < self.unavailable_until:
                return self.unavailable_reason or "the writer is unavailable"
            if self.rpo_blocked:
                return self.rpo_reason or "commits are blocked by rds.global_db_rpo"
        return None

    def describe(self) -> dict[str, object]:
        return {
            "unavailable_until": self.unavailable_until,
            "unavailable_reason": self.unavailable_reason,
            "rpo_blocked": self.rpo_blocked,
        }
