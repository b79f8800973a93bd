"""Gate sets as YAML: parsing with file/line/field errors, the built-in default, and
which set a rollout uses.

The format (a config file's gate document, or the ``gates.yaml`` key of the
``rollout-console-gates`` ConfigMap in a rollout's namespace)::

    default: ml-serving            # optional: the set used when a rollout names none
    namespaces:                    # optional (config file): a namespace's default set
      vision: vision-strict
    sets:
      ml-serving:
        hold: 30s                  # mesh progression: every gate passes this long per step
        gates:
          - name: p99-latency
            kind: absolute         # absolute | relative | compared | custom
            metric: latency_p99_ms
            op: "<"                # <  <=  >  >=   (what a passing value looks like)
            threshold: 50
          - name: error-rate
            kind: absolute
            metric: error_pct      # percent: 0.1 means 0.1 %
            op: "<"
            threshold: 0.1
            min_requests: 100
          - name: gpu-memory
            kind: relative
            metric: gpu_memory_gib
            ratio: 1.15            # canary <= 1.15 x stable; or `difference: 0.5` (canary - stable)
          - name: latency-vs-stable
            kind: compared         # Mann-Whitney U, canary against stable (Kayenta's judge)
            metric: latency_p99_ms
            allowed_increase: 1.10 # FAIL only if significantly higher AND mean > 1.10 x stable
            confidence: 0.98
          - name: accuracy
            kind: custom           # any PromQL; {selector} becomes the version's label matchers
            query: 'avg(model_map{ {selector} })'
            op: ">="
            threshold: 36.0
      vision-strict:
        gates:
          - name: p99-latency
            kind: absolute
            metric: latency_p99_ms
            op: "<"
            threshold: 30
            critical: true         # one failed evaluation pauses
            debounce: 2/3          # (non-critical gates: K of the last N failed)

Every gate:

``name``           required, unique within its set.
``kind``           required: ``absolute`` (the canary's figure against ``threshold``),
                   ``relative`` (canary against stable: ``ratio`` or ``difference``),
                   ``compared`` (a statistical test of canary against stable over the
                   same window), ``custom`` (a PromQL ``query`` against ``threshold``).
``metric``         absolute, relative, compared: one of ``latency_p50_ms``,
                   ``latency_p99_ms``, ``error_pct``, ``request_rate``, ``gpu_util_pct``,
                   ``gpu_memory_gib`` (mean per GPU), ``gpu_memory_max_gib`` (the fullest
                   GPU), ``gpu_count``.
``op``             absolute and custom: required; relative: default ``<=``.
``threshold``      absolute and custom: the bound, a number.
``ratio`` / ``difference``  relative: exactly one.
``allowed_increase``  compared: default 1.0; ``confidence``: default 0.98.
                   On ``error_pct`` the test runs on the versions' request and error
                   counts; on any other metric it is a Mann-Whitney U test.
``aggregate``      ``mean`` (default), ``max`` or ``latest``: how the window becomes one
                   figure (absolute, relative, custom). The mean of ``error_pct`` is
                   errors / requests over the window.
``critical``       ``true``: one failed evaluation pauses (no debouncing). Default false.
``debounce``       ``K/N``: a non-critical gate breaches when K of the last N evaluations
                   failed. Default ``3/5``.
``window``         how far back samples count. Default ``5m``.
``warmup``         after each weight change or new revision, results are INCONCLUSIVE this
                   long and earlier samples are ignored. Default ``60s``; ``0`` for none.
``min_points``     fewer samples than this (per version needed) is NO_DATA. Default 3.
``min_requests``   fewer canary requests than this in the window is NO_DATA. Default 0.

Durations: a number of seconds or ``500ms``, ``30s``, ``5m``, ``1h``, ``1h30m``.
Unknown keys are errors. A mistake is reported as one sentence naming the file or
ConfigMap, the line and the field, e.g. ``ConfigMap ml/rollout-console-gates, line 7:
sets.ml-serving.gates[1].threshold must be a number, not 'fast'.`` (list indexes count
from 0).

Which set a rollout uses: the set its ``rollout-console.io/gates`` annotation names
(its namespace's ConfigMap first, then the config file; ``default`` alone means the
built-in), else its namespace's default (the ConfigMap's ``default``, then the config
file's ``namespaces``), else the config file's ``default``, else :data:`BUILTIN`.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from console.guard.verdicts import Aggregate, Comparison, Gate, GateKind, GateSet
from console.model import ANNOTATION_PREFIX, ConsoleError, Metric, Rollout
from console.untrusted import one_line

#: The gate set a rollout uses (a set's name).
GATES_ANNOTATION = ANNOTATION_PREFIX + "gates"
#: "progress": a mesh-weighted canary opts into guard-driven progression.
GUARD_ANNOTATION = ANNOTATION_PREFIX + "guard"
GUARD_PROGRESS = "progress"
#: RFC 3339 time the guard paused the rollout.
PAUSED_AT_ANNOTATION = ANNOTATION_PREFIX + "guard-paused-at"
#: Compact JSON {gate name: canary value} at the pause (the 10 %-worse rule).
EVIDENCE_ANNOTATION = ANNOTATION_PREFIX + "guard-evidence"
#: Who and when a human resumed after a guard pause.
ACK_BY_ANNOTATION = ANNOTATION_PREFIX + "guard-ack-by"
ACK_AT_ANNOTATION = ANNOTATION_PREFIX + "guard-ack-at"
# Short names, as the agreed API lists them.
PAUSED_AT = PAUSED_AT_ANNOTATION
EVIDENCE = EVIDENCE_ANNOTATION
ACK_BY = ACK_BY_ANNOTATION
ACK_AT = ACK_AT_ANNOTATION

CONFIGMAP_NAME = "rollout-console-gates"
CONFIGMAP_KEY = "gates.yaml"

BUILTIN_NAME = "default"

#: The seed notes' thresholds: canary P99 < 50 ms, canary errors < 0.1 %, GPU memory
#: per GPU at most 15 % over stable.
BUILTIN = GateSet(
    name=BUILTIN_NAME,
    gates=(
        Gate(
            name="p99-latency",
            kind=GateKind.ABSOLUTE,
            metric=Metric.LATENCY_P99,
            comparison=Comparison.LT,
            threshold=50.0,
        ),
        Gate(
            name="error-rate",
            kind=GateKind.ABSOLUTE,
            metric=Metric.ERROR_PCT,
            comparison=Comparison.LT,
            threshold=0.1,
            # Below a few hundred requests one error is already far above 0.1 %.
            min_requests=100,
        ),
        Gate(
            name="gpu-memory",
            kind=GateKind.RELATIVE,
            metric=Metric.GPU_MEMORY,
            comparison=Comparison.LE,
            threshold=1.15,
            relative="ratio",
        ),
    ),
    source="built-in",
    hold_s=30.0,
)

_EMPTY_SETS: Mapping[str, GateSet] = types.MappingProxyType({})
_EMPTY_NAMES: Mapping[str, str] = types.MappingProxyType({})
#: Gate documents are small; anything bigger is a mistake or an attack.
MAX_DOCUMENT_CHARS = 256 * 1024


class GateConfigError(ConsoleError):
    """A malformed gate set: one sentence naming the source, the line and the field."""

    def __init__(self, source: str, line: int | None, field: str, problem: str) -> None:
        self.source = source
        self.line = line  # 1-based; None when the mistake has no line (a missing document)
        self.field = field  # YAML path, e.g. "sets.ml.gates[1].threshold"; "" for the document
        self.problem = problem
        where = source if line is None else f"{source}, line {line}"
        what = f"{field} {problem}" if field else problem
        text = f"{where}: {what}"
        super().__init__(text if text.endswith(".") else text + ".")


@dataclass(frozen=True)
class GateConfig:
    """One parsed gate document."""

    sets: Mapping[str, GateSet] = field(default_factory=dict)
    default: str | None = None
    #: namespace -> set name (config file).
    namespaces: Mapping[str, str] = field(default_factory=dict)


def parse_gate_sets(
    text: str, source: str, *, under: str | None = None
) -> tuple[dict[str, GateSet], str | None]:
    """A YAML gate document -> (sets by name, the default set's name or None).

    `source` names where the text came from for errors ("the config file F",
    "ConfigMap ns/rollout-console-gates"). `under`: the document is the value of
    this top-level key of a bigger file (e.g. "gates" in the config file), so line
    numbers stay the file's. Raises GateConfigError.
    """
    config = parse_gate_config(text, source, under=under)
    return dict(config.sets), config.default


def parse_gate_config(text: str, source: str, *, under: str | None = None) -> GateConfig:
    """Like parse_gate_sets, with the `namespaces` map as well."""
    root = _compose(text, source)
    if root is not None and under is not None:
        root = _top_level(root, under, source)
    if root is None:
        return GateConfig()
    return _Parser(source).document(root, under or "")


# --- reading YAML with positions ------------------------------------------------------


def _compose(text: str, source: str) -> yaml.Node | None:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise GateConfigError(
            source,
            None,
            "",
            f"is {len(text)} characters long; gate documents are at most {MAX_DOCUMENT_CHARS}",
        )
    try:
        # Aliases would let a small document expand into a huge one; gate sets don't need them.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else None
                raise GateConfigError(source, line, "", "uses a YAML alias (*name); write it out")
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "a syntax error"
        line = mark.line + 1 if mark is not None else None
        raise GateConfigError(source, line, "", f"is not valid YAML ({problem})") from None


def _top_level(root: yaml.Node, key: str, source: str) -> yaml.Node | None:
    if not isinstance(root, yaml.MappingNode):
        raise GateConfigError(source, _line(root), "", "must hold a mapping at the top")
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v if not _is_null(v) else None
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _shown(value: Any) -> str:
    """Untrusted text in a message: quoted, escaped, short."""
    if isinstance(value, _Unreadable):
        return repr(value)
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= 40 else text[:36] + "...'"


def _scalar(node: yaml.Node) -> Any:
    """The node's plain value; _UNREADABLE when its tag is not plain data (!!python/...)."""
    try:
        # A constructor keeps state while it works: one per call, so threads can parse.
        return yaml.constructor.SafeConstructor().construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError):
        return _UNREADABLE


class _Unreadable:
    def __repr__(self) -> str:
        return "a value with an unsupported YAML tag"


_UNREADABLE = _Unreadable()


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DEBOUNCE = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_OPS = {c.value: c for c in Comparison} | {"≤": Comparison.LE, "≥": Comparison.GE}

_SET_KEYS = ("hold", "gates", "description")
_GATE_KEYS = (
    "name",
    "kind",
    "metric",
    "op",
    "threshold",
    "ratio",
    "difference",
    "aggregate",
    "allowed_increase",
    "confidence",
    "query",
    "critical",
    "min_points",
    "min_requests",
    "warmup",
    "window",
    "debounce",
    "description",
)


_HINTS = {
    (GateKind.RELATIVE, "threshold"): " (give ratio or difference)",
    (GateKind.COMPARED, "threshold"): " (give allowed_increase)",
    (GateKind.COMPARED, "op"): " (they test for an increase over stable)",
    (GateKind.CUSTOM, "metric"): " (give a PromQL query with {selector})",
}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node, path: str, problem: str) -> GateConfigError:
        return GateConfigError(self.source, _line(node), path, problem)

    # -- structure

    def mapping(
        self, node: yaml.Node, path: str, allowed: tuple[str, ...] | None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """key -> (key node, value node), checking keys are known strings and unique."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, path or "the document", "must be a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            key = _scalar(knode) if isinstance(knode, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise self.error(knode, path or "the document", "has a key that is not a name")
            where = f"{path}.{key}" if path else key
            if allowed is not None and key not in allowed:
                raise self.error(
                    knode, where, f"is not a known field (known: {', '.join(allowed)})"
                )
            if key in out:
                raise self.error(knode, where, "appears twice")
            out[key] = (knode, vnode)
        return out

    def document(self, root: yaml.Node, prefix: str) -> GateConfig:
        top = self.mapping(root, prefix, ("default", "sets", "namespaces"))
        at = (prefix + ".") if prefix else ""
        sets: dict[str, GateSet] = {}
        if "sets" in top:
            snode = top["sets"][1]
            if not _is_null(snode):
                for raw_name, (knode, vnode) in self.mapping(snode, at + "sets", None).items():
                    name = one_line(raw_name, 120)
                    sets[name] = self.gate_set(name, vnode, f"{at}sets.{name}", knode)
        default = None
        if "default" in top:
            default = self.set_name(top["default"][1], at + "default", sets)
        namespaces: dict[str, str] = {}
        if "namespaces" in top:
            nnode = top["namespaces"][1]
            if not _is_null(nnode):
                for ns, (_, vnode) in self.mapping(nnode, at + "namespaces", None).items():
                    namespaces[ns] = self.set_name(vnode, f"{at}namespaces.{ns}", sets)
        return GateConfig(sets=sets, default=default, namespaces=namespaces)

    def set_name(self, node: yaml.Node, path: str, sets: Mapping[str, GateSet]) -> str:
        value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value:
            raise self.error(node, path, "must name a gate set")
        if value not in sets and value != BUILTIN_NAME:
            known = ", ".join(sorted(sets)) or "none"
            raise self.error(node, path, f"names no set under sets (known: {known})")
        return value

    def gate_set(self, name: str, node: yaml.Node, path: str, knode: yaml.Node) -> GateSet:
        if not name.strip():
            raise self.error(knode, path, "needs a name")
        fields = self.mapping(node, path, _SET_KEYS)
        hold_s = 30.0
        if "hold" in fields:
            hold_s = self.duration(fields["hold"][1], path + ".hold", allow_zero=True)
        if "description" in fields:
            self.text(fields["description"][1], path + ".description")
        if "gates" not in fields:
            raise self.error(node, path, "needs a list of gates")
        gnode = fields["gates"][1]
        if not isinstance(gnode, yaml.SequenceNode) or not gnode.value:
            raise self.error(gnode, path + ".gates", "must be a non-empty list of gates")
        gates: list[Gate] = []
        seen: set[str] = set()
        for i, item in enumerate(gnode.value):
            gate = self.gate(item, f"{path}.gates[{i}]")
            if gate.name in seen:
                raise self.error(item, f"{path}.gates[{i}].name", f"repeats {_shown(gate.name)}")
            seen.add(gate.name)
            gates.append(gate)
        return GateSet(name=name, gates=tuple(gates), source=self.source, hold_s=hold_s)

    def gate(self, node: yaml.Node, path: str) -> Gate:
        f = self.mapping(node, path, _GATE_KEYS)

        def need(key: str) -> yaml.Node:
            if key not in f:
                raise self.error(node, path, f"needs {key}")
            return f[key][1]

        def value(key: str) -> yaml.Node | None:
            return f[key][1] if key in f else None

        def forbid(*keys: str) -> None:
            for key in keys:
                if key in f:
                    hint = _HINTS.get((kind, key), "")
                    raise self.error(
                        f[key][0], f"{path}.{key}", f"does not apply to {kind.value} gates{hint}"
                    )

        name = self.text(need("name"), path + ".name")
        kind = self.choice(need("kind"), path + ".kind", {k.value: k for k in GateKind})
        kwargs: dict[str, Any] = {"name": name, "kind": kind}
        if "description" in f:
            self.text(f["description"][1], path + ".description")

        if kind is GateKind.CUSTOM:
            forbid("metric", "ratio", "difference", "allowed_increase", "confidence")
            query = self.text(need("query"), path + ".query")
            if "{selector}" not in query:
                raise self.error(
                    need("query"), path + ".query", "must contain {selector}, the version's labels"
                )
            kwargs["query"] = query
        else:
            forbid("query")
            kwargs["metric"] = self.choice(
                need("metric"), path + ".metric", {m.value: m for m in Metric}
            )

        if kind in (GateKind.ABSOLUTE, GateKind.CUSTOM):
            forbid("ratio", "difference", "allowed_increase", "confidence")
            kwargs["comparison"] = self.choice(need("op"), path + ".op", _OPS)
            kwargs["threshold"] = self.number(need("threshold"), path + ".threshold")
        elif kind is GateKind.RELATIVE:
            forbid("threshold", "allowed_increase", "confidence")
            op = value("op")
            if op is not None:
                kwargs["comparison"] = self.choice(op, path + ".op", _OPS)
            else:
                kwargs["comparison"] = Comparison.LE
            ratio, difference = value("ratio"), value("difference")
            if (ratio is None) == (difference is None):
                raise self.error(node, path, "needs exactly one of ratio or difference")
            if ratio is not None:
                kwargs["relative"] = "ratio"
                kwargs["threshold"] = self.number(ratio, path + ".ratio", positive=True)
            else:
                assert difference is not None
                kwargs["relative"] = "difference"
                kwargs["threshold"] = self.number(difference, path + ".difference")
        else:  # compared
            forbid("op", "threshold", "ratio", "difference", "aggregate")
            increase = value("allowed_increase")
            if increase is not None:
                kwargs["allowed_increase"] = self.number(
                    increase, path + ".allowed_increase", positive=True
                )
            confidence = value("confidence")
            if confidence is not None:
                c = self.number(confidence, path + ".confidence")
                if not 0.5 <= c < 1.0:
                    raise self.error(
                        confidence, path + ".confidence", "must be between 0.5 and 1, e.g. 0.98"
                    )
                kwargs["confidence"] = c

        if "aggregate" in f:
            kwargs["aggregate"] = self.choice(
                f["aggregate"][1], path + ".aggregate", {a.value: a for a in Aggregate}
            )
        if "critical" in f:
            kwargs["critical"] = self.boolean(f["critical"][1], path + ".critical")
        if "min_points" in f:
            kwargs["min_points"] = self.integer(f["min_points"][1], path + ".min_points", 1)
        if "min_requests" in f:
            kwargs["min_requests"] = self.integer(f["min_requests"][1], path + ".min_requests", 0)
        if "warmup" in f:
            kwargs["warmup_s"] = self.duration(f["warmup"][1], path + ".warmup", allow_zero=True)
        if "window" in f:
            kwargs["window_s"] = self.duration(f["window"][1], path + ".window")
        if "debounce" in f:
            kwargs["debounce_k"], kwargs["debounce_n"] = self.debounce(
                f["debounce"][1], path + ".debounce"
            )
        return Gate(**kwargs)

    # -- scalars

    def raw(self, node: yaml.Node, path: str, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            raise self.error(node, path, f"must be {what}, not {kind}")
        return _scalar(node)

    def text(self, node: yaml.Node, path: str) -> str:
        value = self.raw(node, path, "text")
        if not isinstance(value, str) or not value.strip():
            raise self.error(node, path, f"must be non-empty text, not {_shown(value)}")
        # Names and queries from a ConfigMap reach the screen and the logs.
        return one_line(value, 4000)

    def choice(self, node: yaml.Node, path: str, options: Mapping[str, Any]) -> Any:
        value = self.raw(node, path, "one of " + ", ".join(options))
        if not isinstance(value, str) or value not in options:
            known = ", ".join(k for k in options if k.isascii())
            hint = ""
            if options is _OPS and value in ("", None):
                # `op: >` is YAML's folded-text marker, not a greater-than sign.
                hint = ' (quote it: op: ">")'
            raise self.error(node, path, f"must be one of {known}, not {_shown(value)}{hint}")
        return options[value]

    def number(self, node: yaml.Node, path: str, *, positive: bool = False) -> float:
        value = self.raw(node, path, "a number")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(node, path, f"must be a number, not {_shown(value)}")
        if not math.isfinite(value):
            raise self.error(node, path, "must be a finite number")
        if positive and value <= 0:
            raise self.error(node, path, f"must be greater than 0, not {value:g}")
        return float(value)

    def integer(self, node: yaml.Node, path: str, minimum: int) -> int:
        value = self.raw(node, path, "a whole number")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, path, f"must be a whole number, not {_shown(value)}")
        if value < minimum:
            raise self.error(node, path, f"must be at least {minimum}, not {value}")
        return value

    def boolean(self, node: yaml.Node, path: str) -> bool:
        value = self.raw(node, path, "true or false")
        if not isinstance(value, bool):
            raise self.error(node, path, f"must be true or false, not {_shown(value)}")
        return value

    def duration(self, node: yaml.Node, path: str, *, allow_zero: bool = False) -> float:
        value = self.raw(node, path, "a duration like 30s or 5m")
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            text = value.strip()
            pos, total = 0, 0.0
            for m in _DURATION.finditer(text):
                if m.start() != pos:
                    break
                total += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if text and pos == len(text):
                seconds = total
        if seconds is None or not math.isfinite(seconds):
            raise self.error(node, path, f"must be a duration like 30s or 5m, not {_shown(value)}")
        if seconds < 0 or (seconds == 0 and not allow_zero):
            raise self.error(node, path, "must be longer than zero")
        return seconds

    def debounce(self, node: yaml.Node, path: str) -> tuple[int, int]:
        value = self.raw(node, path, "K/N")
        m = _DEBOUNCE.fullmatch(value) if isinstance(value, str) else None
        if m is None:
            raise self.error(node, path, f"must be K/N like 3/5, not {_shown(value)}")
        k, n = int(m.group(1)), int(m.group(2))
        if not 1 <= k <= n or n > 50:
            raise self.error(node, path, f"must have 1 <= K <= N <= 50, not {k}/{n}")
        return k, n


# --- which set a rollout uses ------------------------------------------------------------


class GateResolver(Protocol):
    def for_rollout(self, rollout: Rollout) -> GateSet:
        """The gate set this rollout uses. Raises GateConfigError."""
        ...


NamespaceSets = Callable[[str], tuple[dict[str, GateSet], str | None]]


class StaticResolver:
    """Annotation -> namespace default -> config default -> BUILTIN.

    `sets`/`default` come from the config file; `namespace_sets(ns)` gives the sets
    and default of a namespace's ConfigMap (it may raise GateConfigError for a
    malformed one). `namespaces` maps a namespace to a set of `sets` (the config
    file's `namespaces:`).
    """

    def __init__(
        self,
        sets: Mapping[str, GateSet] = _EMPTY_SETS,
        default: str | None = None,
        namespace_sets: NamespaceSets | None = None,
        *,
        namespaces: Mapping[str, str] = _EMPTY_NAMES,
        source: str = "the config file",
    ) -> None:
        self.sets = dict(sets)
        self.default = default
        self.namespace_sets = namespace_sets
        self.namespaces = dict(namespaces)
        self.source = source
        if default is not None and default not in self.sets and default != BUILTIN_NAME:
            raise GateConfigError(source, None, "default", f"names no gate set {_shown(default)}")

    @classmethod
    def from_config(
        cls, config: GateConfig, namespace_sets: NamespaceSets | None = None, *, source: str = ""
    ) -> StaticResolver:
        return cls(
            config.sets,
            config.default,
            namespace_sets,
            namespaces=config.namespaces,
            source=source or "the config file",
        )

    def for_rollout(self, rollout: Rollout) -> GateSet:
        ns = rollout.ref.namespace
        local: Mapping[str, GateSet] = {}
        local_default: str | None = None
        if self.namespace_sets is not None:
            local, local_default = self.namespace_sets(ns)
        wanted = rollout.annotation(GATES_ANNOTATION)
        if wanted is not None:
            wanted = wanted.strip()
            found = self._lookup(wanted, local)
            if found is None:
                known = sorted(set(local) | set(self.sets) | {BUILTIN_NAME})
                raise GateConfigError(
                    f"Rollout {rollout.ref.short}",
                    None,
                    f"annotation {GATES_ANNOTATION}",
                    f"names the gate set {_shown(wanted)}, which is not defined "
                    f"(known: {', '.join(known)})",
                )
            return found
        for name in (local_default, self.namespaces.get(ns), self.default):
            if name:
                found = self._lookup(name, local)
                if found is not None:
                    return found
        return BUILTIN

    def _lookup(self, name: str, local: Mapping[str, GateSet]) -> GateSet | None:
        if name in local:
            return local[name]
        if name in self.sets:
            return self.sets[name]
        if name == BUILTIN_NAME:
            return BUILTIN
        return None
