"""The lab's TLS certificate: what a region serves HTTPS health checks with.

Generated at ``lab up`` into the lab directory (``tls-cert.pem``, ``tls-key.pem`` readable
by the owner only), valid for each region's loopback address and for the lab's zone and
its subdomains. It is self-signed: Route 53's HTTPS health checks do not validate the
certificate, and nothing else in the lab trusts it. ``cryptography`` (a dependency of
moto, so normally present) makes it; without it, the ``openssl`` command does.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

VALIDITY = datetime.timedelta(days=30)


class CertificateError(RuntimeError):
    """No way to make the lab's certificate (neither ``cryptography`` nor ``openssl``)."""


@dataclass(frozen=True)
class LabCertificate:
    """Where the lab's certificate and private key are."""

    cert: Path
    key: Path


def generate(directory: Path, addresses: list[str], names: list[str]) -> LabCertificate:
    """Write a fresh self-signed certificate for ``addresses`` and ``names`` into ``directory``."""
    cert, key = directory / "tls-cert.pem", directory / "tls-key.pem"
    try:
        cert_pem, key_pem = _with_cryptography(addresses, names)
    except ImportError:
        cert_pem, key_pem = _with_openssl(addresses, names)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    cert.write_bytes(cert_pem)
    return LabCertificate(cert, key)


def _with_cryptography(addresses: list[str], names: list[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "lab")])
    now = datetime.datetime.now(datetime.UTC)
    alternatives: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _with_openssl(addresses: list[str], names: list[str]) -> tuple[bytes, bytes]:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError(
            "cannot make the lab's TLS certificate: install the 'cryptography' package "
            "or the openssl command"
        )
    san = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{a}" for a in addresses)])
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                str(VALIDITY.days),
                "-subj",
                f"/CN={names[0] if names else 'lab'}",
                "-addext",
                f"subjectAltName={san}",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return cert.read_bytes(), key.read_bytes()
