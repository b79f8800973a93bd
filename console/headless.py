"""Headless commands for runbooks and scripts: `get` and the seven actions.

    rollout-console get [-A | -n NS] [--context C ...] [-o table|json]
    rollout-console advance|promote|pause|resume|rollback|retry|undo NS/NAME [--context C] [--yes]

Same backend as the TUI, no textual import. Exit codes: 0 ok; 1 the cluster
refused or failed (403/404/409/timeout/...: one sentence on stderr); 2 usage
(bad target, several contexts for one action, confirmation missing/declined).
`get` exits 1 when some cluster could not be listed (the others still print).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from console import exit_codes
from console.backend import RolloutsBackend
from console.model import (
    Action,
    ConsoleError,
    Rollout,
    RolloutRef,
    Seen,
    Step,
    VersionInfo,
)
from console.timestamps import rfc3339
from console.untrusted import clean_line

JSON_API_VERSION = "rollout-console/v1"


# --- JSON: a stable schema, camelCase like the Kubernetes objects it summarises ---------


def _version_json(v: VersionInfo | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "role": v.role.value,
        "revision": v.revision,
        "podTemplateHash": v.pod_hash,
        "label": v.label,
        "workload": v.workload,
        "images": [
            {"reference": i.reference, "repository": i.repository, "tag": i.tag, "digest": i.digest}
            for i in v.images
        ],
        "desired": v.desired,
        "ready": v.ready,
        "pods": list(v.pods),
    }


def _step_json(s: Step) -> dict[str, Any]:
    return {
        "kind": s.kind.value,
        "weight": s.weight,
        "durationSeconds": s.duration_s,
        "detail": s.detail,
    }


def rollout_json(r: Rollout) -> dict[str, Any]:
    return {
        "cluster": r.ref.cluster,
        "namespace": r.ref.namespace,
        "name": r.ref.name,
        "provider": r.provider.value,
        "phase": r.phase.value,
        "status": r.status_text,
        "message": r.message,
        "aborted": r.aborted,
        "paused": r.paused,
        "step": {
            "current": r.current_step,
            "total": len(r.steps),
            "label": r.step_label,
        },
        "steps": [_step_json(s) for s in r.steps],
        "setWeight": r.set_weight,
        "actualWeight": r.actual_weight,
        "pauseRemainingSeconds": r.pause_remaining_s,
        "createdAt": (rfc3339(r.created_at) if r.created_at else None),
        "stable": _version_json(r.stable),
        "canary": _version_json(r.canary),
        "warnings": list(r.warnings),
        "unavailable": [{"action": a.value, "reason": why} for a, why in r.unavailable],
        "replicas": (
            None
            if r.replicas is None
            else {
                "desired": r.replicas.desired,
                "current": r.replicas.current,
                "updated": r.replicas.updated,
                "ready": r.replicas.ready,
                "available": r.replicas.available,
            }
        ),
        "route": (
            None if r.route is None else {"stable": r.route.stable, "canary": r.route.canary}
        ),
        "extra": dict(r.extra),
    }


def list_json(rollouts: Sequence[Rollout]) -> dict[str, Any]:
    return {
        "apiVersion": JSON_API_VERSION,
        "kind": "RolloutList",
        "items": [rollout_json(r) for r in rollouts],
    }


# --- table: the columns of `kubectl argo rollouts list rollouts` ----------------------------


def _counts(r: Rollout) -> tuple[str, str, str, str]:
    """READY (ready/current), DESIRED, UP-TO-DATE, AVAILABLE."""
    if r.replicas is not None:
        n = r.replicas
        return f"{n.ready}/{n.current}", str(n.desired), str(n.updated), str(n.available)
    versions = [v for v in (r.stable, r.canary) if v is not None]
    ready = sum(v.ready for v in versions)
    desired = sum(v.desired for v in versions)
    updated = r.canary.ready if r.canary else r.stable.ready
    return f"{ready}/{desired}", str(desired), str(updated), str(ready)


def table(rollouts: Sequence[Rollout], *, clusters: bool) -> str:
    header = ["NAMESPACE", "NAME", "KIND", "STATUS", "STEP", "SET-WEIGHT", "ACTUAL-WEIGHT"]
    header += ["READY", "DESIRED", "UP-TO-DATE", "AVAILABLE", "WARNINGS"]
    if clusters:
        header.insert(0, "CLUSTER")
    rows = [header]
    for r in rollouts:
        ready, desired, updated, available = _counts(r)
        is_weighted = bool(r.steps) or r.canary is not None or r.set_weight
        row = [
            r.ref.namespace,
            r.ref.name,
            r.provider.value,
            r.status_text,
            r.step_label,
            str(r.set_weight) if is_weighted else "-",
            str(r.actual_weight) if is_weighted else "-",
            ready,
            desired,
            updated,
            available,
            str(len(r.warnings)) if r.warnings else "-",
        ]
        if clusters:
            row.insert(0, r.ref.cluster)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- backend selection ---------------------------------------------------------------------


def _backend(args: argparse.Namespace) -> RolloutsBackend:
    from console.sources import make_backend

    read_only = bool(getattr(args, "read_only", False))
    return make_backend(args, demo=bool(getattr(args, "demo", False)), read_only=read_only)


def _err(message: str, stream: TextIO | None = None) -> None:
    # Errors quote the cluster: one clean line, whichever backend raised them.
    print(f"rollout-console: {clean_line(message)}", file=stream or sys.stderr)


def run_get(args: argparse.Namespace) -> int:
    try:
        backend = _backend(args)
        rollouts = backend.list()
    except ConsoleError as exc:
        _err(str(exc))
        return exit_codes.for_error(exc)
    errors: list[str] = list(getattr(backend, "last_errors", []))
    try:
        if args.output == "json":
            # The backend cleaned every text; ensure_ascii also writes anything
            # unusual as a \u escape, so no raw control byte can reach the terminal.
            sys.stdout.write(json.dumps(list_json(rollouts), indent=2, ensure_ascii=True) + "\n")
        elif rollouts:
            print(table(rollouts, clusters=len(args.context or []) > 1))
        else:
            print("No rollouts found.", file=sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        # `get | head`: the reader left; not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    for note in getattr(backend, "notes", []):
        _err(f"note: {note}")
    for e in errors:
        _err(e)
    if errors:
        return exit_codes.REFUSED
    if not rollouts and _forbidden_somewhere(backend):
        # An empty list that only means "you may not look" must not read as "none".
        _err("nothing is visible to this identity: it may not list what the console reads here.")
        return exit_codes.NOTHING_VISIBLE
    return exit_codes.OK


def _forbidden_somewhere(backend: RolloutsBackend) -> bool:
    clusters = getattr(backend, "clusters", None) or {}
    return any(getattr(c, "forbidden", None) for c in clusters.values())


def _parse_target(args: argparse.Namespace) -> tuple[str | None, str]:
    target: str = args.target
    if "/" in target:
        ns, _, name = target.partition("/")
        if not ns or not name or "/" in name:
            raise ValueError(f"target {target!r} is not NS/NAME")
        return ns, name
    if not target:
        raise ValueError("target is empty")
    return args.namespace, target


def _confirm(action: Action, ref: RolloutRef, yes: bool) -> str | None:
    """None when confirmed, else why not (one sentence)."""
    if yes or not action.dangerous:
        return None
    if not sys.stdin.isatty():
        return f"{action.value} is dangerous: pass --yes when not running on a terminal."
    where = f" on {ref.cluster}" if ref.cluster else ""
    sys.stderr.write(f"{action.label} {ref.short}{where}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return None
    return "not confirmed; nothing was changed."


def run_action(args: argparse.Namespace) -> int:
    action = Action(args.action)
    try:
        namespace, name = _parse_target(args)
    except ValueError as exc:
        _err(f"{exc}.")
        return exit_codes.USAGE
    if len(args.context or []) > 1:
        _err("an action targets one cluster: pass at most one --context.")
        return exit_codes.USAGE
    try:
        backend = _backend(args)
    except ConsoleError as exc:
        _err(str(exc))
        return exit_codes.for_error(exc)
    clusters = getattr(backend, "clusters", None)
    if clusters:
        cluster_name = next(iter(clusters))
        default_ns = clusters[cluster_name].scope or clusters[cluster_name].config.namespace
    else:  # the demo: find the rollout by namespace/name
        cluster_name, default_ns = "", "default"
        for r in backend.list():
            if r.ref.name == name and (namespace is None or r.ref.namespace == namespace):
                cluster_name, default_ns = r.ref.cluster, r.ref.namespace
                break
    ref = RolloutRef(cluster_name, namespace or default_ns, name)
    why_not = _confirm(action, ref, bool(args.yes))
    if why_not:
        _err(why_not)
        return exit_codes.USAGE
    seen = None
    if args.expect_step is not None or args.expect_weight is not None:
        seen = Seen(step=args.expect_step, weight=args.expect_weight)
    try:
        result = backend.act(ref, action, seen=seen)
    except ConsoleError as exc:
        _err(str(exc))
        return exit_codes.for_error(exc)
    print(result.message)
    if result.before or result.after:
        print(f"  before: {result.before or '-'}")
        print(f"  after:  {result.after or '-'}")
    return exit_codes.OK
