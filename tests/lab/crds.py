"""Which CustomResourceDefinition files the lab applies, unchanged, to its API server.

The pinned upstream files live in ../shared/crds (see its SOURCES.md). Argo
Rollouts also watches Experiments and ClusterAnalysisTemplates, which that set
does not carry, so those two always come from the pinned argo-rollouts module
(copied next to the controller binary by tests/lab/install). Without ../shared,
every Argo CRD comes from there, and ``python -m tests.lab.crds`` (run by
install) takes the Istio, Gateway API and Flagger ones from those projects' Go
modules at the versions SOURCES.md names. Flagger's MetricTemplate and
AlertProvider CRDs, which only its controller needs, come from the module the lab
builds Flagger from and are applied when a test starts it (KubeLab.start_flagger).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.lab import binaries

REPO = Path(__file__).resolve().parents[2]

# Argo CRDs the controller's informers need beyond the shared set.
_ARGO_EXTRA = ("experiment-crd.yaml", "cluster-analysis-template-crd.yaml")
_ARGO_ALL = (
    "rollout-crd.yaml",
    "analysis-run-crd.yaml",
    "analysis-template-crd.yaml",
    *_ARGO_EXTRA,
)


def shared_dir() -> Path | None:
    configured = os.environ.get("ROLLOUT_SHARED_DIR")
    candidate = Path(configured) if configured else REPO.parent / "shared"
    return candidate if (candidate / "crds").is_dir() else None


def crd_files() -> list[Path]:
    """CRD files to apply, shared ones first; raises FileNotFoundError naming what is missing."""
    shared = shared_dir()
    argo_dir = binaries.argo_crd_dir()
    files = sorted((shared / "crds").glob("*.yaml")) if shared else _fallback_files()
    argo_names = _ARGO_EXTRA if shared else _ARGO_ALL
    files += [argo_dir / name for name in argo_names]
    absent = [str(f) for f in files if not f.exists()]
    if absent:
        raise FileNotFoundError(f"CRD files missing (run tests/lab/install): {', '.join(absent)}")
    return files


# Without ../shared: (file name as in ../shared/crds, module@version, path, CRD name).
# istio.io/api publishes the same generated CRDs the istio/istio chart embeds.
_FALLBACK = (
    (
        "istio-virtualservice.yaml",
        "istio.io/api@v1.30.3",
        "kubernetes/customresourcedefinitions.gen.yaml",
        "virtualservices.networking.istio.io",
    ),
    (
        "istio-destinationrule.yaml",
        "istio.io/api@v1.30.3",
        "kubernetes/customresourcedefinitions.gen.yaml",
        "destinationrules.networking.istio.io",
    ),
    (
        "gateway-api-httproute.yaml",
        "sigs.k8s.io/gateway-api@v1.6.1",
        "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
        "httproutes.gateway.networking.k8s.io",
    ),
    (
        "flagger-canary.yaml",
        "github.com/fluxcd/flagger@v1.44.0",
        "artifacts/flagger/crd.yaml",
        "canaries.flagger.app",
    ),
)


def _fallback_dir() -> Path:
    return binaries.cache_dir() / "crds"


def _fallback_files() -> list[Path]:
    return [_fallback_dir() / name for name, *_ in _FALLBACK]


def _module_dir(module: str) -> Path:
    """Where ``go mod download`` put ``module@version`` in the module cache."""
    listing = subprocess.run(
        ["go", "mod", "download", "-json", module],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(listing.stdout)["Dir"])


def _write_document(source: Path, crd_name: str, dest: Path) -> None:
    """Write the one CRD document of ``source`` named ``crd_name`` to ``dest``."""
    for document in source.read_text().split("\n---"):
        parsed = yaml.safe_load(document)
        if parsed and parsed.get("metadata", {}).get("name") == crd_name:
            # The document's own text, so the CRD is applied exactly as published.
            tmp = dest.with_suffix(".tmp")
            tmp.write_text(document.lstrip("-\n") + "\n")
            tmp.replace(dest)
            return
    raise LookupError(f"{crd_name} not found in {source}")


def fetch_fallback() -> None:
    """Download the pinned modules and write the one CRD document each file needs."""
    out = _fallback_dir()
    out.mkdir(parents=True, exist_ok=True)
    for name, module, path, crd_name in _FALLBACK:
        if not (out / name).exists():
            _write_document(_module_dir(module) / path, crd_name, out / name)


def fetch_flagger_extras() -> None:
    """Flagger's MetricTemplate and AlertProvider CRDs from the module the lab builds it from."""
    files = binaries.flagger_crd_files()
    if all(f.exists() for f in files):
        return
    flagger = binaries.FLAGGER
    source = _module_dir(f"{flagger.module}@{flagger.version}") / "artifacts/flagger/crd.yaml"
    for dest, crd_name in zip(files, binaries.FLAGGER_EXTRA_CRDS.values(), strict=True):
        dest.parent.mkdir(parents=True, exist_ok=True)
        _write_document(source, crd_name, dest)
    print(f"install: flagger CRDs -> {files[0].parent}", file=sys.stderr)


if __name__ == "__main__":
    fetch_flagger_extras()
    if shared_dir() is None:
        fetch_fallback()
        print(f"install: CRDs from Go modules -> {_fallback_dir()}", file=sys.stderr)
