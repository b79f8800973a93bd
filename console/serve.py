"""`rollout-console serve`: the same console in a browser, through textual-serve.

Each page opened runs its own console process, started by textual-serve through
`/bin/sh -c`; that command line is built here from the parsed options, every part
quoted, so no option value (a context, a path, a URL) can become shell syntax.

Anyone who can open the page can press keys, so: loopback unless --host says
otherwise (and then a warning), and read-only on a real cluster unless
--allow-actions (the served console gets --read-only: no action keys, and its
backend refuses actions too).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shlex
import socket
import sys
from typing import Any

from console.exit_codes import OK, USAGE
from console.sources import wants_kube

#: Projectors wash out dark themes: the served console is light unless --theme.
SERVED_THEME = "rollout-light"
TITLE = "rollout-console"


def served_read_only(args: argparse.Namespace) -> bool:
    """A cluster is read-only when served unless the presenter allows actions."""
    return bool(args.read_only or (wants_kube(args) and not args.allow_actions))


def served_argv(args: argparse.Namespace) -> list[str]:
    """The console's own options for each served page, from the parsed `serve` options.

    `--opt=value` throughout, so a value that starts with `-` stays a value."""
    argv: list[str] = []
    if wants_kube(args):
        argv.append("--kube")
        if args.kubeconfig:
            argv.append(f"--kubeconfig={args.kubeconfig}")
        argv += [f"--context={context}" for context in args.context]
        if args.namespace:
            argv.append(f"--namespace={args.namespace}")
        if args.all_namespaces:
            argv.append("--all-namespaces")
        if args.request_timeout is not None:
            argv.append(f"--request-timeout={args.request_timeout!r}s")
        if args.prometheus:
            argv.append(f"--prometheus={args.prometheus}")
        if args.guard:
            argv.append("--guard")
        if args.lease_namespace:
            argv.append(f"--lease-namespace={args.lease_namespace}")
    else:
        argv += ["--demo", f"--seed={args.seed}", f"--speed={args.speed!r}"]
        if args.scenario:
            argv.append(f"--scenario={args.scenario}")
        if args.no_guard:
            argv.append("--no-guard")
    if args.config:
        argv.append(f"--config={args.config}")
    if served_read_only(args):
        argv.append("--read-only")
    argv.append(f"--theme={args.theme or SERVED_THEME}")
    return argv


def served_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs per page: this Python, this console."""
    return shlex.join([sys.executable, "-m", "console", *served_argv(args)])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def page_url(args: argparse.Namespace) -> str:
    """Where browsers open the page (the page's websocket address is built from it)."""
    if args.public_url:
        return str(args.public_url)
    host = str(args.host)
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()  # every address: name this machine, not "0.0.0.0"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{args.port}"


def run_serve(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

    url = page_url(args)

    class QuietServer(Server):
        """textual-serve's server, minus its banner: the banner prints the command,
        which may carry a Prometheus URL with credentials in it."""

        async def on_startup(self, app: Any) -> None:
            print(f"rollout-console: serving the console at {url} (ctrl+c stops)", flush=True)

        def initialize_logging(self) -> None:
            # Problems only: an access-log line per request buries the URL above.
            logging.basicConfig(level=logging.WARNING, format="rollout-console: %(message)s")

    if not is_loopback(args.host):
        print(
            f"rollout-console: warning: listening on {args.host}: anyone who can reach "
            f"port {args.port} can open the console and press its keys (no login).",
            file=sys.stderr,
            flush=True,
        )
    if served_read_only(args) and not args.read_only:
        print(
            "rollout-console: read-only: the page shows the cluster and cannot act on it; "
            "--allow-actions lets whoever opens it act.",
            file=sys.stderr,
            flush=True,
        )
    server = QuietServer(
        served_command(args), host=args.host, port=args.port, title=TITLE, public_url=url
    )
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(
            f"rollout-console: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return USAGE
    return OK
