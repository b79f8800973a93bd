"""The guard loop: every interval, a verdict per rollout, and a pause on breach.

One `Guard.evaluate(rollouts)` call is one evaluation:

* one metrics fetch for every rollout with a canary (window = the largest gate
  window), plus the custom gates' PromQL (two range queries per rollout that
  uses one: the canary's and stable's selector filled in);
* a Verdict per rollout (console.guard.evaluate), with the warm-up measured
  from the last weight or revision change this loop saw;
* when leader and not dry-run: on breach, a pause through the provider's own
  mechanism (Argo spec.paused, the mesh pause annotation, Flagger spec.suspend),
  checked by reading the rollout again, and recorded with the evidence in the
  Event, the audit line and the guard's annotations;
* after a human resumes what the guard paused: an acknowledgement (who, when),
  and no second pause on the same gates unless a canary value got >= 10 % worse
  than the evidence;
* mesh canaries that opted in (`rollout-console.io/guard: progress`): the next
  weight once every gate has passed for the gate set's hold time.

It never rolls back, never resumes, and never promotes a controller-driven rollout.
Blocking (metrics and API calls): run it in a worker thread.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from console.backend import MetricsSource, OwedWrites, RolloutsBackend
from console.guard.debounce import Debounce
from console.guard.evaluate import evaluate
from console.guard.gates import (
    ACK_AT,
    ACK_BY,
    EVIDENCE,
    GUARD_ANNOTATION,
    GUARD_PROGRESS,
    PAUSED_AT,
    GateConfigError,
    GateResolver,
)
from console.guard.verdicts import (
    Decision,
    DecisionKind,
    GateKind,
    GateResult,
    GateSet,
    GateState,
    Verdict,
)
from console.model import (
    ANNOTATION_PREFIX,
    Action,
    ConsoleError,
    Metric,
    ProviderKind,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    Seen,
    Series,
    VersionInfo,
)
from console.timestamps import parse_rfc3339, rfc3339
from console.untrusted import one_line

log = logging.getLogger(__name__)

DEFAULT_SCRAPE_INTERVAL_S = 15.0
#: A resumed rollout is paused again on the same gate only when its canary value is
#: at least this much worse than the evidence of the first pause.
WORSE_BY = 0.10
PROGRESS = GUARD_PROGRESS
#: Which canary the guard's pause/ack records are about: a new canary (a new
#: revision, or none left) makes them history, so they never shield a new release.
REVISION_ANNOTATION = ANNOTATION_PREFIX + "guard-revision"
RECORDS = (PAUSED_AT, EVIDENCE, ACK_BY, ACK_AT, REVISION_ANNOTATION)
MESH = frozenset({ProviderKind.ISTIO, ProviderKind.GATEWAY})
#: A pause that failed (API error, or it did not take effect) is tried again this often;
#: every evaluation would write an Event per interval.
RETRY_PAUSE_S = 60.0


@dataclass(frozen=True)
class GuardReport:
    """One evaluation: a verdict per rollout key, what the guard did, when, at what cost."""

    verdicts: Mapping[str, Verdict]
    decisions: tuple[Decision, ...]
    at: float
    queries: int  # PromQL queries sent for this evaluation (0 when answered from cache)


@dataclass
class _Track:
    """What the loop remembers of one rollout between evaluations."""

    epoch: tuple[object, ...]
    changed_at: float | None  # None: the change happened before this loop started
    revision: tuple[object, ...]
    passing_since: float | None = None  # every gate PASS since (mesh progression)
    dry_paused: bool = False  # a WOULD_PAUSE was said for this breach already
    dry_advanced: bool = False
    failed_at: float | None = None  # when the last pause failed: retried after RETRY_PAUSE_S


@dataclass
class _Step:
    """Working state of one rollout within one evaluation."""

    rollout: Rollout
    gate_set: GateSet | None = None
    error: str = ""
    custom: dict[str, tuple[Series, Series]] = field(default_factory=dict)


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0 or 0.01 <= abs(value) < 100_000:
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.4g}"
    return f"{value:.3g}"


def _unit(result: GateResult) -> str:
    metric = result.gate.metric
    return (
        f" {metric.unit}" if metric is not None and result.gate.kind is not GateKind.CUSTOM else ""
    )


def evidence_text(results: Sequence[GateResult]) -> str:
    """The failing gates as one sentence: values, threshold, n and the PromQL."""
    parts = []
    for r in results:
        unit = _unit(r)
        text = (
            f"{one_line(r.gate.name, 80)}: canary {_fmt(r.canary)}{unit} vs stable "
            f"{_fmt(r.stable)}{unit}, threshold {one_line(r.gate.bound_text, 80)}, n={r.n}"
        )
        if r.effect is not None:
            text += f", effect {_fmt(r.effect)}x"
        if r.p_value is not None:
            text += f", p={r.p_value:.3g}"
        if r.query:
            text += f", PromQL {one_line(r.query, 400)}"
        parts.append(text)
    return "; ".join(parts)


def evidence_json(results: Sequence[GateResult]) -> str:
    """The guard-evidence annotation: {gate name: canary value}, compact."""
    data = {
        r.gate.name: r.canary for r in results if r.canary is not None and math.isfinite(r.canary)
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def parse_evidence(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(key)] = float(value)
    return out


def got_worse(result: GateResult, before: float) -> bool:
    """The canary value is at least WORSE_BY further on the failing side than `before`."""
    value = result.canary
    if value is None or not math.isfinite(value):
        return False
    # Upper bounds (<, <=) fail high: worse means higher; lower bounds fail low.
    upper = result.gate.comparison.value.startswith("<")
    delta = value - before if upper else before - value
    margin = WORSE_BY * abs(before)
    if margin == 0:
        return delta > 0
    return delta >= margin


_RESUME_MESSAGE = re.compile(r"^(?P<who>.+?): resume\b")


def who_resumed(backend: RolloutsBackend, ref: RolloutRef, since: float | None) -> str:
    """Best effort: the user of the latest console resume after `since`, else "unknown".

    Uses the backend's `last_resume(ref) -> (unix time, user) | None` when it has one
    (the kube backend reads RolloutConsoleResume Events), or the demo's event list.
    """
    finder = getattr(backend, "last_resume", None)
    try:
        if finder is not None:
            found = finder(ref)
            if found is not None and (since is None or found[0] >= since - 1):
                return one_line(found[1], 120) or "unknown"
            return "unknown"
        events = getattr(backend, "events", None)
        if events is not None:
            for t, text in reversed(tuple(events(ref))):
                match = _RESUME_MESSAGE.match(str(text))
                if match and (since is None or t >= since - 1):
                    return one_line(match.group("who"), 120) or "unknown"
    except Exception as exc:  # a best-effort lookup never stops the loop
        log.debug("who resumed %s: %s", ref.short, exc)
    return "unknown"


def reread(backend: RolloutsBackend, ref: RolloutRef) -> Rollout | None:
    """The rollout as the API has it now (backend.rollout(ref) when present, else a list)."""
    one = getattr(backend, "rollout", None)
    if one is not None:
        found: Rollout | None = one(ref)
        return found
    for r in backend.list():
        if r.ref == ref:
            return r
    return None


def revision_text(r: Rollout) -> str:
    """The canary's identity for the guard-revision record: revision/pod hash/label."""
    c = r.canary
    if c is None:
        return ""
    return one_line("/".join(x for x in (c.revision, c.pod_hash, c.label) if x), 200)


def _epoch(r: Rollout) -> tuple[object, ...]:
    return (r.set_weight, *_revision(r))


def _revision(r: Rollout) -> tuple[object, ...]:
    c = r.canary
    if c is None:
        return ("",)
    return (c.revision, c.pod_hash, c.label, c.workload)


class Guard:
    def __init__(
        self,
        backend: RolloutsBackend,
        metrics: MetricsSource,
        resolver: GateResolver,
        *,
        dry_run: bool = False,
        clock: Callable[[], float] = time.time,
        is_leader: Callable[[], bool] = lambda: True,
        scrape_interval_s: float | None = None,
        window_s: float | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        self.resolver = resolver
        self.dry_run = dry_run
        self.clock = clock
        self.is_leader = is_leader
        self._scrape_interval_s = scrape_interval_s
        self.window_s = window_s
        self.debounce = Debounce()
        self._tracks: dict[str, _Track] = {}
        self._queries: dict[tuple[str, Metric, float], str] = {}
        #: The last report, for the TUI and the headless status.
        self.last: GuardReport | None = None
        # One evaluation at a time: the tracks and the debounce counters are this
        # object's, and a slow evaluation (a Prometheus timeout) must not overlap the
        # next one (a breach counted twice, two pauses).
        self._evaluating = threading.Lock()

    @property
    def scrape_interval_s(self) -> float:
        if self._scrape_interval_s is not None:
            return self._scrape_interval_s
        value = getattr(self.metrics, "scrape_interval_s", None)
        return float(value) if isinstance(value, int | float) and value > 0 else 15.0

    # --- one evaluation -------------------------------------------------------------

    def evaluate(self, rollouts: Sequence[Rollout]) -> GuardReport:
        with self._evaluating:
            return self._evaluate(rollouts)

    def _evaluate(self, rollouts: Sequence[Rollout]) -> GuardReport:
        now = self.clock()
        leader = self._leader()
        if leader and not self.dry_run and not self.backend.read_only:
            self._finish_owed_writes()
        steps = [_Step(r) for r in rollouts if r.canary is not None]
        if leader:
            for r in rollouts:
                if r.canary is None and r.annotation(PAUSED_AT) is not None:
                    self._forget_records(r)  # promoted or undone: the records are history
        prefetch = getattr(self.resolver, "prefetch", None)
        if prefetch is not None:
            try:
                prefetch([s.rollout for s in steps])
            except Exception:  # each rollout's own lookup says what is wrong
                log.exception("gate sets prefetch failed")
        for step in steps:
            try:
                step.gate_set = self.resolver.for_rollout(step.rollout)
            except GateConfigError as exc:
                step.error = one_line(str(exc))
            except Exception as exc:  # a resolver bug: that rollout's verdict is ERROR
                log.exception("gate set of %s", step.rollout.ref.short)
                step.error = one_line(f"gate set not loaded: {type(exc).__name__}: {exc}")
        sets = [s.gate_set for s in steps if s.gate_set is not None]
        window = self.window_s or max((g.window_s for gs in sets for g in gs.gates), default=300.0)
        step_s = self.scrape_interval_s
        measured = [s.rollout for s in steps if s.gate_set is not None]
        fetched: Mapping[str, RolloutMetrics] = {}
        queries = 0
        if measured:
            try:
                fetched = self.metrics.fetch(measured, window, step_s)
            except Exception as exc:  # sources never raise by contract; be sure anyway
                log.exception("metrics fetch failed")
                for s in steps:
                    s.error = s.error or one_line(f"metrics fetch failed: {exc}")
            stats = getattr(self.metrics, "last_stats", None)
            queries += int(getattr(stats, "queries", 0) or 0)
            queries += self._custom(steps, now, window, step_s)

        verdicts: dict[str, Verdict] = {}
        decisions: list[Decision] = []
        seen: set[str] = set()
        for s in steps:
            r = s.rollout
            key = r.ref.key
            seen.add(key)
            track = self._track(r, now)
            verdict = self._verdict(s, fetched.get(key), now, track, step_s)
            verdicts[key] = verdict
            try:
                decisions.extend(self._decide(r, s.gate_set, verdict, track, now, leader))
            except Exception as exc:  # one rollout's trouble must not stop the others
                log.exception("guard decision for %s", r.ref.short)
                decisions.append(
                    Decision(
                        r.ref,
                        DecisionKind.PAUSE_FAILED,
                        now,
                        one_line(f"{r.ref.short}: the guard could not act: {exc}"),
                    )
                )
        for key in list(self._tracks):
            if key not in seen:
                del self._tracks[key]
        self.debounce.keep_only(seen)
        report = GuardReport(verdicts, tuple(decisions), now, queries)
        self.last = report
        return report

    def _finish_owed_writes(self) -> None:
        """Writes an earlier action left owed (Flagger's skipAnalysis reset): the leader
        does them, so a console that only watches never writes."""
        if not isinstance(self.backend, OwedWrites):
            return
        try:
            for sentence in self.backend.finish_owed_writes():
                log.info("%s", sentence)
        except Exception:  # the next evaluation tries again
            log.exception("owed writes failed")

    def _leader(self) -> bool:
        try:
            return bool(self.is_leader())
        except Exception:
            log.exception("leader check failed")
            return False

    def _track(self, r: Rollout, now: float) -> _Track:
        key = r.ref.key
        epoch, revision = _epoch(r), _revision(r)
        track = self._tracks.get(key)
        if track is None:
            track = _Track(epoch=epoch, changed_at=None, revision=revision)
            self._tracks[key] = track
        elif track.epoch != epoch:
            track.epoch = epoch
            track.changed_at = now
            track.passing_since = None
            track.dry_advanced = False
            if track.revision != revision:
                track.revision = revision
                track.dry_paused = False
                self._forget_records(r)
        return track

    def _forget_records(self, r: Rollout) -> None:
        """A new canary revision: the guard's pause/ack records were about the old one."""
        if not any(r.annotation(k) is not None for k in RECORDS):
            return
        if self.dry_run or not self._leader() or self.backend.read_only:
            return
        try:
            self.backend.annotate(r.ref, dict.fromkeys(RECORDS))
        except ConsoleError as exc:
            log.warning("could not clear the guard records of %s: %s", r.ref.short, exc)

    def _verdict(
        self,
        s: _Step,
        metrics: RolloutMetrics | None,
        now: float,
        track: _Track,
        step_s: float,
    ) -> Verdict:
        r = s.rollout
        if s.gate_set is None or s.error:
            return Verdict(
                r.ref,
                GateState.ERROR,
                gate_set=s.gate_set.name if s.gate_set else "",
                at=now,
                error=s.error or "no gate set",
            )
        try:
            verdict = evaluate(
                s.gate_set,
                r,
                metrics,
                now=now,
                scrape_interval_s=self.scrape_interval_s,
                changed_at=track.changed_at,
                debounce=self.debounce,
                custom=s.custom,
            )
        except Exception as exc:  # evaluate() promises not to raise; a bug is an ERROR
            log.exception("evaluate %s", r.ref.short)
            return Verdict(
                r.ref,
                GateState.ERROR,
                gate_set=s.gate_set.name,
                at=now,
                error=one_line(f"evaluation failed: {type(exc).__name__}: {exc}"),
            )
        return self._with_queries(verdict, r.ref.namespace, step_s)

    # --- custom gates -----------------------------------------------------------------

    def _custom(self, steps: Sequence[_Step], now: float, window: float, step_s: float) -> int:
        """Range queries of the custom gates; returns how many were sent."""
        wanted = [
            (s, g)
            for s in steps
            if s.gate_set is not None and not s.error
            for g in s.gate_set.gates
            if g.kind is GateKind.CUSTOM
        ]
        if not wanted:
            return 0
        query_range = getattr(self.metrics, "query_range", None)
        if query_range is None:
            for s, _ in wanted:
                s.error = s.error or "custom gates need Prometheus"
            return 0
        sent = 0
        cache: dict[str, Series] = {}
        for s, gate in wanted:
            canary = s.rollout.canary
            assert canary is not None
            pair: list[Series] = []
            for version in (canary, s.rollout.stable):
                promql = gate.query.replace("{selector}", selector(s.rollout, version))
                if promql not in cache:
                    try:
                        raw = query_range(promql, now - gate.window_s, now, step_s)
                        sent += 1
                    except Exception as exc:
                        s.error = s.error or one_line(f"custom gate {gate.name}: {exc}")
                        cache[promql] = Series()
                        continue
                    cache[promql] = _one_series(raw)
                pair.append(cache[promql])
            if len(pair) == 2:
                s.custom[gate.name] = (pair[0], pair[1])
        return sent

    # --- evidence PromQL ------------------------------------------------------------

    def _with_queries(self, verdict: Verdict, namespace: str, step_s: float) -> Verdict:
        if not any(r.state is GateState.FAIL and not r.query for r in verdict.results):
            return verdict
        results = tuple(
            replace(r, query=self._promql(r, namespace, step_s))
            if r.state is GateState.FAIL and not r.query
            else r
            for r in verdict.results
        )
        return replace(verdict, results=results)

    def _promql(self, result: GateResult, namespace: str, step_s: float) -> str:
        """The PromQL behind a built-in metric's figure, narrowed to the rollout's namespace."""
        metric = result.gate.metric
        if metric is None:
            return ""
        key = (namespace, metric, step_s)
        cached = self._queries.get(key)
        if cached is None:
            if len(self._queries) > 4096:  # namespaces come and go
                self._queries.clear()
            cached = self._queries[key] = self._build_promql(metric, namespace, step_s)
        return cached

    def _build_promql(self, metric: Metric, namespace: str, step_s: float) -> str:
        try:
            from console.metrics.profiles import gpu_queries, requests_queries

            profile = getattr(self.metrics, "requests_profile", None)
            rate_window = getattr(self.metrics, "rate_window_s", None)
            if profile is None or rate_window is None:
                return ""
            specs = {
                q.key: q.promql for q in requests_queries(profile, [namespace], rate_window(step_s))
            }
            gpu = getattr(self.metrics, "gpu_profile", None)
            if gpu is not None:
                specs.update({q.key: q.promql for q in gpu_queries(gpu, [namespace])})
        except Exception:
            return ""
        if metric is Metric.LATENCY_P99:
            return f"histogram_quantile(0.99, {specs.get('buckets', '')})"
        if metric is Metric.LATENCY_P50:
            return f"histogram_quantile(0.5, {specs.get('buckets', '')})"
        if metric is Metric.ERROR_PCT:
            return f"100 * {specs.get('errors', '')} / {specs.get('rate', '')}"
        if metric is Metric.REQUEST_RATE:
            return specs.get("rate", "")
        if metric is Metric.GPU_UTIL:
            return specs.get("gpu_util", "")
        if metric in (Metric.GPU_MEMORY, Metric.GPU_MEMORY_MAX, Metric.GPU_COUNT):
            return specs.get("gpu_memory", "")
        return ""

    # --- decisions --------------------------------------------------------------------

    def _decide(
        self,
        r: Rollout,
        gate_set: GateSet | None,
        verdict: Verdict,
        track: _Track,
        now: float,
        leader: bool,
    ) -> list[Decision]:
        out: list[Decision] = []
        if r.aborted or gate_set is None:
            return out
        acting = leader and not self.dry_run and not self.backend.read_only
        paused_at = parse_rfc3339(r.annotation(PAUSED_AT))
        acknowledged = r.annotation(ACK_AT) is not None
        evidence_text_ = r.annotation(EVIDENCE)
        about = r.annotation(REVISION_ANNOTATION)
        if paused_at is not None and about is not None and about != revision_text(r):
            # Records of an earlier canary: they neither acknowledge nor shield this one.
            if acting:
                self._forget_records(r)
            paused_at, acknowledged, evidence_text_ = None, False, None
        if paused_at is not None and not r.paused and not acknowledged and acting:
            out.append(self._acknowledge(r, paused_at, now))
            # A fresh count after the human's decision (old failures led to the pause),
            # and nothing else this evaluation: the human just looked at it.
            self.debounce.reset(r.ref.key)
            track.passing_since = None
            return out
        breached = verdict.breached
        if breached and acknowledged:
            evidence = parse_evidence(evidence_text_)
            breached = tuple(
                b
                for b in breached
                if b.gate.name not in evidence or got_worse(b, evidence[b.gate.name])
            )
        if not breached:
            track.dry_paused = False
        if breached and not r.paused:
            track.passing_since = None
            # The evidence is every failing gate, not only those whose count is full:
            # after a human resume, "the same gates" are all that were failing then.
            names = {b.gate.name for b in breached}
            failing = breached + tuple(
                g for g in verdict.results if g.state is GateState.FAIL and g.gate.name not in names
            )
            if self.dry_run and leader:
                if not track.dry_paused:
                    track.dry_paused = True
                    out.append(
                        Decision(
                            r.ref,
                            DecisionKind.WOULD_PAUSE,
                            now,
                            f"{r.ref.short}: would pause at {rfc3339(now)}, because "
                            f"{evidence_text(failing)}.",
                            failing,
                        )
                    )
            elif acting and (track.failed_at is None or now - track.failed_at >= RETRY_PAUSE_S):
                out.append(self._pause(r, failing, track, now))
            return out
        if r.provider in MESH and r.annotation(GUARD_ANNOTATION) == PROGRESS:
            out.extend(self._progress(r, gate_set, verdict, track, now, leader, acting))
        return out

    def _acknowledge(self, r: Rollout, paused_at: float, now: float) -> Decision:
        who = who_resumed(self.backend, r.ref, paused_at)
        at = rfc3339(now)
        try:
            self.backend.annotate(r.ref, {ACK_BY: who, ACK_AT: at})
        except ConsoleError as exc:
            log.warning("acknowledgement of %s not recorded: %s", r.ref.short, exc)
        return Decision(
            r.ref,
            DecisionKind.ACKNOWLEDGED,
            now,
            f"{r.ref.short}: {who} resumed it after the guard's pause at "
            f"{rfc3339(paused_at)}; the same gates pause it again only if they get "
            f"{WORSE_BY:.0%} worse.",
        )

    def _pause(
        self, r: Rollout, breached: tuple[GateResult, ...], track: _Track, now: float
    ) -> Decision:
        because = evidence_text(breached)
        note = f"guard: {because}"
        try:
            self.backend.act(r.ref, Action.PAUSE, note=note)
        except ConsoleError as exc:
            track.failed_at = now
            return Decision(
                r.ref,
                DecisionKind.PAUSE_FAILED,
                now,
                f"{r.ref.short}: the guard could not pause it: {one_line(str(exc))}",
                breached,
            )
        after = reread(self.backend, r.ref)
        if after is None or not after.paused:
            track.failed_at = now
            state = "is gone" if after is None else f"is still {after.status_text}"
            return Decision(
                r.ref,
                DecisionKind.PAUSE_FAILED,
                now,
                f"{r.ref.short}: the pause did not take effect ({r.ref.short} {state}); "
                f"pause it by hand: {because}.",
                breached,
            )
        track.failed_at = None
        try:
            self.backend.annotate(
                r.ref,
                {
                    PAUSED_AT: rfc3339(now),
                    EVIDENCE: evidence_json(breached),
                    REVISION_ANNOTATION: revision_text(r),
                    ACK_BY: None,
                    ACK_AT: None,
                },
            )
        except ConsoleError as exc:
            log.warning("guard records of %s not written: %s", r.ref.short, exc)
        return Decision(
            r.ref,
            DecisionKind.PAUSED,
            now,
            f"{r.ref.short}: paused by the guard at {rfc3339(now)}, because {because}.",
            breached,
        )

    def _progress(
        self,
        r: Rollout,
        gate_set: GateSet,
        verdict: Verdict,
        track: _Track,
        now: float,
        leader: bool,
        acting: bool,
    ) -> list[Decision]:
        """Mesh progression: the next weight after every gate passed for the hold time."""
        all_pass = bool(verdict.results) and all(g.state is GateState.PASS for g in verdict.results)
        if r.paused or not all_pass or r.why_unavailable(Action.ADVANCE) or r.set_weight <= 0:
            track.passing_since = None
            return []
        if track.passing_since is None:
            track.passing_since = now
        held = now - track.passing_since
        if held < gate_set.hold_s:
            return []
        nxt = _next_weight(r)
        text = f"{r.ref.short}: every gate passed for {held:.0f}s at {r.set_weight}%" + (
            f"; next step {nxt}%" if nxt is not None else ""
        )
        if self.dry_run:
            if not leader or track.dry_advanced:
                return []
            track.dry_advanced = True
            return [Decision(r.ref, DecisionKind.WOULD_ADVANCE, now, f"{text} (dry run).")]
        if not acting:
            return []
        # Re-read: a human's pause between the list and now must win.
        fresh = reread(self.backend, r.ref)
        if fresh is None or fresh.paused or fresh.set_weight != r.set_weight:
            track.passing_since = None
            return []
        try:
            # From the step judged: if it moved since the re-read, the backend refuses.
            result = self.backend.act(
                r.ref, Action.ADVANCE, note=f"guard: {text}", seen=Seen.of(fresh)
            )
        except ConsoleError as exc:
            track.passing_since = None
            log.warning("guard advance of %s refused: %s", r.ref.short, exc)
            return []
        track.passing_since = None
        return [
            Decision(
                r.ref,
                DecisionKind.ADVANCED,
                now,
                one_line(f"{text}: advanced ({result.before} → {result.after})."),
            )
        ]


def _next_weight(r: Rollout) -> int | None:
    for step in r.steps:
        if step.weight is not None and step.weight > r.set_weight:
            return step.weight
    return None


def selector(r: Rollout, version: VersionInfo) -> str:
    """What `{selector}` in a custom gate's PromQL becomes for one version.

    `namespace="NS",version="LABEL"` (the seed notes' convention) when the version
    has a label, else its pods: `namespace="NS",pod=~"p1|p2"`.
    """
    ns = _quote(r.ref.namespace)
    if version.label:
        return f'namespace="{ns}",version="{_quote(version.label)}"'
    pods = "|".join(re.escape(p) for p in version.pods) or "^$"
    return f'namespace="{ns}",pod=~"{_quote(pods)}"'


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _one_series(raw: Any) -> Series:
    """A custom query's answer as one series: the first, or the pointwise mean of several."""
    try:
        groups = [tuple(points) for _labels, points in raw]
    except (TypeError, ValueError):
        return Series()
    if not groups:
        return Series()
    if len(groups) == 1:
        return Series(tuple((float(t), float(v)) for t, v in groups[0]))
    sums: dict[float, list[float]] = {}
    for points in groups:
        for t, v in points:
            sums.setdefault(float(t), []).append(float(v))
    return Series(tuple((t, sum(vs) / len(vs)) for t, vs in sorted(sums.items())))
