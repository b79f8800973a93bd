"""Prometheus connection and query settings: config file, then command line.

The config file is YAML, by default ``$XDG_CONFIG_HOME/rollout-console/config.yaml``
(platformdirs' user config dir), or the file given with ``--config``::

    prometheus:
      url: https://mimir.example.com/prometheus   # a path prefix is kept
      bearer_token_file: /var/run/secrets/prom-token   # or bearer_token: ...
      basic_auth: {username: me, password_file: ~/.prom-pass}   # or password:
      headers: {X-Scope-OrgID: team-a}               # Mimir/Thanos tenant etc.
      ca_file: /etc/ssl/internal-ca.pem
      insecure_skip_verify: false                    # explicit, never implied
      timeout: 10s
    metrics:
      profile: istio          # requests profile: istio | generic-http | your own
      gpu_profile: dcgm       # or none
      window: 15m             # chart look-back (the UI may pass its own)
      step: 15s
      refresh: 15s            # never faster than the scrape interval
      rate_window: auto       # rate()[...]; auto = max(1m, 4 x scrape interval, step)
      quantiles: [0.5, 0.99]  # the p50 and p99 slots
      max_concurrency: 6      # parallel queries of one refresh (1 = sequential)
      scrape_interval: 15s    # used when /api/v1/status/config is not readable
    profiles:                 # overrides of built-in profiles, or new ones
      istio:
        match: {workload_regex: '{name}(-primary|-canary|-v[0-9]+)?'}

    contexts:                 # per kubeconfig context, as k9s: no actions there
      prod-eu: {read_only: true}

``--prometheus URL`` wins over ``prometheus.url``. Credentials may also be in
the URL's user-info part (moved to basic auth, never shown).

Secrets (token, password, header values, URL user-info) are wrapped so they
never print, and every message this package produces passes ``redact``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from console.metrics.profiles import GpuProfile, Profile, RequestsProfile, load_profiles
from console.model import ConsoleError

APP_NAME = "rollout-console"
DEFAULT_SCRAPE_INTERVAL_S = 15.0


class Secret:
    """A string that never shows itself in repr/str/format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any, what: str) -> float:
    """'90s', '5m', '1h30m', 15, '15' -> seconds."""
    if isinstance(value, bool):
        raise ConsoleError(f"{what} must be a duration like 30s or 5m, not {value!r}.")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _DURATION.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise ConsoleError(
                    f"{what} must be a duration like 30s or 5m, not {text!r}."
                ) from None
    if seconds <= 0:
        raise ConsoleError(f"{what} must be longer than zero.")
    return seconds


def default_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.yaml"


def config_file(config_path: str | os.PathLike[str] | None) -> Path | None:
    """The config file to read: the one given (which must exist), else the default
    one when it exists, else None."""
    if config_path is not None:
        path = Path(config_path).expanduser()
        if not path.exists():
            raise ConsoleError(f"The config file {path} does not exist.")
        return path
    path = default_config_path()
    return path if path.exists() else None


@dataclass(frozen=True)
class PrometheusConfig:
    url: str  # scheme://host[:port][/prefix], no user-info, no trailing slash
    bearer_token: Secret | None = None
    bearer_token_file: str | None = None
    username: str | None = None
    password: Secret | None = None
    headers: Mapping[str, Secret] = field(default_factory=dict)
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    timeout_s: float = 10.0
    profile: str = "istio"
    gpu_profile: str | None = "dcgm"
    window_s: float = 900.0
    step_s: float = 15.0
    refresh_s: float | None = None  # None: the scrape interval
    rate_window_s: float | None = None  # None: auto
    quantiles: tuple[float, float] = (0.5, 0.99)
    max_concurrency: int = 6
    scrape_interval_s: float | None = None  # None: read from the server, else 15 s
    profiles: Mapping[str, Profile] = field(default_factory=dict)

    # -- credentials -------------------------------------------------------------

    def token(self) -> str | None:
        """The bearer token; a token file is read on every call (tokens rotate)."""
        if self.bearer_token is not None:
            return self.bearer_token.reveal()
        if self.bearer_token_file:
            try:
                return Path(self.bearer_token_file).expanduser().read_text().strip()
            except OSError as exc:
                raise ConsoleError(
                    f"Cannot read the bearer token file {self.bearer_token_file}: "
                    f"{exc.strerror or exc}."
                ) from None
        return None

    def request_headers(self) -> dict[str, str]:
        out = {k: v.reveal() for k, v in self.headers.items()}
        token = self.token()
        if token:
            out["Authorization"] = f"Bearer {token}"
        return out

    def basic_auth(self) -> tuple[str, str] | None:
        if self.username is None:
            return None
        return (self.username, self.password.reveal() if self.password else "")

    def secrets(self) -> list[str]:
        values = [v.reveal() for v in self.headers.values()]
        if self.bearer_token is not None:
            values.append(self.bearer_token.reveal())
        if self.password is not None:
            values.append(self.password.reveal())
        if self.bearer_token_file:
            with contextlib.suppress(OSError):
                values.append(Path(self.bearer_token_file).expanduser().read_text().strip())
        return [v for v in values if v]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets())

    # -- profiles ----------------------------------------------------------------

    @property
    def requests_profile(self) -> RequestsProfile:
        p = self.profiles.get(self.profile)
        if not isinstance(p, RequestsProfile):
            raise ConsoleError(f"There is no requests profile named {self.profile!r}.")
        return p

    @property
    def gpu(self) -> GpuProfile | None:
        if not self.gpu_profile:
            return None
        p = self.profiles.get(self.gpu_profile)
        if not isinstance(p, GpuProfile):
            raise ConsoleError(f"There is no GPU profile named {self.gpu_profile!r}.")
        return p


_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic)?\s*[^\s'\",}]+")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@")


def redact(text: str, secrets: list[str]) -> str:
    """Remove secret values, Authorization values and URL user-info from text."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} ***".strip(), text)
    return _USERINFO.sub(r"\1***@", text)


def normalise_url(url: str) -> tuple[str, str | None, str | None]:
    """(url without user-info, username, password) after checking it is http(s)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = _USERINFO.sub(r"\1***@", url)
        raise ConsoleError(
            f"The Prometheus URL {shown!r} is not an http:// or https:// URL with a host."
        )
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return clean, parts.username, parts.password


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConsoleError(f"Cannot read the config file {path}: {exc.strerror or exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConsoleError(f"The config file {path} is not valid YAML{where}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConsoleError(f"The config file {path} must hold a mapping at the top.")
    return data


def _section(data: Mapping[str, Any], name: str, path: Path | str) -> Mapping[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConsoleError(f"'{name}' in the config file {path} must be a mapping.")
    return value


def _read_secret_file(path: str, what: str) -> Secret:
    try:
        return Secret(Path(path).expanduser().read_text().strip())
    except OSError as exc:
        raise ConsoleError(f"Cannot read the {what} file {path}: {exc.strerror or exc}.") from None


def load_config(
    url: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> PrometheusConfig:
    """Read the config file (given, or the default one if it exists) and apply args.

    `overrides` are PrometheusConfig fields set from the command line
    (window_s, step_s, profile, ...); None values are ignored.
    """
    path = config_file(config_path)
    data = _read_yaml(path) if path is not None else {}
    where = path or "(none)"
    prom = _section(data, "prometheus", where)
    metrics = _section(data, "metrics", where)
    profile_overrides = _section(data, "profiles", where)

    raw_url = url or prom.get("url")
    if not raw_url:
        hint = f" or prometheus.url in {path}" if path else " or a config file"
        raise ConsoleError(f"No Prometheus URL: give --prometheus URL{hint}.")
    clean_url, url_user, url_password = normalise_url(str(raw_url))

    kwargs: dict[str, Any] = {"url": clean_url}
    if prom.get("bearer_token") and prom.get("bearer_token_file"):
        raise ConsoleError("Give either bearer_token or bearer_token_file, not both.")
    if prom.get("bearer_token"):
        kwargs["bearer_token"] = Secret(str(prom["bearer_token"]))
    if prom.get("bearer_token_file"):
        kwargs["bearer_token_file"] = str(prom["bearer_token_file"])
    basic = prom.get("basic_auth") or {}
    if not isinstance(basic, Mapping):
        raise ConsoleError("prometheus.basic_auth must be a mapping with username and password.")
    if basic:
        if "username" not in basic:
            raise ConsoleError("prometheus.basic_auth needs a username.")
        kwargs["username"] = str(basic["username"])
        if basic.get("password_file"):
            kwargs["password"] = _read_secret_file(str(basic["password_file"]), "password")
        elif basic.get("password") is not None:
            kwargs["password"] = Secret(str(basic["password"]))
    elif url_user is not None:
        kwargs["username"] = url_user
        kwargs["password"] = Secret(url_password or "")
    if (kwargs.get("bearer_token") or kwargs.get("bearer_token_file")) and "username" in kwargs:
        raise ConsoleError("Give either a bearer token or basic auth for Prometheus, not both.")
    headers = prom.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ConsoleError("prometheus.headers must be a mapping of header names to values.")
    kwargs["headers"] = {str(k): Secret(str(v)) for k, v in headers.items()}
    tls = prom.get("tls") or {}
    if not isinstance(tls, Mapping):
        raise ConsoleError("prometheus.tls must be a mapping.")
    ca_file = prom.get("ca_file") or tls.get("ca_file")
    if ca_file:
        ca = Path(str(ca_file)).expanduser()
        if not ca.is_file():
            raise ConsoleError(f"The CA bundle {ca} does not exist.")
        kwargs["ca_file"] = str(ca)
    insecure = prom.get("insecure_skip_verify", tls.get("insecure_skip_verify", False))
    if not isinstance(insecure, bool):
        raise ConsoleError("insecure_skip_verify must be true or false.")
    kwargs["insecure_skip_verify"] = insecure
    if "timeout" in prom:
        kwargs["timeout_s"] = parse_duration(prom["timeout"], "prometheus.timeout")

    for key, name in (
        ("window", "window_s"),
        ("step", "step_s"),
        ("refresh", "refresh_s"),
        ("scrape_interval", "scrape_interval_s"),
    ):
        if metrics.get(key) is not None:
            kwargs[name] = parse_duration(metrics[key], f"metrics.{key}")
    if metrics.get("rate_window") not in (None, "auto"):
        kwargs["rate_window_s"] = parse_duration(metrics["rate_window"], "metrics.rate_window")
    if "profile" in metrics:
        kwargs["profile"] = str(metrics["profile"])
    if "gpu_profile" in metrics:
        gpu = metrics["gpu_profile"]
        kwargs["gpu_profile"] = None if gpu in (None, "", "none", False) else str(gpu)
    if "quantiles" in metrics:
        kwargs["quantiles"] = parse_quantiles(metrics["quantiles"])
    if "max_concurrency" in metrics:
        n = metrics["max_concurrency"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConsoleError("metrics.max_concurrency must be a whole number of at least 1.")
        kwargs["max_concurrency"] = n

    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    if "quantiles" in overrides and overrides["quantiles"] is not None:
        kwargs["quantiles"] = parse_quantiles(overrides["quantiles"])
    kwargs["profiles"] = load_profiles(profile_overrides)
    config = PrometheusConfig(**kwargs)
    config.requests_profile  # noqa: B018  (validates the names now, one clear sentence)
    config.gpu  # noqa: B018
    return config


def parse_quantiles(value: Any) -> tuple[float, float]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    try:
        qs = tuple(float(str(v).removeprefix("p")) for v in value)
    except (TypeError, ValueError):
        raise ConsoleError("quantiles must be two numbers such as [0.5, 0.99].") from None
    qs = tuple(q / 100 if q > 1 else q for q in qs)  # p50/p99 style
    if len(qs) != 2 or not all(0 < q < 1 for q in qs):
        raise ConsoleError("quantiles must be two numbers between 0 and 1, e.g. [0.5, 0.99].")
    return (qs[0], qs[1])


def read_only_contexts(config_path: str | os.PathLike[str] | None = None) -> frozenset[str]:
    """Contexts the config file marks read-only, as k9s does per context::

        contexts:
          prod-eu: {read_only: true}
          staging: {read_only: false}

    `--read-only` still forces every context. No file: none."""
    path = config_file(config_path)
    if path is None:
        return frozenset()
    contexts = _section(_read_yaml(path), "contexts", path)
    out: set[str] = set()
    for name, settings in contexts.items():
        if settings is None:
            continue
        if not isinstance(settings, Mapping):
            raise ConsoleError(f"contexts.{name} in the config file {path} must be a mapping.")
        flag = settings.get("read_only", False)
        if not isinstance(flag, bool):
            raise ConsoleError(
                f"contexts.{name}.read_only in the config file {path} must be true or false."
            )
        if flag:
            out.add(str(name))
    return frozenset(out)
