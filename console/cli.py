"""Command line: the TUI by default, headless subcommands for runbooks.

    rollout-console [--demo] [--seed N] [--speed X] [--scenario NAME] [--read-only] [--no-guard]
    rollout-console serve [TUI options] [--host H] [--port P] [--allow-actions]
    rollout-console --kube [--context C ...] [-n NS | -A] [--prometheus URL] [--guard]
    rollout-console get [-A | -n NS] [--context C] [-o table|json]
    rollout-console advance|promote|pause|resume|rollback|retry|undo NS/NAME [--yes]
    rollout-console metrics NS/NAME [--context C] [-o table|json]
    rollout-console guard [-A | -n NS] [--prometheus URL] [--interval 30s] [--dry-run]
    rollout-console guard --print-manifests [-n NS] [--image IMG]
    rollout-console verdict NS/NAME [--prometheus URL] [-o json] [--watch]

Heavy imports (textual, kubernetes, prometheus) happen only on the path that
needs them, so `get` does not pay for textual and the demo not for kubernetes.
This module is the parser and the dispatch only: the TUI starts in console.tui,
imported when the options ask for it, and console.sources picks the data sources
for every command.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

ACTION_COMMANDS = ("advance", "promote", "pause", "resume", "rollback", "retry", "undo")

#: The console's themes (themes.THEMES; that module imports textual, so the names are
#: repeated here and a unit test keeps the two equal). Short aliases are accepted too.
THEME_NAMES = ("rollout-dark", "rollout-light", "rollout-high-contrast")
MAX_SPEED = 1000.0
#: Where `serve` listens unless told otherwise: only this machine can open the page.
LOOPBACK = "127.0.0.1"


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """kubectl's durations: 10s, 1m, 500ms, 1h; a bare number is seconds."""
    number, unit = text, "s"
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)], suffix
            break
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 10s or 1m") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive duration such as 10s")
    return value


def theme_name(text: str) -> str:
    name = text if text.startswith("rollout-") else f"rollout-{text}"
    if name not in THEME_NAMES:
        choices = ", ".join(THEME_NAMES)
        raise argparse.ArgumentTypeError(f"no theme {text!r}; choose one of {choices}")
    return name


def speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: give a speed above 0 and at most {MAX_SPEED:g}"
        )
    return value


def public_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL, e.g. http://demo-laptop:8000"
        )
    return text.rstrip("/")


def scenario_name(text: str) -> str:
    from console.demo.stories import story_names

    names = story_names()
    if text != "list" and text not in names:
        raise argparse.ArgumentTypeError(
            f"no scenario {text!r}; choose one of {', '.join(names)} (or list)"
        )
    return text


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a port 1-65535")
    return value


def prometheus_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL, e.g. http://prometheus:9090"
        )
    return text


def _add_cluster_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster")
    g.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    g.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="C",
        help="kubeconfig context; repeat to show several clusters at once",
    )
    g.add_argument(
        "--request-timeout",
        type=duration,
        default=None,
        metavar="T",
        help="give up on a request the API server does not answer in T, e.g. 5s, 1m (default 10s)",
    )
    ns = g.add_mutually_exclusive_group()
    ns.add_argument("-n", "--namespace", metavar="NS", help="only this namespace")
    ns.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


def _add_demo_args(g: argparse._ActionsContainer) -> None:
    g.add_argument("--seed", type=int, default=7, help="demo: random seed (default 7)")
    g.add_argument(
        "--speed",
        type=speed,
        default=1.0,
        help=f"demo: simulated seconds per real second (above 0, at most {MAX_SPEED:g})",
    )


def _add_metrics_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("metrics")
    g.add_argument(
        "--prometheus", metavar="URL", type=prometheus_url, help="Prometheus/Thanos/Mimir base URL"
    )
    g.add_argument("--config", metavar="FILE", help="config file (default: XDG config dir)")


def _add_tui_args(parser: argparse.ArgumentParser, *, theme_default: str | None) -> None:
    """The console's own options: the TUI's, and `serve`'s, which passes them on."""
    source = parser.add_argument_group("source")
    source.add_argument(
        "--demo",
        action="store_true",
        help="built-in simulated cluster (the default when no cluster option is given)",
    )
    source.add_argument("--kube", action="store_true", help="use the Kubernetes API")
    _add_demo_args(source)
    source.add_argument(
        "--scenario",
        type=scenario_name,
        metavar="NAME",
        help="demo: a presenter's scripted story alone on the cluster (--scenario list shows them)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="no action keys at all; actions are refused"
    )
    parser.add_argument(
        "--theme",
        type=theme_name,
        default=theme_default,
        metavar="NAME",
        help=f"one of {', '.join(THEME_NAMES)} (or dark, light, high-contrast)",
    )
    guard_flags = parser.add_mutually_exclusive_group()
    guard_flags.add_argument(
        "--guard",
        action="store_true",
        help="run the guard loop in this console (the demo does by default); it takes the "
        "same Lease as an in-cluster guard, so it never acts beside one",
    )
    parser.add_argument(
        "--lease-namespace",
        metavar="NS",
        help="--guard: where the guard's Lease lives (default: rollout-console)",
    )
    guard_flags.add_argument("--no-guard", action="store_true", help="demo: do not run the guard")
    _add_cluster_args(parser)
    _add_metrics_args(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollout-console",
        description="A terminal console for live canary rollouts on Kubernetes.",
    )
    _add_tui_args(parser, theme_default="rollout-dark")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve the console to a browser (demos on a projector); takes every TUI option",
        description="Serve the console to a browser through textual-serve: each page opened "
        "runs its own console. Light theme unless --theme; read-only on a cluster unless "
        "--allow-actions.",
    )
    _add_tui_args(serve, theme_default=None)
    web = serve.add_argument_group("serve")
    web.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"address to listen on (default {LOOPBACK}); any other warns: whoever can "
        "reach it can open the console",
    )
    web.add_argument("--port", type=port_number, default=8000, help="TCP port (default 8000)")
    web.add_argument(
        "--public-url",
        metavar="URL",
        type=public_url,
        help="the address browsers use, behind a proxy or a name (default http://HOST:PORT)",
    )
    web.add_argument(
        "--allow-actions",
        action="store_true",
        help="--kube: let whoever opens the page act (default: read-only on a cluster)",
    )
    get = sub.add_parser("get", help="list rollouts")
    get.add_argument("--demo", action="store_true", help="the built-in simulated cluster")
    _add_demo_args(get)
    _add_cluster_args(get)
    get.add_argument("-o", "--output", choices=("table", "json"), default="table")
    for name in ACTION_COMMANDS:
        p = sub.add_parser(name, help=f"{name} a rollout")
        p.add_argument("target", metavar="NS/NAME")
        p.add_argument("--demo", action="store_true", help="the built-in simulated cluster")
        _add_demo_args(p)
        _add_cluster_args(p)
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        p.add_argument(
            "--expect-step",
            type=int,
            metavar="N",
            help="refuse unless the rollout is at step N (what the runbook expects)",
        )
        p.add_argument(
            "--expect-weight",
            type=int,
            metavar="W",
            help="refuse unless the canary's set weight is W %%",
        )
        p.set_defaults(action=name)
    metrics = sub.add_parser("metrics", help="latest per-version figures of a rollout")
    metrics.add_argument("target", metavar="NS/NAME")
    _add_cluster_args(metrics)
    _add_metrics_args(metrics)
    metrics.add_argument("-o", "--output", choices=("table", "json"), default="table")
    metrics.add_argument("--window", default="5m", help="lookback window (default 5m)")
    metrics.add_argument(
        "--version-label",
        action="append",
        default=[],
        metavar="ROLE=LABEL[:POD_HASH]",
        help="name a version without asking the cluster, e.g. canary=v2:7c9f8d",
    )
    guard = sub.add_parser(
        "guard",
        help="run the guard: pause a canary on an SLO breach (long-running; one Lease leader)",
    )
    _add_cluster_args(guard)
    _add_metrics_args(guard)
    _add_guard_args(guard)
    guard.add_argument("--dry-run", action="store_true", help="log what it would do; write nothing")
    guard.add_argument(
        "--lease-namespace",
        metavar="NS",
        help="namespace of the leader Lease (default: the pod's, else rollout-console)",
    )
    guard.add_argument(
        "--identity", metavar="ID", help="Lease holder identity (default: host_random)"
    )
    guard.add_argument("-v", "--verbose", action="store_true", help="one line per evaluation too")
    guard.add_argument(
        "--print-manifests",
        action="store_true",
        help="print ServiceAccount, RBAC, ConfigMap and Deployment YAML (-n: their namespace)",
    )
    guard.add_argument("--image", metavar="IMG", help="container image for --print-manifests")
    verdict = sub.add_parser(
        "verdict", help="judge a rollout's canary against its gates (exit 0 pass, 1 fail, ...)"
    )
    verdict.add_argument("target", metavar="NS/NAME")
    _add_cluster_args(verdict)
    _add_metrics_args(verdict)
    _add_guard_args(verdict)
    verdict.add_argument("-o", "--output", choices=("table", "json"), default="table")
    verdict.add_argument("--watch", action="store_true", help="NDJSON, one line per evaluation")
    return parser


def _add_guard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gates", metavar="FILE", help="gate sets file (default: gates: in the config)")
    p.add_argument("--interval", default="30s", help="time between evaluations (default 30s)")
    demo = p.add_argument_group("demo")
    demo.add_argument("--demo", action="store_true", help="the simulated cluster, no kube needed")
    demo.add_argument("--seed", type=int, default=7, help="demo: random seed (default 7)")
    demo.add_argument("--speed", type=float, default=1.0, help="demo: simulated s per real s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "get":
        from console.headless import run_get

        return run_get(args)
    if args.command in ACTION_COMMANDS:
        from console.headless import run_action

        return run_action(args)
    if args.command == "guard":
        from console.guard.headless import run_guard

        return run_guard(args)
    if args.command == "verdict":
        from console.guard.headless import run_verdict

        return run_verdict(args)
    if args.command == "metrics":
        from console.metrics.headless import run_metrics

        return run_metrics(args)

    done = _check_tui_options(parser, args)
    if done is not None:
        return done
    if args.command == "serve":
        from console.serve import run_serve

        return run_serve(args)
    if not (_served() or (sys.stdin.isatty() and sys.stdout.isatty())):
        # Escape codes into a file, and a UI nobody can quit: refuse instead.
        print(
            "rollout-console: the console needs a terminal; "
            "for scripts use `rollout-console get` (see --help).",
            file=sys.stderr,
        )
        return 2
    # The only way into textual: everything above runs without it (an import-linter
    # contract ignores just this edge, and tests/unit/test_textfree.py checks at run time).
    from console.tui import run_tui

    return run_tui(args)


def _check_tui_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int | None:
    """Checks the TUI and `serve` share; a number is an exit code to return at once."""
    from console.sources import wants_kube

    if args.scenario == "list":
        from console.demo.stories import listing

        print(listing())
        return 0
    if args.prometheus and not wants_kube(args):
        parser.error("--prometheus needs a cluster: add --kube (the demo has its own metrics)")
    if args.scenario and wants_kube(args):
        parser.error("--scenario is a demo story: drop the cluster options or add --demo")
    if getattr(args, "allow_actions", False) and args.read_only:
        parser.error("--allow-actions and --read-only contradict each other: give one")
    return None


def _served() -> bool:
    """Run by textual-serve for a browser: stdin and stdout are its pipes, not a tty."""
    return os.environ.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web_driver")


if __name__ == "__main__":
    sys.exit(main())
