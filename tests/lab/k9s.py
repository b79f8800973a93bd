"""k9s, built from its Go module on demand and cached beside the lab's binaries.

Only the benchmark uses it (tests/bench/bench_kube.py compares terminal first lists),
so tests/lab/install does not build it: `ensure` tries once per call, under a cap.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.lab.binaries import cache_dir

MODULE = "github.com/derailed/k9s"
VERSION = "v0.50.16"  # the newest release proxy.golang.org served when this was written


def path() -> Path:
    return cache_dir() / "bin" / f"k9s-{VERSION}" / "k9s"


def ensure(timeout: float = 360.0) -> tuple[Path | None, str]:
    """The k9s binary, building it if needed; else None and one line saying why."""
    binary = path()
    if binary.exists():
        return binary, f"k9s {VERSION} (cached)"
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(binary.parent))
    try:
        done = subprocess.run(
            ["go", "install", f"{MODULE}@{VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return None, "k9s: no Go toolchain on PATH"
    except subprocess.TimeoutExpired:
        return None, f"k9s: go install {MODULE}@{VERSION} took over {timeout:.0f}s, skipped"
    if done.returncode != 0 or not binary.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"k9s: go install {MODULE}@{VERSION} failed: {last[:200]}"
    return binary, f"k9s {VERSION} (built)"
