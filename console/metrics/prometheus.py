"""The Prometheus metrics source (also Thanos and Mimir: same HTTP API).

Per refresh it sends a fixed set of queries whatever the number of rollouts
(see profiles.py): three for requests (rate, 5xx rate, latency buckets) and
two for GPUs (utilisation, memory), each grouped on the server by the labels
that identify namespace/service/workload/version or namespace/pod, over the
namespaces of all the rollouts at once. The answers are split on the client
into per-rollout, per-version series. Range data is fetched incrementally
(cache.py). Source trouble never raises out of fetch(): each RolloutMetrics
says OK, NO_DATA or UNAVAILABLE, keeps the last good series and the time
they were taken.

One HTTP client: prometheus-api-client (``PrometheusConnect``) sends every
query, on a thread pool when ``max_concurrency`` > 1 (see PromTransport).

It is imported lazily: the demo and ``get`` never load it.
"""

from __future__ import annotations

import ast
import http.client
import json
import math
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import yaml

from console.metrics.cache import Plan, RangeCache, align
from console.metrics.config import DEFAULT_SCRAPE_INTERVAL_S, PrometheusConfig, parse_duration
from console.metrics.finite import fresh_window, nan_only_is_no_data
from console.metrics.profiles import (
    GpuProfile,
    LabelKey,
    PodMatcher,
    QuerySpec,
    RequestsMatcher,
    RequestsProfile,
    bucket_quantiles,
    gpu_queries,
    label_key,
    requests_queries,
)
from console.model import (
    ConsoleError,
    Metric,
    MetricsState,
    Role,
    Rollout,
    RolloutMetrics,
    Series,
    VersionInfo,
    VersionMetrics,
)
from console.untrusted import clean_line, clip

#: Rollouts whose last split (a window of series per version) is kept for reuse.
#: Each is up to ~600 points x metrics x versions; a console open for days that
#: visited many rollouts must not keep all of them. Above the soak's 1,000
#: rollouts, so the guard's refresh of every canary still reuses them all.
DERIVED_KEPT = 2_000
#: Namespaces the queries cover. The set grows as the UI asks for more; with
#: namespaces that come and go (one per pull request) the query text would grow
#: without end, so past this it restarts from the namespaces asked for.
NAMESPACES_KEPT = 500

Result = list[tuple[LabelKey, list[tuple[float, float]]]]


class QueryError(Exception):
    """A query failed. `reason` is one redacted phrase: 'connection refused to URL'."""

    def __init__(self, reason: str, transient: bool = True) -> None:
        # The reason may quote the server (an error body): one clean line, always.
        reason = clean_line(reason)
        super().__init__(reason)
        self.reason = reason
        #: False for what retrying will not fix: credentials, TLS, wrong URL, bad query.
        self.transient = transient


# --- answers ----------------------------------------------------------------------------


def _value(raw: Any) -> float:
    return float(raw)  # "NaN", "+Inf" parse too; the caller drops them


def parse_result(data: Any, *, expect: str) -> Result:
    """`data` of a /query or /query_range answer -> [(labels, [(t, v)])]; NaN/Inf dropped."""
    if not isinstance(data, list):
        raise ValueError("result is not a list")
    out: Result = []
    for item in data:
        metric = item["metric"]
        if not isinstance(metric, dict):
            raise ValueError("metric is not a mapping")
        pairs = item["values"] if expect == "matrix" else [item["value"]]
        points = []
        for t, v in pairs:
            value = _value(v)
            if math.isfinite(value):
                points.append((float(t), value))
        # Label values are the server's text: clean, like every name the UI may show.
        labels = {clean_line(str(k)): clean_line(str(v)) for k, v in metric.items()}
        out.append((label_key(labels), points))
    return out


def _http_reason(status: int, body: bytes, url: str) -> QueryError:
    detail = ""
    try:
        payload = json.loads(body)
        if isinstance(payload, dict) and payload.get("error"):
            detail = f": {clip(clean_line(str(payload['error'])))}"
    except ValueError:
        pass
    if status in (401, 403):
        return QueryError(f"{url} refused the credentials (HTTP {status})", transient=False)
    if status == 404:
        return QueryError(
            f"{url} has no Prometheus API at /api/v1 (HTTP 404); check the URL and path prefix",
            transient=False,
        )
    if status in (400, 422):
        return QueryError(f"{url} rejected a query (HTTP {status}){detail}", transient=False)
    return QueryError(f"{url} answered HTTP {status}{detail}")


# prometheus-api-client raises PrometheusApiClientException for any status other
# than 200, with the message "HTTP Status Code {status} ({body!r})" and no
# attribute for either; this reads them back (pinned by tests/unit/test_prom_errors.py).
_STATUS_MESSAGE = re.compile(r"HTTP Status Code (\d{3}) \((b'.*'|b\".*\")\)\Z", re.DOTALL)


def status_of(message: str) -> tuple[int, bytes] | None:
    """(status, body) from a PrometheusApiClientException's message, None if not that form."""
    match = _STATUS_MESSAGE.match(message)
    if match is None:
        return None
    try:
        body = ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        body = b""
    return int(match.group(1)), body if isinstance(body, bytes) else b""


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and everything it wraps: requests keeps urllib3's error in args, urllib3
    keeps the socket error in `reason` or the exception chain."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop()
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        linked = [cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args]
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return seen


def describe_exception(exc: BaseException, url: str, timeout_s: float) -> QueryError:
    """One phrase for a failure of a request, by exception type (requests and the stdlib)."""
    import requests

    causes = _causes(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in causes)

    if has(requests.exceptions.SSLError, ssl.SSLError):
        return QueryError(
            f"TLS verification failed for {url} (set ca_file, or insecure_skip_verify explicitly)",
            transient=False,
        )
    if has(ConnectionRefusedError):
        return QueryError(f"connection refused to {url}")
    if has(socket.gaierror):
        return QueryError(f"cannot resolve the host of {url}")
    if has(requests.exceptions.Timeout, TimeoutError):
        return QueryError(f"no answer from {url} within {timeout_s:g}s")
    if has(
        requests.exceptions.ChunkedEncodingError,
        http.client.HTTPException,  # RemoteDisconnected, IncompleteRead, BadStatusLine
        ConnectionResetError,
        ConnectionAbortedError,
    ):
        return QueryError(f"{url} closed the connection mid-answer")
    if has(ValueError, KeyError, TypeError):  # JSON that is not the Prometheus API's
        return QueryError(f"malformed answer from {url} (not Prometheus API JSON)")
    return QueryError(f"cannot reach {url} ({type(exc).__name__})")


# --- transport --------------------------------------------------------------------------


@dataclass
class QueryLog:
    """Counts what was sent: the tests and the benchmark read it."""

    sent: int = 0
    points: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, points: int) -> None:
        with self.lock:
            self.sent += 1
            self.points += points


class PromTransport:
    """HTTP to one Prometheus-compatible endpoint, with the configured auth and TLS.

    Every request goes through prometheus-api-client (``PrometheusConnect``),
    over a ``requests.Session`` built here for the TLS settings. Sessions are
    not documented thread-safe, so each thread has its own PrometheusConnect;
    the range queries of a refresh run on a small thread pool (max_concurrency
    threads), which makes a refresh cost about its slowest query instead of
    the sum (tests/bench/bench_metrics.py).
    """

    def __init__(self, config: PrometheusConfig) -> None:
        self.config = config
        self.url = config.url
        self.log = QueryLog()
        self._local = threading.local()  # one PrometheusConnect per thread
        self._sessions: list[Any] = []
        self._sessions_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # -- helpers --------------------------------------------------------------------------

    def _error(self, exc: BaseException) -> QueryError:
        if isinstance(exc, QueryError):
            return QueryError(self.config.redact(exc.reason), exc.transient)
        err = describe_exception(exc, self.url, self.config.timeout_s)
        return QueryError(self.config.redact(err.reason), err.transient)

    def _verify(self) -> bool | str:
        if self.config.insecure_skip_verify:
            return False
        return self.config.ca_file or True

    def _connect(self) -> Any:
        pc = getattr(self._local, "pc", None)
        if pc is None:
            import requests
            from prometheus_api_client import PrometheusConnect
            from urllib3.util.retry import Retry

            session = requests.Session()
            session.verify = self._verify()
            if session.verify is False:
                # The user asked for it explicitly (insecure_skip_verify); a
                # warning per request on stderr would only garble the TUI.
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            pc = PrometheusConnect(
                url=self.url,
                headers=None,
                session=session,
                # Fail fast: the next refresh is the retry, and a slow retry
                # loop would hold the UI's worker for many seconds.
                retry=Retry(total=0, raise_on_status=False),
                auth=self.config.basic_auth(),
                timeout=self.config.timeout_s,
            )
            self._local.pc = pc
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        pc.headers = self.config.request_headers()  # re-read: token files rotate
        return pc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def _call(self, call: Callable[[Any], Any]) -> Any:
        """Run one prometheus-api-client call; every failure becomes one QueryError."""
        from prometheus_api_client.exceptions import PrometheusApiClientException

        try:
            return call(self._connect())
        except PrometheusApiClientException as exc:
            answer = status_of(str(exc))
            if answer is None:
                raise self._error(exc) from None
            raise self._error(_http_reason(answer[0], answer[1], self.url)) from None
        except ConsoleError as exc:  # e.g. an unreadable token file
            raise QueryError(self.config.redact(str(exc).rstrip(".")), transient=False) from None
        except Exception as exc:  # requests' and JSON errors: one phrase, no traceback
            raise self._error(exc) from None

    # -- queries ----------------------------------------------------------------------------

    def instant(self, promql: str, at: float | None = None) -> Result:
        params = {"time": f"{at:.3f}"} if at is not None else None
        data = self._call(lambda pc: pc.custom_query(promql, params=params))
        try:
            out = parse_result(data, expect="vector")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error(exc) from None
        self.log.add(len(out))
        return out

    def range(self, promql: str, plan: Plan) -> Result:
        # custom_query_range sends whole seconds; plans are aligned to whole-second steps.
        data = self._call(
            lambda pc: pc.custom_query_range(
                promql,
                start_time=datetime.fromtimestamp(plan.start, UTC),
                end_time=datetime.fromtimestamp(plan.end, UTC),
                step=f"{plan.step:g}",
            )
        )
        try:
            out = parse_result(data, expect="matrix")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error(exc) from None
        self.log.add(sum(len(p) for _, p in out))
        return out

    def range_many(self, jobs: Sequence[tuple[str, Plan]]) -> list[Result | QueryError]:
        """Run range queries, on max_concurrency threads (one by one when it is 1)."""

        def one(job: tuple[str, Plan]) -> Result | QueryError:
            try:
                return self.range(*job)
            except QueryError as exc:
                return exc

        if self.config.max_concurrency <= 1 or len(jobs) <= 1:
            return [one(j) for j in jobs]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.config.max_concurrency, thread_name_prefix="prom-query"
            )
        return list(self._pool.map(one, jobs))

    def status(self, what: str) -> Any:
        """/api/v1/status/<what> (buildinfo, config); QueryError when not served.

        prometheus-api-client wraps no status endpoint, so this sends a GET on
        the client's own session (same TLS, auth, headers and timeout) and
        reads the answer the way the client does.
        """

        def get(pc: Any) -> Any:
            response = self._local.session.get(
                f"{self.url}/api/v1/status/{what}",
                headers=pc.headers,
                auth=pc.auth,
                timeout=self.config.timeout_s,
            )
            if response.status_code != 200:
                raise self._error(_http_reason(response.status_code, response.content, self.url))
            payload = response.json()
            if payload.get("status") != "success":
                raise ValueError("status is not success")
            return payload["data"]

        return self._call(get)


# --- the source ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshStats:
    queries: int
    seconds: float  # sending the queries and reading the answers
    points: int
    incremental: bool
    cached: bool = False  # answered from the cache: faster than the refresh interval
    split_seconds: float = 0.0  # the client-side split into per-version series


_PER_VERSION = dict[str, Any]


class PrometheusSource:
    """MetricsSource over a Prometheus-compatible HTTP API."""

    def __init__(
        self,
        config: PrometheusConfig,
        transport: PromTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.transport = transport or PromTransport(config)
        self.clock = clock
        self.requests_profile: RequestsProfile = config.requests_profile
        self.gpu_profile: GpuProfile | None = config.gpu
        self.cache = RangeCache()
        self.scrape_interval_s = config.scrape_interval_s or DEFAULT_SCRAPE_INTERVAL_S
        self.server_version = ""
        self.startup_problem = ""  # a transient problem seen at start-up
        self.check_error: QueryError | None = None
        self.last_stats: RefreshStats | None = None
        self._namespaces: set[str] = set()
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        self._last_key: tuple[float, float] | None = None
        self._last_error: QueryError | None = None
        self._good_at = 0.0  # when the last fully successful refresh finished
        # The last split per rollout key, and what it depended on: a refresh
        # answered from the cache returns it as is, and an incremental one
        # recomputes only the new points (the split is most of a warm
        # refresh's time with many rollouts).
        self._derived: dict[str, RolloutMetrics] = {}
        self._derived_sig: dict[str, tuple[Any, ...]] = {}
        self._forget_lock = threading.Lock()
        self._forgotten: set[str] = set()
        profiles = self.requests_profile.name + (
            f"+{self.gpu_profile.name}" if self.gpu_profile else ""
        )
        self.description = f"prometheus {config.url} ({profiles})"

    # -- settings derived from the server --------------------------------------------------

    @property
    def refresh_interval_s(self) -> float:
        """Never faster than the scrape interval: new points only arrive that often."""
        return max(self.config.refresh_s or 0.0, self.scrape_interval_s)

    def rate_window_s(self, step_s: float) -> float:
        if self.config.rate_window_s:
            return self.config.rate_window_s
        return max(60.0, 4 * self.scrape_interval_s, step_s)

    def check(self) -> None:
        """Start-up check. Raises ConsoleError (one sentence, redacted) on any problem.

        A trivial query proves the URL, path prefix, credentials and TLS; then
        buildinfo (for the header) and the scrape interval from
        /api/v1/status/config are read if the server allows it (Thanos and
        Mimir do not serve the config: the default or configured one is used).
        """
        self.check_error = None
        try:
            result = self.transport.instant("vector(1)")
        except QueryError as exc:
            self.check_error = exc
            raise ConsoleError(f"Prometheus is not usable: {exc.reason}.") from None
        if not result or not result[0][1] or result[0][1][0][1] != 1.0:
            raise ConsoleError(
                f"{self.config.url} does not answer like Prometheus (vector(1) gave {result!r})."
            )
        try:
            info = self.transport.status("buildinfo")
            self.server_version = str(info.get("version", ""))
        except (QueryError, AttributeError):
            pass
        if self.config.scrape_interval_s is None:
            self.scrape_interval_s = self._server_scrape_interval() or DEFAULT_SCRAPE_INTERVAL_S

    def _server_scrape_interval(self) -> float | None:
        try:
            data = self.transport.status("config")
            config = yaml.safe_load(data["yaml"]) or {}
            global_ = config.get("global") or {}
            # Prometheus' own default is 1m when the config says nothing.
            return parse_duration(global_.get("scrape_interval", "1m"), "scrape_interval")
        except (QueryError, ConsoleError, KeyError, TypeError, AttributeError, yaml.YAMLError):
            return None

    # -- fetch -------------------------------------------------------------------------------

    def _queries(
        self, namespaces: set[str], rate_window_s: float, instant_window_s: float | None
    ) -> list[QuerySpec]:
        specs = requests_queries(self.requests_profile, namespaces, rate_window_s)
        if self.gpu_profile is not None:
            specs += gpu_queries(self.gpu_profile, namespaces, instant_window_s)
        return specs

    def fetch(
        self,
        rollouts: Sequence[Rollout],
        window_s: float,
        step_s: float,
        *,
        force: bool = False,
    ) -> dict[str, RolloutMetrics]:
        """Per-version series over the last `window_s`, one point per `step_s`.

        Calls closer together than refresh_interval_s (with the same window,
        step and namespaces) are answered from the cache without a query.
        """
        rollouts = list({r.ref.key: r for r in rollouts}.values())
        if not rollouts:
            return {}
        with self._lock:
            # At most ~600 points per series: a finer step costs memory and
            # time for detail no chart can show.
            step = max(1.0, float(round(step_s)), float(math.ceil(window_s / 600)))
            now = self.clock()
            wanted_ns = {r.ref.namespace for r in rollouts}
            key = (float(window_s), step)
            fresh = (
                not force
                and self._last_key == key
                and wanted_ns <= self._namespaces
                and now - self._last_attempt < self.refresh_interval_s
            )
            if fresh:
                self.last_stats = RefreshStats(0, 0.0, 0, True, cached=True)
                out = self._split(rollouts, self._specs_for(step), window_s, since=math.inf)
                return {k: nan_only_is_no_data(m, fresh_window(step)) for k, m in out.items()}
            # The namespace set only grows, so a UI that asks for one rollout,
            # then for all, does not throw the cache away each time; up to a bound,
            # past which it starts again from what is asked for now.
            self._namespaces |= wanted_ns
            if len(self._namespaces) > NAMESPACES_KEPT:
                self._namespaces = set(wanted_ns)
            specs = self._specs_for(step)
            self.cache.forget(s.promql for s in specs)
            end = align(now, step)
            start = end - math.floor(window_s / step) * step
            jobs = [(s.promql, self.cache.plan(s.promql, start, end, step)) for s in specs]
            began = time.perf_counter()
            points_before = self.transport.log.points
            results: list[Result | QueryError]
            try:
                results = self.transport.range_many(jobs)
            except Exception as exc:  # a bug must not kill the UI's worker: say so instead
                failed = QueryError(
                    f"internal error in the Prometheus source ({type(exc).__name__})"
                )
                results = [failed for _ in jobs]
            error: QueryError | None = None
            for (promql, plan), result in zip(jobs, results, strict=True):
                if isinstance(result, QueryError):
                    error = error or result
                else:
                    self.cache.merge(promql, plan, result, window_start=start)
            self.last_stats = RefreshStats(
                queries=len(jobs),
                seconds=time.perf_counter() - began,
                points=self.transport.log.points - points_before,
                incremental=all(plan.incremental for _, plan in jobs),
            )
            self._last_attempt = now
            self._last_key = key
            self._last_error = error
            if error is None:
                self._good_at = self.clock()
            split_began = time.perf_counter()
            incremental = all(plan.incremental for _, plan in jobs)
            since = min(plan.start for _, plan in jobs) if incremental else None
            out = self._split(rollouts, specs, window_s, since=since, window_start=start)
            self.last_stats = replace(
                self.last_stats, split_seconds=time.perf_counter() - split_began
            )
            return {k: nan_only_is_no_data(m, fresh_window(step)) for k, m in out.items()}

    def _specs_for(self, step: float) -> list[QuerySpec]:
        return self._queries(self._namespaces, self.rate_window_s(step), None)

    def _split(
        self,
        rollouts: Sequence[Rollout],
        specs: Sequence[QuerySpec],
        window_s: float,
        *,
        since: float | None = None,
        window_start: float = 0.0,
    ) -> dict[str, RolloutMetrics]:
        """Per-version series from the cache; reuses the last split where it can.

        since=None: compute everything. since=inf: nothing changed (answered
        from the cache). Otherwise only points from `since` on are new.
        """
        self._drop_forgotten()
        sigs = {r.ref.key: split_signature(r) for r in rollouts}
        known = [
            r
            for r in rollouts
            if since is not None
            and r.ref.key in self._derived
            and self._derived_sig.get(r.ref.key) == sigs[r.ref.key]
        ]
        known_keys = {r.ref.key for r in known}
        out: dict[str, RolloutMetrics] = {}
        if since is not None and math.isinf(since):
            out.update({k: self._derived[k] for k in known_keys})
            known = []
        data = {s.key: self.cache.series(s.promql) for s in specs}

        def split(some: Sequence[Rollout], from_t: float | None) -> dict[str, RolloutMetrics]:
            return build_metrics(
                some,
                data,
                self.requests_profile,
                self.gpu_profile,
                self.config.quantiles,
                window_s=window_s,
                taken_at=self._good_at,
                error=self._last_error,
                since=from_t,
            )

        if known and since is not None:
            for key, new in split(known, since).items():
                out[key] = merge_metrics(self._derived[key], new, since, window_start)
        rest = [r for r in rollouts if r.ref.key not in out]
        if rest:
            out.update(split(rest, None))
        for key, metrics in out.items():
            # Re-inserted: the dict's order is least recently used first.
            self._derived.pop(key, None)
            self._derived[key] = metrics
            self._derived_sig[key] = sigs[key]
        while len(self._derived) > DERIVED_KEPT:
            oldest = next(iter(self._derived))
            del self._derived[oldest]
            self._derived_sig.pop(oldest, None)
        return out

    def forget(self, keys: Iterable[str]) -> None:
        """Drop what is kept for these rollout keys (the rollouts were deleted).

        Called from the UI thread: it must not wait for a fetch's lock (held for a
        whole round of queries), so the keys are dropped at the next split."""
        with self._forget_lock:
            self._forgotten.update(keys)

    def _drop_forgotten(self) -> None:
        with self._forget_lock:
            gone, self._forgotten = self._forgotten, set()
        for key in gone:
            self._derived.pop(key, None)
            self._derived_sig.pop(key, None)

    def fetch_latest(
        self, rollouts: Sequence[Rollout], window_s: float
    ) -> dict[str, RolloutMetrics]:
        """One figure per metric and version over the last `window_s` (headless).

        Instant queries through prometheus-api-client: rates and quantiles over
        [window], GPU utilisation averaged over the window, GPU memory now.
        """
        rollouts = list({r.ref.key: r for r in rollouts}.values())
        if not rollouts:
            return {}
        namespaces = {r.ref.namespace for r in rollouts}
        specs = self._queries(namespaces, window_s, window_s)
        at = self.clock()
        data: dict[str, Mapping[LabelKey, dict[float, float]]] = {}
        error: QueryError | None = None
        began = time.perf_counter()
        for spec in specs:
            try:
                result = self.transport.instant(spec.promql, at=at)
            except QueryError as exc:
                error = error or exc
                continue
            data[spec.key] = {k: dict(p) for k, p in result}
        self.last_stats = RefreshStats(len(specs), time.perf_counter() - began, 0, False)
        out = build_metrics(
            rollouts,
            data,
            self.requests_profile,
            self.gpu_profile,
            self.config.quantiles,
            window_s=window_s,
            taken_at=at if error is None else 0.0,
            error=error,
        )
        # Instant answers sit at `at` (to the second the client sends): a version
        # with none in the window had NaN or Inf only.
        return {k: nan_only_is_no_data(m, window_s) for k, m in out.items()}

    def query_range(
        self, promql: str, start: float, end: float, step_s: float
    ) -> list[tuple[dict[str, str], tuple[tuple[float, float], ...]]]:
        """Any PromQL over [start, end] (unix seconds), one point per `step_s`.

        For callers with their own queries (e.g. custom gates). It goes through
        the same client, auth, TLS and redaction as the refreshes, but not the
        range cache. Returns (labels, points) per series, points oldest first,
        NaN/Inf dropped. Raises QueryError (one redacted phrase, `transient`
        set) on any failure. The client sends start and end in whole seconds.
        """
        if not (math.isfinite(start) and math.isfinite(end) and end >= start):
            raise QueryError(f"bad time range {start!r}..{end!r}", transient=False)
        if not (math.isfinite(step_s) and step_s > 0):
            raise QueryError(f"bad step {step_s!r}", transient=False)
        plan = Plan(start=start, end=end, step=step_s, incremental=False)
        return [
            (dict(labels), tuple(points)) for labels, points in self.transport.range(promql, plan)
        ]

    def close(self) -> None:
        self.transport.close()


# --- splitting answers into per-rollout, per-version series --------------------------------


def _new_acc() -> _PER_VERSION:
    return {
        "rate": {},
        "errors": {},
        "buckets": {},
        "gpu_util": {},
        "gpu_memory": {},
        "matched": False,
    }


def build_metrics(
    rollouts: Sequence[Rollout],
    data: Mapping[str, Mapping[LabelKey, Mapping[float, float]]],
    profile: RequestsProfile,
    gpu: GpuProfile | None,
    quantiles: tuple[float, float],
    *,
    window_s: float,
    taken_at: float,
    error: QueryError | None,
    since: float | None = None,
) -> dict[str, RolloutMetrics]:
    """Client-side split: every series to the (rollout, version) pairs it belongs to.

    With `since`, only points at or after it are computed (the rest are
    merged from the previous split by the caller); series dicts must then be
    in time order, as the range cache keeps them.
    """
    acc: dict[tuple[str, Role], _PER_VERSION] = {}
    req = RequestsMatcher(profile, rollouts)
    for key in ("rate", "errors", "buckets"):
        for labels_key, points in data.get(key, {}).items():
            labels = dict(labels_key)
            for target in req.assign(labels):
                a = acc.setdefault(target, _new_acc())
                a["matched"] = True
                if key == "buckets":
                    le = _le(labels.get("le"))
                    if le is None:
                        continue
                    for t, v in _recent(points, since):
                        per_t = a["buckets"].setdefault(t, {})
                        per_t[le] = per_t.get(le, 0.0) + v
                else:
                    for t, v in _recent(points, since):
                        a[key][t] = a[key].get(t, 0.0) + v
    if gpu is not None:
        pods = PodMatcher(gpu, rollouts)
        for key in ("gpu_util", "gpu_memory"):
            for labels_key, points in data.get(key, {}).items():
                for target in pods.assign(dict(labels_key)):
                    a = acc.setdefault(target, _new_acc())
                    a["matched"] = True
                    for t, v in _recent(points, since):
                        a[key].setdefault(t, []).append(v)

    out: dict[str, RolloutMetrics] = {}
    for r in rollouts:
        roles = [Role.STABLE] + ([Role.CANARY] if r.canary is not None else [])
        versions = {
            role: _version_metrics(role, acc.get((r.ref.key, role)), profile, gpu, quantiles)
            for role in roles
        }
        missing = [
            role.value for role in roles if not acc.get((r.ref.key, role), {}).get("matched")
        ]
        if error is not None:
            state, reason = MetricsState.UNAVAILABLE, error.reason
        elif missing:
            state = MetricsState.NO_DATA
            reason = f"no series matched for {' and '.join(missing)}"
        else:
            state, reason = MetricsState.OK, ""
        out[r.ref.key] = RolloutMetrics(
            ref=r.ref,
            stable=versions[Role.STABLE],
            canary=versions.get(Role.CANARY),
            state=state,
            reason=reason,
            taken_at=taken_at,
            window_s=window_s,
        )
    return out


def _recent(points: Mapping[float, float], since: float | None) -> Iterable[tuple[float, float]]:
    """The points at or after `since`, newest first; all of them when since is None."""
    if since is None:
        return points.items()
    out = []
    for t in reversed(points.keys()):  # type: ignore[call-overload]
        if t < since:
            break
        out.append((t, points[t]))
    return out


def merge_metrics(
    old: RolloutMetrics, new: RolloutMetrics, since: float, window_start: float
) -> RolloutMetrics:
    """Old points in [window_start, since) followed by the new ones from `since` on."""

    def version(o: VersionMetrics | None, n: VersionMetrics | None) -> VersionMetrics | None:
        if n is None:
            return None
        series: dict[Metric, Series] = {}
        for metric in set(n.series) | set(o.series if o is not None else ()):
            kept = tuple(
                p for p in (o.get(metric).points if o else ()) if window_start <= p[0] < since
            )
            merged = kept + n.get(metric).points
            if merged:
                series[metric] = Series(merged)
        return VersionMetrics(n.role, series)

    stable = version(old.stable, new.stable)
    assert stable is not None
    canary = version(old.canary, new.canary)
    state, reason = new.state, new.reason
    if state is MetricsState.NO_DATA:  # the since-limited run may not have seen old points
        missing = [v.role.value for v in (stable, canary) if v is not None and not v.series]
        if not missing:
            state, reason = MetricsState.OK, ""
        else:
            reason = f"no series matched for {' and '.join(missing)}"
    return replace(new, stable=stable, canary=canary, state=state, reason=reason)


def split_signature(r: Rollout) -> tuple[Any, ...]:
    """What the split of a rollout depends on: a changed version means a full split."""

    def v(info: VersionInfo | None) -> tuple[Any, ...]:
        if info is None:
            return ()
        return (info.label, info.revision, info.pod_hash, info.workload, info.pods)

    return (r.ref.namespace, r.ref.name, v(r.stable), v(r.canary))


def _le(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _series(points: Mapping[float, float]) -> Series:
    return Series(tuple(sorted((t, v) for t, v in points.items() if math.isfinite(v))))


def _version_metrics(
    role: Role,
    a: _PER_VERSION | None,
    profile: RequestsProfile,
    gpu: GpuProfile | None,
    quantiles: tuple[float, float],
) -> VersionMetrics:
    if a is None:
        return VersionMetrics(role)
    series: dict[Metric, Series] = {}
    rate: dict[float, float] = a["rate"]
    errors: dict[float, float] = a["errors"]
    if rate:
        series[Metric.REQUEST_RATE] = _series(rate)
        series[Metric.ERROR_PCT] = _series(
            {t: 100.0 * errors.get(t, 0.0) / total for t, total in rate.items() if total > 0}
        )
    buckets: dict[float, dict[float, float]] = a["buckets"]
    if buckets:
        scale = profile.latency_scale_to_ms
        low: dict[float, float] = {}
        high: dict[float, float] = {}
        for t, b in buckets.items():
            low[t], high[t] = bucket_quantiles(quantiles, b)
        series[Metric.LATENCY_P50] = _series({t: v * scale for t, v in low.items()})
        series[Metric.LATENCY_P99] = _series({t: v * scale for t, v in high.items()})
    if gpu is not None:
        if a["gpu_util"]:
            series[Metric.GPU_UTIL] = _series(
                {t: sum(vs) / len(vs) for t, vs in a["gpu_util"].items()}
            )
        if a["gpu_memory"]:
            series[Metric.GPU_MEMORY] = _series(
                {t: sum(vs) * gpu.memory_to_gib for t, vs in a["gpu_memory"].items()}
            )
    return VersionMetrics(role, {m: s for m, s in series.items() if s.points})
