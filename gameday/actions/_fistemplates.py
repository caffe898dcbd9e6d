"""The FIS experiment templates gameday creates once and reuses (not activities).

A template is found by the tag ``gameday:template-key``, a hash of what it does and the
role it runs as, so later runs reuse it instead of creating another; an existing
``template_id`` given by the experiment is only checked to exist.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gameday.activity import as_failure, call

__all__ = ["HINTS", "TEMPLATE_TAG", "check_template", "ensure_template", "template_key"]

TEMPLATE_TAG = "gameday:template-key"
#: Hints per FIS error code, appended to the failure sentence.
HINTS = {
    "ResourceNotFoundException": (
        "check the experiment template id with `aws fis list-experiment-templates` in that region"
    ),
    "ValidationException": "check the resource ARNs, the duration and the FIS role",
    "ServiceQuotaExceededException": "stop other FIS experiments or raise the FIS quota",
    "ConflictException": "an experiment is changing state, run the action again",
}


def template_key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def ensure_template(
    fis: Any, region: str, spec: dict[str, Any], role_arn: str | None, description: str
) -> str:
    """Find the template gameday made for ``spec``, or create it; return its id."""
    key = template_key({**spec, "roleArn": role_arn})
    paginator = fis.get_paginator("list_experiment_templates")
    try:
        for page in paginator.paginate():
            for summary in page.get("experimentTemplates", []):
                if (summary.get("tags") or {}).get(TEMPLATE_TAG) == key:
                    return str(summary["id"])
    except Exception as exc:
        raise as_failure(
            exc, f"Could not list FIS experiment templates in {region}", HINTS
        ) from exc
    created = call(
        fis,
        "create_experiment_template",
        f"Could not create an FIS experiment template in {region}",
        HINTS,
        clientToken=key,
        description=description,
        stopConditions=[{"source": "none"}],
        roleArn=role_arn,
        tags={TEMPLATE_TAG: key, "gameday:managed": "true"},
        **spec,
    )
    return str(created["experimentTemplate"]["id"])


def check_template(fis: Any, region: str, template_id: str) -> str:
    call(
        fis,
        "get_experiment_template",
        f"Could not find FIS experiment template {template_id!r} in {region}",
        HINTS,
        id=template_id,
    )
    return template_id
