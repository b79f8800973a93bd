"""Query profiles: which metrics to ask Prometheus for, and how to match them.

A profile is YAML data. The built-ins live in ``console/metrics/profiles/``
(``istio``, ``generic-http``, ``dcgm``); the user's config file can override
any field of a built-in (deep merge) or add new profiles under ``profiles:``.

Two kinds:

``requests`` (istio, generic-http)
    Request rate, 5xx ratio and latency quantiles per version.

    Cost: three queries per refresh whatever the number of rollouts, each
    grouped on the server by (namespace, service, workload, version labels):
    the total rate, the 5xx rate and the latency bucket rates (``le`` added).
    Quantiles are computed on the client from the bucket rates with the same
    interpolation as PromQL's ``histogram_quantile``, so the buckets of several
    series that belong to one version (two service names, say) merge exactly,
    and any number of quantiles costs nothing more.

    Matching rule: a series belongs to rollout NS/NAME when its namespace
    label equals NS and either a service label fully matches
    ``match.service_regex``, or the workload label fully matches
    ``match.workload_regex``, or the workload label is the ``workload`` of one
    of the rollout's versions. ``{name}`` in a regex is the rollout name,
    regex-escaped. Inside the rollout a series belongs to a version when, for
    the first key of ``match.version_keys`` that decides anything, one of its
    version labels equals that key's value on the version (``label``,
    ``revision``, ``pod_hash``), or for ``workload`` its workload label equals
    ``VersionInfo.workload`` (Flagger's ``<name>-primary`` against ``<name>``).

``gpu`` (dcgm)
    GPU utilisation (avg) and memory (sum, MiB -> GiB), two queries grouped by
    the pod labels over every pod of the rollouts' namespaces, joined on the
    client to each version's pods: ``VersionInfo.pods`` by name, or, when that
    is empty, pod names fully matching ``pod_hash_regex`` with the version's
    ``pod_hash``. With ``honor_labels: false`` the exporter's own pod/namespace
    labels are renamed ``exported_pod``/``exported_namespace``: the first label
    of ``labels.pod`` / ``labels.namespace`` present on a series wins.
"""

from __future__ import annotations

import bisect
import copy
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from console.model import ConsoleError, Role, Rollout

BUILTIN_PROFILES = ("istio", "generic-http", "dcgm")
VERSION_KEYS = ("label", "revision", "pod_hash", "workload")

LabelKey = tuple[tuple[str, str], ...]


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


# --- profile data ------------------------------------------------------------------


@dataclass(frozen=True)
class RequestsProfile:
    name: str
    requests_metric: str
    latency_bucket_metric: str
    latency_unit: str = "ms"  # "ms" or "s"
    selector: str = ""
    error_selector: str = 'code=~"5.."'
    namespace_label: str = "namespace"
    service_labels: tuple[str, ...] = ()
    workload_label: str = ""
    version_labels: tuple[str, ...] = ("version",)
    service_regex: str = "{name}"
    workload_regex: str = ""
    version_keys: tuple[str, ...] = VERSION_KEYS
    description: str = ""

    @property
    def group_labels(self) -> tuple[str, ...]:
        labels = [self.namespace_label, *self.service_labels, self.workload_label]
        labels += list(self.version_labels)
        return tuple(dict.fromkeys(x for x in labels if x))

    @property
    def latency_scale_to_ms(self) -> float:
        return 1000.0 if self.latency_unit == "s" else 1.0


@dataclass(frozen=True)
class GpuProfile:
    name: str
    util_metric: str
    memory_metric: str
    memory_unit: str = "MiB"  # "MiB", "B" or "GiB"
    selector: str = ""
    namespace_labels: tuple[str, ...] = ("exported_namespace", "namespace")
    pod_labels: tuple[str, ...] = ("exported_pod", "pod")
    pod_hash_regex: str = ".+-{pod_hash}-[a-z0-9]+"
    description: str = ""

    @property
    def group_labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.namespace_labels, *self.pod_labels]))

    @property
    def memory_to_gib(self) -> float:
        return {"MiB": 1 / 1024, "B": 1 / 1024**3, "GiB": 1.0}[self.memory_unit]


Profile = RequestsProfile | GpuProfile


# --- loading ----------------------------------------------------------------------------


def builtin_profile_data(name: str) -> dict[str, Any]:
    text = resources.files("console.metrics").joinpath("profiles", f"{name}.yaml").read_text()
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_profiles(overrides: Mapping[str, Any] | None = None) -> dict[str, Profile]:
    """Built-ins merged with the config file's ``profiles:`` section."""
    raw: dict[str, dict[str, Any]] = {n: builtin_profile_data(n) for n in BUILTIN_PROFILES}
    for name, data in (overrides or {}).items():
        if not isinstance(data, Mapping):
            raise ConsoleError(f"Profile {name!r} in the config file must be a mapping.")
        raw[str(name)] = deep_merge(raw.get(str(name), {}), data)
    return {name: parse_profile(name, data) for name, data in raw.items()}


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise ConsoleError(f"{where} must be a label name or a list of label names.")


def parse_profile(name: str, data: Mapping[str, Any]) -> Profile:
    where = f"Profile {name!r}"
    kind = data.get("kind")
    labels = data.get("labels") or {}
    match = data.get("match") or {}
    if not isinstance(labels, Mapping) or not isinstance(match, Mapping):
        raise ConsoleError(f"{where}: 'labels' and 'match' must be mappings.")
    try:
        if kind == "requests":
            unit = str(data.get("latency_unit", "ms"))
            if unit not in ("ms", "s"):
                raise ConsoleError(f"{where}: latency_unit must be 'ms' or 's', not {unit!r}.")
            keys = _strs(match.get("version_keys", list(VERSION_KEYS)), f"{where}: version_keys")
            bad = [k for k in keys if k not in VERSION_KEYS]
            if bad:
                raise ConsoleError(
                    f"{where}: unknown version key {bad[0]!r} (use {', '.join(VERSION_KEYS)})."
                )
            ns = _strs(labels.get("namespace", "namespace"), f"{where}: labels.namespace")
            workload = _strs(labels.get("workload"), f"{where}: labels.workload")
            requests = RequestsProfile(
                name=name,
                requests_metric=str(data["requests_metric"]),
                latency_bucket_metric=str(data["latency_bucket_metric"]),
                latency_unit=unit,
                selector=str(data.get("selector") or ""),
                error_selector=str(data.get("error_selector") or ""),
                namespace_label=ns[0] if ns else "namespace",
                service_labels=_strs(labels.get("service"), f"{where}: labels.service"),
                workload_label=workload[0] if workload else "",
                version_labels=_strs(labels.get("version"), f"{where}: labels.version"),
                service_regex=str(match.get("service_regex") or ""),
                workload_regex=str(match.get("workload_regex") or ""),
                version_keys=keys,
                description=str(data.get("description") or ""),
            )
            if not requests.error_selector:
                raise ConsoleError(f"{where}: error_selector is required.")
            profile: Profile = requests
        elif kind == "gpu":
            unit = str(data.get("memory_unit", "MiB"))
            if unit not in ("MiB", "B", "GiB"):
                raise ConsoleError(f"{where}: memory_unit must be MiB, B or GiB, not {unit!r}.")
            profile = GpuProfile(
                name=name,
                util_metric=str(data["util_metric"]),
                memory_metric=str(data["memory_metric"]),
                memory_unit=unit,
                selector=str(data.get("selector") or ""),
                namespace_labels=_strs(
                    labels.get("namespace", "namespace"), f"{where}: labels.namespace"
                ),
                pod_labels=_strs(labels.get("pod", "pod"), f"{where}: labels.pod"),
                pod_hash_regex=str(data.get("pod_hash_regex") or ".+-{pod_hash}-[a-z0-9]+"),
                description=str(data.get("description") or ""),
            )
        else:
            raise ConsoleError(f"{where}: kind must be 'requests' or 'gpu', not {kind!r}.")
    except KeyError as exc:
        raise ConsoleError(f"{where} lacks the field {exc.args[0]!r}.") from None
    _check_regexes(profile)
    return profile


def _check_regexes(profile: Profile) -> None:
    if isinstance(profile, RequestsProfile):
        patterns = {
            "service_regex": profile.service_regex,
            "workload_regex": profile.workload_regex,
        }
        subst = {"name": "x"}
    else:
        patterns = {"pod_hash_regex": profile.pod_hash_regex}
        subst = {"pod_hash": "x"}
    for field_name, pattern in patterns.items():
        if not pattern:
            continue
        try:
            re.compile(_fill(pattern, subst))
        except (re.error, KeyError, IndexError, ValueError) as exc:
            raise ConsoleError(
                f"Profile {profile.name!r}: {field_name} is not a valid pattern ({exc})."
            ) from None


def _fill(pattern: str, values: Mapping[str, str]) -> str:
    """Substitute {name}-style placeholders without touching regex braces like {5}."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: re.escape(values[m.group(1)]) if m.group(1) in values else m.group(0),
        pattern,
    )


# --- queries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuerySpec:
    """One PromQL query of a refresh. `key` says what it is for."""

    key: str  # "rate", "errors", "buckets", "gpu_util", "gpu_memory"
    promql: str


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _ns_regex(namespaces: Iterable[str]) -> str:
    alternatives = "|".join(_RE2_SPECIAL.sub(r"\\\1", ns) for ns in sorted(set(namespaces)))
    # PromQL strings are Go strings: a backslash must itself be escaped.
    return alternatives.replace("\\", "\\\\")


def _selector(*parts: str) -> str:
    return "{" + ", ".join(p for p in parts if p) + "}"


def duration(seconds: float) -> str:
    """PromQL duration literal: 90 -> '90s'."""
    return f"{max(1, round(seconds))}s"


def requests_queries(
    profile: RequestsProfile, namespaces: Iterable[str], rate_window_s: float
) -> list[QuerySpec]:
    ns = _ns_regex(namespaces)
    sel = _selector(profile.selector, f'{profile.namespace_label}=~"{ns}"')
    err = _selector(profile.selector, f'{profile.namespace_label}=~"{ns}"', profile.error_selector)
    by = ", ".join(profile.group_labels)
    rw = duration(rate_window_s)
    return [
        QuerySpec("rate", f"sum by ({by}) (rate({profile.requests_metric}{sel}[{rw}]))"),
        QuerySpec("errors", f"sum by ({by}) (rate({profile.requests_metric}{err}[{rw}]))"),
        QuerySpec(
            "buckets", f"sum by ({by}, le) (rate({profile.latency_bucket_metric}{sel}[{rw}]))"
        ),
    ]


def gpu_queries(
    profile: GpuProfile, namespaces: Iterable[str], over_time_s: float | None = None
) -> list[QuerySpec]:
    """Utilisation (avg) and memory (sum) by pod labels, over the rollouts' namespaces.

    One selector per namespace label, joined with `or`, so pods are found both
    with and without exported_namespace relabelling. With `over_time_s` (the
    headless summary) utilisation is averaged over that window first.
    """
    ns = _ns_regex(namespaces)
    by = ", ".join(profile.group_labels)

    def union(metric: str, wrap: str | None) -> str:
        parts = []
        for label in profile.namespace_labels:
            matcher = label + '=~"' + ns + '"'
            expr = metric + _selector(profile.selector, matcher)
            if wrap:
                expr = f"{wrap}({expr}[{duration(over_time_s or 0)}])"
            parts.append(expr)
        return " or ".join(parts)

    util_wrap = "avg_over_time" if over_time_s else None
    return [
        QuerySpec("gpu_util", f"avg by ({by}) ({union(profile.util_metric, util_wrap)})"),
        QuerySpec("gpu_memory", f"sum by ({by}) ({union(profile.memory_metric, None)})"),
    ]


# --- matching series to rollouts -----------------------------------------------------


def first_label(labels: Mapping[str, str], names: Sequence[str]) -> str:
    for name in names:
        value = labels.get(name, "")
        if value:
            return value
    return ""


@functools.lru_cache(maxsize=8192)
def _compiled(pattern: str) -> re.Pattern[str]:
    """A rollout's name regex, compiled once per process: re's own cache holds 512,
    so 500 rollouts' two patterns each were compiled again on every refresh."""
    return re.compile(pattern)


@dataclass
class _RolloutMatcher:
    rollout: Rollout
    service_re: re.Pattern[str] | None
    workload_re: re.Pattern[str] | None
    workloads: frozenset[str]
    versions: tuple[tuple[Role, Any], ...]  # (role, VersionInfo)


@dataclass
class RequestsMatcher:
    """Assigns request series to (rollout key, role) by the profile's rule."""

    profile: RequestsProfile
    rollouts: Sequence[Rollout]
    _by_ns: dict[str, list[_RolloutMatcher]] = field(default_factory=dict, init=False)
    # Which rollouts a (namespace, workload, services) triple belongs to: every `le`
    # bucket and version of one workload shares it, so the regexes run once per
    # workload, not once per series (500 rollouts: ~20x fewer matches).
    _memo: dict[tuple[str, str, tuple[str, ...]], list[_RolloutMatcher]] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        for r in self.rollouts:
            values = {"name": r.ref.name}
            p = self.profile
            versions = [(Role.STABLE, r.stable)]
            if r.canary is not None:
                versions.append((Role.CANARY, r.canary))
            self._by_ns.setdefault(r.ref.namespace, []).append(
                _RolloutMatcher(
                    rollout=r,
                    service_re=_compiled(_fill(p.service_regex, values))
                    if p.service_regex
                    else None,
                    workload_re=_compiled(_fill(p.workload_regex, values))
                    if p.workload_regex
                    else None,
                    workloads=frozenset(v.workload for _, v in versions if v.workload),
                    versions=tuple(versions),
                )
            )

    def assign(self, labels: Mapping[str, str]) -> list[tuple[str, Role]]:
        out: list[tuple[str, Role]] = []
        for m in self._matching(labels):
            out.extend((m.rollout.ref.key, role) for role in self._version_roles(m, labels))
        return out

    def _matching(self, labels: Mapping[str, str]) -> list[_RolloutMatcher]:
        p = self.profile
        ns = labels.get(p.namespace_label, "")
        workload = labels.get(p.workload_label, "") if p.workload_label else ""
        services = tuple(labels.get(s, "") for s in p.service_labels)
        key = (ns, workload, services)
        found = self._memo.get(key)
        if found is not None:
            return found
        found = []
        for m in self._by_ns.get(ns, ()):
            by_service = m.service_re is not None and any(
                s and m.service_re.fullmatch(s) for s in services
            )
            by_workload = bool(workload) and (
                workload in m.workloads
                or (m.workload_re is not None and m.workload_re.fullmatch(workload) is not None)
            )
            if by_service or by_workload:
                found.append(m)
        self._memo[key] = found
        return found

    def _version_roles(self, m: _RolloutMatcher, labels: Mapping[str, str]) -> list[Role]:
        p = self.profile
        version_values = {labels.get(n, "") for n in p.version_labels} - {""}
        workload = labels.get(p.workload_label, "") if p.workload_label else ""
        for key in p.version_keys:
            roles = []
            for role, info in m.versions:
                wanted = getattr(info, key)
                if not wanted:
                    continue
                if key == "workload":
                    if workload == wanted:
                        roles.append(role)
                elif wanted in version_values:
                    roles.append(role)
            if roles:
                return roles
        return []


@dataclass
class PodMatcher:
    """Joins per-pod GPU series to (rollout key, role) through each version's pods."""

    profile: GpuProfile
    rollouts: Sequence[Rollout]
    _exact: dict[tuple[str, str], list[tuple[str, Role]]] = field(default_factory=dict, init=False)
    _regex: dict[str, list[tuple[re.Pattern[str], str, Role]]] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        for r in self.rollouts:
            ns = r.ref.namespace
            versions = [(Role.STABLE, r.stable)]
            if r.canary is not None:
                versions.append((Role.CANARY, r.canary))
            for role, info in versions:
                if info.pods:
                    for pod in info.pods:
                        self._exact.setdefault((ns, pod), []).append((r.ref.key, role))
                elif info.pod_hash:
                    pattern = re.compile(
                        _fill(self.profile.pod_hash_regex, {"pod_hash": info.pod_hash})
                    )
                    self._regex.setdefault(ns, []).append((pattern, r.ref.key, role))

    def pod_of(self, labels: Mapping[str, str]) -> tuple[str, str]:
        """(namespace, pod) of the workload a GPU series describes."""
        return (
            first_label(labels, self.profile.namespace_labels),
            first_label(labels, self.profile.pod_labels),
        )

    def assign(self, labels: Mapping[str, str]) -> list[tuple[str, Role]]:
        ns, pod = self.pod_of(labels)
        if not pod:
            return []
        out = list(self._exact.get((ns, pod), ()))
        for pattern, key, role in self._regex.get(ns, ()):
            if pattern.fullmatch(pod):
                out.append((key, role))
        return out


# --- histogram_quantile, as PromQL computes it ------------------------------------


def bucket_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """PromQL's histogram_quantile for one set of cumulative buckets {le: count}."""
    return bucket_quantiles((q,), buckets)[0]


def bucket_quantiles(qs: Sequence[float], buckets: Mapping[float, float]) -> list[float]:
    """PromQL's histogram_quantile for several quantiles of one set of buckets {le: count}.

    Same rules as Prometheus (promql/quantile.go): the +Inf bucket is
    required, counts are made monotonic, the answer is interpolated linearly
    inside the bucket holding the rank, the first bucket starts at 0, and a
    rank in the +Inf bucket answers the highest finite bound. NaN when there is
    nothing to rank. The buckets are sorted and made monotonic once for all qs.
    """
    items = sorted(buckets.items())
    if len(items) < 2 or not math.isinf(items[-1][0]):
        return [
            math.nan if not (q < 0 or q > 1) else (-math.inf if q < 0 else math.inf) for q in qs
        ]
    bounds = [b for b, _ in items]
    counts: list[float] = []
    high = -math.inf
    for _, c in items:
        high = c if c > high else high
        counts.append(high)
    total = counts[-1]
    return [_quantile(q, bounds, counts, total) for q in qs]


def _quantile(q: float, bounds: list[float], counts: list[float], total: float) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if not total > 0:
        return math.nan
    rank = q * total
    b = bisect.bisect_left(counts, rank)
    if b >= len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    if count <= 0:
        return end
    return start + (end - start) * (rank / count)
