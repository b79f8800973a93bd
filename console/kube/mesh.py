"""Mesh-weighted canaries with no controller: Istio VirtualService and Gateway API HTTPRoute.

The pattern of the seed notes: two Deployments of one app (`version: v1` stable,
`version: v2` canary) behind a route that splits traffic by weight. Nothing
reconciles these objects, so the route *is* the rollout: its weights are both
the set weight and the actual weight, and every action is a write to it.

Shapes recognised
-----------------
* **Istio**: a VirtualService `http[]` entry whose `route` has two destinations
  on one host with different `subset`s. A DestinationRule in the same namespace
  for that host maps each subset to labels; the Service of the host adds its
  selector (`app: X`); the Deployment whose pod template carries both is that
  version. Weights are written with a total of 100.
* **Gateway API**: an HTTPRoute rule with two `backendRefs` to Services. A
  Service's selector finds its Deployment. Weights are ratios (`weight / sum`,
  an absent weight is 1): the console keeps the rule's own total when writing.

Every entry/rule that splits the same pair is driven together. Routes owned by a
Flagger Canary or referenced by an Argo Rollout are left to their controller.

Which side is stable (first rule that decides wins)
---------------------------------------------------
1. the annotation `rollout-console.io/stable-subset: <subset>` (VirtualService)
   or `rollout-console.io/stable-backend: <service name>` (HTTPRoute);
2. names: a subset/Service called `canary` or ending in `-canary` is the canary;
   one called `stable`/`primary` or ending in `-stable`/`-primary` is stable;
3. the side whose Deployment was created first is stable;
4. otherwise the first listed destination is stable (shown as a note).
Weights never decide: at 70/30 the canary must not turn into "stable".

Annotations on the route object (all under `rollout-console.io/`)
-----------------------------------------------------------------
* `steps: "5,10,25,50,100"` - the step plan (see console.kube.weights);
* `paused: "true"`, `paused-by: <user>`, `paused-at: <RFC 3339 UTC>` - set by
  pause, removed by resume. Any value other than absent/"false" counts as
  paused (fail closed: this is a brake). While paused, advance and promote are
  refused; rollback is always allowed.

Concurrency: weight writes are read-modify-write. The merge patch carries the
`metadata.resourceVersion` that was read, the server answers 409 if anything
changed in between, and the action re-reads and recomputes from the new state
(up to MAX_ATTEMPTS). A pause landing between read and write therefore makes
the advance re-read, see the pause and refuse.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from console.kube import weights as W
from console.kube.objects import (
    ARGO_ROLLOUTS,
    DEPLOYMENTS,
    PODS,
    SERVICES,
    VERSION_LABEL,
    annotations_of,
    deployments_for,
    int_at,
    labels_at,
    now_rfc3339,
    version_info,
)
from console.kube.provider import (
    KubeApi,
    Obj,
    Related,
    ResourceType,
    Verb,
    console_annotations,
    created_at,
    dig,
    meta,
)
from console.model import (
    ANNOTATION_PREFIX,
    Action,
    ActionError,
    ActionResult,
    ActionUnavailable,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    RouteSides,
    VersionInfo,
)
from console.untrusted import clean_line, clip, quote

# --- annotations (documented in the README) -------------------------------------------

PREFIX = ANNOTATION_PREFIX
STEPS_ANNOTATION = PREFIX + "steps"
PAUSED_ANNOTATION = PREFIX + "paused"
PAUSED_BY_ANNOTATION = PREFIX + "paused-by"
PAUSED_AT_ANNOTATION = PREFIX + "paused-at"
STABLE_SUBSET_ANNOTATION = PREFIX + "stable-subset"
STABLE_BACKEND_ANNOTATION = PREFIX + "stable-backend"

# --- resources ---------------------------------------------------------------------------

VIRTUALSERVICES = ResourceType(
    "networking.istio.io", "v1", "virtualservices", "VirtualService", optional=True
)
DESTINATIONRULES = ResourceType(
    "networking.istio.io", "v1", "destinationrules", "DestinationRule", optional=True
)
HTTPROUTES = ResourceType(
    "gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", optional=True
)

MAX_ATTEMPTS = 5
ISTIO_TOTAL = 100

_EXTRA_STABLE = "stable destination"
_EXTRA_CANARY = "canary destination"


# --- small pure helpers ----------------------------------------------------------------


@dataclass(frozen=True)
class PauseState:
    paused: bool
    by: str = ""
    at: str = ""
    warning: str = ""

    @property
    def text(self) -> str:
        who = f" by {self.by}" if self.by else ""
        when = f" at {self.at}" if self.at else ""
        return f"paused{who}{when}"


def pause_state(obj: Obj) -> PauseState:
    """Read the pause annotation; unknown values count as paused (a brake fails closed)."""
    ann = annotations_of(obj)
    raw = ann.get(PAUSED_ANNOTATION)
    # Who and when are echoed in sentences: anyone may write them, so short and clean.
    by = clip(clean_line(str(ann.get(PAUSED_BY_ANNOTATION) or "")))
    at = clip(clean_line(str(ann.get(PAUSED_AT_ANNOTATION) or "")))
    if raw is None:
        return PauseState(False)
    value = str(raw).strip().lower()
    if value == "true":
        return PauseState(True, by, at)
    if value in ("false", ""):
        return PauseState(False)
    return PauseState(
        True,
        by,
        at,
        f'{PAUSED_ANNOTATION}={quote(raw)} is neither "true" nor "false"; treated as paused',
    )


def pause_patch(user: str, at: str) -> dict[str, Any]:
    return {
        "metadata": {
            "annotations": {
                PAUSED_ANNOTATION: "true",
                PAUSED_BY_ANNOTATION: user,
                PAUSED_AT_ANNOTATION: at,
            }
        }
    }


def resume_patch() -> dict[str, Any]:
    # null deletes a key in a JSON merge patch (RFC 7386).
    return {
        "metadata": {
            "annotations": {
                PAUSED_ANNOTATION: None,
                PAUSED_BY_ANNOTATION: None,
                PAUSED_AT_ANNOTATION: None,
            }
        }
    }


def normalize_host(host: str, namespace: str) -> str:
    """Istio resolves short names in the rule's namespace: r -> r.<ns>.svc.cluster.local."""
    host = host.strip().rstrip(".")
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.cluster.local"
    if len(parts) == 2:
        return f"{host}.svc.cluster.local"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


def service_of_host(fqdn: str, namespace: str) -> str | None:
    """The Service name of a `<svc>.<namespace>.svc.cluster.local` host, else None."""
    parts = fqdn.split(".")
    if len(parts) == 5 and parts[1] == namespace and parts[2:] == ["svc", "cluster", "local"]:
        return parts[0]
    return None


def _owned_by_controller(obj: Obj) -> str | None:
    for ref in dig(obj, "metadata", "ownerReferences", default=[]) or []:
        api_version = str(dig(ref, "apiVersion", default=""))
        kind = str(dig(ref, "kind", default=""))
        if kind == "Canary" and api_version.startswith("flagger.app/"):
            return "Flagger"
        if kind == "Rollout" and api_version.startswith("argoproj.io/"):
            return "Argo Rollouts"
    return None


def argo_managed_routes(rollouts: Sequence[Obj]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every VirtualService/HTTPRoute an Argo Rollout steers.

    Argo does not own those objects (no ownerReference), it names them in
    spec.strategy.canary.trafficRouting; the console must not drive them too.
    """
    out: set[tuple[str, str, str]] = set()
    for ro in rollouts:
        ns = meta(ro)[0]
        tr = dig(ro, "spec", "strategy", "canary", "trafficRouting", default={}) or {}
        istio = dig(tr, "istio", default={}) or {}
        vss = []
        if isinstance(dig(istio, "virtualService"), Mapping):
            vss.append(istio["virtualService"])
        vss.extend(
            v for v in (dig(istio, "virtualServices", default=[]) or []) if isinstance(v, Mapping)
        )
        for vs in vss:
            name = str(vs.get("name") or "")
            vs_ns = ns
            if "." in name:  # Argo accepts "name.namespace"
                name, vs_ns = name.split(".", 1)
            if name:
                out.add(("VirtualService", vs_ns, name))
        plugins = dig(tr, "plugins", default={}) or {}
        if isinstance(plugins, Mapping):
            for plugin_name, cfg in plugins.items():
                if "gatewayapi" not in str(plugin_name).lower() or not isinstance(cfg, Mapping):
                    continue
                routes = []
                if cfg.get("httpRoute"):
                    routes.append(str(cfg["httpRoute"]))
                for r in cfg.get("httpRoutes") or []:
                    if isinstance(r, Mapping) and r.get("name"):
                        routes.append(str(r["name"]))
                route_ns = str(cfg.get("namespace") or ns)
                for r in routes:
                    out.add(("HTTPRoute", route_ns, r))
    return out


# --- the detected split ---------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One destination of the split, as written on the route."""

    name: str  # subset (Istio) or Service name (Gateway API)
    index: int  # position in the route/backendRefs list of the first location
    weight: int


@dataclass(frozen=True)
class Split:
    """The two-way split a route carries, and where it is written."""

    stable: Side
    canary: Side
    total: int
    #: (entry index, stable position, canary position) of every http entry /
    #: rule that splits this same pair; written together.
    locations: tuple[tuple[int, int, int], ...]
    stable_rule: str  # how the stable side was chosen, for the detail view
    host: str = ""  # Istio: normalised host
    warnings: tuple[str, ...] = ()

    @property
    def share(self) -> Fraction | None:
        return W.canary_fraction(self.stable.weight, self.canary.weight)


@dataclass(frozen=True)
class Analysis:
    """What `to_rollouts` and `act` both need to know about one route object."""

    split: Split | None
    warnings: tuple[str, ...] = ()  # structural: the route cannot be driven
    notes: tuple[str, ...] = ()  # informational, shown in extra
    #: Subset/Service name -> selector of its pods (Istio: Service selector + subset labels).
    selectors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _name_role(name: str) -> Role | None:
    lowered = name.lower()
    if lowered == "canary" or lowered.endswith("-canary"):
        return Role.CANARY
    if lowered in ("stable", "primary") or lowered.endswith(("-stable", "-primary")):
        return Role.STABLE
    return None


def choose_stable(
    first: Side,
    second: Side,
    annotation_key: str,
    annotation: str | None,
    created: Callable[[str], float],
    known_stable: str = "",
) -> tuple[Side, Side, str, str]:
    """(stable, canary, rule text, warning) following the module's documented order.

    `known_stable` is the stable name the console showed the operator; `act`
    passes it so that a write never flips sides behind the operator's back.
    """
    warning = ""
    if annotation:
        for side, other in ((first, second), (second, first)):
            if side.name == annotation:
                return side, other, f"annotation {annotation_key}", ""
        warning = (
            f"{annotation_key}={quote(annotation)} names neither {first.name!r} nor {second.name!r}"
        )
    if known_stable:
        for side, other in ((first, second), (second, first)):
            if side.name == known_stable:
                return side, other, "as shown", warning
    r0, r1 = _name_role(first.name), _name_role(second.name)
    if (r0 is Role.CANARY and r1 is not Role.CANARY) or (
        r1 is Role.STABLE and r0 is not Role.STABLE
    ):
        return second, first, "name suffix", warning
    if (r0 is Role.STABLE and r1 is not Role.STABLE) or (
        r1 is Role.CANARY and r0 is not Role.CANARY
    ):
        return first, second, "name suffix", warning
    t1, t2 = created(first.name), created(second.name)
    if t1 > 0 and t2 > 0 and t1 != t2:
        if t1 < t2:
            return first, second, "older Deployment", warning
        return second, first, "older Deployment", warning
    return first, second, "first destination listed", warning


# --- Deployments, pods, images -----------------------------------------------------------


@dataclass
class NamespaceIndex:
    """Related objects of one namespace, indexed once per to_rollouts call."""

    deployments: list[Obj] = field(default_factory=list)
    services: dict[str, Obj] = field(default_factory=dict)
    pods: list[Obj] = field(default_factory=list)
    destinationrules: list[Obj] = field(default_factory=list)


def index_related(related: Related) -> dict[str, NamespaceIndex]:
    out: dict[str, NamespaceIndex] = defaultdict(NamespaceIndex)
    for d in related.get(DEPLOYMENTS, ()):
        out[meta(d)[0]].deployments.append(d)
    for s in related.get(SERVICES, ()):
        ns, name = meta(s)
        out[ns].services[name] = s
    for p in related.get(PODS, ()):
        out[meta(p)[0]].pods.append(p)
    for dr in related.get(DESTINATIONRULES, ()):
        out[meta(dr)[0]].destinationrules.append(dr)
    return out


# --- Istio ---------------------------------------------------------------------------------


def _destinations(entry: Any) -> list[Mapping[str, Any]]:
    route = dig(entry, "route", default=[]) or []
    return [d for d in route if isinstance(d, Mapping)] if isinstance(route, list) else []


def analyse_virtualservice(
    vs: Obj, index: NamespaceIndex, known_stable: str = ""
) -> Analysis | None:
    """The split a VirtualService carries; None when it is not a canary at all."""
    ns = meta(vs)[0]
    http = dig(vs, "spec", "http", default=[]) or []
    if not isinstance(http, list):
        http = []
    ann = annotations_of(vs)
    ours = any(str(k).startswith(PREFIX) for k in ann)
    warnings: list[str] = []
    notes: list[str] = []
    candidates: list[tuple[int, Mapping[str, Any], Mapping[str, Any]]] = []
    weighted = False
    for i, entry in enumerate(http):
        dests = _destinations(entry)
        if len(dests) < 2:
            continue
        weighted = True
        hosts = {normalize_host(str(dig(d, "destination", "host", default="")), ns) for d in dests}
        subsets = [str(dig(d, "destination", "subset", default="") or "") for d in dests]
        if len(dests) > 2:
            warnings.append(
                f"http[{i}] splits traffic across {len(dests)} destinations; "
                "the console drives two-way splits only"
            )
        elif len(hosts) != 1:
            warnings.append(f"http[{i}] splits across different hosts, not subsets of one host")
        elif not all(subsets) or subsets[0] == subsets[1]:
            warnings.append(f"http[{i}] does not split one host across two different subsets")
        else:
            candidates.append((i, dests[0], dests[1]))
    if not weighted and not ours:
        return None
    if not candidates:
        if not weighted:
            warnings.append("no http route splits traffic by weight")
        return Analysis(None, tuple(warnings))

    first_i, d0, d1 = candidates[0]
    host = normalize_host(str(dig(d0, "destination", "host")), ns)
    pair = (str(dig(d0, "destination", "subset")), str(dig(d1, "destination", "subset")))
    a = Side(pair[0], 0, _weight(d0, warnings, first_i, 0))
    b = Side(pair[1], 1, _weight(d1, warnings, first_i, 1))
    # Every entry splitting the same pair moves together (e.g. one per path).
    same: list[tuple[int, int, int]] = [(first_i, 0, 1)]
    for i, x, y in candidates[1:]:
        sx = str(dig(x, "destination", "subset"))
        sy = str(dig(y, "destination", "subset"))
        if normalize_host(str(dig(x, "destination", "host")), ns) == host and {sx, sy} == set(pair):
            same.append((i, 0 if sx == pair[0] else 1, 1 if sx == pair[0] else 0))
            wx, wy = int_at(x.get("weight")), int_at(y.get("weight"))
            ordered = (wx, wy) if sx == pair[0] else (wy, wx)
            if ordered != (a.weight, b.weight):
                warnings.append(
                    f"http[{i}] weights {ordered[0]}/{ordered[1]} differ from "
                    f"http[{first_i}]; the next write aligns them"
                )
        else:
            notes.append(f"http[{i}] splits another pair; left as is")
    for i, entry in enumerate(http):
        dests = _destinations(entry)
        if len(dests) == 1 and dig(entry, "match") is not None:
            subset = str(dig(dests[0], "destination", "subset", default="") or "")
            if subset in pair:
                notes.append(f"http[{i}] sends matched requests to {subset} only")

    # The DestinationRule maps subsets to pod labels.
    selectors: dict[str, Mapping[str, str]] = {}
    drs = [
        dr
        for dr in index.destinationrules
        if normalize_host(str(dig(dr, "spec", "host", default="")), ns) == host
    ]
    structural: list[str] = []
    if not drs:
        structural.append(f"no DestinationRule for host {host} in namespace {ns}")
    else:
        dr = sorted(drs, key=lambda d: meta(d)[1])[0]
        if len(drs) > 1:
            notes.append(f"several DestinationRules for {host}; using {meta(dr)[1]}")
        subsets_def = {
            str(dig(s, "name", default="")): labels_at(s, "labels")
            for s in dig(dr, "spec", "subsets", default=[]) or []
            if isinstance(s, Mapping)
        }
        svc_name = service_of_host(host, ns)
        svc_selector = (
            labels_at(index.services.get(svc_name), "spec", "selector")
            if svc_name and svc_name in index.services
            else {}
        )
        if svc_name and svc_name not in index.services:
            notes.append(f"Service {svc_name} not found; matching pods by subset labels only")
        for subset in pair:
            if subset not in subsets_def:
                structural.append(
                    f"subset {subset!r} is not defined in DestinationRule {meta(dr)[1]}"
                )
            else:
                selectors[subset] = {**svc_selector, **subsets_def[subset]}

    def created(name: str) -> float:
        deps = deployments_for(selectors.get(name, {}), index.deployments)
        return created_at(deps[0]) if len(deps) == 1 else 0.0

    stable, canary, rule, ann_warning = choose_stable(
        a,
        b,
        STABLE_SUBSET_ANNOTATION,
        str(ann[STABLE_SUBSET_ANNOTATION]) if STABLE_SUBSET_ANNOTATION in ann else None,
        created,
        known_stable,
    )
    if ann_warning:
        warnings.append(ann_warning)
    if stable is b:
        same = [(i, s, c) for i, c, s in same]
    total = stable.weight + canary.weight
    if total != ISTIO_TOTAL:
        warnings.append(
            f"weights add up to {total}, not 100; the share is read as a ratio "
            "and the next write restores 100"
        )
    split = Split(
        stable,
        canary,
        total,
        tuple(same),
        rule,
        host=host,
        warnings=tuple(warnings),
    )
    return Analysis(split, tuple(structural), tuple(notes), selectors)


def _weight(dest: Mapping[str, Any], warnings: list[str], entry: int, pos: int) -> int:
    raw = dest.get("weight")
    if raw is None:
        warnings.append(f"http[{entry}].route[{pos}] has no weight; read as 0")
        return 0
    value = int_at(raw, -1)
    if value < 0:
        warnings.append(f"http[{entry}].route[{pos}] weight {quote(raw)} is invalid; read as 0")
        return 0
    return value


def istio_weight_patch(vs: Obj, split: Split, stable_w: int, canary_w: int) -> dict[str, Any]:
    """Merge patch replacing spec.http with only the split's weights changed.

    A merge patch replaces lists whole, so the list sent is the one read, and
    the resourceVersion precondition guarantees nobody changed it meanwhile.
    """
    http = copy.deepcopy(dig(vs, "spec", "http", default=[]))
    for i, s_pos, c_pos in split.locations:
        http[i]["route"][s_pos]["weight"] = stable_w
        http[i]["route"][c_pos]["weight"] = canary_w
    return {
        "metadata": {"resourceVersion": str(dig(vs, "metadata", "resourceVersion", default=""))},
        "spec": {"http": http},
    }


# --- Gateway API -------------------------------------------------------------------------


def _is_service_ref(ref: Mapping[str, Any]) -> bool:
    return str(ref.get("group") or "") == "" and str(ref.get("kind") or "Service") == "Service"


def _ref_weight(ref: Mapping[str, Any]) -> int:
    # The CRD defaults weight to 1; an object built by hand may still lack it.
    return int_at(ref.get("weight"), 1) if ref.get("weight") is not None else 1


def analyse_httproute(route: Obj, index: NamespaceIndex, known_stable: str = "") -> Analysis | None:
    ns = meta(route)[0]
    rules = dig(route, "spec", "rules", default=[]) or []
    if not isinstance(rules, list):
        rules = []
    ann = annotations_of(route)
    ours = any(str(k).startswith(PREFIX) for k in ann)
    warnings: list[str] = []
    notes: list[str] = []
    candidates: list[tuple[int, Mapping[str, Any], Mapping[str, Any]]] = []
    weighted = False
    for i, rule in enumerate(rules):
        refs = [r for r in (dig(rule, "backendRefs", default=[]) or []) if isinstance(r, Mapping)]
        if len(refs) < 2:
            continue
        weighted = True
        if len(refs) > 2:
            warnings.append(
                f"rules[{i}] splits traffic across {len(refs)} backends; "
                "the console drives two-way splits only"
            )
        elif not all(_is_service_ref(r) for r in refs):
            warnings.append(f"rules[{i}] has a backend that is not a Service")
        elif str(refs[0].get("name")) == str(refs[1].get("name")) and str(
            refs[0].get("namespace") or ns
        ) == str(refs[1].get("namespace") or ns):
            warnings.append(f"rules[{i}] names the same Service twice")
        else:
            candidates.append((i, refs[0], refs[1]))
    if not weighted and not ours:
        return None
    if not candidates:
        if not weighted:
            warnings.append("no rule splits traffic across two backends")
        return Analysis(None, tuple(warnings))

    first_i, r0, r1 = candidates[0]
    pair = (str(r0.get("name")), str(r1.get("name")))
    a = Side(pair[0], 0, _ref_weight(r0))
    b = Side(pair[1], 1, _ref_weight(r1))
    same: list[tuple[int, int, int]] = [(first_i, 0, 1)]
    for i, x, y in candidates[1:]:
        names = (str(x.get("name")), str(y.get("name")))
        if set(names) == set(pair):
            same.append((i, 0 if names[0] == pair[0] else 1, 1 if names[0] == pair[0] else 0))
        else:
            notes.append(f"rules[{i}] splits another pair of backends; left as is")

    structural: list[str] = []
    selectors: dict[str, Mapping[str, str]] = {}
    for ref in (r0, r1):
        name = str(ref.get("name"))
        ref_ns = str(ref.get("namespace") or ns)
        if ref_ns != ns:
            notes.append(
                f"backend {ref_ns}/{name} is in another namespace; its Deployment is not shown"
            )
            continue
        svc = index.services.get(name)
        if svc is None:
            structural.append(f"Service {name} not found in namespace {ns}")
            continue
        selectors[name] = labels_at(svc, "spec", "selector")
        if not selectors[name]:
            notes.append(f"Service {name} has no selector; its Deployment is not known")

    # A broad stable selector (app=x) also matches the canary's pods: drop what
    # the other side's selector claims when that leaves exactly one Deployment.
    def created(name: str) -> float:
        dep = _service_deployment(name, selectors, index)
        return created_at(dep) if dep is not None else 0.0

    stable, canary, rule, ann_warning = choose_stable(
        a,
        b,
        STABLE_BACKEND_ANNOTATION,
        str(ann[STABLE_BACKEND_ANNOTATION]) if STABLE_BACKEND_ANNOTATION in ann else None,
        created,
        known_stable,
    )
    if ann_warning:
        warnings.append(ann_warning)
    if stable is b:
        same = [(i, s, c) for i, c, s in same]
    split = Split(
        stable,
        canary,
        stable.weight + canary.weight,
        tuple(same),
        rule,
        warnings=tuple(warnings),
    )
    return Analysis(split, tuple(structural), tuple(notes), selectors)


def _service_deployment(
    name: str, selectors: Mapping[str, Mapping[str, str]], index: NamespaceIndex
) -> Obj | None:
    deps = deployments_for(selectors.get(name, {}), index.deployments)
    if len(deps) > 1:
        others = [
            set(meta(d)[1] for d in deployments_for(sel, index.deployments))
            for other, sel in selectors.items()
            if other != name
        ]
        claimed: set[str] = set().union(*others) if others else set()
        narrowed = [d for d in deps if meta(d)[1] not in claimed]
        if len(narrowed) == 1:
            return narrowed[0]
    return deps[0] if deps else None


def httproute_weight_patch(
    route: Obj, split: Split, weights_for: Callable[[int, int], tuple[int, int]]
) -> dict[str, Any]:
    """Merge patch replacing spec.rules; each driven rule keeps its own total.

    `weights_for(stable_w, canary_w)` gives a rule's new pair from its current one.
    """
    rules = copy.deepcopy(dig(route, "spec", "rules", default=[]))
    for i, s_pos, c_pos in split.locations:
        refs = rules[i]["backendRefs"]
        s, c = weights_for(_ref_weight(refs[s_pos]), _ref_weight(refs[c_pos]))
        refs[s_pos]["weight"] = s
        refs[c_pos]["weight"] = c
    return {
        "metadata": {"resourceVersion": str(dig(route, "metadata", "resourceVersion", default=""))},
        "spec": {"rules": rules},
    }


# --- Rollout construction (shared) ---------------------------------------------------------


_NO_RETRY = "retry clears an Argo Rollouts abort; a mesh canary has no abort state to clear"
_NO_UNDO = (
    "undo restores an Argo Rollout's previous revision; a mesh canary's versions are "
    "plain Deployments, change them directly"
)


def _kind_word(kind: ProviderKind) -> str:
    return "VirtualService" if kind is ProviderKind.ISTIO else "HTTPRoute"


def plan_refusal(kind: ProviderKind, ns: str, name: str, warning: str) -> str:
    """One sentence naming the object and the annotation of a malformed step plan."""
    return f"{STEPS_ANNOTATION} of {_kind_word(kind)} {ns}/{name}: {warning}"


def build_rollout(
    obj: Obj, analysis: Analysis, index: NamespaceIndex, kind: ProviderKind, cluster: str
) -> Rollout:
    ns, name = meta(obj)
    ref = RolloutRef(cluster, ns, name)
    pause = pause_state(obj)
    plan_result = W.parse_plan(
        str(annotations_of(obj)[STEPS_ANNOTATION])
        if STEPS_ANNOTATION in annotations_of(obj)
        else None
    )
    plan = plan_result.plan
    warnings: list[str] = []
    if plan_result.warning:
        warnings.append(plan_result.warning)
    if pause.warning:
        warnings.append(pause.warning)
    extra: list[tuple[str, str]] = [("route", f"{_kind_word(kind)} {ns}/{name}")]
    extra.append(
        (
            "step plan",
            ",".join(str(w) for w in plan)
            + (
                " (annotation)"
                if STEPS_ANNOTATION in annotations_of(obj) and not plan_result.warning
                else " (default)"
            ),
        )
    )
    unavailable: dict[Action, str] = {Action.RETRY: _NO_RETRY, Action.UNDO: _NO_UNDO}
    split = analysis.split
    if split is None:
        warnings.extend(analysis.warnings)
        reason = f"the {_kind_word(kind)} has no two-way split the console can drive"
        for action in (Action.ADVANCE, Action.PROMOTE_FULL, Action.ROLLBACK):
            unavailable[action] = reason
        return Rollout(
            ref=ref,
            provider=kind,
            phase=Phase.UNKNOWN,
            stable=VersionInfo(role=Role.STABLE),
            paused=pause.paused,
            message=warnings[0] if warnings else reason,
            steps=W.plan_steps(plan),
            created_at=created_at(obj),
            warnings=tuple(warnings),
            unavailable=tuple(unavailable.items()),
            annotations=console_annotations(obj),
            extra=tuple(extra),
        )

    warnings.extend(split.warnings)
    warnings.extend(analysis.warnings)
    deps: dict[str, Obj | None] = {}
    for side in (split.stable, split.canary):
        if kind is ProviderKind.ISTIO:
            found = deployments_for(analysis.selectors.get(side.name, {}), index.deployments)
            if len(found) > 1:
                warnings.append(
                    f"{side.name} matches several Deployments "
                    f"({', '.join(meta(d)[1] for d in found)}); showing {meta(found[0])[1]}"
                )
            deps[side.name] = found[0] if found else None
        else:
            deps[side.name] = _service_deployment(side.name, analysis.selectors, index)
        if deps[side.name] is None and side.name in analysis.selectors:
            warnings.append(f"{side.name} has no Deployment (no pod template matches its labels)")

    def label_of(side: Side) -> str:
        sel = analysis.selectors.get(side.name, {})
        return sel.get(VERSION_LABEL, side.name)

    stable_v = version_info(
        Role.STABLE, label_of(split.stable), deps[split.stable.name], index.pods
    )
    canary_v = version_info(
        Role.CANARY, label_of(split.canary), deps[split.canary.name], index.pods
    )
    share = split.share
    pct = 0 if share is None else W.round_half_up(share)
    exact = share if share is not None else Fraction(0)
    extra.extend(
        [
            (
                "weights",
                f"{split.stable.name}={split.stable.weight} "
                f"{split.canary.name}={split.canary.weight} (total {split.total})",
            ),
            ("stable chosen by", split.stable_rule),
            (_EXTRA_STABLE, split.stable.name),
            (_EXTRA_CANARY, split.canary.name),
        ]
    )
    if split.host:
        extra.append(("host", split.host))
    if pause.paused:
        extra.append(("paused", pause.text))
    extra.extend(("note", n) for n in analysis.notes)

    nxt = W.next_weight(plan, exact)
    # Phase: structure first, then the operator's pause, then traffic health.
    starving = [
        v
        for v, w in ((stable_v, split.stable.weight), (canary_v, split.canary.weight))
        if w > 0 and (v.workload == "" or v.ready == 0)
    ]
    if share is None:
        warnings.append("both weights are 0: no destination receives traffic")
    odd_total = kind is ProviderKind.ISTIO and split.total != ISTIO_TOTAL
    if analysis.warnings or share is None or odd_total:
        # What the mesh makes of such a route is not certain: say so, don't guess.
        phase = Phase.UNKNOWN
        message = (
            analysis.warnings
            or (("no destination receives traffic",) if share is None else ())
            or (f"weights add up to {split.total}, not 100; canary share {pct}%",)
        )[0]
    elif pause.paused:
        phase = Phase.PAUSED
        message = f"{pause.text}; canary at {pct}%"
    elif starving:
        phase = Phase.DEGRADED
        v = starving[0]
        what = "has no Deployment" if not v.workload else "has no ready pods"
        message = f"{v.role.value} {v.label} gets traffic but {what}"
    elif exact == 0:
        phase = Phase.HEALTHY
        message = f"all traffic on stable {stable_v.label}; advance starts the canary at {nxt}%"
    elif exact >= 100:
        phase = Phase.HEALTHY
        message = f"canary {canary_v.label} takes all traffic"
    else:
        phase = Phase.PROGRESSING
        message = f"canary {canary_v.label} at {pct}%; next step {nxt}%"
    if share is not None and split.total != ISTIO_TOTAL and kind is ProviderKind.GATEWAY:
        message += f" ({split.canary.weight}/{split.total})"

    if pause.paused:
        why = f"{pause.text} ({PAUSED_ANNOTATION}); resume first"
        unavailable[Action.ADVANCE] = why
        unavailable[Action.PROMOTE_FULL] = why
        unavailable[Action.PAUSE] = f"already {pause.text}"
    else:
        unavailable[Action.RESUME] = "not paused"
    if exact >= 100:
        unavailable[Action.ADVANCE] = "the canary already takes all traffic"
        unavailable[Action.PROMOTE_FULL] = "the canary already takes all traffic"
    if exact == 0 and share is not None:
        unavailable[Action.ROLLBACK] = "the canary already gets no traffic"
    if plan_result.warning and exact < 100:
        unavailable[Action.ADVANCE] = plan_refusal(kind, ns, name, plan_result.warning)
    blocking = list(analysis.warnings)
    if canary_v.workload == "":
        blocking.append(f"canary {split.canary.name} has no Deployment")
    elif canary_v.ready == 0:
        blocking.append(f"canary {canary_v.workload} has no ready pods")
    if blocking:
        for action in (Action.ADVANCE, Action.PROMOTE_FULL):
            unavailable.setdefault(action, f"{blocking[0]}; more traffic would fail")

    return Rollout(
        ref=ref,
        provider=kind,
        phase=phase,
        stable=stable_v,
        canary=canary_v,
        paused=pause.paused,
        message=message,
        steps=W.plan_steps(plan),
        current_step=W.steps_done(plan, exact),
        set_weight=pct,
        actual_weight=pct,
        created_at=created_at(obj),
        warnings=tuple(dict.fromkeys(warnings)),
        unavailable=tuple(unavailable.items()),
        annotations=console_annotations(obj),
        route=RouteSides(split.stable.name, split.canary.name),
        extra=tuple(extra),
    )


def broken_rollout(obj: Obj, kind: ProviderKind, cluster: str, error: Exception) -> Rollout:
    ns, name = meta(obj)
    text = f"could not read this {_kind_word(kind)}: {type(error).__name__}: {error}"
    reason = f"the {_kind_word(kind)} could not be read"
    return Rollout(
        ref=RolloutRef(cluster, ns, name),
        provider=kind,
        phase=Phase.UNKNOWN,
        stable=VersionInfo(role=Role.STABLE),
        message=text,
        warnings=(text,),
        unavailable=tuple((a, reason) for a in Action),
    )


# --- the providers ------------------------------------------------------------------------


def _describe(split: Split | None) -> str:
    if split is None:
        return "no split"
    share = split.share
    pct = 0 if share is None else W.round_half_up(share)
    return (
        f"weight {pct}% ({split.stable.name}={split.stable.weight}, "
        f"{split.canary.name}={split.canary.weight})"
    )


class _MeshProvider:
    kind: ProviderKind
    resource: ResourceType
    related: tuple[ResourceType, ...]
    #: Related kinds the backend passes whole, not by namespace: an Argo Rollout may
    #: steer a route in another namespace ("name.namespace"), which is then not ours.
    cluster_wide: tuple[ResourceType, ...] = (ARGO_ROLLOUTS,)
    actions: tuple[Action, ...] = (
        Action.ADVANCE,
        Action.PROMOTE_FULL,
        Action.PAUSE,
        Action.RESUME,
        Action.ROLLBACK,
    )
    #: Seconds between 409 retries (jittered by attempt); small, a human waits.
    retry_delay_s = 0.05

    def _analyse(self, obj: Obj, index: NamespaceIndex, known_stable: str = "") -> Analysis | None:
        raise NotImplementedError

    def _weight_patch(
        self, obj: Obj, split: Split, action: Action, plan: tuple[int, ...]
    ) -> tuple[dict[str, Any], str]:
        raise NotImplementedError

    def to_rollouts(self, objects: Sequence[Obj], related: Related, cluster: str) -> list[Rollout]:
        by_ns = index_related(related)
        managed = argo_managed_routes(related.get(ARGO_ROLLOUTS, ()))
        out: list[Rollout] = []
        for obj in objects:
            try:
                ns, name = meta(obj)
                if _owned_by_controller(obj) or (self.resource.kind, ns, name) in managed:
                    continue  # its controller drives it; it is shown through that provider
                index = by_ns.get(ns) or NamespaceIndex()
                analysis = self._analyse(obj, index)
                if analysis is None:
                    continue
                out.append(build_rollout(obj, analysis, index, self.kind, cluster))
            except Exception as exc:  # a malformed object must never take the list down
                out.append(broken_rollout(obj, self.kind, cluster, exc))
        return out

    def required_verbs(self, action: Action) -> list[Verb]:
        if action not in self.actions:
            return []
        return [Verb(self.resource.group, self.resource.plural, "patch")]

    def act(self, api: KubeApi, rollout: Rollout, obj: Obj, action: Action) -> ActionResult:
        ns, name = meta(obj)
        known_stable = rollout.route.stable if rollout.route else ""
        if action is Action.PAUSE:
            if pause_state(obj).paused:
                text = pause_state(obj).text
                return ActionResult(
                    rollout.ref, action, f"{rollout.ref.short} is already {text}.", text, text
                )
            before = "running"
            at = now_rfc3339()
            api.merge_patch(self.resource, ns, name, pause_patch(api.user, at))
            return ActionResult(
                rollout.ref,
                action,
                f"{_kind_word(self.kind)} '{name}' paused",
                before,
                PauseState(True, api.user, at).text,
            )
        if action is Action.RESUME:
            state = pause_state(obj)
            if not state.paused and PAUSED_ANNOTATION not in annotations_of(obj):
                return ActionResult(
                    rollout.ref, action, f"{rollout.ref.short} is not paused.", "running", "running"
                )
            api.merge_patch(self.resource, ns, name, resume_patch())
            return ActionResult(
                rollout.ref,
                action,
                f"{_kind_word(self.kind)} '{name}' resumed",
                state.text,
                "running",
            )
        if action not in (Action.ADVANCE, Action.PROMOTE_FULL, Action.ROLLBACK):
            raise ActionUnavailable(
                rollout.ref, action, f"{action.value} is not available for a mesh canary."
            )
        current: Obj = obj
        for attempt in range(MAX_ATTEMPTS):
            analysis = self._analyse(current, NamespaceIndex(), known_stable)
            split = analysis.split if analysis is not None else None
            if split is None:
                raise ActionUnavailable(
                    rollout.ref,
                    action,
                    f"{rollout.ref.short} no longer has a two-way split the console can drive.",
                )
            shown = (known_stable, rollout.route.canary if rollout.route else "")
            if all(shown) and (split.stable.name, split.canary.name) != shown:
                # The route changed shape or its stable annotation since the
                # operator looked: acting on a different pair is not what they chose.
                raise ActionError(
                    rollout.ref,
                    action,
                    f"{rollout.ref.short} now splits stable {split.stable.name} / canary "
                    f"{split.canary.name}, not what was shown; refresh and try again.",
                )
            state = pause_state(current)
            if state.paused and action is not Action.ROLLBACK:
                raise ActionUnavailable(
                    rollout.ref,
                    action,
                    f"{action.value} refused: {rollout.ref.short} is {state.text}; "
                    "resume it first.",
                )
            plan_result = W.parse_plan(
                str(annotations_of(current)[STEPS_ANNOTATION])
                if STEPS_ANNOTATION in annotations_of(current)
                else None
            )
            if plan_result.warning and action is Action.ADVANCE:
                cur_ns, cur_name = meta(current)
                raise ActionUnavailable(
                    rollout.ref,
                    action,
                    "advance refused: "
                    + plan_refusal(self.kind, cur_ns, cur_name, plan_result.warning),
                )
            plan = plan_result.plan
            before = _describe(split)
            if split.share is None and action is Action.ADVANCE:
                # 0/0 sends nothing anywhere; "advancing" it would start real traffic.
                raise ActionUnavailable(
                    rollout.ref,
                    action,
                    f"advance refused: every weight of {_kind_word(self.kind)} "
                    f"{rollout.ref.short} is 0, so it sends no traffic; set the weights first.",
                )
            if attempt and action is Action.ADVANCE:
                # Someone wrote in between. An advance is from the step the operator
                # saw: re-basing on their result would take one more step per click.
                moved = W.steps_done(plan, split.share or Fraction(0))
                if moved != rollout.current_step:
                    raise ActionError(
                        rollout.ref,
                        action,
                        f"advance refused: {rollout.ref.short} moved to {before} while this "
                        "advance was being written; press again to advance from there.",
                    )
            share = split.share or Fraction(0)
            if action in (Action.ADVANCE, Action.PROMOTE_FULL) and share >= 100:
                return ActionResult(
                    rollout.ref,
                    action,
                    f"{rollout.ref.short}: the canary already takes all traffic.",
                    before,
                    before,
                )
            if action is Action.ROLLBACK and share == 0 and split.share is not None:
                return ActionResult(
                    rollout.ref,
                    action,
                    f"{rollout.ref.short}: the canary already gets no traffic.",
                    before,
                    before,
                )
            body, note = self._weight_patch(current, split, action, plan)
            try:
                after_obj = api.merge_patch(self.resource, ns, name, body)
            except Exception as exc:
                if getattr(exc, "status", None) != 409 or attempt == MAX_ATTEMPTS - 1:
                    raise
                # Someone wrote in between: re-read and recompute from their result.
                time.sleep(self.retry_delay_s * (attempt + 1))
                current = api.get(self.resource, ns, name)
                continue
            after_analysis = self._analyse(after_obj, NamespaceIndex(), known_stable)
            after = _describe(after_analysis.split if after_analysis else None)
            verb = {
                Action.ADVANCE: "advanced",
                Action.PROMOTE_FULL: "fully promoted",
                Action.ROLLBACK: "rolled back",
            }[action]
            message = f"{_kind_word(self.kind)} '{name}' {verb}: {before} → {after}"
            if attempt:
                message += f" (after {attempt} conflicting write{'s' if attempt > 1 else ''})"
            if note:
                message += f"; {note}"
            return ActionResult(rollout.ref, action, message, before, after)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


class IstioProvider(_MeshProvider):
    kind = ProviderKind.ISTIO
    resource = VIRTUALSERVICES
    related = (DESTINATIONRULES, DEPLOYMENTS, SERVICES, PODS, ARGO_ROLLOUTS)

    def _analyse(self, obj: Obj, index: NamespaceIndex, known_stable: str = "") -> Analysis | None:
        return analyse_virtualservice(obj, index, known_stable)

    def _weight_patch(
        self, obj: Obj, split: Split, action: Action, plan: tuple[int, ...]
    ) -> tuple[dict[str, Any], str]:
        change = _change(split, action, plan, ISTIO_TOTAL)
        return istio_weight_patch(obj, split, change.stable, change.canary), change.note


class GatewayProvider(_MeshProvider):
    kind = ProviderKind.GATEWAY
    resource = HTTPROUTES
    related = (DEPLOYMENTS, SERVICES, PODS, ARGO_ROLLOUTS)

    def _analyse(self, obj: Obj, index: NamespaceIndex, known_stable: str = "") -> Analysis | None:
        return analyse_httproute(obj, index, known_stable)

    def _weight_patch(
        self, obj: Obj, split: Split, action: Action, plan: tuple[int, ...]
    ) -> tuple[dict[str, Any], str]:
        change = _change(split, action, plan, None)
        target = Fraction(change.canary * 100, change.total)

        def weights_for(s: int, c: int) -> tuple[int, int]:
            if (s, c) == (split.stable.weight, split.canary.weight):
                return change.stable, change.canary
            # Another rule with its own total: same share, its total kept.
            return W.split(s + c, W.round_half_up(target))

        return httproute_weight_patch(obj, split, weights_for), change.note


def _change(
    split: Split, action: Action, plan: tuple[int, ...], total: int | None
) -> W.WeightChange:
    s, c = split.stable.weight, split.canary.weight
    if action is Action.ADVANCE:
        change = W.advance_weights(plan, s, c, total)
        if change is not None:
            return change
        return W.set_weights(s, c, 100, total)
    return W.set_weights(s, c, 100 if action is Action.PROMOTE_FULL else 0, total)


PROVIDERS = [IstioProvider(), GatewayProvider()]
