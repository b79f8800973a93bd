"""Gate sets as YAML: the documented format, one-sentence errors with line and field,
the built-in default, and which set a rollout uses."""

import textwrap

import pytest

from console.guard import gates
from console.guard.gates import (
    BUILTIN,
    GATES_ANNOTATION,
    GateConfigError,
    StaticResolver,
    parse_gate_config,
    parse_gate_sets,
)
from console.guard.verdicts import Aggregate, Comparison, GateKind, GateSet
from console.model import (
    Metric,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    VersionInfo,
)

CM = "ConfigMap ml/rollout-console-gates"


def _doc_example() -> str:
    """The YAML block of gates.py's docstring: the README copies it, so it must parse."""
    doc = gates.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\nEvery gate", 1)[0]
    return textwrap.dedent(block)


def test_the_documented_example_parses() -> None:
    config = parse_gate_config(_doc_example(), "the docstring")
    assert config.default == "ml-serving"
    assert config.namespaces == {"vision": "vision-strict"}
    assert sorted(config.sets) == ["ml-serving", "vision-strict"]
    gate_set = config.sets["ml-serving"]
    assert gate_set.hold_s == 30.0
    assert gate_set.source == "the docstring"
    by_name = {g.name: g for g in gate_set.gates}
    assert list(by_name) == [
        "p99-latency",
        "error-rate",
        "gpu-memory",
        "latency-vs-stable",
        "accuracy",
    ]
    p99 = by_name["p99-latency"]
    assert (p99.kind, p99.metric, p99.comparison, p99.threshold) == (
        GateKind.ABSOLUTE,
        Metric.LATENCY_P99,
        Comparison.LT,
        50.0,
    )
    assert by_name["error-rate"].min_requests == 100
    gpu = by_name["gpu-memory"]
    assert (gpu.kind, gpu.relative, gpu.threshold, gpu.comparison) == (
        GateKind.RELATIVE,
        "ratio",
        1.15,
        Comparison.LE,
    )
    compared = by_name["latency-vs-stable"]
    assert (compared.allowed_increase, compared.confidence) == (1.10, 0.98)
    accuracy = by_name["accuracy"]
    assert accuracy.query == "avg(model_map{ {selector} })"
    assert (accuracy.comparison, accuracy.threshold) == (Comparison.GE, 36.0)
    (strict,) = config.sets["vision-strict"].gates
    assert strict.critical and (strict.debounce_k, strict.debounce_n) == (2, 3)
    # parse_gate_sets gives the same sets and default, without the namespaces map.
    sets, default = parse_gate_sets(_doc_example(), "the docstring")
    assert (sets, default) == (dict(config.sets), "ml-serving")


def test_every_option_of_a_gate() -> None:
    text = """
sets:
  strict:
    hold: 1m30s
    gates:
      - name: p50
        kind: absolute
        metric: latency_p50_ms
        op: "<="
        threshold: 20
        aggregate: max
        critical: true
        window: 10m
        warmup: 0
        min_points: 8
        min_requests: 500
        debounce: 2/4
        description: fast enough
      - name: gpu-diff
        kind: relative
        metric: gpu_memory_max_gib
        op: "<"
        difference: 0.5
      - name: errors-vs-stable
        kind: compared
        metric: error_pct
        allowed_increase: 1.5
        confidence: 0.95
"""
    sets, default = parse_gate_sets(text, CM)
    assert default is None
    strict = sets["strict"]
    assert strict.hold_s == 90.0
    p50, diff, errors = strict.gates
    assert p50.aggregate is Aggregate.MAX and p50.critical
    assert (p50.window_s, p50.warmup_s, p50.min_points, p50.min_requests) == (600, 0, 8, 500)
    assert (p50.debounce_k, p50.debounce_n) == (2, 4)
    assert (diff.relative, diff.threshold, diff.comparison) == ("difference", 0.5, Comparison.LT)
    assert (errors.metric, errors.allowed_increase, errors.confidence) == (
        Metric.ERROR_PCT,
        1.5,
        0.95,
    )
    # Defaults where the document says nothing.
    assert (diff.window_s, diff.warmup_s, diff.min_points, diff.debounce_k, diff.debounce_n) == (
        300.0,
        60.0,
        3,
        3,
        5,
    )


def test_empty_documents_have_no_sets() -> None:
    assert parse_gate_sets("", CM) == ({}, None)
    assert parse_gate_sets("# nothing yet\n", CM) == ({}, None)
    assert parse_gate_sets("sets:\n", CM) == ({}, None)


def test_a_section_of_a_bigger_file_keeps_the_files_line_numbers() -> None:
    text = """prometheus:
  url: http://prom:9090
gates:
  default: ml
  sets:
    ml:
      gates:
        - name: p99
          kind: absolute
          metric: latency_p99_ms
          op: "<"
          threshold: fast
"""
    with pytest.raises(GateConfigError) as info:
        parse_gate_sets(text, "the config file /etc/rc.yaml", under="gates")
    assert str(info.value) == (
        "the config file /etc/rc.yaml, line 12: "
        "gates.sets.ml.gates[0].threshold must be a number, not 'fast'."
    )
    sets, default = parse_gate_sets(text.replace("fast", "50"), "f", under="gates")
    assert default == "ml" and sets["ml"].gates[0].threshold == 50.0
    assert parse_gate_sets("prometheus: {}\n", "f", under="gates") == ({}, None)


BASE = """\
default: ml
sets:
  ml:
    gates:
      - name: p99
        kind: absolute
        metric: latency_p99_ms
        op: "<"
        threshold: 50
"""


def _error(text: str) -> GateConfigError:
    with pytest.raises(GateConfigError) as info:
        parse_gate_sets(text, CM)
    return info.value


def test_the_issue_example_sentence() -> None:
    text = (
        BASE
        + """\
      - name: p50
        kind: absolute
        metric: latency_p50_ms
        op: "<"
        threshold: fast
"""
    )
    error = _error(text)
    assert str(error) == (
        "ConfigMap ml/rollout-console-gates, line 14: "
        "sets.ml.gates[1].threshold must be a number, not 'fast'."
    )
    assert (error.source, error.line, error.field) == (CM, 14, "sets.ml.gates[1].threshold")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "problem"),
    [
        (
            "threshold: 50",
            "threshold: 50\n        treshold: 40",
            10,
            "sets.ml.gates[0].treshold",
            "is not a known field",
        ),
        ("kind: absolute", "kind: absolut", 6, "sets.ml.gates[0].kind", "must be one of absolute"),
        ("        kind: absolute\n", "", 5, "sets.ml.gates[0]", "needs kind"),
        ('op: "<"', 'op: "=="', 8, "sets.ml.gates[0].op", "must be one of <, <=, >, >="),
        ("latency_p99_ms", "p99", 7, "sets.ml.gates[0].metric", "must be one of latency_p50_ms"),
        ("threshold: 50", "threshold: [50]", 9, "sets.ml.gates[0].threshold", "not a list"),
        ("threshold: 50", "threshold: .inf", 9, "sets.ml.gates[0].threshold", "finite"),
        (
            "threshold: 50",
            "threshold: 50\n        window: soon",
            10,
            "sets.ml.gates[0].window",
            "must be a duration like 30s or 5m, not 'soon'",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        window: 0s",
            10,
            "sets.ml.gates[0].window",
            "must be longer than zero",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        debounce: 6/5",
            10,
            "sets.ml.gates[0].debounce",
            "must have 1 <= K <= N <= 50, not 6/5",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        debounce: 3",
            10,
            "sets.ml.gates[0].debounce",
            "must be K/N like 3/5",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        critical: yes please",
            10,
            "sets.ml.gates[0].critical",
            "must be true or false",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        min_points: 0",
            10,
            "sets.ml.gates[0].min_points",
            "must be at least 1, not 0",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        min_requests: 1.5",
            10,
            "sets.ml.gates[0].min_requests",
            "must be a whole number",
        ),
        (
            "threshold: 50",
            "threshold: 50\n        ratio: 1.1",
            10,
            "sets.ml.gates[0].ratio",
            "does not apply to absolute gates",
        ),
        ("default: ml", "default: other", 1, "default", "names no set under sets (known: ml)"),
        ("default: ml", "default: ml\nextra: 1", 2, "extra", "is not a known field"),
        ("  ml:\n", "  ml:\n    hold: forever\n", 4, "sets.ml.hold", "must be a duration"),
        ("    gates:", "    gate:", 4, "sets.ml.gate", "is not a known field (known: hold"),
        ("name: p99", "name: ''", 5, "sets.ml.gates[0].name", "must be non-empty text"),
    ],
)
def test_errors_name_the_line_and_the_field(
    old: str, new: str, line: int, field: str, problem: str
) -> None:
    assert old in BASE
    error = _error(BASE.replace(old, new, 1))
    assert (error.line, error.field) == (line, field), str(error)
    assert problem in str(error)
    text = str(error)
    assert text.startswith(f"{CM}, line {line}: {field} ")
    assert text.endswith(".") and text.count("\n") == 0


def test_kind_specific_errors() -> None:
    relative = BASE.replace("kind: absolute", "kind: relative").replace(
        'op: "<"\n        threshold: 50', "ratio: 1.1\n        difference: 2"
    )
    error = _error(relative)
    assert (error.line, error.field) == (5, "sets.ml.gates[0]")
    assert "needs exactly one of ratio or difference" in str(error)
    error = _error(BASE.replace("kind: absolute", "kind: relative"))
    assert error.field == "sets.ml.gates[0].threshold"  # a relative gate has ratio, not threshold
    compared = BASE.replace("kind: absolute", "kind: compared").replace(
        'op: "<"\n        threshold: 50', "confidence: 98"
    )
    error = _error(compared)
    assert error.field == "sets.ml.gates[0].confidence"
    assert "between 0.5 and 1" in str(error)
    custom = BASE.replace("kind: absolute", "kind: custom").replace(
        "metric: latency_p99_ms", "query: avg(model_map)"
    )
    error = _error(custom)
    assert error.field == "sets.ml.gates[0].query" and "{selector}" in str(error)
    error = _error(BASE.replace("kind: absolute", "kind: custom"))
    assert error.field == "sets.ml.gates[0].metric"


def test_structure_errors() -> None:
    error = _error("- just\n- a list\n")
    assert str(error) == f"{CM}, line 1: the document must be a mapping."
    error = _error("sets:\n  ml:\n    gates: []\n")
    assert (error.line, error.field) == (3, "sets.ml.gates")
    error = _error("sets:\n  ml:\n    hold: 30s\n")
    assert (error.line, error.field) == (3, "sets.ml") and "needs a list of gates" in str(error)
    duplicate = BASE + BASE.split("gates:\n", 1)[1]
    error = _error(duplicate)
    assert (error.line, error.field) == (10, "sets.ml.gates[1].name")
    assert "repeats 'p99'" in str(error)
    error = _error(BASE + "sets: {}\n")
    assert (error.line, error.field) == (10, "sets") and "appears twice" in str(error)


def test_invalid_yaml_and_aliases() -> None:
    error = _error("sets:\n  ml:\n    gates: [\n      - x: y\n")
    assert error.line is not None and error.field == ""
    assert str(error).startswith(f"{CM}, line ") and "is not valid YAML" in str(error)
    bomb = "a: &a [1, 2]\nb: &b [*a, *a]\nsets: {}\n"
    error = _error(bomb)
    assert error.line == 2 and "alias" in str(error)
    error = _error("x" * (gates.MAX_DOCUMENT_CHARS + 1))
    assert error.line is None and str(error).startswith(f"{CM}: is ")


def test_yaml_tags_that_are_not_plain_data_are_errors() -> None:
    error = _error(BASE.replace("threshold: 50", "threshold: !!python/object:os.system x"))
    assert str(error) == (
        f"{CM}, line 9: sets.ml.gates[0].threshold must be a number, "
        "not a value with an unsupported YAML tag."
    )
    error = _error(BASE.replace("name: p99", "name: !custom p99"))
    assert error.field == "sets.ml.gates[0].name"


def test_an_unquoted_greater_than_sign_gets_a_hint() -> None:
    error = _error(BASE.replace('op: "<"', "op: >"))
    assert error.field == "sets.ml.gates[0].op"
    assert str(error).endswith(""", not '' (quote it: op: ">").""")


def test_parsing_from_several_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: parse_gate_sets(BASE, CM), range(40)))
    assert all(r == results[0] for r in results)


def test_fields_of_another_kind_say_what_to_use() -> None:
    relative = BASE.replace("kind: absolute", "kind: relative")
    assert str(_error(relative)).endswith(
        "threshold does not apply to relative gates (give ratio or difference)."
    )


def test_untrusted_values_are_quoted_and_short_in_messages() -> None:
    error = _error(BASE.replace("threshold: 50", 'threshold: "\\e[31m' + "x" * 80 + '"'))
    text = str(error)
    assert "\x1b" not in text and len(text) < 200


def test_builtin_default_has_the_seed_thresholds() -> None:
    assert BUILTIN.name == "default"
    by_metric = {g.metric: g for g in BUILTIN.gates}
    p99 = by_metric[Metric.LATENCY_P99]
    assert (p99.kind, p99.comparison, p99.threshold) == (GateKind.ABSOLUTE, Comparison.LT, 50.0)
    errors = by_metric[Metric.ERROR_PCT]
    assert (errors.kind, errors.comparison, errors.threshold) == (
        GateKind.ABSOLUTE,
        Comparison.LT,
        0.1,
    )
    gpu = by_metric[Metric.GPU_MEMORY]
    assert (gpu.kind, gpu.relative, gpu.comparison, gpu.threshold) == (
        GateKind.RELATIVE,
        "ratio",
        Comparison.LE,
        1.15,
    )
    assert BUILTIN.hold_s == 30.0


def test_annotation_constants() -> None:
    assert GATES_ANNOTATION == "rollout-console.io/gates"
    assert gates.GUARD_ANNOTATION == "rollout-console.io/guard"
    assert gates.PAUSED_AT == "rollout-console.io/guard-paused-at"
    assert gates.EVIDENCE == "rollout-console.io/guard-evidence"
    assert gates.ACK_BY == "rollout-console.io/guard-ack-by"
    assert gates.ACK_AT == "rollout-console.io/guard-ack-at"
    assert (gates.CONFIGMAP_NAME, gates.CONFIGMAP_KEY) == ("rollout-console-gates", "gates.yaml")


# --- resolver -------------------------------------------------------------------------


def _rollout(namespace: str = "ml", gate_set: str | None = None) -> Rollout:
    annotations = ((GATES_ANNOTATION, gate_set),) if gate_set is not None else ()
    return Rollout(
        ref=RolloutRef("c", namespace, "yolo"),
        provider=ProviderKind.DEMO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE),
        canary=VersionInfo(Role.CANARY),
        annotations=annotations,
    )


def _set(name: str, source: str = "the config file") -> GateSet:
    return GateSet(name=name, gates=BUILTIN.gates[:1], source=source)


def test_resolver_order_annotation_namespace_config_builtin() -> None:
    config_sets = {"relaxed": _set("relaxed"), "strict": _set("strict"), "vision": _set("vision")}
    cm_sets = {"strict": _set("strict", CM), "team": _set("team", CM)}

    def namespace_sets(ns: str) -> tuple[dict[str, GateSet], str | None]:
        return (dict(cm_sets), "team") if ns == "ml" else ({}, None)

    resolver = StaticResolver(
        config_sets, "relaxed", namespace_sets, namespaces={"vision": "vision"}
    )
    # The annotation wins; the namespace's ConfigMap shadows the config file's set.
    assert resolver.for_rollout(_rollout("ml", "strict")).source == CM
    assert resolver.for_rollout(_rollout("other", "strict")).source == "the config file"
    assert resolver.for_rollout(_rollout("other", "default")) is BUILTIN
    # No annotation: the ConfigMap's default, then the config's namespaces, then its default.
    assert resolver.for_rollout(_rollout("ml")).name == "team"
    assert resolver.for_rollout(_rollout("vision")).name == "vision"
    assert resolver.for_rollout(_rollout("other")).name == "relaxed"
    assert StaticResolver().for_rollout(_rollout()) is BUILTIN
    assert StaticResolver(config_sets).for_rollout(_rollout()) is BUILTIN


def test_resolver_unknown_annotation_is_a_config_error() -> None:
    resolver = StaticResolver({"relaxed": _set("relaxed")})
    with pytest.raises(GateConfigError) as info:
        resolver.for_rollout(_rollout("ml", "strcit"))
    assert str(info.value) == (
        "Rollout ml/yolo: annotation rollout-console.io/gates names the gate set 'strcit', "
        "which is not defined (known: default, relaxed)."
    )


def test_resolver_passes_on_a_malformed_configmap() -> None:
    def broken(ns: str) -> tuple[dict[str, GateSet], str | None]:
        return parse_gate_sets("sets: 3\n", f"ConfigMap {ns}/rollout-console-gates")

    with pytest.raises(GateConfigError) as info:
        StaticResolver(namespace_sets=broken).for_rollout(_rollout("ml"))
    assert str(info.value) == f"{CM}, line 1: sets must be a mapping."


def test_resolver_rejects_a_default_that_names_no_set() -> None:
    with pytest.raises(GateConfigError):
        StaticResolver({}, "missing")
