"""Per-run certificates and keys for the lab's control plane.

kube-apiserver will not start without a serving certificate, a client CA and a
service-account signing key, and every lab run gets fresh ones so nothing
secret or stale lives in the repository.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=7)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class LabPKI:
    ca: KeyPair
    apiserver: KeyPair
    sa_private: Path
    sa_public: Path
    clients: dict[str, KeyPair]


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # Back-dated a little so a clock step between processes cannot make it "not yet valid".
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def generate(pki_dir: Path, client_names: dict[str, tuple[str, str | None]]) -> LabPKI:
    """Write a CA, an apiserver serving pair, SA keys and client pairs under ``pki_dir``.

    ``client_names`` maps a file stem to (common name, organisation); the
    apiserver maps CN to user and O to group, so O=system:masters is cluster-admin.
    """
    pki_dir.mkdir(parents=True, exist_ok=True)

    ca_key = _new_key()
    ca_name = _name("rollout-console-lab-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca = KeyPair(pki_dir / "ca.crt", pki_dir / "ca.key")
    ca.cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(ca.key, ca_key)

    def leaf(
        stem: str,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> KeyPair:
        key = _new_key()
        builder = _builder(subject, ca_name, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        pair = KeyPair(pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(pair.key, key)
        return pair

    apiserver = leaf(
        "apiserver",
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes.default.svc"),
        ],
    )
    clients = {
        stem: leaf(stem, _name(cn, org), ExtendedKeyUsageOID.CLIENT_AUTH)
        for stem, (cn, org) in client_names.items()
    }

    sa_key = _new_key()
    sa_private = pki_dir / "sa.key"
    sa_public = pki_dir / "sa.pub"
    _write_key(sa_private, sa_key)
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return LabPKI(
        ca=ca, apiserver=apiserver, sa_private=sa_private, sa_public=sa_public, clients=clients
    )


def _ca(pki_dir: Path, cn: str) -> tuple[KeyPair, ec.EllipticCurvePrivateKey, x509.Name]:
    key = _new_key()
    name = _name(cn)
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pair = KeyPair(pki_dir / f"{cn}.crt", pki_dir / f"{cn}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pair.key, key)
    return pair, key, name


def name_only(pki_dir: Path, dns_name: str) -> tuple[KeyPair, KeyPair]:
    """A fresh CA (nothing else trusts it) and a serving pair it signed for ``dns_name``
    alone: no IP address, so a client that connects to 127.0.0.1 verifies it only when
    told the name (kubeconfig ``tls-server-name``). Returns (ca, serving pair)."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca, ca_key, ca_name = _ca(pki_dir, f"{dns_name}-ca")
    key = _new_key()
    cert = (
        _builder(_name(dns_name), ca_name, key.public_key())
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pair = KeyPair(pki_dir / f"{dns_name}.crt", pki_dir / f"{dns_name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pair.key, key)
    return ca, pair
