"""Where the lab's Go-built binaries live, keyed by the versions pinned in tests/lab/go.

The go.mod files are the single source of truth for versions: tests/lab/install
reads them the same way, so a version bump there rebuilds into a new directory
and the old cache entry is simply not used any more.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent / "go"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "rollout-console-lab"
    return Path(os.environ.get("ROLLOUT_LAB_CACHE", default))


def pinned_version(module_dir: str, module: str) -> str:
    """The version ``module`` is pinned to in tests/lab/go/<module_dir>/go.mod."""
    text = (GO_DIR / module_dir / "go.mod").read_text()
    # A replace line wins over the require line: that is what actually gets built.
    replaced = re.search(rf"^\s*{re.escape(module)} => {re.escape(module)} (\S+)", text, re.M)
    if replaced:
        return replaced.group(1)
    required = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", text, re.M)
    if not required:
        raise LookupError(f"{module} is not pinned in {GO_DIR / module_dir / 'go.mod'}")
    return required.group(1)


@dataclass(frozen=True)
class Component:
    name: str  # the binary's file name
    module_dir: str  # tests/lab/go/<module_dir>
    module: str  # the Go module whose version keys the cache entry
    package: str  # the main package go build is given

    @property
    def version(self) -> str:
        return pinned_version(self.module_dir, self.module)

    @property
    def directory(self) -> Path:
        return cache_dir() / "bin" / f"{self.name}-{self.version}"

    @property
    def path(self) -> Path:
        return self.directory / self.name


def _kube(name: str) -> Component:
    return Component(name, "kube", "k8s.io/kubernetes", f"k8s.io/kubernetes/cmd/{name}")


KUBE_APISERVER = _kube("kube-apiserver")
KUBE_CONTROLLER_MANAGER = _kube("kube-controller-manager")
KUBE_SCHEDULER = _kube("kube-scheduler")
KUBECTL_BUILT = _kube("kubectl")
KWOK = Component("kwok", "kwok", "sigs.k8s.io/kwok", "sigs.k8s.io/kwok/cmd/kwok")
ROLLOUTS_CONTROLLER = Component(
    "rollouts-controller",
    "argo",
    "github.com/argoproj/argo-rollouts",
    "github.com/argoproj/argo-rollouts/cmd/rollouts-controller",
)

# The Argo plugin, from the same pinned module: tests compare `rollout-console get` with
# what `kubectl argo rollouts` itself prints.
KUBECTL_ARGO_ROLLOUTS = Component(
    "kubectl-argo-rollouts",
    "argo",
    "github.com/argoproj/argo-rollouts",
    "github.com/argoproj/argo-rollouts/cmd/kubectl-argo-rollouts",
)

# Debian's etcd 3.4.23 was tried first: kube-apiserver 1.34 then runs without the
# RequestWatchProgress storage feature, and kwok's streaming watches (client-go 0.36
# uses WatchList) keep breaking, so pods sat Pending for tens of seconds.
ETCD = Component("etcd", "etcd", "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3")

# The real Flagger controller, with its Istio router and Prometheus checks. Optional:
# only the Flagger tests start it (tests/lab/kube.py start_flagger), so a lab without it
# still starts, and those tests say to run tests/lab/install.
FLAGGER = Component(
    "flagger", "flagger", "github.com/fluxcd/flagger", "github.com/fluxcd/flagger/cmd/flagger"
)

GO_BUILT = (
    ETCD,
    KUBE_APISERVER,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    KWOK,
    ROLLOUTS_CONTROLLER,
    KUBECTL_ARGO_ROLLOUTS,
)
OPTIONAL_BUILT = (FLAGGER,)


def kwok_stages() -> Path:
    """kwok's stage definitions, copied next to the binary by tests/lab/install."""
    return KWOK.directory / "stages.yaml"


def kwok_crd_dir() -> Path:
    """kwok's Logs and ClusterLogs CRDs, copied there by tests/lab/install.

    Optional: a lab installed before they were added starts without them, and only
    the log tests fail, saying to run tests/lab/install."""
    return KWOK.directory / "crds"


def argo_crd_dir() -> Path:
    """Argo Rollouts' own CRDs at the pinned release, copied there by tests/lab/install."""
    return ROLLOUTS_CONTROLLER.directory / "crds"


# Flagger's informers also watch these two kinds; the Canary CRD is the shared one.
# File name -> CRD name, one document each of Flagger's artifacts/flagger/crd.yaml.
FLAGGER_EXTRA_CRDS = {
    "flagger-metrictemplate.yaml": "metrictemplates.flagger.app",
    "flagger-alertprovider.yaml": "alertproviders.flagger.app",
}


def flagger_crd_files() -> list[Path]:
    """Flagger's extra CRDs at the pinned release, written next to it by tests/lab/install."""
    return [FLAGGER.directory / "crds" / name for name in FLAGGER_EXTRA_CRDS]


def kubectl() -> Path | None:
    """The system kubectl if there is one, else the one install built."""
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    return KUBECTL_BUILT.path if KUBECTL_BUILT.path.exists() else None


def missing() -> list[str]:
    """Human-readable names of lab binaries that are not installed."""
    gaps = [f"{c.name} {c.version} ({c.path})" for c in GO_BUILT if not c.path.exists()]
    if not kwok_stages().exists():
        gaps.append(f"kwok stages ({kwok_stages()})")
    if not (argo_crd_dir() / "rollout-crd.yaml").exists():
        gaps.append(f"argo-rollouts CRDs ({argo_crd_dir()})")
    if kubectl() is None:
        gaps.append("kubectl")
    return gaps


def flagger_missing() -> list[str]:
    """What the Flagger tests need beyond the base lab, if it is not installed."""
    gaps = [] if FLAGGER.path.exists() else [f"{FLAGGER.name} {FLAGGER.version} ({FLAGGER.path})"]
    gaps += [f"flagger CRD {f}" for f in flagger_crd_files() if not f.exists()]
    return gaps


def _build_plan() -> list[Component]:
    """Components tests/lab/install still has to build (kubectl only without a system one)."""
    plan = [c for c in (*GO_BUILT, *OPTIONAL_BUILT) if not c.path.exists()]
    if shutil.which("kubectl") is None and not KUBECTL_BUILT.path.exists():
        plan.append(KUBECTL_BUILT)
    return plan


if __name__ == "__main__":
    # Used by tests/lab/install: one tab-separated line per binary to build.
    # The last column is the file go build writes: for a /vN module path that is the
    # element before it (go.etcd.io/etcd/server/v3 -> server).
    for component in _build_plan():
        parts = component.package.split("/")
        go_name = parts[-2] if re.fullmatch(r"v\d+", parts[-1]) else parts[-1]
        print(
            component.module_dir,
            component.package,
            component.directory,
            go_name,
            component.name,
            sep="\t",
        )
