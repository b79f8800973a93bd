"""Leader election through a coordination.k8s.io/v1 Lease: two guards never both act.

The protocol of client-go's leaderelection (LeaseLock), over console.kube.client:

* the Lease `rollout-console-guard` in the guard's namespace holds
  `holderIdentity`, `leaseDurationSeconds` (15), `acquireTime`, `renewTime` and
  `leaseTransitions`;
* a candidate takes the Lease when it is free (no holder: released) or expired,
  and the leader renews it every ~5 s; every write is a PUT carrying the
  `resourceVersion` that was read, so of two candidates writing at once the
  server lets one win (409 for the other);
* expired means: no renewal seen for the lease duration, timed on this process'
  own monotonic clock from when it last saw the record change (client-go's rule,
  immune to clock skew), or the holder's renewTime plus the duration (and a
  second of slack) is past on this clock, whichever comes first;
* a leader that could not renew for RENEW_DEADLINE_S stops acting at once, before
  anyone else may take over;
* on shutdown the leader releases: holderIdentity "" and a 1 s duration, so the
  other replica takes over at its next try instead of after 15 s.

The leader also stores its last evaluation time and dry-run flag as annotations on
the Lease: `guard_status()` reads them for the TUI.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from console.guard.verdicts import GuardStatus
from console.kube.provider import ResourceType, dig
from console.model import ConsoleError
from console.timestamps import micro_time, parse_rfc3339
from console.untrusted import one_line

log = logging.getLogger(__name__)

LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "Lease")
LEASE_NAME = "rollout-console-guard"
#: Where the guard, its manifests and every console look for the Lease by default.
DEFAULT_NAMESPACE = "rollout-console"
LEASE_DURATION_S = 15
RENEW_EVERY_S = 5.0
RETRY_EVERY_S = 2.0  # a candidate's tries
RENEW_DEADLINE_S = 10.0  # a leader that could not renew this long stops acting
CLOCK_SLACK_S = 1.0

LAST_EVALUATION_ANNOTATION = "rollout-console.io/last-evaluation"
DRY_RUN_ANNOTATION = "rollout-console.io/dry-run"

_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class LeaseApi(Protocol):
    """What the elector needs of console.kube.client.KubeClient."""

    cluster: str

    def request(
        self,
        method: str,
        path: str,
        query: Any = (),
        body: Any = None,
        content_type: str | None = None,
    ) -> Any: ...


def default_namespace() -> str:
    """In a pod: its own namespace; elsewhere DEFAULT_NAMESPACE."""
    try:
        text = _SA_NAMESPACE.read_text().strip()
    except OSError:
        return DEFAULT_NAMESPACE
    return text or DEFAULT_NAMESPACE


def default_identity() -> str:
    """hostname_random, as client-go suggests: unique even for two processes on one host."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


class LeaseElector:
    """One candidate. Thread-safe: `is_leader()` is read by the guard loop's thread."""

    def __init__(
        self,
        api: LeaseApi,
        namespace: str,
        identity: str,
        *,
        name: str = LEASE_NAME,
        duration_s: int = LEASE_DURATION_S,
        renew_every_s: float = RENEW_EVERY_S,
        retry_every_s: float = RETRY_EVERY_S,
        renew_deadline_s: float = RENEW_DEADLINE_S,
        dry_run: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.identity = identity
        self.name = name
        self.duration_s = duration_s
        self.renew_every_s = renew_every_s
        self.retry_every_s = retry_every_s
        self.renew_deadline_s = min(renew_deadline_s, duration_s * 2 / 3)
        self.dry_run = dry_run
        self.clock = clock
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._renewed_at: float | None = None  # monotonic time of our last successful write
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._last_evaluation: float | None = None
        #: The holder seen at the last try ("" = none), and why the last try failed.
        self.holder = ""
        self.problem = ""

    @property
    def path(self) -> str:
        return LEASES.path(self.namespace, self.name)

    def is_leader(self) -> bool:
        with self._lock:
            renewed = self._renewed_at
        return renewed is not None and self.monotonic() - renewed < self.renew_deadline_s

    def note_evaluation(self, at: float) -> None:
        """Written to the Lease with the next renewal: the TUI shows its age."""
        with self._lock:
            self._last_evaluation = at

    # --- one try ----------------------------------------------------------------------

    def try_once(self) -> bool:
        """Acquire or renew once; True when this candidate holds the Lease afterwards."""
        try:
            held = self._try()
            self.problem = ""
        except Exception as exc:
            from console.kube.errors import describe_error

            problem = (
                str(exc)
                if isinstance(exc, ConsoleError)
                else describe_error(
                    exc,
                    what=f"update lease {self.namespace}/{self.name}",
                    cluster=self.api.cluster,
                )
            )
            if problem != self.problem:  # said once, not every try
                log.warning("%s", problem)
            self.problem = problem
            held = False
        if not held:
            with self._lock:
                if self._renewed_at is not None and (
                    self.monotonic() - self._renewed_at >= self.renew_deadline_s
                ):
                    self._renewed_at = None
        return held and self.is_leader()

    def _try(self) -> bool:
        now = self.clock()
        try:
            lease: dict[str, Any] = self.api.request("GET", self.path)
        except Exception as exc:
            if _status(exc) != 404:
                raise
            return self._create(now)
        spec: Mapping[str, Any] = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        self.holder = holder
        record = (
            holder,
            spec.get("renewTime"),
            spec.get("leaseDurationSeconds"),
            spec.get("leaseTransitions"),
        )
        mono = self.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, mono
        if holder and holder != self.identity and not self._expired(spec, now, mono):
            with self._lock:
                self._renewed_at = None
            return False
        transitions = spec.get("leaseTransitions")
        transitions = transitions if isinstance(transitions, int) else 0
        new_spec = dict(spec)
        new_spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=self.duration_s,
            renewTime=micro_time(now),
        )
        if holder != self.identity:
            new_spec["acquireTime"] = micro_time(now)
            new_spec["leaseTransitions"] = transitions + 1  # client-go counts from "" too
        body = dict(lease)
        body["spec"] = new_spec
        body["metadata"] = self._metadata(lease.get("metadata") or {})
        # Before the write: a slow answer must not push our deadline past the
        # followers' view of the Lease (both would act for the difference).
        sent = self.monotonic()
        try:
            out = self.api.request("PUT", self.path, body=body)
        except Exception as exc:
            if _status(exc) == 409:  # someone else wrote first: they win this round
                return False
            raise
        return self._won(out, sent)

    def _create(self, now: float) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": self._metadata({"name": self.name, "namespace": self.namespace}),
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration_s,
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }
        sent = self.monotonic()
        try:
            out = self.api.request("POST", LEASES.path(self.namespace), body=body)
        except Exception as exc:
            if _status(exc) == 409:  # created by another candidate a moment ago
                return False
            if _status(exc) == 404:
                raise ConsoleError(
                    f"The namespace {self.namespace!r} for the guard's Lease does not exist "
                    f"on cluster {self.api.cluster!r}: create it or pass --lease-namespace."
                ) from None
            raise
        return self._won(out, sent)

    def _metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(metadata)
        annotations = dict(out.get("annotations") or {})
        with self._lock:
            last = self._last_evaluation
        if last is not None:
            annotations[LAST_EVALUATION_ANNOTATION] = micro_time(last)
        annotations[DRY_RUN_ANNOTATION] = "true" if self.dry_run else "false"
        out["annotations"] = annotations
        return out

    def _won(self, out: Any, sent: float) -> bool:
        """`sent`: monotonic time the winning write left, which the deadline counts from."""
        holder = str(dig(out, "spec", "holderIdentity", default="") or "")
        if holder != self.identity:
            return False
        self.holder = holder
        with self._lock:
            self._renewed_at = sent
        return True

    def _expired(self, spec: Mapping[str, Any], now: float, mono: float) -> bool:
        duration = spec.get("leaseDurationSeconds")
        duration_s = float(duration) if isinstance(duration, int | float) else self.duration_s
        if mono - self._observed_at > duration_s:
            return True
        renewed = parse_rfc3339(spec.get("renewTime"))
        return renewed is not None and now > renewed + duration_s + CLOCK_SLACK_S

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_change: Callable[[bool], None] | None = None) -> None:
        """Try/renew until `stop`, then release. Calls on_change(leader) on every change."""
        was = False
        try:
            while not stop.is_set():
                now_leader = self.try_once()
                if now_leader != was:
                    was = now_leader
                    if on_change is not None:
                        on_change(now_leader)
                stop.wait(self.renew_every_s if now_leader else self.retry_every_s)
        finally:
            self.release()

    def start(
        self, stop: threading.Event, on_change: Callable[[bool], None] | None = None
    ) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop, on_change), name="guard-lease", daemon=True
        )
        thread.start()
        return thread

    def release(self) -> None:
        """Give the Lease up (holderIdentity "", 1 s duration) if this candidate holds it."""
        with self._lock:
            held = self._renewed_at is not None
            self._renewed_at = None
        if not held:
            return
        try:
            lease = self.api.request("GET", self.path)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(
                holderIdentity="", leaseDurationSeconds=1, renewTime=micro_time(self.clock())
            )
            body = dict(lease)
            body["spec"] = spec
            self.api.request("PUT", self.path, body=body)
            self.holder = ""
        except Exception as exc:  # the Lease expires by itself in 15 s anyway
            log.warning("lease not released: %s", one_line(exc))


# --- status for the TUI -----------------------------------------------------------------


def lease_status(lease: Mapping[str, Any] | None, now: float, cluster: str = "") -> GuardStatus:
    """Pure: a Lease object (or None when absent) as a GuardStatus."""
    if not lease:
        return GuardStatus(active=False, cluster=cluster)
    spec = lease.get("spec") or {}
    holder = one_line(spec.get("holderIdentity") or "", 128)
    duration = spec.get("leaseDurationSeconds")
    duration_s = float(duration) if isinstance(duration, int | float) else LEASE_DURATION_S
    renewed = parse_rfc3339(spec.get("renewTime"))
    annotations = dig(lease, "metadata", "annotations", default={}) or {}
    return GuardStatus(
        active=bool(holder) and renewed is not None and now <= renewed + duration_s,
        holder=holder,
        last_evaluation=parse_rfc3339(annotations.get(LAST_EVALUATION_ANNOTATION)),
        dry_run=annotations.get(DRY_RUN_ANNOTATION) == "true",
        cluster=cluster,
    )


def guard_status(
    api: LeaseApi,
    namespace: str = DEFAULT_NAMESPACE,
    name: str = LEASE_NAME,
    now: float | None = None,
) -> GuardStatus:
    """Whether a guard holds the Lease on this cluster. No Lease, or no right to read
    it (403), reads as no guard; other failures raise (the caller says why)."""
    try:
        lease = api.request("GET", LEASES.path(namespace, name))
    except Exception as exc:
        if _status(exc) in (403, 404):
            return GuardStatus(active=False, cluster=api.cluster)
        raise
    return lease_status(lease, time.time() if now is None else now, api.cluster)


def guard_statuses(backend: object, namespace: str | None = None) -> list[GuardStatus]:
    """One GuardStatus per cluster of a KubeBackend (none for the demo)."""
    clusters = getattr(backend, "clusters", None) or {}
    out: list[GuardStatus] = []
    for c in clusters.values():
        try:
            out.append(guard_status(c.client, namespace or DEFAULT_NAMESPACE))
        except Exception as exc:
            log.debug("guard status of %s: %s", getattr(c, "name", "?"), exc)
            out.append(GuardStatus(active=False, cluster=str(getattr(c, "name", ""))))
    return out


def env_identity() -> str:
    """POD_NAME (from the downward API in the manifests) when set, else default_identity()."""
    return os.environ.get("POD_NAME") or default_identity()
