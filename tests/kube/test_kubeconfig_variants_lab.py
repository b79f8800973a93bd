"""Kubeconfig variants a real user has, each run through the installed
`rollout-console get` against the lab's real kube-apiserver.

Every variant either lists the namespace's Rollout or ends with one sentence on
stderr and the exit code README "Exit codes" gives it; no token is ever printed.
The identity is a ServiceAccount token (TokenRequest) with read rights on the
Argo kinds in one namespace.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from console import exit_codes
from tests.faults.test_exec_plugin_lab import exec_kubeconfig, one_sentence
from tests.kube.helpers import ARGO_READER
from tests.lab import pki, proc, sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

#: The name the SNI certificate is issued for; it resolves nowhere, only TLS sees it.
SNI_NAME = "api.lab.test"

_ROLLOUT_CONSOLE = Path(sys.executable).parent / "rollout-console"


@dataclass(frozen=True)
class Reader:
    """A namespace holding the sample Rollout and a token that may read it."""

    namespace: str
    token: str = field(repr=False)  # kept out of pytest's failure reports
    server: str
    ca: Path


@pytest.fixture(scope="module")
def reader(kube_lab: KubeLab) -> Iterator[Reader]:
    # Not helpers.unique_ns: tests/kube/conftest.py deletes those after each test.
    ns = f"kc-variants-{uuid.uuid4().hex[:6]}"
    sa = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
    config = yaml.safe_load(sa.read_text())
    objs = sample.manifests(ns)
    for obj in objs:
        if obj["kind"] == "Rollout":
            # Only listed, never rolled: one pod, no GPUs, little work for the lab.
            obj["spec"]["replicas"] = 1
            for container in obj["spec"]["template"]["spec"]["containers"]:
                container.pop("resources", None)
    kube_lab.apply_yaml(yaml.safe_dump_all(objs, sort_keys=False))
    cluster = config["clusters"][0]["cluster"]
    yield Reader(
        namespace=ns,
        token=config["users"][0]["user"]["token"],
        server=cluster["server"],
        ca=Path(cluster["certificate-authority"]),
    )
    kube_lab.kubectl("delete", "namespace", "--wait=false", "--ignore-not-found", ns, check=False)


def write_kubeconfig(
    path: Path,
    reader: Reader,
    *,
    cluster: Mapping[str, Any] | None = None,
    user: Mapping[str, Any] | None = None,
) -> Path:
    """A one-context kubeconfig for `reader`, with `cluster`/`user` fields overridden."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "lab",
                "cluster": {
                    "server": reader.server,
                    "certificate-authority": str(reader.ca),
                    **(cluster or {}),
                },
            }
        ],
        "users": [{"name": "reader", "user": dict(user or {"token": reader.token})}],
        "contexts": [
            {
                "name": "lab",
                "context": {"cluster": "lab", "user": "reader", "namespace": reader.namespace},
            }
        ],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # No proxy from the caller's environment: each test says which one it wants.
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "kubeconfig")
    }
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def get(
    kubeconfig: Path | None,
    *args: str,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """The installed `rollout-console get`, headless, as a user would type it."""
    cmd = [*prefix, str(_ROLLOUT_CONSOLE), "get"]
    if kubeconfig is not None:
        cmd += ["--kubeconfig", str(kubeconfig)]
    return subprocess.run(
        [*cmd, "--request-timeout", "10s", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(env),
    )


def assert_lists(done: subprocess.CompletedProcess[str], *secrets: str) -> None:
    assert done.returncode == exit_codes.OK, done.stderr
    assert sample.NAME in done.stdout, done.stdout
    assert_no_secret(done, *secrets)


def fails(done: subprocess.CompletedProcess[str], code: int, *secrets: str) -> str:
    """The one sentence of a failed `get`, after checking its exit code and that no
    secret leaked."""
    assert_no_secret(done, *secrets)
    line = one_sentence(done.stderr)
    assert done.returncode == code, f"exit {done.returncode}: {line}"
    assert done.stdout.strip() == "", done.stdout
    return line


def assert_no_secret(done: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret, "an empty secret proves nothing"
        assert secret not in done.stdout and secret not in done.stderr, "a token was printed"


# --- 1. exec credential plugin ----------------------------------------------------------


def test_an_exec_plugin_token_lists(kube_lab: KubeLab, reader: Reader, tmp_path: Path) -> None:
    kubeconfig, runs = exec_kubeconfig(kube_lab, tmp_path, "ok", token=reader.token, lifetime=600)
    assert_lists(get(kubeconfig, "-n", reader.namespace), reader.token)
    assert runs.read_text().strip(), "the plugin never ran"


def test_a_failing_exec_plugin_is_one_sentence_without_its_secrets(
    reader: Reader, tmp_path: Path
) -> None:
    # A plugin that fails and quotes a refresh token in its stderr, as a careless one might.
    refresh = f"eyJhbGciOi.{uuid.uuid4().hex}.{uuid.uuid4().hex}"
    plugin = tmp_path / "oidc-login"
    plugin.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"print('refresh token {refresh} expired; run oidc-login', file=sys.stderr)\n"
        "sys.exit(1)\n"
    )
    plugin.chmod(0o755)
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
    kubeconfig = write_kubeconfig(tmp_path / "exec-fail.kubeconfig", reader, user=exec_user)
    line = fails(get(kubeconfig), exit_codes.UNAVAILABLE, refresh, reader.token)
    assert "exited 1" in line and "run oidc-login" in line


# --- 2. tls-server-name -------------------------------------------------------------------


@dataclass(frozen=True)
class SniCert:
    ca: Path  # trusts only the SNI certificate, not the lab's serving one


@pytest.fixture(scope="module")
def sni_cert(kube_lab: KubeLab, tmp_path_factory: pytest.TempPathFactory) -> SniCert:
    """The lab's API server restarted to also serve a certificate for SNI_NAME alone
    (no IP address) when a client asks for that name: `--tls-sni-cert-key`. Every
    other client still gets the lab's own certificate, so it stays in place after."""
    if getattr(kube_lab, "_owned", False) is not True:
        pytest.skip("the lab was started elsewhere (ROLLOUT_LAB_KUBECONFIG): not ours to restart")
    ca, pair = pki.name_only(tmp_path_factory.mktemp("sni"), SNI_NAME)
    kube_lab.start_apiserver([f"--tls-sni-cert-key={pair.cert},{pair.key}:{SNI_NAME}"])
    return SniCert(ca=ca.cert)


def test_tls_server_name_verifies_a_certificate_issued_for_a_name(
    reader: Reader, sni_cert: SniCert, tmp_path: Path
) -> None:
    # https://127.0.0.1:PORT, and a CA that signed only the certificate for SNI_NAME: this
    # lists only if the client sends SNI_NAME and checks the certificate against it.
    kubeconfig = write_kubeconfig(
        tmp_path / "sni.kubeconfig",
        reader,
        cluster={"certificate-authority": str(sni_cert.ca), "tls-server-name": SNI_NAME},
    )
    assert kubeconfig.read_text().count("127.0.0.1") == 1
    assert_lists(get(kubeconfig), reader.token)


def test_without_tls_server_name_the_named_certificate_is_not_reached(
    reader: Reader, sni_cert: SniCert, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "no-sni.kubeconfig", reader, cluster={"certificate-authority": str(sni_cert.ca)}
    )
    line = fails(get(kubeconfig), exit_codes.UNAVAILABLE, reader.token)
    assert "certificate" in line.lower(), line


def test_a_tls_server_name_the_certificate_does_not_name_is_a_hostname_mismatch(
    reader: Reader, tmp_path: Path
) -> None:
    # The lab's own CA and certificate (127.0.0.1, localhost, kubernetes.default.svc),
    # asked for a name it does not carry: a client honouring tls-server-name refuses it.
    kubeconfig = write_kubeconfig(
        tmp_path / "wrong-name.kubeconfig", reader, cluster={"tls-server-name": "other.lab.test"}
    )
    line = fails(get(kubeconfig), exit_codes.UNAVAILABLE, reader.token)
    assert "hostname" in line.lower() and "other.lab.test" in line, line


# --- 3. proxy-url and HTTPS_PROXY through a real CONNECT proxy -----------------------------


@dataclass
class Tinyproxy:
    url: str
    log: Path

    def connects_to(self, server: str) -> int:
        """How many CONNECTs to `server` the proxy logged."""
        target = server.removeprefix("https://")
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text.count(f"CONNECT {target} ")


@pytest.fixture
def tinyproxy(reader: Reader, tmp_path: Path) -> Iterator[Tinyproxy]:
    """Debian's tinyproxy on a free port, allowing CONNECT to the lab's port only."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        pytest.fail("tinyproxy is not installed (tests/lab/install installs it)", pytrace=False)
    port = proc.free_port()
    lab_port = reader.server.rsplit(":", 1)[1]
    log = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    # No User line: tinyproxy keeps the caller's user, which can write under tmp_path
    # (`nobody` cannot even reach it).
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 20\n"
        f'LogFile "{log}"\nLogLevel Connect\nAllow 127.0.0.1\nConnectPort {lab_port}\n'
    )
    stderr = tmp_path / "tinyproxy.stderr"
    with stderr.open("wb") as err:
        child = subprocess.Popen(
            [binary, "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        proc.wait_for(
            lambda: _listening(port) or child.poll() is not None,
            timeout=15,
            what="tinyproxy listening",
            interval=0.1,
        )
        assert child.poll() is None, stderr.read_text()
        yield Tinyproxy(url=f"http://127.0.0.1:{port}", log=log)
    finally:
        child.terminate()
        child.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_proxy_url_goes_through_a_connect_proxy(
    reader: Reader, tinyproxy: Tinyproxy, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "proxy.kubeconfig", reader, cluster={"proxy-url": tinyproxy.url}
    )
    assert_lists(get(kubeconfig), reader.token)
    assert tinyproxy.connects_to(reader.server), tinyproxy.log.read_text()


def test_https_proxy_environment_goes_through_a_connect_proxy(
    reader: Reader, tinyproxy: Tinyproxy, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "env-proxy.kubeconfig", reader)
    assert_lists(get(kubeconfig, env={"HTTPS_PROXY": tinyproxy.url}), reader.token)
    tunnels = tinyproxy.connects_to(reader.server)
    assert tunnels, tinyproxy.log.read_text()
    # NO_PROXY names the API server: straight there, the proxy sees nothing more.
    bypass = {"HTTPS_PROXY": tinyproxy.url, "NO_PROXY": "127.0.0.1"}
    assert_lists(get(kubeconfig, env=bypass), reader.token)
    assert tinyproxy.connects_to(reader.server) == tunnels


# --- 4. in-cluster configuration ---------------------------------------------------------


def test_in_cluster_service_account_lists(reader: Reader, tmp_path: Path) -> None:
    # What a pod sees: KUBERNETES_SERVICE_HOST/PORT and the mounted service-account dir.
    # The console reads that fixed path, so the command runs in a private mount namespace
    # with a tmpfs over /run holding ours; the machine's /run is never touched.
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a service-account dir privately")
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(reader.token)
    (sa_dir / "namespace").write_text(reader.namespace)
    shutil.copy(reader.ca, sa_dir / "ca.crt")
    home = tmp_path / "home"  # no ~/.kube/config
    home.mkdir()
    host, port = reader.server.removeprefix("https://").rsplit(":", 1)
    mount = (
        "mount -t tmpfs tmpfs /run"
        " && mkdir -p /run/secrets/kubernetes.io/serviceaccount"
        f" && mount --bind {sa_dir} /run/secrets/kubernetes.io/serviceaccount"
        ' && exec "$@"'
    )
    done = get(
        None,
        env={"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "HOME": str(home)},
        prefix=["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh"],
    )
    assert_lists(done, reader.token)


# --- 5. expired or invalid tokens --------------------------------------------------------


def test_an_invalid_token_is_one_sentence(reader: Reader, tmp_path: Path) -> None:
    # Not JWT-shaped, so only not echoing it at all keeps it out of the output.
    token = f"kcv-{uuid.uuid4().hex}"
    kubeconfig = write_kubeconfig(tmp_path / "bad.kubeconfig", reader, user={"token": token})
    line = fails(get(kubeconfig), exit_codes.REFUSED, token)
    assert "not authenticated" in line.lower(), line


def resigned(token: str, key_path: Path, *, expires_in: float) -> str:
    """`token` (a ServiceAccount JWT) with its times moved so it expires `expires_in`
    seconds from now, signed again with the API server's service-account key."""
    header, claims_b64, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    now = int(time.time())
    claims.update(iat=now - 7200, nbf=now - 7200, exp=now + int(expires_in))
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)  # JWS ES256 wants r||s, not DER
    signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return f"{header}.{body}.{signature.rstrip(b'=').decode()}"


def test_an_expired_token_is_one_sentence(
    kube_lab: KubeLab, reader: Reader, tmp_path: Path
) -> None:
    # The reader's own token, re-signed with the API server's key: valid for an hour it
    # lists (so the signature is good), expired a minute ago it is refused.
    fresh = resigned(reader.token, kube_lab.sa_signing_key, expires_in=3600)
    kubeconfig = write_kubeconfig(tmp_path / "fresh.kubeconfig", reader, user={"token": fresh})
    assert_lists(get(kubeconfig), fresh)
    expired = resigned(reader.token, kube_lab.sa_signing_key, expires_in=-60)
    kubeconfig = write_kubeconfig(tmp_path / "expired.kubeconfig", reader, user={"token": expired})
    line = fails(get(kubeconfig), exit_codes.REFUSED, expired)
    assert "not authenticated" in line.lower(), line


# --- 6. a CA that did not sign the server's certificate ----------------------------------


def test_a_ca_mismatch_names_the_certificate_problem(reader: Reader, tmp_path: Path) -> None:
    other_ca, _ = pki.name_only(tmp_path / "other-pki", "unrelated.lab.test")
    kubeconfig = write_kubeconfig(
        tmp_path / "other-ca.kubeconfig",
        reader,
        cluster={"certificate-authority": str(other_ca.cert)},
    )
    line = fails(get(kubeconfig), exit_codes.UNAVAILABLE, reader.token)
    assert "certificate" in line.lower(), line
