"""Local audit log: one JSON line per action, who/when/what/where/before/after/result.

Lives at $XDG_STATE_HOME/rollout-console/audit.jsonl (platformdirs user_state_dir).
Shared by every backend (the demo may use it too), so it must not import
kubernetes or textual.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.untrusted import clean_line

APP_NAME = "rollout-console"


def audit_path() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP_NAME)) / "audit.jsonl"


def screenshot_dir() -> Path:
    """Where the palette's Screenshot saves: beside the audit log."""
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP_NAME)) / "screenshots"


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "")


@dataclass(frozen=True)
class AuditRecord:
    who: str  # the Kubernetes identity used (kubeconfig user), or "demo"
    cluster: str
    namespace: str
    name: str
    action: str
    result: str  # "ok" | "error" | "refused"
    before: str = ""
    after: str = ""
    message: str = ""
    provider: str = ""

    def as_json(self, now: float | None = None) -> dict[str, Any]:
        ts = time.time() if now is None else now
        # Names and messages come from the cluster; the log is read with `tail`
        # and `jq -r` on a terminal, so every text is one clean line.
        texts = {
            "who": self.who,
            "local_user": local_user(),
            "cluster": self.cluster,
            "namespace": self.namespace,
            "name": self.name,
            "provider": self.provider,
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "result": self.result,
            "message": self.message,
        }
        return {
            "time": datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds"),
            **{key: clean_line(value) for key, value in texts.items()},
        }


def append(record: AuditRecord, path: Path | None = None) -> Path:
    """Append one line; O_APPEND keeps concurrent consoles' lines whole."""
    target = path or audit_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record.as_json(), ensure_ascii=False, sort_keys=True) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return target


def read(path: Path | None = None) -> list[dict[str, Any]]:
    target = path or audit_path()
    if not target.exists():
        return []
    with target.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
