"""IAM in the lab's control plane: AWS's managed policies, there from the first call that
needs them.

AWS's managed policies exist in every account (FIS scenarios attach them, e.g.
``AWSFaultInjectionSimulatorEC2Access``). moto loads them only when asked
(``MOTO_IAM_LOAD_MANAGED_POLICIES``), and then in the IAM backend's constructor, which the
first request of any service builds (moto asks IAM for the caller's account): parsing
its 1,582 policies cost every lab start 0.33 CPU-s, a fifth of it, whether or not anything
ever read IAM. :func:`install` defers that to the first read of the backend's
``managed_policies``, where every IAM operation on policies looks; the policies, their
order (AWS's before the account's own) and every answer stay what moto gives.
"""

from __future__ import annotations

import os
from typing import Any

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)

_LOADED = "_gameday_aws_policies_loaded"
_POLICIES = "_gameday_managed_policies"


def install() -> None:
    """AWS's managed policies in every IAM backend, parsed at the first read. Idempotent."""
    from moto.iam.models import IAMBackend

    if isinstance(IAMBackend.__dict__.get("managed_policies"), property):
        return
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    load_aws_policies = IAMBackend._init_aws_policies

    def managed_policies(self: Any) -> dict[str, Any]:
        policies: dict[str, Any] = self.__dict__[_POLICIES]
        if not self.__dict__.get(_LOADED):
            self.__dict__[_LOADED] = True
            aws = load_aws_policies(self)
            self.aws_managed_policies = aws
            policies = {p.arn: p for p in aws} | policies  # AWS's first, as moto lists them
            self.__dict__[_POLICIES] = policies
        return policies

    def set_managed_policies(self: Any, value: dict[str, Any]) -> None:
        self.__dict__[_POLICIES] = value

    IAMBackend._init_aws_policies = lambda self: []  # the constructor's part: none yet
    IAMBackend.managed_policies = property(managed_policies, set_managed_policies)
