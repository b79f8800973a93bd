"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, controller-manager,
scheduler, kwok (fake nodes whose pods become Ready) and the Argo Rollouts controller;
on request (``start_flagger``) the Flagger controller too.

Everything binds to 127.0.0.1 on free ports (except Argo's and Flagger's metrics and
health servers, whose listen address is hard-coded to 0.0.0.0 upstream), runs in its
own process group with its log in the work dir, and is recorded in
``<workdir>/pids`` so ``stop()`` or ``tests/lab/down`` can remove it all.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.lab import binaries, crds, kubeconfig, pki, proc

T = TypeVar("T")

ARGO_NAMESPACE = "argo-rollouts"
GPU_RESOURCE = "nvidia.com/gpu"
_SA_ISSUER = "https://kubernetes.default.svc.cluster.local"

# Client certificates: file stem -> (user, group). The control-plane users get their
# bootstrap RBAC roles by name; the others are cluster-admin through system:masters.
_CLIENTS: dict[str, tuple[str, str | None]] = {
    "admin": ("lab-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("kwok", "system:masters"),
    "argo-rollouts": ("argo-rollouts-controller", "system:masters"),
    "flagger": ("flagger", "system:masters"),
}


# Reverse start order: what a process depends on is stopped after it.
STOP_ORDER = (
    "flagger",
    "argo-rollouts",
    "kwok",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
)


class LabStartError(RuntimeError):
    """A lab piece did not start; the message names the piece and its log."""

    def __init__(self, piece: str, reason: str, log: Path | None) -> None:
        self.piece, self.reason, self.log = piece, reason, log
        where = f"; see {log}" if log else ""
        super().__init__(f"lab: {piece} did not start: {reason}{where}")


class KubeLab:
    """The Kubernetes half of the lab, living in ``workdir``."""

    def __init__(self, workdir: Path, *, nodes: int = 4, gpus_per_node: int = 4) -> None:
        # 16 GPUs: the sample Rollout at its last step (4 stable + 3 canary) plus a test
        # Rollout mid-canary (4 + 2) and a few test pods fit at once on a shared lab.
        self.workdir = workdir.resolve()
        self.nodes = nodes
        self.gpus_per_node = gpus_per_node
        self.pid_dir = self.workdir / "pids"
        self.log_dir = self.workdir / "logs"
        self.kubeconfig = self.workdir / "admin.kubeconfig"
        self.server = ""
        self._owned = True
        self._children: list[proc.Child] = []

    @classmethod
    def attach(cls, admin_kubeconfig: Path) -> KubeLab:
        """A handle on a lab started elsewhere (``tests/lab/up``); ``stop()`` leaves it running."""
        lab = cls(admin_kubeconfig.parent)
        lab.kubeconfig = admin_kubeconfig.resolve()
        lab.server = kubeconfig.server_of(lab.kubeconfig)
        lab._owned = False
        return lab

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start every piece and wait until each is ready; raises LabStartError."""
        missing = binaries.missing()
        if missing:
            raise LabStartError(
                "install", f"missing {', '.join(missing)} (run tests/lab/install)", None
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def _start_all(self) -> None:
        certs = pki.generate(self.workdir / "pki", _CLIENTS)
        self._pki = certs
        etcd_url = self._start_etcd()
        self.etcd_url = etcd_url
        api_port = proc.free_port()
        self._api_port = api_port
        self.server = f"https://127.0.0.1:{api_port}"
        configs = {
            stem: kubeconfig.write(
                self.workdir / f"{stem}.kubeconfig",
                server=self.server,
                ca=certs.ca.cert,
                user=cn,
                client_cert=certs.clients[stem].cert,
                client_key=certs.clients[stem].key,
            )
            for stem, (cn, _) in _CLIENTS.items()
        }
        # configs["admin"] is self.kubeconfig, the one handed out to people and tests.
        self._start_apiserver(api_port, etcd_url, certs)
        self._start_component(
            "kube-controller-manager",
            binaries.KUBE_CONTROLLER_MANAGER.path,
            configs["controller-manager"],
            [
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={certs.sa_private}",
                f"--root-ca-file={certs.ca.cert}",
                f"--cluster-signing-cert-file={certs.ca.cert}",
                f"--cluster-signing-key-file={certs.ca.key}",
                "--controllers=*",
            ],
        )
        self._start_component(
            "kube-scheduler", binaries.KUBE_SCHEDULER.path, configs["scheduler"], []
        )
        self._apply_crds()
        self._start_kwok(configs["kwok"])
        self._start_argo(configs["argo-rollouts"])

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process group this lab recorded (TERM, then KILL after ``timeout``)."""
        if not self._owned:
            return
        # Dependents first, etcd last, so nothing stalls on a dependency that is gone.
        # Child.stop also reaps: stop_pid_files alone would see our own zombies as
        # still alive and wait out its whole timeout.
        for child in reversed(self._children):
            child.stop(timeout=timeout)
        self._children.clear()
        # Anything recorded but not started by this object (an earlier run in the same dir).
        proc.stop_pid_files(self.pid_dir, timeout=timeout, first=STOP_ORDER)

    # --- pieces ----------------------------------------------------------------------

    def _spawn(
        self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> proc.Child:
        child = proc.spawn(
            name,
            argv,
            log_dir=self.log_dir,
            pid_dir=self.pid_dir,
            env={**os.environ, **(env or {})},
            cwd=self.workdir,
        )
        self._children.append(child)
        return child

    def _wait_ready(self, child: proc.Child, probe: Callable[[], object], timeout: float) -> None:
        """Poll ``probe`` until truthy; fail at once, with the log tail, if the process died."""

        def check() -> object:
            if not child.alive():
                raise proc.GiveUp(f"exited with {child.popen.returncode}:\n{child.log_tail()}")
            return probe()

        try:
            proc.wait_for(check, timeout=timeout, what=f"{child.name} ready", interval=0.2)
        except (proc.GiveUp, TimeoutError) as exc:
            raise LabStartError(child.name, str(exc), child.log_path) from exc

    def _start_etcd(self) -> str:
        client, peer = proc.free_port(), proc.free_port()
        url = f"http://127.0.0.1:{client}"
        child = self._spawn(
            "etcd",
            [
                str(binaries.ETCD.path),
                "--name=lab",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=lab=http://127.0.0.1:{peer}",
                # Throwaway data: skip fsync so a slow disk does not slow every API write.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait_ready(
            child, lambda: b'"health":"true"' in _http_get(f"{url}/health"), timeout=30
        )
        return url

    def _start_apiserver(
        self, port: int, etcd_url: str, certs: pki.LabPKI, extra: Sequence[str] = ()
    ) -> None:
        child = self._spawn(
            "kube-apiserver",
            [
                str(binaries.KUBE_APISERVER.path),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={certs.apiserver.cert}",
                f"--tls-private-key-file={certs.apiserver.key}",
                f"--client-ca-file={certs.ca.cert}",
                f"--service-account-issuer={_SA_ISSUER}",
                f"--service-account-key-file={certs.sa_public}",
                f"--service-account-signing-key-file={certs.sa_private}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                # A loopback address may not be published as the kubernetes Service
                # endpoint, and nothing in the lab reaches the API through that Service.
                "--endpoint-reconciler-type=none",
                # pods/log is proxied to the node's kubelet, here kwok on 127.0.0.1: the
                # kwok nodes also publish their name as Hostname, which does not resolve.
                "--kubelet-preferred-address-types=InternalIP",
                "--profiling=false",
                *extra,
            ],
        )
        self._apiserver = child
        ctx = self._client_tls()
        self._wait_ready(
            child, lambda: _http_get(f"{self.server}/readyz", ctx) == b"ok", timeout=90
        )

    # --- faults: the API server killed and started again, etcd compacted ---------------

    def kill_apiserver(self) -> None:
        """SIGKILL the API server, as a crash or an OOM kill would (an owned lab only)."""
        if not self._owned:
            raise RuntimeError("lab: only a lab this session started can kill its API server")
        child = self._apiserver
        os.killpg(child.pid, signal.SIGKILL)
        child.popen.wait(timeout=30)
        child.pid_path.unlink(missing_ok=True)
        self._children.remove(child)

    def start_apiserver(self, extra: Sequence[str] = ()) -> None:
        """Start the API server again on its port, with `extra` flags (e.g.
        ``--watch-cache=false``) after the lab's own; waits until it is ready."""
        if self._apiserver.alive():
            self.kill_apiserver()
        self._start_apiserver(self._api_port, self.etcd_url, self._pki, extra)

    def compact_etcd(self) -> int:
        """Compact etcd at its current revision (what the API server does every 5 min):
        any watch from an older resourceVersion then gets 410 Gone. Returns the revision."""
        key = base64.b64encode(b"/registry").decode()
        head = json.loads(_http_post(f"{self.etcd_url}/v3/kv/range", {"key": key}))
        revision = int(head["header"]["revision"])
        _http_post(f"{self.etcd_url}/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    def _start_component(self, name: str, binary: Path, config: Path, extra: list[str]) -> None:
        port = proc.free_port()
        child = self._spawn(
            name,
            [
                str(binary),
                f"--kubeconfig={config}",
                f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--leader-elect=false",
                *extra,
            ],
        )
        # /healthz is on the always-allowed list, and the serving cert is self-signed.
        self._wait_ready(
            child,
            lambda: _http_get(f"https://127.0.0.1:{port}/healthz", _insecure_tls()) == b"ok",
            timeout=60,
        )

    def _start_kwok(self, config: Path) -> None:
        port = proc.free_port()
        # With kwok's Logs/ClusterLogs CRDs (tests/lab/install copies them), tests make
        # pods/log serve a file of theirs: the API server asks the node (kwok's server,
        # HTTPS on the node port, on the node IP) for the container's log.
        log_crds = sorted(binaries.kwok_crd_dir().glob("*.yaml"))
        extra: list[str] = []
        if log_crds:
            args = [a for f in log_crds for a in ("-f", str(f))]
            self.kubectl("apply", "--server-side", *args)
            self.kubectl("wait", "--for=condition=Established", "--timeout=60s", *args)
            extra.append("--enable-crds=Logs,ClusterLogs")
        child = self._spawn(
            "kwok",
            [
                str(binaries.KWOK.path),
                f"--config={binaries.kwok_stages()}",
                f"--kubeconfig={config}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-label-selector=type=kwok",
                f"--server-address=127.0.0.1:{port}",
                f"--node-port={port}",
                "--node-ip=127.0.0.1",
                *extra,
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
            ],
        )
        self._wait_ready(
            child, lambda: _http_get(f"http://127.0.0.1:{port}/healthz") == b"ok", timeout=30
        )
        self.apply_yaml(
            "\n---\n".join(
                yaml.safe_dump(_fake_node(i, self.gpus_per_node)) for i in range(self.nodes)
            )
        )
        self.wait_for(self._nodes_ready, timeout=60, what=f"{self.nodes} kwok nodes Ready")

    def _nodes_ready(self) -> bool:
        nodes = self.get_json("nodes", "-l", "type=kwok")["items"]
        ready = [
            n
            for n in nodes
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) == self.nodes

    def _start_argo(self, config: Path) -> None:
        self.kubectl("create", "namespace", ARGO_NAMESPACE)
        health = proc.free_port()
        child = self._spawn(
            "argo-rollouts",
            [
                str(binaries.ROLLOUTS_CONTROLLER.path),
                f"--kubeconfig={config}",
                f"--healthzPort={health}",
                f"--metricsPort={proc.free_port()}",
                "--leader-elect=false",
                "--loglevel=info",
            ],
            # The namespace it reads its notification ConfigMap from.
            env={"POD_NAMESPACE": ARGO_NAMESPACE},
        )
        self._wait_ready(
            child, lambda: _http_get(f"http://127.0.0.1:{health}/healthz") == b"ok", timeout=60
        )

    def _apply_crds(self) -> None:
        try:
            files = crds.crd_files()
        except FileNotFoundError as exc:
            raise LabStartError("CRDs", str(exc), None) from exc
        self._apply_crd_files(files)

    def _apply_crd_files(self, files: Sequence[Path]) -> None:
        args: list[str] = []
        for f in files:
            args += ["-f", str(f)]
        # Server-side: the Rollout CRD is far larger than the 256 KiB annotation that
        # client-side apply would store it in.
        self.kubectl("apply", "--server-side", "--force-conflicts", *args)
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", *args)
        # Established is not yet served: for a moment a new kind answers 429 "storage is
        # (re)initializing", and the first test to list it (every `get` lists every
        # kind) would fail. Wait until each one lists.
        names = ",".join(yaml.safe_load(f.read_text())["metadata"]["name"] for f in files)

        def listable() -> bool:
            try:
                self.kubectl("get", names, "-A", "-o", "name", timeout=30)
            except RuntimeError:
                return False
            return True

        self.wait_for(listable, timeout=60, what="every CRD's kind to list")

    # --- Flagger: started only by the tests that need it -------------------------------

    def start_flagger(self, metrics_server: str, namespace: str | None = None) -> proc.Child:
        """Start the real Flagger controller; stop it with ``stop_piece``.

        Istio is its mesh provider (the lab has the VirtualService and DestinationRule
        CRDs, no Istio), ``metrics_server`` the Prometheus its checks query, and
        ``namespace`` (if given) the only one whose Canaries it watches. Its informers
        also need the MetricTemplate and AlertProvider kinds, applied here first.
        """
        missing = binaries.flagger_missing()
        if missing:
            raise LabStartError(
                "flagger", f"missing {', '.join(missing)} (run tests/lab/install)", None
            )
        self._apply_crd_files(binaries.flagger_crd_files())
        # Its own client certificate; a lab started before Flagger joined has none.
        config = self.workdir / "flagger.kubeconfig"
        if not config.exists():
            config = self.kubeconfig
        port = proc.free_port()
        child = self._spawn(
            "flagger",
            [
                str(binaries.FLAGGER.path),
                f"-kubeconfig={config}",
                "-mesh-provider=istio",
                f"-metrics-server={metrics_server}",
                f"-port={port}",
                *([f"-namespace={namespace}"] if namespace else []),
                # How often new Canaries get their analysis job; each Canary then
                # ticks at its own analysis interval (Flagger's floor is 10 s).
                "-control-loop-interval=1s",
                "-enable-leader-election=false",
                "-log-level=info",
            ],
        )
        # /healthz answers once the informers have synced (Flagger starts them first).
        self._wait_ready(
            child, lambda: _http_get(f"http://127.0.0.1:{port}/healthz") == b"OK", timeout=60
        )
        return child

    def stop_piece(self, child: proc.Child) -> None:
        """Stop one piece started by a ``start_*`` method, leaving the rest running."""
        child.stop()
        if child in self._children:
            self._children.remove(child)

    # --- helpers for tests ------------------------------------------------------------

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        kubeconfig_path: Path | None = None,
        timeout: float = 120,
        stderr: bool = False,
    ) -> str:
        """Run kubectl against the lab; returns stdout (plus stderr if asked).

        Raises RuntimeError with kubectl's stderr when it fails and ``check`` is set.
        """
        kubectl = binaries.kubectl()
        if kubectl is None:
            raise LabStartError("kubectl", "no kubectl on PATH and none built", None)
        result = subprocess.run(
            [str(kubectl), f"--kubeconfig={kubeconfig_path or self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout + result.stderr if stderr else result.stdout

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply_yaml(self, text: str) -> str:
        return self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=text)

    @staticmethod
    def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
        """Poll ``fn`` until it returns something truthy, or raise TimeoutError naming ``what``."""
        return proc.wait_for(fn, timeout=timeout, what=what, interval=0.25)

    def create_service_account_kubeconfig(
        self, namespace: str, name: str, rules: list[dict[str, Any]]
    ) -> Path:
        """A kubeconfig for ServiceAccount ``namespace/name`` bound to a Role with ``rules``.

        The token comes from the TokenRequest API, as a real client's would.
        """
        self.apply_yaml(
            yaml.safe_dump_all(
                [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace},
                    },
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "Role",
                        "metadata": {"name": name, "namespace": namespace},
                        "rules": rules,
                    },
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "RoleBinding",
                        "metadata": {"name": name, "namespace": namespace},
                        "roleRef": {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "Role",
                            "name": name,
                        },
                        "subjects": [
                            {"kind": "ServiceAccount", "name": name, "namespace": namespace}
                        ],
                    },
                ]
            )
        )
        token = self.kubectl("create", "token", name, "-n", namespace, "--duration=24h").strip()
        path = self.workdir / f"sa-{namespace}-{name}.kubeconfig"
        return kubeconfig.write(
            path,
            server=self.server,
            ca=self._ca_path(),
            user=f"system:serviceaccount:{namespace}:{name}",
            token=token,
            namespace=namespace,
        )

    @property
    def sa_signing_key(self) -> Path:
        """The key the API server signs ServiceAccount tokens with (a test re-signs one)."""
        return self.workdir / "pki" / "sa.key"

    def _ca_path(self) -> Path:
        config = yaml.safe_load(self.kubeconfig.read_text())
        return Path(config["clusters"][0]["cluster"]["certificate-authority"])

    def _client_tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self._pki.ca.cert))
        admin = self._pki.clients["admin"]
        ctx.load_cert_chain(str(admin.cert), str(admin.key))
        return ctx

    def log_path(self, piece: str) -> Path:
        return self.log_dir / f"{piece}.log"


def _fake_node(index: int, gpus: int) -> dict[str, Any]:
    """A Node for kwok to manage: it publishes the status, no kubelet needed."""
    name = f"kwok-node-{index}"
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", GPU_RESOURCE: str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def _insecure_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _http_post(url: str, body: dict[str, Any]) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: bytes = response.read()
        return data


def _http_get(url: str, ctx: ssl.SSLContext | None = None) -> bytes:
    with urllib.request.urlopen(url, timeout=5, context=ctx) as response:
        body: bytes = response.read()
        return body
