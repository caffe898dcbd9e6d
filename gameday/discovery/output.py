"""Discovery's two outputs: the var file (written atomically) and the summary a person reads."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from gameday.discovery.model import Discovery

__all__ = ["render", "write_varfile"]


def write_varfile(path: str | os.PathLike[str], found: Discovery) -> Path:
    """Write ``{"configuration": ...}`` to ``path`` atomically (a reader never sees half)."""
    target = Path(path)
    body = json.dumps({"configuration": found.values}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=".discover.", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def render(found: Discovery, path: Path) -> str:
    """What was found, where it was written, and what is missing with the drills it rules out."""
    v = found.values
    lines = [
        f"{v['service_name']} (zone {v['hosted_zone_id']}): primary {v['primary_region']}, "
        f"secondary {v['secondary_region']}, account {v['gameday_allowed_accounts']}",
        f"wrote {path} ({len(v)} keys, {sum(1 for x in v.values() if x not in (None, ''))} set)",
    ]
    if not found.missing:
        lines.append("found everything the catalogue drills use")
    for missing in found.missing:
        lines.append(f"not found: {missing.what} ({', '.join(missing.keys)}): {missing.why}")
        drills = sorted({d for key in missing.keys for d in found.ruled_out.get(key, ())})
        lines.append(f"  rules out: {', '.join(drills) if drills else 'no catalogue drill'}")
    lines.extend(f"note: {note}" for note in found.notes)
    return "\n".join(lines)
